"""The compare table: per node, both runs' status, attempts and duration (with the delta) and whether the
outputs differ. Rows that differ are tinted; the first divergence is outlined; clicking a row (or pressing
Enter on it) calls ``on_select(node_id)``. A row changes only when what it shows does, and in place while the nodes
are the same (a row element the server replaces would lose a click made on it meanwhile).

A node a run reused (its output carried over by a partial rerun, not run again) says so under its status and in the
attempts, and has neither a duration nor a delta: it took no time of its own, so it was neither faster nor slower.

A duration is the time the node's attempts ran (as its card shows it), and the delta compares those; a node tried
again after a wait also gives its span under it ("span 10.8 s": from its first start to its end, the waits between
tries included), which tells where a run's time went.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from nicegui import ui

from flowmon.web.comparison import NodeDiff
from flowmon.web.format import DASH, duration, short_id
from flowmon.web.theme import status_text_color

# The node's name has room for about 25 characters a line, two lines at the most (whole in its tooltip beyond that); a
# status column fits "reused from <id>"; the numbers and the verdict take what their longest value needs.
COLUMNS = 'minmax(180px, 2fr) 132px 132px 72px 80px 80px 84px 76px'
SLOWER, FASTER = status_text_color('failed'), status_text_color('succeeded')
OUTLINE = 'outline: 2px solid #f59e0b; outline-offset: -2px'  # the first divergence
NOTICEABLE_MS = 1.0  # deltas below this are noise and shown without colour


class DiffTable:
    """One row per node of the two runs, in graph order."""

    def __init__(
        self,
        names: Mapping[str, str],
        on_select: Callable[[str], Any] | None = None,
        reused_from: tuple[str | None, str | None] = (None, None),
    ) -> None:
        """``reused_from``: the execution each run reused outputs from (its ``retry_of``), when known."""
        self._names = names
        self._reused_from = reused_from
        self._on_select = on_select
        self._signature: Any = None
        self._rows: dict[str, ui.element] = {}  # node id -> its row element, in the order shown
        self._shown: dict[str, Any] = {}  # node id -> what its row shows
        with ui.element('div').classes('w-full overflow-x-auto'):
            with ui.element('div').classes('min-w-[940px]').props('role=table aria-label="Differences per node"'):
                with ui.element('div').classes('fm-table-head').style(f'grid-template-columns: {COLUMNS}'):
                    for title in ('Node', 'Status A', 'Status B', 'Attempts', 'Duration A', 'Duration B', 'Δ',
                                  'Output'):  # fmt: skip
                        label = ui.label(title).classes('fm-cell')
                        if title.startswith('Duration') or title == 'Δ':
                            label.tooltip("The time the node's attempts ran, added up (not the waits between tries)")
                self.body = ui.element('div').props('data-testid=diff-table').mark('diff-table')

    def show(self, rows: Sequence[NodeDiff], *, highlight: str | None = None, selected: str | None = None) -> None:
        signature = (tuple(_row_signature(row) for row in rows), highlight, selected)
        if signature == self._signature:
            return
        self._signature = signature
        if rows and [row.node_id for row in rows] == list(self._rows):
            # the same nodes: each row changes in place, so a click on a row (during playback, or right after a
            # jump) never goes to a row element the server has just replaced (it would be lost)
            for row in rows:
                self._fill(row, highlight=row.node_id == highlight, selected=row.node_id == selected)
            return
        self.body.clear()
        self._rows, self._shown = {}, {}
        with self.body:
            if not rows:
                ui.label('Neither run has started a node at this point.').classes('text-sm text-grey-7 p-3')
            for row in rows:
                self._rows[row.node_id] = self._row(row.node_id)
                self._fill(row, highlight=row.node_id == highlight, selected=row.node_id == selected)

    def _row(self, node_id: str) -> ui.element:
        element = ui.element('div').props('role=row tabindex=0').mark(f'diff-{node_id}')
        element.props['data-testid'] = f'diff-{node_id}'
        if self._on_select is not None:
            callback = self._on_select
            element.on('click', lambda: callback(node_id))
            element.on('keydown.enter', lambda: callback(node_id))
        return element

    def _fill(self, row: NodeDiff, *, highlight: bool, selected: bool) -> None:
        """Show ``row`` in its row element (its cells made again, when it changed)."""
        shown = (_row_signature(row), highlight, selected)
        if self._shown.get(row.node_id) == shown:
            return
        self._shown[row.node_id] = shown
        classes = 'fm-table-row cursor-pointer'
        if row.differs:
            classes += ' bg-amber-50 dark:bg-[#2a2414]'
        if selected:
            classes += ' bg-indigo-50 dark:bg-indigo-950'
        element = self._rows[row.node_id]
        element.classes(replace=classes)
        element.style(replace=f'grid-template-columns: {COLUMNS}' + (f'; {OUTLINE}' if highlight else ''))
        element.props['data-differs'] = 'yes' if row.differs else 'no'
        element.clear()
        with element:
            with ui.column().classes('fm-cell gap-0'):
                name = self._names.get(row.node_id, row.node_id)
                ui.label(name).classes('font-medium fm-clamp-2 fm-diff-name').tooltip(name)
                ui.label(row.node_id).classes('text-xs text-grey-7 font-mono fm-ellipsis')
            source_a, source_b = self._reused_from
            _status(row.a_status, row.status_differs, row.a_reused, source_a).mark(f'diff-status-a-{row.node_id}')
            _status(row.b_status, row.status_differs, row.b_reused, source_b).mark(f'diff-status-b-{row.node_id}')
            ran_differently = row.a_attempts != row.b_attempts and not row.reused
            attempts = f'{_attempts(row.a_attempts, row.a_reused)} / {_attempts(row.b_attempts, row.b_reused)}'
            ui.label(attempts).classes('fm-cell fm-num').classes('font-semibold' if ran_differently else '').mark(
                f'diff-attempts-{row.node_id}'
            )
            _duration(row.a_duration_ms, row.a_span_ms, row.a_reused).mark(f'diff-duration-a-{row.node_id}')
            _duration(row.b_duration_ms, row.b_span_ms, row.b_reused).mark(f'diff-duration-b-{row.node_id}')
            _delta(row).mark(f'diff-delta-{row.node_id}')
            output = 'differs' if row.output_differs else ('same' if row.a_output is not None else DASH)
            verdict = (
                ui.label(output)
                .classes('fm-cell text-sm')
                .classes('font-semibold text-amber-700 dark:text-amber-300' if row.output_differs else 'text-grey-7')
            )
            verdict.props['data-testid'] = f'diff-output-{row.node_id}'
        element.update()


def _row_signature(row: NodeDiff) -> tuple[Any, ...]:
    return (row.node_id, row.a_status, row.b_status, row.a_attempts, row.b_attempts, row.a_duration_ms,
            row.b_duration_ms, row.output_differs, row.a_output is None, row.a_reused, row.b_reused, row.a_span_ms,
            row.b_span_ms)  # fmt: skip


def _duration(ran_ms: float | None, span_ms: float | None, reused: bool) -> ui.element:
    """One run's duration of the node: the time its attempts ran; under it, when waits between tries made the span
    longer, the span."""
    with ui.column().classes('fm-cell gap-0 min-w-0') as cell:
        ui.label(DASH if reused else duration(ran_ms)).classes('fm-num')
        if not reused and span_ms is not None and ran_ms is not None and span_ms != ran_ms:
            span = ui.label(f'span {duration(span_ms)}').classes('text-xs text-grey-7 fm-num whitespace-nowrap')
            span.tooltip(f'{duration(span_ms)} from its first start to its end, the waits between tries included')
    return cell


def _status(status: str | None, differs: bool, reused: bool, source: str | None) -> ui.element:
    """One run's status of the node; under it, when the run reused the node, where its output came from (``source``,
    the execution the run reran, when known)."""
    with ui.column().classes('fm-cell gap-0 min-w-0') as cell:
        label = ui.label(status or 'not run').classes('text-xs font-semibold uppercase tracking-wide')
        label.style(f'color: {status_text_color(status or "pending")}')
        if differs:
            label.classes('underline decoration-2')
        if reused:
            note = ui.label(f'reused from {short_id(source)}' if source else 'reused')
            note.classes('text-xs text-grey-7 fm-ellipsis')
            note.tooltip(f'Output reused from execution {source}, not run again' if source else 'Not run again')
    return cell


def _attempts(attempts: int, reused: bool) -> str:
    return 'reused' if reused else str(attempts)


def delta_text(delta_ms: float | None) -> str:
    if delta_ms is None:
        return DASH
    if abs(delta_ms) < NOTICEABLE_MS:
        return '≈ 0'
    sign = '+' if delta_ms > 0 else '\u2212' if delta_ms < 0 else '±'
    return f'{sign}{duration(abs(delta_ms))}'


def _delta(row: NodeDiff) -> ui.label:
    delta_ms = row.delta_ms
    label = ui.label(delta_text(delta_ms)).classes('fm-cell fm-num')
    if row.reused:
        side = ' and '.join(letter for letter, reused in (('A', row.a_reused), ('B', row.b_reused)) if reused)
        label.tooltip(f'Not compared: reused in {side}, not run again')
    elif delta_ms is not None and abs(delta_ms) >= NOTICEABLE_MS:
        label.style(f'color: {SLOWER if delta_ms > 0 else FASTER}; font-weight: 600')
    return label
