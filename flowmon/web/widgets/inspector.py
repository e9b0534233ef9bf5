"""The node inspector: a side sheet with one node's input, output, error, attempts and (a worker node) worker.

It opens beside the canvas (a seamless dialog on the right, so the page stays usable and it works inside
sub pages, where drawers cannot live); the page narrows beside it, so it covers nothing (the Timeline and its slider
included), and on a narrow screen it is a sheet along the bottom, with room below the page to scroll every part of
it above the sheet. Its content is rebuilt only when the shown node's view changes (status, attempts, finish,
error: :class:`~flowmon.web.node_views.NodeView`, shared with the canvas and the node list) or the execution ends,
not on every tick. Payloads over ``LARGE_PAYLOAD`` characters
are shown truncated with a "Show all" button.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from nicegui import ui

from flowmon.engine.core.state import Attempt, ExecutionState, NodeState
from flowmon.web.actions import one_at_a_time
from flowmon.web.format import DASH, duration, in_zone, viewer_timezone
from flowmon.web.node_views import NodeView, NodeViews
from flowmon.web.theme import outcome_status, status_color, status_icon
from flowmon.web.widgets.status_badge import StatusBadge
from flowmon.web.widgets.text_block import TextBlock

# vanilla-jsoneditor reads its colours from CSS variables; these follow the app's light/dark variables (the values'
# colours: theme.JSON_VALUE_COLORS).
JSON_TREE_STYLE = (
    '--jse-background-color: var(--fm-surface); --jse-panel-background: var(--fm-surface); '
    '--jse-text-color: var(--fm-text); --jse-key-color: var(--fm-text); --jse-delimiter-color: var(--fm-muted); '
    '--jse-main-border: 1px solid var(--fm-border); --jse-value-color-string: var(--fm-json-string); '
    '--jse-value-color-number: var(--fm-json-number); --jse-value-color-boolean: var(--fm-json-boolean); '
    '--jse-value-color-null: var(--fm-json-null); --jse-value-color-url: var(--fm-primary-text); '
    '--jse-a-color: var(--fm-primary-text); --jse-collapsed-items-link-color: var(--fm-muted); '
    # a collapsed list's count ("2 items"): white on 20% black was 2.4:1
    '--jse-tag-color: var(--fm-muted); --jse-tag-background: var(--fm-hover); '
    '--jse-font-size-mono: 12px; --jse-hover-background-color: var(--fm-hover); '
    '--jse-selection-background-color: var(--fm-hover); --jse-collapsed-items-background-color: var(--fm-hover)'
)
# The body's classes while the inspector shows (fm-inspecting) and slides away (fm-inspector-leaving): see style.py.
_SHOWING = '() => { const c = document.body.classList; c.add("fm-inspecting"); c.remove("fm-inspector-leaving"); }'
_LEAVING = '() => document.body.classList.add("fm-inspector-leaving")'
_HIDDEN = '(...a) => { document.body.classList.remove("fm-inspecting", "fm-inspector-leaving"); emit(...a); }'
# (a dialog taken off the page, open or leaving, says neither: the app is one page, its body stays for the next)
_GONE = '() => document.body.classList.remove("fm-inspecting", "fm-inspector-leaving")'
LARGE_PAYLOAD = 20_000  # characters of pretty JSON shown before truncating
TREE_LIMIT = 4_000  # up to this size, a collapsible tree; above, pretty text (faster to render)


class Inspector:
    """Shows the selected node of an execution; :meth:`show` keeps it current as the state changes."""

    def __init__(
        self,
        names: dict[str, str],
        types: dict[str, str],
        views: NodeViews,
        *,
        on_close: Callable[[], None] | None = None,
        on_rerun_from: Callable[[str], Any] | None = None,
    ) -> None:
        self._names = names
        self._types = types
        self._views = views
        self._on_close = on_close
        self._on_rerun_from = on_rerun_from
        self._node_id: str | None = None
        self._shown: tuple[str, NodeView, bool] | None = None  # node, its view and whether the execution ended
        self._slow: ui.label | None = None  # "slower than usual: ..." of the shown node
        # The body's classes say the panel is open or leaving (style.py: the page narrows beside it), set in the
        # browser as the dialog starts to show or to hide, both gone once it has hidden or left the page.
        self.dialog = (
            ui.dialog()
            .props('seamless position=right')
            .classes('fm-inspector-dialog')
            .on('before-show', js_handler=_SHOWING)
            .on('before-hide', js_handler=_LEAVING)
            .on('hide', self._hidden, js_handler=_HIDDEN)
            .on('vnodeBeforeUnmount', js_handler=_GONE)
        )
        with self.dialog:
            # A floating panel that leaves the app header (navigation, theme, sign-out) uncovered, and the page: it
            # narrows beside it, or on a narrow screen gets room to scroll above it (style.py's .fm-inspector)
            self.card = (
                ui.card()
                .classes('fm-panel fm-inspector p-0 gap-0 no-wrap max-w-none shadow-xl')
                .props('data-testid=inspector')
                .mark('inspector')
            )
            with self.card:
                self.body = ui.column().classes('w-full grow overflow-y-auto p-4 gap-3 no-wrap')

    @property
    def node_id(self) -> str | None:
        return self._node_id

    def open(self, node_id: str, state: ExecutionState | None) -> None:
        self._node_id = node_id
        self._shown = None
        self.show(state)
        self.dialog.open()

    def close(self) -> None:
        self.dialog.close()

    def withdraw_rerun(self, state: ExecutionState | None) -> None:
        """No "Rerun from this node" from now on (the execution was deleted): the shown node is drawn without it."""
        self._on_rerun_from = None
        self._shown = None
        self.show(state)

    def show(self, state: ExecutionState | None) -> None:
        """Rebuild the content if the shown node's view changed since the last call (the page brings the views up
        to ``state`` first)."""
        if self._node_id is None or self._node_id not in self._views:
            return
        terminal = state.is_terminal if state is not None else False
        view = self._views[self._node_id]
        shown = (self._node_id, view._replace(slow=''), terminal)  # the slow text alone changes one label
        if shown != self._shown:
            self._shown = shown
            self.body.clear()
            with self.body:
                self._render(self._node_id, state.nodes.get(self._node_id) if state is not None else None, terminal)
        if self._slow is not None and self._slow.text != view.slow:
            self._slow.set_text(view.slow)
            self._slow.set_visibility(bool(view.slow))

    def _hidden(self) -> None:
        self._node_id = None
        self._shown = None
        if self._on_close is not None:
            self._on_close()

    # --- content --------------------------------------------------------------------------------------

    def _render(self, node_id: str, node: NodeState | None, terminal: bool) -> None:
        status = node.status if node else 'pending'
        name = self._names.get(node_id, node_id)
        with ui.row().classes('w-full items-start no-wrap gap-2'):
            ui.icon(status_icon(status), size='28px').style(f'color: {status_color(status)}')
            with ui.column().classes('gap-0 grow min-w-0'):
                ui.label(name).classes('text-lg font-semibold leading-tight truncate w-full')
                kind = self._types.get(node_id, '')
                ui.label(f'{node_id}' + (f' · {kind}' if kind else '')).classes('text-xs font-mono text-gray-500')
            ui.button(icon='close', on_click=self.close).props('flat round dense aria-label="Close inspector"')
        with ui.row().classes('w-full items-center gap-2'):
            StatusBadge(status).classes('text-sm px-2 py-1').props('data-testid=inspector-status').mark(
                'inspector-status'
            )
            if node is not None and node.reused:
                ui.badge('reused', color='blue-grey-7').classes('px-2 py-1')
            ui.space()
            if terminal and self._on_rerun_from is not None:
                rerun = self._on_rerun_from
                ui.button('Rerun from this node', icon='replay', on_click=one_at_a_time(lambda: rerun(node_id))).props(
                    'outline dense no-caps data-testid=rerun-from-node'
                ).mark('rerun-from-node')
        self._slow = (
            ui.label('')
            .classes('w-full text-sm rounded px-3 py-2 fm-slow-note')
            .props('data-testid=inspector-slow')
            .mark('inspector-slow')
        )
        self._slow.set_visibility(False)
        _facts(node)
        if node is not None and node.error:
            _error(node)
        if node is not None and node.attempt_log:
            _attempts(node.attempt_log)
        if node is not None and node.skip_reason:
            ui.label(f'Skipped: {node.skip_reason}').classes('text-sm text-gray-500')
        _payload('Input', node.input if node else None, opened=True)
        _payload('Output', node.output if node else None, opened=True)


def _facts(node: NodeState | None) -> None:
    ran = node.ran_ms if node else None  # the time its attempts ran, the waits between tries left out
    rows = [
        ('Started', _clock(node.started_at) if node else DASH),
        ('Finished', _clock(node.finished_at) if node else DASH),
        ('Duration', duration(ran) if node else '—'),
        ('Attempts', str(node.attempts) if node else '0'),
    ]
    if node is not None and ran != node.duration_ms:  # tried again after a wait: from its first start to its end
        rows.insert(3, ('Span', f'{duration(node.duration_ms)} with the waits between tries'))
    if node is not None and node.worker:  # a worker node: the Dask worker's address or local:<pid>
        rows.append(('Worker', node.worker))
    if node is not None and node.next_retry_in is not None:
        rows.append(('Next try in', f'{node.next_retry_in:g} s'))
    with ui.grid(columns='auto 1fr').classes('w-full gap-x-4 gap-y-1 text-sm'):
        for label, value in rows:
            ui.label(label).classes('text-gray-500')
            ui.label(value).classes('font-mono text-xs self-center')


def _error(node: NodeState) -> None:
    with (
        ui.column()
        .classes('w-full gap-1 rounded border border-red-300 dark:border-red-800 bg-red-50 dark:bg-red-950 p-3')
        .props('data-testid=inspector-error')
        .mark('inspector-error')
    ):
        ui.label(node.error or '').classes('text-sm text-red-800 dark:text-red-200 font-medium fm-break')
        if node.traceback:
            with ui.expansion('Traceback').classes('w-full text-xs').props('dense'):
                TextBlock(node.traceback).props('data-testid=inspector-traceback')


def _attempts(log: tuple[Attempt, ...]) -> None:
    ui.label('Attempts').classes('text-sm font-semibold')
    with ui.column().classes('w-full gap-1').props('data-testid=inspector-attempts').mark('inspector-attempts'):
        for attempt in log:
            # columns of fixed width that never shrink (a long error must not squeeze them: rows stay aligned)
            with ui.row().classes('w-full items-center gap-2 no-wrap text-sm'):
                ui.icon(status_icon(outcome_status(attempt.outcome)), size='16px').classes('shrink-0').style(
                    f'color: {status_color(outcome_status(attempt.outcome))}'
                )
                ui.label(f'#{attempt.n}').classes('font-mono w-8 shrink-0')
                ui.label(attempt.outcome).classes('w-20 shrink-0')
                ui.label(_clock(attempt.started_at, date=False)).classes(
                    'font-mono text-xs text-gray-500 shrink-0'
                ).props('data-testid=attempt-started')
                ui.label(duration(attempt.duration_ms)).classes('font-mono text-xs w-16 text-right shrink-0')
                if attempt.worker:
                    ui.label(attempt.worker).classes('font-mono text-xs text-gray-500 truncate min-w-0').tooltip(
                        attempt.worker
                    )
                if attempt.error:
                    ui.label(attempt.error).classes(
                        'text-xs text-red-600 dark:text-red-300 truncate grow min-w-0'
                    ).tooltip(attempt.error)


def _payload(title: str, value: Any, *, opened: bool) -> None:
    text = _pretty(value)
    size = len(text.encode('utf-8'))
    caption = f'{title} · {_size(size)}' if value is not None else f'{title} · none'
    with (
        ui.expansion(caption, value=opened and value is not None)
        .classes('w-full')
        .props(f'dense header-class="text-sm font-semibold px-0" data-testid=inspector-{title.lower()}')
    ):
        if value is None:
            ui.label('Nothing yet.').classes('text-sm text-gray-500')
        elif isinstance(value, dict | list) and len(text) <= TREE_LIMIT:
            ui.json_editor(
                {
                    'content': {'json': value},
                    'readOnly': True,
                    'mainMenuBar': False,
                    'navigationBar': False,
                    'statusBar': False,
                    'mode': 'tree',
                }
            ).classes('w-full').style(JSON_TREE_STYLE)
        elif len(text) <= LARGE_PAYLOAD:
            TextBlock(text)
        else:
            holder = ui.column().classes('w-full gap-1')
            with holder:
                TextBlock(text[:LARGE_PAYLOAD] + '\n…')

                def show_all() -> None:
                    holder.clear()
                    with holder:
                        TextBlock(text)

                ui.button(f'Show all ({_size(size)})', icon='unfold_more', on_click=show_all).props(
                    'flat dense no-caps data-testid=show-all'
                )


def _clock(moment: datetime | None, *, date: bool = True) -> str:
    """A node's times to the millisecond, in the viewer's time zone."""
    if moment is None:
        return DASH
    local = in_zone(moment, viewer_timezone())
    text = local.strftime('%H:%M:%S.') + f'{local.microsecond // 1000:03d}'
    return f'{local.date().isoformat()} {text} {local:%Z}' if date else text


def _pretty(value: Any) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _size(n: int) -> str:
    if n < 1024:
        return f'{n} B'
    if n < 1024 * 1024:
        return f'{n / 1024:.1f} KB'
    return f'{n / 1024 / 1024:.1f} MB'
