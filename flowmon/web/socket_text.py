"""What the browser sends over the page's socket reaches the page as the browser holds it, lone surrogates included.

A browser's text can hold a lone surrogate (``\\ud800`` without its other half: pasted from a broken source, set by
a script). NiceGUI decodes each event's arguments with orjson, which refuses JSON's escape of one: the event was
dropped with an error logged, and the field kept the value it had before, so a secret's Save stored that value
(``abc`` of ``abc\\ud800def``) and said "created". Decoded by Python's own json module instead (only what orjson
refuses for a surrogate), the value reaches the page's handler as typed, and the use case refuses it naming the
field, as the API refuses it in a body.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from nicegui import json as nicegui_json

_TOLERANT = '_flowmon_surrogates'


def keep_lone_surrogates() -> None:
    """Make NiceGUI's decoding of socket messages take a lone surrogate (once; later calls change nothing)."""
    strict = nicegui_json.loads
    if getattr(strict, _TOLERANT, False):
        return

    def loads(value: str) -> Any:
        try:
            return strict(value)
        except orjson.JSONDecodeError as exc:
            if 'surrogate' not in str(exc):  # (its messages: "no low surrogate", "invalid high surrogate", ...)
                raise
            return json.loads(value)

    setattr(loads, _TOLERANT, True)
    nicegui_json.loads = loads
