"""The shortcuts the `?` dialog lists are the ones the browser binds, and the server navigates only where they go."""

from __future__ import annotations

import re
from pathlib import Path

import flowmon.web
from flowmon.web.widgets.shortcuts import SHORTCUTS, TARGETS

KEYS_JS = Path(flowmon.web.__file__).parent / 'widgets' / 'lib' / 'fm-keys.js'


def _bindings() -> dict[str, str]:
    text = KEYS_JS.read_text(encoding='utf-8')
    block = text.split('export const BINDINGS = {', 1)[1].split('};', 1)[0]
    return {key: action for key, action in re.findall(r'^\s*"?([^":]+?)"?:\s*"([^"]+)",', block, re.M)}


def test_the_help_lists_every_binding_and_nothing_else() -> None:
    bindings = _bindings()
    assert len(bindings) >= 9
    assert [keys for keys, _ in SHORTCUTS] == list(bindings)


def test_every_navigation_target_is_allowed_by_the_server() -> None:
    targets = {action.removeprefix('go:') for action in _bindings().values() if action.startswith('go:')}
    assert targets == TARGETS
