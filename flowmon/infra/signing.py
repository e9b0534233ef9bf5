"""Standard Webhooks signatures: ``whsec_`` secrets, signing at send time, and verification of inbound calls.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}`` over the exact body bytes, with
HMAC-SHA256 keyed by the base64-decoded part of the ``whsec_`` secret; the header is a space-separated list of
``v1,<base64>`` entries so that, during a secret rotation, the new and the previous secret can both sign.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping

SECRET_PREFIX = 'whsec_'
SECRET_BYTES = 32
TIMESTAMP_TOLERANCE_S = 300
HEADER_ID = 'webhook-id'
HEADER_TIMESTAMP = 'webhook-timestamp'
HEADER_SIGNATURE = 'webhook-signature'


class SignatureError(ValueError):
    """An inbound request whose Standard Webhooks signature does not check out; the message says why."""


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode('ascii')


def new_message_id() -> str:
    """A stable ``webhook-id``: ``msg_`` + a time-ordered hex id (never user input, never a dot)."""
    return f'msg_{time.time_ns() // 1_000_000:011x}{secrets.token_hex(8)}'


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret; raises ``ValueError`` if it is not one."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f'a signing secret must start with {SECRET_PREFIX!r}')
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded + '=' * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError('a signing secret must be whsec_ followed by base64') from None
    if not 24 <= len(key) <= 64:
        raise ValueError('a signing secret must encode 24 to 64 bytes')
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``body`` for this id and timestamp."""
    signed = f'{message_id}.{timestamp}.'.encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return 'v1,' + base64.b64encode(digest).decode('ascii')


def signature_header(signing_secrets: Iterable[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret (current first), space-separated."""
    return ' '.join(sign(secret, message_id, timestamp, body) for secret in signing_secrets)


def signed_headers(signing_secrets: Iterable[str], message_id: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (stamp ``timestamp`` when the attempt is sent)."""
    return {
        HEADER_ID: message_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: signature_header(signing_secrets, message_id, timestamp, body),
    }


def verify(
    signing_secrets: Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: int = TIMESTAMP_TOLERANCE_S,
) -> str:
    """Check an inbound request; return its ``webhook-id`` or raise :class:`SignatureError`.

    ``headers`` must be case-insensitive (Starlette's and httpx's are) or use lower-case names. Any ``v1``
    entry matching any of the secrets is accepted (rotation); comparisons are constant-time.
    """
    message_id, timestamp, given = _signed_headers(headers, now, tolerance_s)
    for secret in signing_secrets:
        expected = sign(secret, message_id, timestamp, body).partition(',')[2]
        if any(hmac.compare_digest(expected.encode(), candidate.encode('ascii', 'replace')) for candidate in given):
            return message_id
    raise SignatureError('no matching signature')


def check_headers(
    headers: Mapping[str, str], *, now: float | None = None, tolerance_s: int = TIMESTAMP_TOLERANCE_S
) -> str:
    """What :func:`verify` checks before the body: the three headers are there and well-formed and the timestamp is
    within ``tolerance_s`` (a request that fails this need not have its body read); returns the ``webhook-id``."""
    return _signed_headers(headers, now, tolerance_s)[0]


def _signed_headers(headers: Mapping[str, str], now: float | None, tolerance_s: int) -> tuple[str, int, list[str]]:
    """The ``webhook-id``, the timestamp and the ``v1`` signatures given; raises :class:`SignatureError`."""
    message_id = headers.get(HEADER_ID)
    stamp = headers.get(HEADER_TIMESTAMP)
    header = headers.get(HEADER_SIGNATURE)
    if not message_id or not stamp or not header:
        raise SignatureError('missing webhook-id, webhook-timestamp or webhook-signature header')
    if '.' in message_id or len(message_id) > 256 or '\x00' in message_id:  # (it is stored: no NUL)
        raise SignatureError('malformed webhook-id')
    try:
        timestamp = int(stamp)
    except ValueError:
        raise SignatureError('webhook-timestamp is not an integer') from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError(f'webhook-timestamp is more than {tolerance_s} s away from the server time')
    given = [part.partition(',')[2] for part in header.split() if part.startswith('v1,')]
    if not given:
        raise SignatureError('webhook-signature has no v1 signature')
    return message_id, timestamp, given
