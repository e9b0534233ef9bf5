"""The execution's event log: newest at the bottom, bounded, filterable, polite about scrolling.

The lines live in one browser component (``event_log.js``) however many there are: each update sends only the
new lines, which the browser appends as one chunk and trims to the newest ``max_lines``. A line travels as its
cells of text (time, number, type, node, detail), which the browser puts into the page as text nodes: node ids,
errors and reasons come from executions and imports, and are never parsed as markup. (One ``ui.html`` per
update, as before, meant hundreds of elements per open tab on a slow execution.) The view follows new lines only
while the reader is already at the bottom; scrolled up, it stays where it is. A bounded buffer of recent lines
backs the filters, and the page keeps a mirror of the lines the browser shows (for the count, and for tests).

The buffer keeps each event as a plain tuple ``(seq, type, node id, cells)``, not the event itself: the
garbage collector stops tracking tuples of strings and numbers, while thousands of events (with their
payload dicts) per open tab would be walked by every full collection.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from nicegui import ui

from flowmon.engine.core.events import Event, EventType
from flowmon.web.format import plural
from flowmon.web.theme import status_text_color
from flowmon.web.widgets.patched import PatchedElement

MAX_LINES = 500
BUFFER = 5000  # events kept for re-filtering; the log itself shows at most MAX_LINES of them
_KINDS = {  # event type -> colour class of its type word (the status it leads to)
    EventType.NODE_STARTED: 'running',
    EventType.EXECUTION_STARTED: 'running',
    EventType.NODE_RETRYING: 'retrying',
    EventType.NODE_COMPLETED: 'succeeded',
    EventType.EXECUTION_COMPLETED: 'succeeded',
    EventType.NODE_FAILED: 'failed',
    EventType.EXECUTION_FAILED: 'failed',
    EventType.NODE_SKIPPED: 'skipped',
    EventType.NODE_CANCELLED: 'cancelled',
    EventType.EXECUTION_CANCELLED: 'cancelled',
    EventType.EXECUTION_INTERRUPTED: 'interrupted',
    EventType.EXECUTION_QUEUED: 'queued',
}
# Columns by CSS, colours by class: a line is sent as a few short tags, not as padded, inline-styled text.
# Older chunks are skipped by the browser's layout and paint while out of view (a busy log adds hundreds of lines a
# second); the newest chunk never is, so what the reader follows is always drawn at once. A skipped chunk keeps the
# height it was last drawn at, and one never drawn since it stopped being the newest (the reader had scrolled up) is
# as tall as its lines (``--n``, set by event_log.js): a fixed guess made the log's height, and its scrollbar, jump
# by hundreds of pixels for a frame with each chunk that arrived while the reader read. The browser's scroll
# anchoring is off: event_log.js keeps the reader's line in place itself when old lines are trimmed (the browser
# did so only at times). On a phone (below 640 px) a line's node and detail go on rows of their own under its type,
# indented and wrapped anywhere (a monospaced row holds a known number of letters, so event_log.js counts the rows
# a line takes there as ``--n2``): in columns they ran past the screen's edge. Added once for the app.
CSS = (
    '.fm-log{overflow-anchor:none;position:relative}'  # (the offsets event_log.js measures are the log's own)
    '.fm-log>div:not(:last-child){content-visibility:auto;contain-intrinsic-size:auto calc(var(--n,1)*1lh)}'
    '.fm-ev{white-space:nowrap}.fm-ev>span{display:inline-block;vertical-align:top;margin-right:1.5ch}'
    '.fm-ev .t{width:9ch;text-align:right;opacity:.6}.fm-ev .s{width:5ch;opacity:.6}'
    '.fm-ev .k{width:20ch;font-weight:600;color:var(--fm-muted,#64748b)}'
    '.fm-ev .n{width:18ch;overflow:hidden;text-overflow:ellipsis}.fm-ev .d{opacity:.75;white-space:pre}'
    '@media (max-width:639.98px){'
    '.fm-log>div:not(:last-child){contain-intrinsic-size:auto calc(var(--n2,var(--n,1))*1lh)}'
    '.fm-ev{white-space:normal;padding-left:2ch;text-indent:-2ch}.fm-ev>span{text-indent:0}'
    '.fm-ev .k{display:inline;margin-right:0}.fm-ev .k::after{content:"\\A";white-space:pre}'  # (a line break)
    '.fm-ev .n,.fm-ev .d{display:inline;width:auto;word-break:break-all}.fm-ev .n{margin-right:1ch}'
    '.fm-ev .d{white-space:pre-wrap;margin-right:0}.fm-ev .n:empty,.fm-ev .d:empty{display:none}}'
    # a log with no line says why (the attribute's text, set by the page: never markup)
    '.fm-log:empty::before{content:attr(data-empty);opacity:.6;font-style:italic}'
    + ''.join(f'.fm-ev .k-{kind}{{color:{status_text_color(kind)}}}' for kind in sorted(set(_KINDS.values())))
)
ALL_TYPES = [str(event_type) for event_type in EventType]
# A line's cells, as the browser shows them: time offset, #seq, type, its colour kind ('' for none), node id, detail.
Cells = tuple[str, str, str, str, str, str]
Line = tuple[int, str, str, Cells]  # seq, type, node id ('' for none), cells; exact tuples


class LogLines(PatchedElement, component='event_log.js'):
    """The lines in the browser, and their mirror here, drawn once and then patched
    (:mod:`~flowmon.web.widgets.patched`). Snapshot: ``{lines: [cells, ...]}``, shown from the bottom; patch:
    ``{lines: [cells, ...]}`` (new lines, appended) or ``{follow: true}`` (scroll to the newest and follow)."""

    def __init__(self, max_lines: int) -> None:
        super().__init__()
        self._props['max'] = self._max = max_lines
        self._lines: deque[Line] = deque(maxlen=max_lines)  # what the browser shows, oldest first

    def __len__(self) -> int:
        return len(self._lines)

    def texts(self) -> list[str]:
        """The lines shown, oldest first, as plain text."""
        return [_text(line[3]) for line in self._lines]

    def append(self, lines: Sequence[Line]) -> None:
        self._lines.extend(lines)
        if lines and self.drawn:
            self.send_patch({'lines': [line[3] for line in lines[-self._max :]]})

    def replace(self, lines: Iterable[Line]) -> None:
        """Show ``lines`` instead, from the bottom."""
        self._lines.clear()
        self._lines.extend(lines)
        self.redraw()

    def follow(self) -> None:
        """Scroll to the newest line and keep following."""
        self.send_patch({'follow': True})

    def snapshot(self) -> dict[str, Any]:
        return {'lines': [line[3] for line in self._lines]}

    def _displayed_contents(self, *, only_visible: bool) -> list[Any]:
        return self.texts()


class EventLog:
    """Shows events as lines ``+offset  #seq  type  node  detail``; call :meth:`show` with new events."""

    def __init__(
        self,
        node_ids: Sequence[str],
        height: str = '260px',
        max_lines: int = MAX_LINES,
        *,
        waiting: str = 'No events yet.',
    ) -> None:
        """``waiting``: what the empty log says before its first event (a filter that hides every line says so)."""
        self._max_lines = max_lines
        self._waiting = waiting
        self._buffer: deque[Line] = deque(maxlen=BUFFER)
        self._origin: datetime | None = None
        self._types: set[str] = set(ALL_TYPES)
        self._node: str | None = None
        with ui.row().classes('w-full items-center gap-2 no-wrap fm-wrap-narrow'):
            ui.label('Event log').classes('text-sm font-semibold')
            self._count = ui.label('').classes('text-xs text-gray-500').props('data-testid=event-count')
            ui.button(icon='vertical_align_bottom', on_click=self._jump).classes('ml-auto').props(
                'flat round dense size=sm aria-label="Jump to the latest line" data-testid=event-log-latest'
            ).tooltip('Jump to the latest line and follow')
            self.type_filter = (
                ui.select(ALL_TYPES, multiple=True, value=list(ALL_TYPES), label='Types', on_change=self._on_types)
                .props('dense outlined options-dense display-value="All types"')
                .classes('w-[180px]')
                .mark('event-type-filter')
            )
            # The node choices are given to the select only while its menu is open: NiceGUI wraps every option in
            # observables, about 1,900 objects for 300 nodes, which every full garbage collection walks, per tab.
            self._node_options = {'': 'All nodes', **{node_id: node_id for node_id in node_ids}}
            self.node_filter = (
                ui.select({'': 'All nodes'}, value='', label='Node', on_change=self._on_node)
                .props('dense outlined options-dense')
                .classes('min-w-[180px]')
                .mark('event-node-filter')
                .on('popup-show', self._offer_nodes)
                .on('popup-hide', self._withdraw_nodes)
            )
        self.box = (
            LogLines(max_lines)
            .classes(
                'w-full overflow-y-auto font-mono text-xs leading-5 rounded-lg border '
                'bg-gray-50 dark:bg-[#15181d] px-3 py-2'
            )
            .style(f'height: {height}; border-color: var(--fm-border)')
            .props('data-testid=event-log')
            .mark('event-log')
        )
        self.box.props['data-empty'] = waiting

    @property
    def last_seq(self) -> int:
        return self._buffer[-1][0] if self._buffer else 0

    def show(self, events: Sequence[Event], upto_seq: int | None = None) -> None:
        """Add ``events`` newer than the last one shown; ``upto_seq`` below that (a replay seeking back)
        first removes the lines after it. Events are assumed in ``seq`` order."""
        if upto_seq is not None and self._buffer and self._buffer[-1][0] > upto_seq:
            kept = [line for line in self._buffer if line[0] <= upto_seq]
            self._buffer.clear()
            self._buffer.extend(kept)
            self._add(events, upto_seq)
            self._render_all()
            return
        fresh = self._add(events, upto_seq)
        if fresh:
            self._append([line for line in fresh if self._matches(line)])

    def clear(self) -> None:
        self._buffer.clear()
        self._render_all()

    # --- internals ------------------------------------------------------------------------------------

    def _add(self, events: Sequence[Event], upto_seq: int | None) -> list[Line]:
        last = self.last_seq
        start = len(events)
        while start > 0 and events[start - 1].seq > last:  # walk back only over the new tail
            start -= 1
        fresh = [event for event in events[start:] if upto_seq is None or event.seq <= upto_seq]
        if fresh and self._origin is None:
            self._origin = fresh[0].ts
        lines = [(event.seq, str(event.type), event.node_id or '', line_cells(event, self._origin)) for event in fresh]
        self._buffer.extend(lines)
        return lines

    def _matches(self, line: Line) -> bool:
        return line[1] in self._types and (not self._node or line[2] == self._node)

    def _append(self, lines: list[Line]) -> None:
        self.box.append(lines)
        self._update_count()

    def _render_all(self) -> None:
        self.box.replace(line for line in self._buffer if self._matches(line))
        self._update_count()

    def _jump(self) -> None:
        self.box.follow()

    def _update_count(self) -> None:
        text = f'{len(self.box)} shown'
        if len(self.box) >= self._max_lines:
            text += f' (latest {self._max_lines})'
        self._count.set_text(text)
        empty = self._waiting if not self._buffer else 'No event matches the filters.'
        if self.box.props.get('data-empty') != empty:
            self.box.props['data-empty'] = empty
            self.box.update()

    def set_waiting(self, text: str) -> None:
        """What the log says before its first event (a replay before its first step says how to go on)."""
        self._waiting = text
        self._update_count()

    def _on_types(self) -> None:
        self._types = set(self.type_filter.value or [])
        if len(self._types) == len(ALL_TYPES):
            shown = 'All types'
        elif len(self._types) == 1:
            shown = next(iter(self._types))
        else:
            shown = f'{len(self._types)} types'
        self.type_filter.props(f'display-value="{shown}"')
        self._render_all()

    def _offer_nodes(self) -> None:
        self.node_filter.set_options(self._node_options, value=self.node_filter.value)

    def _withdraw_nodes(self) -> None:
        chosen = self.node_filter.value or ''
        self.node_filter.set_options({'': 'All nodes', chosen: self._node_options.get(chosen, chosen)}, value=chosen)

    def _on_node(self) -> None:
        self._node = self.node_filter.value or None
        self._render_all()


