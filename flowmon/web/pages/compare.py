"""``/compare?a=<id>&b=<id>``: two executions side by side on one shared scrubber.

Each side is drawn from its own replay index (the same reducer as the live view); the scrubber is an
:class:`Alignment` value, by time since each run's start or by event index (a toggle). The diff table and the
two canvases follow the scrubber. "First divergence" is the first node, in graph order, whose final status or
output differs between the runs. The page opens at the end of both runs (every event of each applied: the final
states the verdict speaks of) with that node outlined; "Jump to it" moves the scrubber where both runs have settled
it. Clicking a node (canvas or table) shows both outputs as a JSON diff.

Each side shows the input its execution ran with; the summary says whether the inputs differ (with their diff, as
text), and never calls two runs identical when only their inputs tell them apart. A node a partial rerun reused is
marked so in the table and gets no duration delta; a node's durations are the time its attempts ran, as on its card
(see :mod:`flowmon.web.comparison`).

Once either execution is deleted (here, elsewhere, by a pruning) the page says which, goes on showing what it read,
and its link to that execution's replay goes (a plain id stays).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nicegui import ui

from flowmon.application import Application
from flowmon.application.errors import NotFound
from flowmon.engine.core.replay_index import ReplayIndex
from flowmon.web.comparison import AlignBy, Alignment, compare, row_summary, verdict
from flowmon.web.format import duration, short_id
from flowmon.web.graph_layout import layout_definition
from flowmon.web.playback import elapsed_text
from flowmon.web.teardown import weak_callback
from flowmon.web.widgets.dag_view import HALF_WIDTH_BUDGET_PX, WIDTH_BUDGET_PX, DagView
from flowmon.web.widgets.deletion_watch import execution_watch
from flowmon.web.widgets.diff_table import DiffTable
from flowmon.web.widgets.empty_state import not_found
from flowmon.web.widgets.json_diff import json_diff, pretty, text_diff
from flowmon.web.widgets.status_badge import StatusBadge
from flowmon.web.widgets.text_block import TextBlock
from flowmon.web.widgets.timeline_scrubber import TimelineScrubber

FRAME_SECONDS = 0.1
SIDE_BY_SIDE_LAYERS = 3  # deeper graphs are drawn one above the other, each at full width
Side = tuple[ReplayIndex, dict[str, Any]]
ALL_EXECUTIONS = ('All executions', '/executions')
NBSP = '\u00a0'
ALIGN_LABELS = {'time': 'By time since start', 'index': 'By event index'}
BANNER_TONES = {
    'green': 'bg-green-50 text-green-900 border-green-200 dark:bg-green-950 dark:text-green-100 dark:border-green-900',
    'blue': 'bg-blue-50 text-blue-900 border-blue-200 dark:bg-blue-950 dark:text-blue-100 dark:border-blue-900',
    'amber': 'bg-amber-50 text-amber-900 border-amber-200 dark:bg-[#2a2414] dark:text-amber-100 dark:border-amber-900',
}


async def create(application: Application, a: str = '', b: str = '') -> None:
    """Open both executions; a missing or unknown id gets a message naming it."""
    body = ui.column().classes('fm-page w-full gap-4').mark('compare-page')
    a, b = a.strip(), b.strip()
    problems: list[str] = []
    since = application.live.deletions  # (a deletion while the runs are read: the page says so too)
    if not a or not b:
        problems.append('Choose two executions: /compare?a=<execution id>&b=<execution id>.')
    indexes: dict[str, ReplayIndex] = {}
    definitions: dict[str, dict[str, Any]] = {}
    for side, execution_id in (('A', a), ('B', b)):
        if not execution_id:
            continue
        try:
            indexes[side] = await application.history.replay(execution_id)
            definitions[side] = await application.history.definition(execution_id, indexes[side].final)
        except NotFound:
            problems.append(f'Execution {side} ({execution_id!r}) not found.')
    if body.is_deleted:
        return
    with body:
        if problems:
            _problem(problems)
            return
        page = ComparePage(a, b, (indexes['A'], definitions['A']), (indexes['B'], definitions['B']))
        page.watch_deletions(application, since)


class ComparePage:
    """The two canvases, the shared scrubber, the first divergence and the diff table."""

    def __init__(self, a_id: str, b_id: str, side_a: Side, side_b: Side) -> None:
        """Each side is an execution's replay index and the workflow it ran."""
        (a, definition_a), (b, definition_b) = side_a, side_b
        self._ids = {'a': a_id, 'b': b_id}
        self._a, self._b = a, b
        self.alignment = Alignment(a, b, 'time')
        self.x = self.alignment.length
        self._rendered: tuple[Any, ...] | None = None
        self.selected: str | None = None
        self._names = {**_names(definition_b), **_names(definition_a)}
        self._order = list(dict.fromkeys([*a.node_order, *b.node_order]))
        self.verdict = verdict(a.final, b.final, self._order)
        self.divergence = self.verdict.divergence

        _header(a_id, b_id, definition_a, definition_b)
        self._notices = ui.column().classes('w-full gap-2')
        with ui.card().classes('fm-panel w-full gap-2').props('flat bordered'):
            with ui.row().classes('w-full items-center gap-3'):
                self.align = (
                    ui.toggle(ALIGN_LABELS, value='time', on_change=lambda e: self.set_alignment(e.value))
                    .props('dense no-caps outline toggle-color=primary data-testid=compare-align')
                    .mark('compare-align')
                )
                ui.button(icon='first_page', on_click=lambda: self.seek(0)).props(
                    'flat round dense aria-label="Jump to start"'
                ).tooltip('Jump to start').mark('compare-jump-start')
                ui.button(icon='last_page', on_click=lambda: self.seek(self.alignment.length)).props(
                    'flat round dense aria-label="Jump to end"'
                ).tooltip('Jump to end').mark('compare-jump-end')
                ui.space()
                self.readout = (
                    ui.label('')
                    .classes('font-mono text-sm fm-num')
                    .props('data-testid=compare-position')
                    .mark('compare-position')
                )
            self.scrubber = TimelineScrubber(
                self.alignment.length,
                self.scrub,
                testid='compare-slider',
                label='Position in both executions',
                on_step=self.step,
            )
            self._divergence_banner()
            self._inputs_line()

        stacked = _too_wide(definition_a) or _too_wide(definition_b)
        columns = 'grid-cols-1' if stacked else 'grid-cols-2 max-lg:grid-cols-1'
        budget = WIDTH_BUDGET_PX if stacked else HALF_WIDTH_BUDGET_PX  # how wide cards may grow for long names
        with ui.element('div').classes(f'w-full grid gap-4 {columns}'):
            self.sides = {
                'a': _Side('A', a_id, a, definition_a, weak_callback(self.select), budget),
                'b': _Side('B', b_id, b, definition_b, weak_callback(self.select), budget),
            }
        with ui.card().classes('fm-panel w-full gap-2').props('flat bordered'):
            with ui.row().classes('w-full items-baseline gap-2'):
                ui.label('Differences per node').classes('text-sm font-semibold')
                ui.label(
                    'at the scrubber position; \u0394 is B minus A (red: B slower; none for a node reused, '
                    'not run again); click a row for the output diff'
                ).classes('text-xs text-grey-7')
            self.table = DiffTable(
                self._names,
                on_select=weak_callback(self.select),
                reused_from=(a.final.retry_of if a.final else None, b.final.retry_of if b.final else None),
            )
        self._diff_dialog = ui.dialog()
        if self.divergence is not None:  # outlined, at the end: where it settled is a jump away
            self._select(self.divergence.node_id)
        self.render()
        ui.timer(FRAME_SECONDS, self.render)

    def watch_deletions(self, application: Application, since: int) -> None:
        """Say so when either execution is deleted (after deletion number ``since``)."""
        with self._notices:
            for key, side in self.sides.items():
                execution_id = self._ids[key]
                text = (
                    f'Execution {key.upper()} ({short_id(execution_id)}) was deleted. What this page read of it stays '
                    'until you leave it.'
                )
                execution_watch(
                    application, execution_id, since, text, f'compare-deleted-{key}', withdraw=weak_callback(side.gone)
                )

    # --- actions ----------------------------------------------------------------------------------------

    def seek(self, x: float) -> None:
        self.scrub(x)
        self.render()

    def step(self, delta: int) -> None:
        """From the keyboard on the scrubber: ``delta`` events on (by time: to the next event of either run)."""
        self.seek(self.alignment.step(self.x, delta))

    def scrub(self, x: float) -> None:
        """From the scrubber: drawn by the next frame (dragging sends many values)."""
        self.x = max(0.0, min(float(x), self.alignment.length))

    def set_alignment(self, by: AlignBy) -> None:
        self.alignment, self.x = self.alignment.realigned(by, self.x)
        self.scrubber.rescale(self.alignment.length, 1000.0 if by == 'time' else 1.0)
        self.render()

    def jump_to_divergence(self, *, open_diff: bool = True) -> None:
        if self.divergence is None:
            return
        node_id = self.divergence.node_id
        self.scrub(self.alignment.settled_at(node_id))
        self._select(node_id)
        self.render()
        if open_diff:
            self.show_diff(node_id)

    def select(self, node_id: str) -> None:
        self._select(node_id)
        self.render()
        self.show_diff(node_id)

    def _select(self, node_id: str) -> None:
        self.selected = node_id
        for side in self.sides.values():
            side.dag.select(node_id)

    def show_diff(self, node_id: str) -> None:
        state_a, state_b = self.alignment.states(self.x)
        row = next((r for r in compare(state_a, state_b, [node_id]) if r.node_id == node_id), None)
        self._diff_dialog.clear()
        with self._diff_dialog, ui.card().classes('fm-panel gap-3').style('width: min(880px, 94vw)'):
            with ui.row().classes('w-full items-center no-wrap'):
                with ui.column().classes('gap-0 grow'):
                    ui.label(f'Output of {self._names.get(node_id, node_id)}').classes('text-lg font-semibold')
                    ui.label(row_summary(row)).classes('text-xs text-grey-7')
                self._close_button()
            json_diff(row.a_output if row else None, row.b_output if row else None, **self._labels())
        self._diff_dialog.open()

    def show_input_diff(self) -> None:
        """Both inputs as a text diff (the values are data: shown as text, never markup)."""
        self._diff_dialog.clear()
        with self._diff_dialog, ui.card().classes('fm-panel gap-3').style('width: min(880px, 94vw)'):
            with ui.row().classes('w-full items-center no-wrap'):
                with ui.column().classes('gap-0 grow'):
                    ui.label('Input').classes('text-lg font-semibold')
                    ui.label(self.verdict.inputs_line).classes('text-xs text-grey-7')
                self._close_button()
            diff = text_diff(self.verdict.a_input, self.verdict.b_input, **self._labels())
            diff.props('data-testid=input-diff').mark('input-diff')
        self._diff_dialog.open()

    def _close_button(self) -> None:
        ui.button(icon='close', on_click=self._diff_dialog.close).props('flat round dense aria-label="Close diff"')

    def _labels(self) -> dict[str, str]:
        return {'a_label': f'A {short_id(self._ids["a"])}', 'b_label': f'B {short_id(self._ids["b"])}'}

    # --- drawing ----------------------------------------------------------------------------------------

    def render(self) -> None:
        k_a, k_b = self.alignment.positions(self.x)
        key = (self.alignment.by, self.x, k_a, k_b, self.selected)
        if key == self._rendered:
            return
        self._rendered = key
        self.scrubber.show(self.x)
        state_a, state_b = self._a.state_at(k_a), self._b.state_at(k_b)
        self.sides['a'].show(state_a, k_a)
        self.sides['b'].show(state_b, k_b)
        at = elapsed_text(self.x) if self.alignment.by == 'time' else f'event {int(self.x)}'
        self.readout.set_text(_parts(at, f'A event {k_a} / {self._a.n}', f'B event {k_b} / {self._b.n}'))
        self.scrubber.describe(f'{at}: A event {k_a} of {self._a.n}, B event {k_b} of {self._b.n}')
        highlight = self.divergence.node_id if self.divergence else None
        self.table.show(compare(state_a, state_b, self._order), highlight=highlight, selected=self.selected)

    def _divergence_banner(self) -> None:
        """The verdict: no divergence (green), every node alike but not the inputs (blue), or the first node that
        diverged (amber)."""
        row = self.divergence
        tone = 'green' if self.verdict.identical else 'blue' if row is None else 'amber'
        icon = {'green': 'check_circle', 'blue': 'info', 'amber': 'call_split'}[tone]
        with (
            ui.row()
            .classes('w-full items-center gap-2 rounded px-3 py-2 text-sm border ' + BANNER_TONES[tone])
            .props('data-testid=first-divergence')
            .mark('first-divergence')
        ) as banner:
            banner.props['data-node'] = row.node_id if row else ''
            ui.icon(icon, size='18px')
            if row is None:
                ui.label(self.verdict.headline)
                return
            ui.label(self.verdict.headline).classes('font-semibold')
            ui.label(f'{self._names.get(row.node_id, row.node_id)} ({row.node_id})').classes('font-mono')
            ui.label(row_summary(row)).classes('grow')
            ui.button('Jump to it', icon='my_location', on_click=self.jump_to_divergence).props(
                'flat dense no-caps data-testid=jump-to-divergence'
            ).mark('jump-to-divergence')

    def _inputs_line(self) -> None:
        """Whether the two runs had the same input; when not, a button for the input diff."""
        differ = self.verdict.inputs_differ
        with (
            ui.row()
            .classes('w-full items-center gap-2 text-sm')
            .props(f'data-testid=compare-inputs data-differs={"yes" if differ else "no"}')
            .mark('compare-inputs')
        ):
            ui.icon('difference' if differ else 'drag_handle', size='18px').classes(
                'text-amber-700 dark:text-amber-300' if differ else 'text-grey-7'
            )
            ui.label(self.verdict.inputs_line).classes('font-semibold' if differ else 'text-grey-7')
            if differ:
                ui.button('Show input diff', icon='difference', on_click=self.show_input_diff).props(
                    'flat dense no-caps data-testid=show-input-diff'
                ).mark('show-input-diff')


