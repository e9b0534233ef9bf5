"""Text crosses the page's socket as it is, lone surrogates included, both ways.

A browser's text can hold a lone surrogate (``\\ud800`` without its other half: pasted from a broken source, set by
a script). NiceGUI encodes and decodes the socket's messages with orjson, which refuses one either way:

- from the browser, an event holding JSON's escape of one was dropped with an error logged, and the field kept the
  value it had before, so a secret's Save stored that value (``abc`` of ``abc\\ud800def``) and said "created";
- to the browser, an update of an element holding one (a field that keeps it, with its refusal set beside it) failed
  with an error logged, and every other update sent with it was lost.

What orjson refuses for a surrogate goes through Python's own json module instead, which writes and reads the escape
as the browser does: the value reaches the page's handler as typed, the use case refuses it naming the field, as the
API refuses it in a body, and the page shows that.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from nicegui import json as nicegui_json

_INSTALLED = '_flowmon_keeps_lone_surrogates'
_SURROGATE = 'surrogate'  # in each of orjson's messages about one ("no low surrogate", "surrogates not allowed", ...)


def keep_lone_surrogates() -> None:
    """Make NiceGUI's JSON take a lone surrogate both ways (once; later calls change nothing)."""
    strict_loads, strict_dumps = nicegui_json.loads, nicegui_json.dumps
    if getattr(strict_loads, _INSTALLED, False):
        return

    def loads(value: str) -> Any:
        try:
            return strict_loads(value)
        except orjson.JSONDecodeError as exc:
            if _SURROGATE not in str(exc):
                raise
            return json.loads(value)

    def dumps(
        obj: Any, sort_keys: bool = False, separators: tuple[str, str] | None = None, *, indent: bool = False
    ) -> str:
        try:
            return strict_dumps(obj, sort_keys, separators, indent=indent)
        except TypeError as exc:  # (orjson's JSONEncodeError)
            if _SURROGATE not in str(exc):
                raise
            return json.dumps(obj, sort_keys=sort_keys, separators=(',', ':'), indent=2 if indent else None)

    setattr(loads, _INSTALLED, True)
    nicegui_json.loads, nicegui_json.dumps = loads, dumps
