"""The schemathesis hooks of the fuzz run (tests/fuzz/hooks.py): the no-token check, the token, the signature."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from schemathesis.core import NOT_SET
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER, HookContext, dispatch_before_call

from flowmon.infra.signing import SignatureError, new_secret, verify

HOOKS_PATH = Path(__file__).resolve().parents[1] / 'fuzz' / 'hooks.py'


@pytest.fixture(scope='module')
def hooks() -> ModuleType:
    """The module as schemathesis loads it (it registers its check and hook on import)."""
    spec = importlib.util.spec_from_file_location('fuzz_hooks_under_test', HOOKS_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def case(path: str = '/hooks/{workflow_id}', workflow_id: str = 'fuzz-hooked', body: Any = NOT_SET) -> Any:
    return SimpleNamespace(
        operation=SimpleNamespace(path=path),
        path_parameters={'workflow_id': workflow_id},
        body=body,
        headers=None,
        method='POST',
        formatted_path=path.replace('{workflow_id}', workflow_id),
    )


@pytest.mark.parametrize('status', [401, 404])
def test_refused_without_token_accepts_401_and_404(hooks: ModuleType, status: int) -> None:
    hooks.refused_without_token(None, SimpleNamespace(status_code=status, text=''), case())


@pytest.mark.parametrize('status', [200, 202, 400, 405, 422, 429, 500])
def test_refused_without_token_fails_on_anything_else(hooks: ModuleType, status: int) -> None:
    response = SimpleNamespace(status_code=status, text='{"detail": "x"}')
    with pytest.raises(AssertionError, match=f'answered {status}, expected 401 or 404'):
        hooks.refused_without_token(None, response, case())


@pytest.mark.parametrize('body', [{'order_id': 'A-1', 'n': [1, 2]}, NOT_SET, b'\xff not json', 'text', 7])
def test_a_trigger_call_is_signed_over_the_bytes_it_sends(
    hooks: ModuleType, monkeypatch: pytest.MonkeyPatch, body: Any
) -> None:
    """The body goes into the transport's kwargs (called as schemathesis calls the hook: a ``**kwargs`` hook
    would get a copy), which schemathesis then sends instead of the generated body."""
    secret = new_secret()
    monkeypatch.setattr(hooks, '_trigger_secret', lambda: secret)
    monkeypatch.delenv('FUZZ_WITH_TOKEN', raising=False)
    call, kwargs = case(body=body), dict[str, Any]()
    dispatch_before_call(GLOBAL_HOOK_DISPATCHER, context=HookContext(), case=call, kwargs=kwargs)
    sent = kwargs['data']
    assert call.headers['content-type'] == 'application/json'
    assert verify([secret], call.headers, sent, now=time.time()) == call.headers['webhook-id']
    with pytest.raises(SignatureError):
        verify([new_secret()], call.headers, sent, now=time.time())


def test_other_operations_and_workflows_stay_unsigned(hooks: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hooks, '_trigger_secret', lambda: pytest.fail('no secret is needed'))
    monkeypatch.delenv('FUZZ_WITH_TOKEN', raising=False)
    for call in (case(workflow_id='order-pipeline'), case(path='/api/workflows/{workflow_id}')):
        kwargs: dict[str, Any] = {}
        dispatch_before_call(GLOBAL_HOOK_DISPATCHER, context=HookContext(), case=call, kwargs=kwargs)
        assert call.headers is None
        assert kwargs == {}


@pytest.mark.parametrize('with_token', [True, False])
def test_the_token_is_sent_only_in_the_run_with_the_token(
    hooks: ModuleType, monkeypatch: pytest.MonkeyPatch, with_token: bool
) -> None:
    monkeypatch.setenv('FUZZ_TOKEN', 'fuzz-token-for-the-test')
    if with_token:
        monkeypatch.setenv('FUZZ_WITH_TOKEN', '1')
    else:
        monkeypatch.delenv('FUZZ_WITH_TOKEN', raising=False)
    call = case(path='/api/workflows/{workflow_id}')
    dispatch_before_call(GLOBAL_HOOK_DISPATCHER, context=HookContext(), case=call, kwargs={})
    expected = {'Authorization': 'Bearer fuzz-token-for-the-test'} if with_token else None
    assert call.headers == expected