class _Side:
    """One execution's canvas with its own state and position."""

    def __init__(
        self,
        letter: str,
        execution_id: str,
        index: ReplayIndex,
        definition: dict[str, Any],
        on_select: Any,
        width_budget: int,
    ) -> None:
        final = index.final
        testid = f'compare-side-{letter.lower()}'
        with ui.card().classes('fm-panel min-w-0 gap-2').props(f'flat bordered data-testid={testid}'):
            with ui.row().classes('w-full items-center gap-2 no-wrap'):
                ui.badge(letter, color='primary').classes('text-sm px-2')
                self._link = (
                    ui.link(short_id(execution_id), f'/executions/{execution_id}/replay')
                    .classes('font-mono text-sm fm-link')
                    .tooltip(execution_id)
                    .mark(f'compare-link-{letter.lower()}')
                )
                self._plain = ui.label(short_id(execution_id)).classes('font-mono text-sm').tooltip(execution_id)
                self._plain.set_visibility(False)
                if final is not None:
                    StatusBadge(final.status).classes('text-xs')
                    ui.label(duration(final.duration_ms)).classes('text-xs text-grey-7 whitespace-nowrap').props(
                        f'data-testid=compare-duration-{letter.lower()}'
                    )
                ui.space()
                self.position = (
                    ui.label('')
                    .classes('font-mono text-xs text-grey-7 fm-num')
                    .props(f'data-testid=compare-position-{letter.lower()}')
                )
            _input(letter, final.input if final is not None else None)
            self.dag = DagView(
                definition, on_select=on_select, height='auto', width_budget=width_budget, start_named=True
            )
        self._index = index

    def gone(self) -> None:
        """The execution was deleted: its id stays, as text (its replay is gone)."""
        self._link.set_visibility(False)
        self._plain.set_visibility(True)

    def show(self, state: Any, k: int) -> None:
        self.dag.apply(state)
        self.position.set_text(_parts(f'event {k} / {self._index.n}', elapsed_text(self._index.elapsed_at(k))))


