"""What the DAG canvas says about a node: the short text on its card and the tooltip, as ECharts formatters.

Graph items are re-sent for every node whenever any node changes, so they carry only the status (``s``) and
the card text (``m``); names, types and the layout of tooltip and label live in the JavaScript formatters
built here, sent once with the chart.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flowmon.engine.state import NODE_STATUSES, NodeState
from flowmon.web.format import duration
from flowmon.web.theme import status_color

_TOOLTIP_JS = """(function () {
  const NAMES = __NAMES__, TYPES = __TYPES__, COLORS = __COLORS__;
  const esc = (text) => String(text).replace(/[&<>]/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;'})[c]);
  return function (p) {
    const d = p.data || {}, id = d.name, name = NAMES[id] || id, status = d.s || 'pending';
    const title = name === id ? esc(name) : esc(name) + ' <span style="opacity:.6">' + esc(id) + '</span>';
    const kind = TYPES[id] ? ' · ' + esc(TYPES[id]) : '';
    return '<b>' + title + '</b><br/><span style="color:' + (COLORS[status] || COLORS.pending) + '">●</span> '
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
    return (
        _TOOLTIP_JS.replace('__NAMES__', _js(dict(names)))
        .replace('__TYPES__', _js(dict(types)))
        .replace('__COLORS__', _js(colors))
    )


def label_formatter(names: Mapping[str, str], card_width_px: int) -> str:
    clipped = {node_id: rich_safe(_clip(name, card_width_px)) for node_id, name in names.items()}
    return _LABEL_JS.replace('__NAMES__', _js(clipped))


def rich_safe(text: str) -> str:
    """Text that cannot break out of an ECharts rich-text block (``{style|text}``)."""
    return text.replace('{', '(').replace('}', ')').replace('|', '/')


def _clip(text: str, width_px: int) -> str:
    limit = max(6, int(width_px / 7.2))
    return text if len(text) <= limit else text[: limit - 1] + '…'


def _js(value: Any) -> str:
    """A JSON literal safe inside an inline script."""
    return json.dumps(value, ensure_ascii=False).replace('<', '\\u003c').replace('\u2028', '\\u2028')
