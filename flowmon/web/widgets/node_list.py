"""The text alternative to the canvas: one row per node with its status word, attempts and duration.

Screen readers and tests read this list (each row is ``data-testid="node-<node id>"`` with the status word
in it, and ``data-status`` for scripts). A row is a single element whose HTML is re-sent only when its node
changes, so a 300-node execution costs 300 elements on the page, not thousands, and ten updates a second
send a few hundred bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from nicegui import ui

from flowmon.engine.state import ExecutionState, NodeState
from flowmon.web.format import duration
from flowmon.web.theme import status_color, status_icon

SELECTED_CLASS = 'fm-nr-selected'
# One short class per part instead of utility lists: the rows are the bulk of a big execution's page.
_CSS = """<style>
.fm-nr { display: flex; flex-wrap: nowrap; align-items: center; gap: 8px; width: 100%; padding: 6px 8px;
         cursor: pointer; border-radius: 4px; border-bottom: 1px solid var(--fm-border, #e5e7eb); }
.fm-nr:hover { background: var(--fm-hover, #f3f4f6); }
.fm-nr.fm-nr-selected { background: color-mix(in srgb, #6366f1 14%, transparent); }
.fm-nr i { font-size: 18px; flex-shrink: 0; }
.fm-nr-main { min-width: 0; flex-grow: 1; }
.fm-nr-name { font-size: .875rem; font-weight: 500; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.fm-nr-id { font-size: .75rem; color: var(--fm-muted, #6b7280); overflow: hidden; text-overflow: ellipsis;
            white-space: nowrap; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.fm-nr-side { flex-shrink: 0; text-align: right; }
.fm-node-status { font-size: .75rem; font-weight: 600; text-transform: uppercase; letter-spacing: .025em; }
.fm-nr-detail { font-size: .75rem; color: var(--fm-muted, #6b7280); white-space: nowrap; }
</style>"""
# Clicks and Enter are handled once for the whole list: the row says which node it is.
_ROW_EVENT_JS = '(e) => { const row = e.target.closest("[data-node]"); if (row) emit(row.dataset.node); }'


@dataclass(frozen=True, slots=True)
class NodeEntry:
    """What the list needs to know about a node of the definition."""

    id: str
    name: str
    type: str = ''


@dataclass(slots=True)
class _Row:
    entry: NodeEntry
    element: ui.html
    signature: tuple[Any, ...] = ()


class NodeList:
    """A scrollable list of nodes in canvas order; clicking a row calls ``on_select(node_id)``."""

    def __init__(
        self, entries: Sequence[NodeEntry], on_select: Callable[[str], None] | None = None, height: str = '420px'
    ) -> None:
        self._on_select = on_select
        self._rows: dict[str, _Row] = {}
        self._selected: str | None = None
        self.container = (
            ui.column()
            .classes('w-full gap-0 overflow-y-auto flex-nowrap')
            .style(f'max-height: {height}')
            .props('role=list aria-label="Nodes" data-testid=node-list')
            .mark('node-list')
        )
        with self.container:
            ui.html(_CSS, sanitize=False).classes('hidden')
            for entry in entries:
                self._rows[entry.id] = self._build_row(entry)
        if on_select is not None:
            for event in ('click', 'keydown.enter'):
                self.container.on(event, lambda e: self._picked(e.args), js_handler=_ROW_EVENT_JS)
        self.show(None)

    def show(self, state: ExecutionState | None) -> None:
        """Bring every row up to ``state`` (None: all pending); unchanged rows cost nothing."""
        nodes = state.nodes if state is not None else {}
        for node_id, row in self._rows.items():
            node = nodes.get(node_id)
            signature = _signature(node)
            if signature == row.signature:
                continue
            row.signature = signature
            row.element.set_content(_row_html(row.entry, node))
            row.element.props(f'data-status={signature[0]}')

    def status_of(self, node_id: str) -> str:
        """The status word the row shows."""
        return str(self._rows[node_id].signature[0])

    def select(self, node_id: str | None) -> None:
        """Highlight ``node_id``'s row (None clears it)."""
        if self._selected in self._rows:
            self._rows[self._selected].element.classes(remove=SELECTED_CLASS)
        self._selected = node_id
        if node_id in self._rows:
            self._rows[node_id].element.classes(add=SELECTED_CLASS)

    def _picked(self, node_id: object) -> None:
        if isinstance(node_id, str) and node_id in self._rows and self._on_select is not None:
            self._on_select(node_id)

    def _build_row(self, entry: NodeEntry) -> _Row:
        element = (
            ui.html('', sanitize=False)
            .classes('fm-nr')
            .props(f'data-testid="node-{entry.id}" data-node="{entry.id}" role=listitem tabindex=0')
            .mark(f'node-{entry.id}')
        )
        return _Row(entry=entry, element=element)


def _signature(node: NodeState | None) -> tuple[Any, ...]:
    if node is None:
        return ('pending', 0, None, False, None)
    return (node.status, node.attempts, node.duration_ms, node.reused, node.skip_reason)


def _row_html(entry: NodeEntry, node: NodeState | None) -> str:
    status = node.status if node else 'pending'
    color = status_color(status)
    caption = escape(entry.id) + (f' · {escape(entry.type)}' if entry.type else '')
    return (
        f'<i class="q-icon material-icons" aria-hidden="true" style="color:{color}">{status_icon(status)}</i>'
        f'<div class="fm-nr-main"><div class="fm-nr-name">{escape(entry.name)}</div>'
        f'<div class="fm-nr-id">{caption}</div></div>'
        f'<div class="fm-nr-side"><div class="fm-node-status" style="color:{color}">{status}</div>'
        f'<div class="fm-nr-detail">{escape(_detail(node))}</div></div>'
    )


def _detail(node: NodeState | None) -> str:
    if node is None:
        return ''
    parts = []
    if node.reused:
        parts.append('reused')
    if node.attempts:
        parts.append(f'{node.attempts} attempt' + ('s' if node.attempts != 1 else ''))
    if node.duration_ms is not None:
        parts.append(duration(node.duration_ms))
    if not parts and node.skip_reason:
        parts.append(node.skip_reason[:40])
    return ' · '.join(parts)
