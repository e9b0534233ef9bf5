"""The execution's event log: newest at the bottom, bounded, filterable, polite about scrolling.

Lines are grouped into one HTML element per update ("chunk"), so a burst of 500 events costs one new
element, not 500 labels (``ui.log`` makes one element per line). The oldest chunks are dropped once
more than ``max_lines`` lines are shown. The view follows new lines only while the reader is already at
the bottom; scrolled up, it stays where it is. A bounded buffer of recent events backs the filters.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from datetime import datetime
from html import escape

from nicegui import ui

from flowmon.engine.events import Event, EventType
from flowmon.web.theme import status_color

MAX_LINES = 500
BUFFER = 5000  # events kept for re-filtering; the log itself shows at most MAX_LINES of them
# Whether to follow new lines is decided by the reader's own scrolling only (wheel, touch, keys, scrollbar):
# scroll events caused by appending or trimming lines must not switch following off, and scrolling up must
# switch it off at once, before the next lines arrive.
MARK_USER_JS = """(e) => {
  const t = e.target.closest('[role=log]'); if (!t) return;
  t.dataset.user = String(Date.now());
  const up = (e.type === 'wheel' && e.deltaY < 0) || ['ArrowUp', 'PageUp', 'Home'].includes(e.key);
  t.dataset.dir = up ? 'up' : (e.type === 'wheel' || e.type === 'keydown' ? 'down' : '');
  if (up) t.dataset.stick = '0';
}"""
STICK_JS = """(e) => {
  const t = e.target, now = Date.now();
  if (now - Number(t.dataset.user || 0) > 3000 || now - Number(t.dataset.auto || 0) < 150) return;
  const bottom = t.scrollHeight - t.scrollTop - t.clientHeight < 32;
  if (!bottom) t.dataset.stick = '0'; else if (t.dataset.dir !== 'up') t.dataset.stick = '1';
}"""
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
_CSS = (
    # Older chunks are skipped by the browser's layout and paint while out of view (a busy log adds hundreds of
    # lines a second); the newest chunk never is, so what the reader follows is always drawn at once.
    '<style>.fm-log>div:not(:last-child){content-visibility:auto;contain-intrinsic-size:auto 300px}'
    '.fm-ev{white-space:nowrap}.fm-ev>span{display:inline-block;vertical-align:top;margin-right:1.5ch}'
    '.fm-ev .t{width:9ch;text-align:right;opacity:.6}.fm-ev .s{width:5ch;opacity:.6}'
    '.fm-ev .k{width:20ch;font-weight:600;color:var(--fm-muted,#64748b)}'
    '.fm-ev .n{width:18ch;overflow:hidden;text-overflow:ellipsis}.fm-ev .d{opacity:.75;white-space:pre}'
    + ''.join(f'.fm-ev .k-{kind}{{color:{status_color(kind)}}}' for kind in sorted(set(_KINDS.values())))
    + '</style>'
)
ALL_TYPES = [str(event_type) for event_type in EventType]


class EventLog:
    """Shows events as lines ``+offset  #seq  type  node  detail``; call :meth:`show` with new events."""

    def __init__(self, node_ids: Sequence[str], height: str = '260px', max_lines: int = MAX_LINES) -> None:
        self._max_lines = max_lines
        self._buffer: deque[Event] = deque(maxlen=BUFFER)
        self._chunks: deque[tuple[ui.html, int]] = deque()  # element, number of lines
        self._shown_lines = 0
        self._origin: datetime | None = None
        self._types: set[str] = set(ALL_TYPES)
        self._node: str | None = None
        with ui.row().classes('w-full items-center gap-2 no-wrap'):
            ui.label('Event log').classes('text-sm font-semibold')
            self._count = ui.label('').classes('text-xs text-gray-500').props('data-testid=event-count')
            ui.space()
            ui.button(icon='vertical_align_bottom', on_click=lambda: self._follow(force=True)).props(
                'flat round dense size=sm aria-label="Jump to the latest line" data-testid=event-log-latest'
            ).tooltip('Jump to the latest line and follow')
            self.type_filter = (
                ui.select(ALL_TYPES, multiple=True, value=list(ALL_TYPES), label='Types', on_change=self._on_types)
                .props('dense outlined options-dense display-value="All types"')
                .classes('w-[180px]')
                .mark('event-type-filter')
            )
            self.node_filter = (
                ui.select(
                    {'': 'All nodes', **{node_id: node_id for node_id in node_ids}},
                    value='',
                    label='Node',
                    on_change=self._on_node,
                )
                .props('dense outlined options-dense')
                .classes('min-w-[180px]')
                .mark('event-node-filter')
            )
        ui.html(_CSS, sanitize=False).classes('hidden')
        self.box = (
            ui.element('div')
            .classes(
                'fm-log w-full overflow-y-auto font-mono text-xs leading-5 rounded-lg border '
                'bg-gray-50 dark:bg-[#15181d] px-3 py-2'
            )
            .style(f'height: {height}; border-color: var(--fm-border)')
            .props('data-testid=event-log data-stick=1 role=log aria-live=off tabindex=0')
            .mark('event-log')
        )
        self.box.on('scroll', js_handler=STICK_JS)
        for user_input in ('wheel', 'touchmove', 'keydown', 'mousedown'):
            self.box.on(user_input, js_handler=MARK_USER_JS)
        self.box.on('mousemove', js_handler=f'(e) => {{ if (e.buttons) ({MARK_USER_JS})(e); }}')  # the scrollbar

    @property
    def last_seq(self) -> int:
        return self._buffer[-1].seq if self._buffer else 0

    def show(self, events: Sequence[Event], upto_seq: int | None = None) -> None:
        """Add ``events`` newer than the last one shown; ``upto_seq`` below that (a replay seeking back)
        first removes the lines after it. Events are assumed in ``seq`` order."""
        if upto_seq is not None and self._buffer and self._buffer[-1].seq > upto_seq:
            kept = [event for event in self._buffer if event.seq <= upto_seq]
            self._buffer.clear()
            self._buffer.extend(kept)
            self._add(events, upto_seq)
            self._render_all()
            return
        fresh = self._add(events, upto_seq)
        if fresh:
            self._append([event for event in fresh if self._matches(event)])

    def clear(self) -> None:
        self._buffer.clear()
        self._render_all()

    # --- internals ------------------------------------------------------------------------------------

    def _add(self, events: Sequence[Event], upto_seq: int | None) -> list[Event]:
        last = self.last_seq
        start = len(events)
        while start > 0 and events[start - 1].seq > last:  # walk back only over the new tail
            start -= 1
        fresh = [event for event in events[start:] if upto_seq is None or event.seq <= upto_seq]
        if fresh and self._origin is None:
            self._origin = fresh[0].ts
        self._buffer.extend(fresh)
        return fresh

    def _matches(self, event: Event) -> bool:
        return str(event.type) in self._types and (not self._node or event.node_id == self._node)

    def _append(self, events: list[Event]) -> None:
        if events:
            self._add_chunk(events[-self._max_lines :])
            self._trim()
            self._follow()
        self._update_count()

    def _render_all(self) -> None:
        self.box.clear()
        self._chunks.clear()
        self._shown_lines = 0
        matching = [event for event in self._buffer if self._matches(event)]
        if matching:
            self._add_chunk(matching[-self._max_lines :])
        self._update_count()
        self._follow(force=True)

    def _add_chunk(self, events: list[Event]) -> None:
        with self.box:
            element = ui.html(''.join(self._line(event) for event in events), sanitize=False)
        self._chunks.append((element, len(events)))
        self._shown_lines += len(events)

    def _trim(self) -> None:
        while len(self._chunks) > 1 and self._shown_lines - self._chunks[0][1] >= self._max_lines:
            element, lines = self._chunks.popleft()
            self._shown_lines -= lines
            element.delete()

    def _follow(self, force: bool = False) -> None:
        """Scroll to the newest line, unless the reader has scrolled away (checked again right before
        scrolling: the reader may have moved between this message and the next frame)."""
        # twice: once the frame has laid out the new lines, the chunks above may settle to their real height
        down = (
            'const down = () => { if (el.dataset.stick === "0") return; '
            'el.dataset.auto = String(Date.now()); el.scrollTop = el.scrollHeight; }; '
            'requestAnimationFrame(() => { down(); requestAnimationFrame(down); });'
        )
        script = ('el.dataset.stick = "1"; el.dataset.dir = ""; el.dataset.user = "0"; ' if force else '') + down
        self.box.client.run_javascript(
            f'(() => {{ const el = getHtmlElement({self.box.id}); if (!el) return; {script} }})()'
        )

    def _update_count(self) -> None:
        text = f'{self._shown_lines} shown'
        if self._shown_lines >= self._max_lines:
            text += f' (latest {self._max_lines})'
        self._count.set_text(text)

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

    def _on_node(self) -> None:
        self._node = self.node_filter.value or None
        self._render_all()

    def _line(self, event: Event) -> str:
        offset = (event.ts - self._origin).total_seconds() if self._origin else 0.0
        kind = _KINDS.get(event.type)
        word = f'<span class="k k-{kind}">{event.type}</span>' if kind else f'<span class="k">{event.type}</span>'
        return (
            f'<div class="fm-ev"><span class="t">+{offset:.3f}s</span><span class="s">#{event.seq}</span>{word}'
            f'<span class="n">{escape(event.node_id or "")}</span><span class="d">{escape(_detail(event))}</span></div>'
        )


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
        return f'{data.get("workflow_id", "")} · {len(data.get("nodes") or [])} nodes'
    return ''