def line_cells(event: Event, origin: datetime | None) -> Cells:
    """The cells of ``event``'s line: time since ``origin`` (the first event shown), number, type, colour kind, node
    and detail. Text only: the browser sets each as ``textContent``."""
    offset = (event.ts - origin).total_seconds() if origin else 0.0
    kind = _KINDS.get(event.type, '')
    return (f'+{offset:.3f}s', f'#{event.seq}', str(event.type), kind, event.node_id or '', _detail(event))


def _text(cells: Cells) -> str:
    """A line as the reader sees it (without the colour kind)."""
    time, seq, kind_word, _, node_id, detail = cells
    return ' '.join(part for part in (time, seq, kind_word, node_id, detail) if part)


def _detail(event: Event) -> str:
    data = event.data
    if event.type == EventType.NODE_STARTED:
        return f'attempt {data.get("attempt", 1)}'
    if event.type in (EventType.NODE_RETRYING, EventType.NODE_FAILED, EventType.EXECUTION_FAILED):
        delay = data.get('delay_seconds')
        suffix = f' (retry in {delay:g} s)' if isinstance(delay, int | float) else ''
        return f'{str(data.get("error") or "")[:160]}{suffix}'
    if event.type == EventType.DATA_FLOW:
        return f'→ {data.get("target", "")} ({data.get("bytes", 0)} B)'
    if event.type == EventType.NODE_SKIPPED:
        return str(data.get('reason') or '')[:160]
    if event.type == EventType.NODE_COMPLETED and data.get('reused'):
        return 'reused from the earlier execution'
    if event.type == EventType.EXECUTION_PROGRESS and 'done' in data:
        return f'{data.get("done")} / {data.get("total")} nodes done'
    if event.type == EventType.EXECUTION_QUEUED:
        return f'{data.get("workflow_id", "")} · {plural(len(data.get("nodes") or []), "node")}'
    return ''
