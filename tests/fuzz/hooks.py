"""schemathesis hooks of the fuzz run (``SCHEMATHESIS_HOOKS=tests.fuzz.hooks``, see tests/fuzz/run.sh).

- ``refused_without_token``: the check of the run without a token: every ``/api`` operation but ``/api/health``
  answers 401 (or 404 where no route matches), never anything else.
- ``before_call`` sends the token (``FUZZ_TOKEN``) as a bearer header when ``FUZZ_WITH_TOKEN=1`` (the run with
  the token; a ``-H`` option would show it in the process list), and none otherwise (not one schemathesis made up
  from the document's bearer scheme), and signs ``POST /hooks/{workflow_id}`` for the seeded trigger workflow with
  its current trigger secret (Standard Webhooks), so the fuzzed bodies get past the signature check into the code
  that parses and budgets them. Other workflow ids stay unsigned (answer 404).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from typing import Any

import httpx
import schemathesis
from schemathesis.core import NotSet

REFUSED = (401, 404)
HOOKED_WORKFLOW = 'fuzz-hooked'


@schemathesis.check
def refused_without_token(ctx: Any, response: Any, case: Any) -> None:
    """Without ``Authorization`` every ``/api`` operation (but ``/api/health``) answers 401, or 404 for no route."""
    if response.status_code not in REFUSED:
        raise AssertionError(
            f'{case.method} {case.formatted_path} without a token answered {response.status_code}, '
            f'expected 401 or 404: {response.text[:300]!r}'
        )


@schemathesis.hook
def before_call(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Add the token when asked to; sign a trigger call to the seeded workflow.

    ``kwargs`` is the transport's own dict (not ``**kwargs``, which would be a copy): a body set in it is sent
    as it is, instead of the generated one.
    """
    if os.environ.get('FUZZ_WITH_TOKEN') == '1':
        case.headers = {**(case.headers or {}), 'Authorization': f'Bearer {os.environ["FUZZ_TOKEN"]}'}
    elif case.headers and any(name.lower() == 'authorization' for name in case.headers):
        # the OpenAPI document's bearer scheme makes schemathesis invent tokens: this run sends none (wrong tokens
        # would only meet the failure limiter's 429)
        case.headers = {name: value for name, value in case.headers.items() if name.lower() != 'authorization'}
    _sign_trigger_call(case, kwargs)


def _sign_trigger_call(case: Any, kwargs: dict[str, Any]) -> None:
    """The body is serialised here, so the signature covers the bytes that are sent."""
    if case.operation.path != '/hooks/{workflow_id}' or (case.path_parameters or {}).get('workflow_id') != (
        HOOKED_WORKFLOW
    ):
        return
    secret = _trigger_secret()
    if secret is None:
        return
    if isinstance(case.body, NotSet):
        body = b''
    elif isinstance(case.body, bytes):  # a raw body of a negative case
        body = case.body
    else:
        body = json.dumps(case.body).encode()
    message_id, timestamp = f'msg_{uuid.uuid4().hex}', str(int(time.time()))
    key = base64.b64decode(secret.removeprefix('whsec_'))
    digest = hmac.new(key, f'{message_id}.{timestamp}.'.encode() + body, hashlib.sha256).digest()
    case.headers = {
        **(case.headers or {}),
        'content-type': 'application/json',
        'webhook-id': message_id,
        'webhook-timestamp': timestamp,
        'webhook-signature': f'v1,{base64.b64encode(digest).decode()}',
    }
    kwargs['data'] = body


def _trigger_secret() -> str | None:
    """The workflow's current trigger secret (the fuzzer may have rotated it), or None when it is gone."""
    response = httpx.get(
        f'{os.environ["FUZZ_BASE_URL"]}/api/workflows/{HOOKED_WORKFLOW}/trigger/secret',
        headers={'Authorization': f'Bearer {os.environ["FUZZ_TOKEN"]}'},
        timeout=10.0,
    )
    return response.json()['secret'] if response.status_code == 200 else None