def _parts(*parts: str) -> str:
    """``parts`` joined by " · ", each kept on one line (non-breaking spaces within it): a narrow screen breaks the
    text between them, never inside "A event 21 / 21" or "+1.624 s"."""
    return ' · '.join(part.replace(' ', NBSP) for part in parts)


def _input(letter: str, value: Any) -> None:
    """The input the execution ran with, as text (pretty JSON, scrolled when long)."""
    with ui.row().classes('w-full items-start gap-2 no-wrap min-w-0'):
        ui.label('Input').classes('text-xs font-semibold text-grey-7 pt-1')
        text = '\n'.join(pretty(value)) or 'none'
        block = TextBlock(text).classes('grow min-w-0 m-0 text-xs').style('max-height: 7.5rem')
        block.props(f'data-testid=compare-input-{letter.lower()}')
        block.mark(f'compare-input-{letter.lower()}')


def _too_wide(definition: Mapping[str, Any]) -> bool:
    """Whether the graph needs more than half a page's width (then the two canvases stack, aligned)."""
    return layout_definition(definition).layers > SIDE_BY_SIDE_LAYERS


def _names(definition: Mapping[str, Any]) -> dict[str, str]:
    return {
        str(node['id']): str(node.get('name') or node['id'])
        for node in definition.get('nodes') or ()
        if isinstance(node, Mapping) and 'id' in node
    }


def _header(a_id: str, b_id: str, definition_a: Mapping[str, Any], definition_b: Mapping[str, Any]) -> None:
    name_a = str(definition_a.get('name') or 'Execution')
    name_b = str(definition_b.get('name') or 'Execution')
    with ui.column().classes('gap-0'):
        with ui.row().classes('items-center gap-1 text-sm text-gray-500'):
            ui.link('Executions', '/executions').classes('text-gray-500 no-underline hover:underline')
            ui.icon('chevron_right', size='16px')
            ui.label('Compare')
        title = f'Compare · {name_a}' if name_a == name_b else f'Compare · {name_a} vs {name_b}'
        ui.label(title).classes('fm-title')
        ui.label(_parts(f'A = {a_id}', f'B = {b_id}')).classes('text-xs font-mono text-grey-7')


def _problem(problems: list[str]) -> None:
    not_found('compare-problem', 'compare_arrows', 'Cannot compare these executions', problems, ALL_EXECUTIONS)
