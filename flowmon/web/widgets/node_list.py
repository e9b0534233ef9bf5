"""The text alternative to the canvas: one row per node with its status word, attempts and duration.

Screen readers and tests read this list (each row is ``data-testid="node-<node id>"`` with the status word
in it, and ``data-status`` for scripts). The rows are rendered in the browser from row data
(``node_list.js``): the page holds one element however many nodes there are, and a change sends only the
rows that changed. The element says ``ready`` once mounted; rows that changed before that are sent then.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from flowmon.engine.core.nodemap import changed_keys
from flowmon.engine.core.state import ExecutionState, NodeState
from flowmon.web.format import duration
from flowmon.web.theme import status_color, status_icon


@dataclass(frozen=True, slots=True)
class NodeEntry:
    """What the list needs to know about a node of the definition."""

    id: str
    name: str
    type: str = ''


class NodeList(ui.element, component='node_list.js'):
    """A scrollable list of nodes in canvas order; clicking a row calls ``on_select(node_id)``."""

    def __init__(
        self, entries: Sequence[NodeEntry], on_select: Callable[[str], None] | None = None, height: str = '420px'
    ) -> None:
        super().__init__()
        self._on_select = on_select
        # Per-node data is kept in plain tuples and dicts of strings, which the garbage collector stops tracking:
        # open tabs times nodes would otherwise be walked by every full collection.
        self._entries = {entry.id: (entry.id, entry.name, entry.type) for entry in entries}
        self._signatures = {entry.id: _signature(None) for entry in entries}
        self._rows = {entry.id: _row(self._entries[entry.id], None) for entry in entries}  # what the list shows
        self._shown: dict[str, dict[str, str]] | None = None  # what the browser shows; None until ready
        self._nodes: Mapping[str, NodeState] = {}  # the node states the rows were last brought up to
        self._dirty: set[str] = set()  # rows changed since the last patch
        self._selected: str | None = None
        self._built = dict(self._rows)
        # the first render, as one string: NiceGUI would wrap a list of dicts in hundreds of observables per page,
        # which the garbage collector then walks on every full collection; never re-sent
        self._props['rows'] = json.dumps(list(self._rows.values()))
        self.classes('w-full overflow-y-auto').style(f'max-height: {height}').mark('node-list')
        self.on('ready', lambda _: self._ready())
        self.on('select', lambda e: self._picked(e.args))

    def show(self, state: ExecutionState | None) -> None:
        """Bring every row up to ``state`` (None: all pending); unchanged rows cost nothing."""
        nodes = state.nodes if state is not None else {}
        for node_id in changed_keys(nodes, self._nodes):  # nodes whose state object was replaced, only
            entry = self._entries.get(node_id)
            if entry is None:
                continue
            node = nodes.get(node_id)
            signature = _signature(node)
            if signature != self._signatures[node_id]:
                self._signatures[node_id] = signature
                self._rows[node_id] = _row(entry, node)
                self._dirty.add(node_id)
        self._nodes = nodes
        self._send()

    def status_of(self, node_id: str) -> str:
        """The status word the row shows."""
        return self._rows[node_id]['status']

    def row_of(self, node_id: str) -> dict[str, str]:
        """Everything the row shows: ``name``, ``caption``, ``status``, ``detail`` (and its icon and colour)."""
        return dict(self._rows[node_id])

    def select(self, node_id: str | None) -> None:
        """Highlight ``node_id``'s row (None clears it)."""
        self._selected = node_id
        if self._shown is not None:
            self.run_method('select', node_id)

    def _send(self) -> None:
        if self._shown is None:
            return
        changed = [row for node_id in self._dirty if self._shown.get(node_id) is not (row := self._rows[node_id])]
        self._dirty.clear()
        if changed:
            self._shown.update((row['id'], row) for row in changed)
            self.run_method('patch', changed)

    def _ready(self) -> None:
        """The list is in the browser as first rendered: send what changed since, and the selection."""
        self._shown = dict(self._built)
        self._dirty.update(self._rows)
        self._send()
        if self._selected is not None:
            self.run_method('select', self._selected)

    def _picked(self, node_id: object) -> None:
        if isinstance(node_id, str) and node_id in self._entries and self._on_select is not None:
            self._on_select(node_id)


def _signature(node: NodeState | None) -> tuple[Any, ...]:
    if node is None:
        return ('pending', 0, None, False, None)
    return (node.status, node.attempts, node.duration_ms, node.reused, node.skip_reason)


def _row(entry: tuple[str, str, str], node: NodeState | None) -> dict[str, str]:
    node_id, name, kind = entry
    status = node.status if node else 'pending'
    return {
        'id': node_id,
        'name': name,
        'caption': node_id + (f' · {kind}' if kind else ''),
        'status': status,
        'color': status_color(status),
        'icon': status_icon(status),
        'detail': _detail(node),
    }


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
