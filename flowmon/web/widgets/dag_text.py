"""What the DAG canvas says about a node: the short text on its card and the tooltip, as ECharts formatters.

Graph items are re-sent for every node whenever any node changes, so they carry only the status (``s``) and
the card text (``m``); names, types and the layout of tooltip and label live in the JavaScript formatters
built here, sent once with the chart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from flowmon.engine.core.state import NODE_STATUSES, NodeState
from flowmon.web.format import duration
from flowmon.web.markup import JS_ESCAPE
from flowmon.web.theme import status_color

_PLACEHOLDER = re.compile(r'__([A-Z]+)__')
# The tooltip is HTML to ECharts: every text in it goes through esc() (flowmon.web.markup.JS_ESCAPE).
_TOOLTIP_JS = """(function () {
  const NAMES = __NAMES__, TYPES = __TYPES__, COLORS = __COLORS__;
  __ESCAPE__
  return function (p) {
    const d = p.data || {}, id = d.name, name = NAMES[id] || id, status = d.s || 'pending';
    const title = name === id ? esc(name) : esc(name) + ' <span style="opacity:.6">' + esc(id) + '</span>';
    const kind = TYPES[id] ? ' · ' + esc(TYPES[id]) : '';
    return '<b>' + title + '</b><br/><span style="color:' + esc(COLORS[status] || COLORS.pending) + '">●</span> '
      + esc(d.m || status) + kind;
  };
})()"""
_LABEL_JS = """(function () {
  const NAMES = __NAMES__;
  return (p) => '{name|' + (NAMES[p.data.name] || p.data.name) + '}\\n{meta|' + (p.data.m || 'pending') + '}';
})()"""


def card_text(status: str, duration_ms: float | None, attempts: int, node: NodeState | None) -> str:
    """The second line of a node's card: its duration once finished, else what it is doing."""
    if status in ('succeeded', 'failed') and duration_ms is not None:
        text = duration(duration_ms)
        text = f'{text} · {attempts} tries' if attempts > 1 else text
    elif status == 'succeeded' and node is not None and node.reused:
        text = 'reused'
    elif status == 'retrying':
        text = f'retrying after try {attempts}'
    elif status == 'running' and attempts > 1:
        text = f'running · try {attempts}'
    else:
        text = status
    return rich_safe(text)


def tooltip_formatter(names: Mapping[str, str], types: Mapping[str, str]) -> str:
    colors = {status: status_color(status) for status in NODE_STATUSES}
    return _fill(_TOOLTIP_JS, ESCAPE=JS_ESCAPE, NAMES=_js(dict(names)), TYPES=_js(dict(types)), COLORS=_js(colors))


def label_formatter(names: Mapping[str, str], card_width_px: int) -> str:
    clipped = {node_id: rich_safe(_clip(name, card_width_px)) for node_id, name in names.items()}
    return _fill(_LABEL_JS, NAMES=_js(clipped))


def rich_safe(text: str) -> str:
    """Text that cannot break out of an ECharts rich-text block (``{style|text}``)."""
    return text.replace('{', '(').replace('}', ')').replace('|', '/')


def _clip(text: str, width_px: int) -> str:
    limit = max(6, int(width_px / 7.2))
    return text if len(text) <= limit else text[: limit - 1] + '…'


def _fill(template: str, **values: str) -> str:
    """``__KEY__`` placeholders of ``template`` replaced in one pass: a name that reads ``__TYPES__`` stays text."""
    return _PLACEHOLDER.sub(lambda match: values[match[1]], template)


def _js(value: Any) -> str:
    """A JSON literal safe inside an inline script."""
    return (
        json.dumps(value, ensure_ascii=False)
        .replace('<', '\\u003c')
        .replace('\u2028', '\\u2028')
        .replace('\u2029', '\\u2029')
    )
