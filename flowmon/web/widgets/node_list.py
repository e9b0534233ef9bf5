"""The text alternative to the canvas: one row per node with its status word, attempts and duration.

Screen readers and tests read this list (each row is ``data-testid="node-<node id>"`` with the status word in it,
and ``data-status`` for scripts). The rows are rendered in the browser from row data (``node_list.js``), drawn once
and then patched (:mod:`~flowmon.web.widgets.patched`): the page holds one element however many nodes there are,
and a tick sends only the rows that changed. A node picked elsewhere (on the canvas, on the Timeline) has its row
brought into view: the list scrolls itself (not the page) to it when it is out of view, as the Timeline's window
moves to a picked row; a row picked in the list itself is left where the reader clicked it, unless the inspector's
sheet opens over it (a narrow window): then the page scrolls it above the sheet.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flowmon.web.node_views import NodeView, NodeViews
from flowmon.web.theme import status_icon, status_text_color
from flowmon.web.widgets.patched import PatchedElement

SHEET = 'lib/fm-sheet.js'  # where the inspector's sheet begins on a narrow window (the Timeline's too)


@dataclass(frozen=True, slots=True)
class NodeEntry:
    """What the list needs to know about a node of the definition."""

    id: str
    name: str
    type: str = ''


class NodeList(PatchedElement, component='node_list.js', dependencies=[SHEET]):
    """A scrollable list of nodes in canvas order; clicking a row calls ``on_select(node_id)``.

    Snapshot: ``{rows: [row, ...], selected: id | null}`` (the selected row brought into view); patch: ``{rows:
    [changed row, ...]}`` and/or ``{selected: id | null}``, with ``reveal: true`` when the selected row is to be
    brought into view (it was picked elsewhere than in the list), ``lift: true`` when it was picked in the list (lifted
    above the inspector's sheet, where that opens over it). A row is complete: ``id``, ``name``, ``caption``,
    ``status``, ``color``, ``icon``, ``detail``, ``slow`` (the slower-than-usual text, or empty)."""

    def __init__(
        self,
        entries: Sequence[NodeEntry],
        views: NodeViews,
        on_select: Callable[[str], None] | None = None,
        height: str = '420px',
    ) -> None:
        super().__init__()
        self._on_select = on_select
        self._views = views
        # plain tuples and dicts of strings, which the garbage collector stops tracking: open tabs times nodes would
        # otherwise be walked by every full collection
        self._entries = {entry.id: (entry.id, entry.name, entry.type) for entry in entries}
        self._rows = {node_id: _row(entry, views[node_id]) for node_id, entry in self._entries.items()}
        self._selected: str | None = None
        self._picking = False  # while the list's own pick is handled: its row is where the reader clicked it
        self.classes('w-full overflow-y-auto fm-nl').style(f'max-height: {height}').mark('node-list')
        self.on('select', lambda e: self._picked(e.args))

    def show(self, changed: Iterable[str]) -> None:
        """Bring the rows of the ``changed`` nodes up to their views (see :class:`NodeViews`)."""
        rows = []
        for node_id in changed:
            entry = self._entries.get(node_id)
            if entry is not None:
                rows.append(row := _row(entry, self._views[node_id]))
                self._rows[node_id] = row
        if rows and self.drawn:
            self.send_patch({'rows': rows})

    def status_of(self, node_id: str) -> str:
        """The status word the row shows."""
        return self._rows[node_id]['status']

    def row_of(self, node_id: str) -> dict[str, str]:
        """Everything the row shows: ``name``, ``caption``, ``status``, ``detail``, ``slow`` (and its icon and
        colour)."""
        return dict(self._rows[node_id])

    def select(self, node_id: str | None) -> None:
        """Highlight ``node_id``'s row (None clears it) and, unless it was picked in the list, bring it into the
        list's view (the browser scrolls the list only when the row is out of view; picked again, it is brought back
        into view)."""
        reveal = node_id is not None and not self._picking
        if node_id != self._selected or reveal or self._picking:
            self._selected = node_id
            diff: dict[str, Any] = {'selected': node_id}
            if reveal:
                diff['reveal'] = True
            elif self._picking:  # lifted above the inspector's sheet, where that opens over it (a narrow window)
                diff['lift'] = True
            self.send_patch(diff)

    def snapshot(self) -> dict[str, Any]:
        return {'rows': list(self._rows.values()), 'selected': self._selected}

    def _picked(self, node_id: object) -> None:
        if isinstance(node_id, str) and node_id in self._entries and self._on_select is not None:
            self._picking = True
            try:
                self._on_select(node_id)
            finally:
                self._picking = False


def _row(entry: tuple[str, str, str], view: NodeView) -> dict[str, str]:
    node_id, name, kind = entry
    return {
        'id': node_id,
        'name': name,
        'caption': node_id + (f' · {kind}' if kind else ''),
        'status': view.status,
        'color': status_text_color(view.status),
        'icon': status_icon(view.status),
        'detail': view.detail,
        'slow': view.slow,
    }
