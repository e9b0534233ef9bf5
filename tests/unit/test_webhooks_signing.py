"""Standard Webhooks signing, checked against the reference ``standardwebhooks`` library in both directions."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from flowmon.infra.signing import SignatureError, new_message_id, new_secret, secret_key, sign, signed_headers, verify

BODY = '{"type":"order.paid","data":{"id":7,"name":"Zoë"}}'.encode()


def test_secrets_are_whsec_base64_of_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith('whsec_')
    assert len(base64.b64decode(secret.removeprefix('whsec_'))) == 32
    assert secret != new_secret()
    assert secret_key(secret) == base64.b64decode(secret[6:])


@pytest.mark.parametrize('bad', ['', 'whsec_', 'secret', 'whsec_!!!', 'whsec_' + base64.b64encode(b'short').decode()])
def test_malformed_secrets_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        secret_key(bad)


def test_message_ids_are_stable_shaped_and_dot_free() -> None:
    ids = {new_message_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(value.startswith('msg_') and '.' not in value for value in ids)


def test_our_signature_verifies_with_the_reference_library() -> None:
    secret = new_secret()
    headers = signed_headers([secret], new_message_id(), BODY, int(time.time()))
    assert Webhook(secret).verify(BODY, headers) == {'type': 'order.paid', 'data': {'id': 7, 'name': 'Zoë'}}


def test_reference_library_signature_matches_ours_byte_for_byte() -> None:
    secret, message_id, timestamp = new_secret(), new_message_id(), 1_700_000_000
    reference = Webhook(secret).sign(message_id, datetime.fromtimestamp(timestamp, tz=UTC), BODY.decode())
    assert sign(secret, message_id, timestamp, BODY) == reference


def test_during_rotation_both_secrets_sign_and_either_verifies() -> None:
    old, new = new_secret(), new_secret()
    headers = signed_headers([new, old], new_message_id(), BODY, int(time.time()))
    assert len(headers['webhook-signature'].split(' ')) == 2
    Webhook(new).verify(BODY, headers)
    Webhook(old).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_timestamp_is_taken_per_attempt_so_a_late_retry_still_verifies() -> None:
    secret, message_id = new_secret(), new_message_id()
    stale = signed_headers([secret], message_id, BODY, int(time.time()) - 3600)  # signed when scheduled: too old
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, stale)
    fresh = signed_headers([secret], message_id, BODY, int(time.time()))  # re-signed at send time
    Webhook(secret).verify(BODY, fresh)


def test_verify_accepts_reference_signatures_and_returns_the_id() -> None:
    secret, message_id = new_secret(), new_message_id()
    now = time.time()
    signature = Webhook(secret).sign(message_id, datetime.fromtimestamp(int(now), tz=UTC), BODY.decode())
    headers = {'webhook-id': message_id, 'webhook-timestamp': str(int(now)), 'webhook-signature': signature}
    assert verify([secret], headers, BODY, now=now) == message_id
    assert verify([new_secret(), secret], headers, BODY, now=now) == message_id  # any of the secrets


@pytest.mark.parametrize(
    ('change', 'reason'),
    [
        ({'body': b'{"tampered":true}'}, 'no matching signature'),
        ({'now_offset': 301}, 'away from the server time'),
        ({'now_offset': -301}, 'away from the server time'),
        ({'drop': 'webhook-signature'}, 'missing'),
        ({'drop': 'webhook-id'}, 'missing'),
        ({'header': ('webhook-signature', 'nocomma')}, 'no v1 signature'),
        ({'header': ('webhook-signature', 'v1a,abc v2,xyz')}, 'no v1 signature'),
        ({'header': ('webhook-timestamp', 'soon')}, 'not an integer'),
        ({'header': ('webhook-id', 'msg.with.dots')}, 'malformed'),
        ({'header': ('webhook-id', 'msg_with\x00nul')}, 'malformed'),
    ],
)
def test_verify_refuses_with_a_reason(change: dict[str, object], reason: str) -> None:
    secret, message_id, now = new_secret(), new_message_id(), time.time()
    headers = signed_headers([secret], message_id, BODY, int(now))
    body = change.get('body', BODY)
    if 'drop' in change:
        headers.pop(str(change['drop']))
    if 'header' in change:
        name, value = change['header']  # type: ignore[misc]
        headers[name] = value
    with pytest.raises(SignatureError, match=reason):
        verify([secret], headers, body, now=now + float(change.get('now_offset', 0)))  # type: ignore[arg-type]
