"""The text alternative to the canvas: one row per node with its status word, attempts and duration.

Screen readers and tests read this list (each row is ``data-testid="node-<node id>"``). Rows are
built once; :meth:`NodeList.show` only touches the rows whose node changed, so a 300-node execution at
ten updates a second sends a handful of small element updates, not the list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from flowmon.engine.state import ExecutionState, NodeState
from flowmon.web.format import duration
from flowmon.web.theme import status_color, status_icon


@dataclass(frozen=True, slots=True)
class NodeEntry:
    """What the list needs to know about a node of the definition."""

    id: str
    name: str
    type: str = ''


@dataclass(slots=True)
class _Row:
    row: ui.element
    icon: ui.icon
    status: ui.label
    detail: ui.label
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
        )
        with self.container:
            for entry in entries:
                self._rows[entry.id] = self._build_row(entry)
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
            status = signature[0]
            color = status_color(status)
            row.icon.name = status_icon(status)
            row.icon.style(f'color: {color}')
            row.status.set_text(status)
            row.status.style(f'color: {color}')
            row.detail.set_text(_detail(node))
            row.row.props(f'data-status={status}')

    def select(self, node_id: str | None) -> None:
        """Highlight ``node_id``'s row (None clears it)."""
        if self._selected in self._rows:
            self._rows[self._selected].row.classes(remove='fm-selected bg-indigo-50 dark:bg-indigo-950')
        self._selected = node_id
        if node_id in self._rows:
            self._rows[node_id].row.classes(add='fm-selected bg-indigo-50 dark:bg-indigo-950')

    def _build_row(self, entry: NodeEntry) -> _Row:
        row = (
            ui.row()
            .classes(
                'w-full items-center gap-2 px-2 py-1.5 no-wrap cursor-pointer rounded '
                'hover:bg-[var(--fm-hover)] border-b border-[var(--fm-border)]'
            )
            .props(f'data-testid="node-{entry.id}" role=listitem tabindex=0')
            .mark(f'node-{entry.id}')
        )
        with row:
            icon = ui.icon('schedule', size='18px')
            with ui.column().classes('gap-0 min-w-0 grow'):
                ui.label(entry.name).classes('text-sm font-medium truncate w-full')
                caption = entry.id
                if entry.type:
                    caption += f' · {entry.type}'
                ui.label(caption).classes('text-xs text-gray-500 truncate w-full font-mono')
            with ui.column().classes('gap-0 items-end shrink-0'):
                status = (
                    ui.label('pending')
                    .classes('text-xs font-semibold uppercase tracking-wide')
                    .mark(f'node-status-{entry.id}')
                )
                detail = ui.label('').classes('text-xs text-gray-500 whitespace-nowrap').mark(f'node-detail-{entry.id}')
        if self._on_select is not None:
            callback = self._on_select
            row.on('click', lambda _, node_id=entry.id: callback(node_id))
            row.on('keydown.enter', lambda _, node_id=entry.id: callback(node_id))
        return _Row(row=row, icon=icon, status=status, detail=detail)


def _signature(node: NodeState | None) -> tuple[Any, ...]:
    if node is None:
        return ('pending', 0, None, False)
    return (node.status, node.attempts, node.duration_ms, node.reused)


def _detail(node: NodeState | None) -> str:
    if node is None or (node.attempts == 0 and not node.reused):
        return '' if node is None or node.status == 'pending' else (node.skip_reason or '')[:40]
    parts = []
    if node.reused:
        parts.append('reused')
    if node.attempts:
        parts.append(f'{node.attempts} attempt' + ('s' if node.attempts != 1 else ''))
    if node.duration_ms is not None:
        parts.append(duration(node.duration_ms))
    return ' · '.join(parts)
