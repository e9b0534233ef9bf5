"""The replay scrubber: a slider over an execution's real time with a strip of tick marks above it.

The slider's unit is milliseconds since the first event (``scale=1000``), so dragging it moves through time
(idle gaps take room in proportion to their length) and the page maps the time to a position; the compare
page also uses it over event indexes (``scale=1``). The tick strip is one static
SVG drawn once: a tick where events happened, failures (red) and retries (amber) taller than the rest.
Values set by the page (:meth:`TimelineScrubber.show`) do not echo back as seeks.

For the keyboard and screen readers the slider speaks in events: the page says where it stands in words
(``aria-valuetext``, "event 4 of 21, +0.001 s", not a count of milliseconds), and the arrow keys on the focused slider
step one event (``on_step``), as the page's own shortcuts do, instead of the slider's one millisecond, which moved
nothing one could see (↑ and ↓ too). Home and End go to the start and the end (Quasar's slider takes neither key;
the replay page also has them as its own shortcuts, the compare page only here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nicegui import ui

from flowmon.web.markup import Html, Markup, join, tag
from flowmon.web.theme import status_color
from flowmon.web.timeline_marks import Tick

TICK_COLORS = {'failure': status_color('failed'), 'retry': status_color('retrying'), None: '#94a3b8'}
VIEW_WIDTH = 1000  # SVG user units across the strip


class TimelineScrubber:
    """``on_seek(value)`` is called when the reader moves the slider (not when :meth:`show` moves it).

    ``length`` is the end of the scale (seconds, or events); the slider counts in ``length * scale`` steps.
    """

    def __init__(
        self,
        length: float,
        on_seek: Callable[[float], Any],
        *,
        scale: float = 1000.0,
        ticks: Sequence[Tick] = (),
        testid: str = 'replay-slider',
        label: str = 'Replay position (time since start)',
        on_step: Callable[[int], Any] | None = None,
    ) -> None:
        """``on_step(delta)``: the arrow keys on the focused slider (→ and ↑: 1, ← and ↓: -1); with it, Home and End
        on the focused slider seek the start and the end."""
        self._on_seek = on_seek
        self._on_step = on_step
        self._scale = scale
        self._length = length
        self._max = max(1, round(length * scale))
        self._quiet = False
        with ui.column().classes('w-full gap-0 fm-scrubber') as scrubber:
            if ticks:
                Html(_strip(ticks, length)).classes('w-full fm-ticks').props(
                    'data-testid=replay-ticks aria-hidden=true'
                )
            self.slider = (
                ui.slider(min=0, max=self._max, step=1, value=0, on_change=self._changed)
                .props(f'data-testid={testid} aria-label="{label}" color=primary track-size=6px thumb-size=16px')
                .classes('w-full')
                .mark(testid)
            )
            if on_step is not None:
                # caught on the way to the slider (capture, on this plain element: Quasar's slider does not take
                # listeners), so neither its own handling nor the page's shortcuts see them (stop)
                for keys, delta in (('right.up', 1), ('left.down', -1)):
                    scrubber.on(f'keydown.capture.{keys}.stop.prevent', lambda _, d=delta: self._step(d), [])
                scrubber.on('keydown.capture.home.stop.prevent', lambda _: self._on_seek(0.0), [])
                scrubber.on('keydown.capture.end.stop.prevent', lambda _: self._on_seek(self._length), [])

    def describe(self, text: str) -> None:
        """Say where the slider stands, in words (its ``aria-valuetext``)."""
        if self.slider.props.get('aria-valuetext') != text:
            self.slider.props['aria-valuetext'] = text
            self.slider.update()

    def _step(self, delta: int) -> None:
        if self._on_step is not None:
            self._on_step(delta)

    def rescale(self, length: float, scale: float) -> None:
        """A new scale (the compare page switching between time and event index)."""
        self._scale = scale
        self._length = length
        self._max = max(1, round(length * scale))
        self.slider.props['max'] = self._max
        self.slider.update()

    def show(self, value: float) -> None:
        """Put the thumb at ``value`` (seconds, or events) without reporting a seek."""
        value = thumb_step(value, self._length, self._scale, self._max)
        if self.slider.value == value:
            return
        self._quiet = True
        try:
            self.slider.set_value(value)
        finally:
            self._quiet = False

    def _changed(self, event: Any) -> None:
        if self._quiet or event.value is None:
            return
        if event.value >= self._max:  # the end of the track is the end, whatever the slider's rounding
            self._on_seek(self._length)
            return
        self._on_seek(float(event.value) / self._scale)


def thumb_step(value: float, length: float, scale: float, steps: int) -> int:
    """The slider step that shows ``value`` (seconds, or events) on a track of ``steps`` steps ending at ``length``:
    the nearest step, but the last one only for the end itself. A value less than a step short of the end (events
    in the last millisecond not yet applied) is drawn a step before it, so a thumb at the track's end always means
    every event, as dragging it there does."""
    step = max(0, min(round(value * scale), steps))
    return steps - 1 if step == steps and value < length else step


def _strip(ticks: Sequence[Tick], duration_s: float) -> Markup:
    """An SVG strip, 16 px high, stretched to the slider's width; notable ticks drawn last (on top), each with a
    title (the event type and its node id: imported data, escaped like every value here)."""
    span = duration_s or 1.0
    lines = []
    for tick in sorted(ticks, key=lambda t: (t.flag is not None, t.flag == 'failure')):
        x = round(min(tick.elapsed_s / span, 1.0) * VIEW_WIDTH, 2)
        title = [tag('title', f'{tick.type}{" · " + tick.node_id if tick.node_id else ""}')] if tick.flag else []
        lines.append(
            tag(
                'line',
                *title,
                x1=x,
                x2=x,
                y1=1 if tick.flag else 8,
                y2=16,
                stroke=TICK_COLORS[tick.flag],
                stroke_width=3 if tick.flag else 1.5,
                vector_effect='non-scaling-stroke',
                data_flag=tick.flag or 'event',
            )
        )
    return tag(
        'svg',
        join(lines),
        viewBox=f'0 0 {VIEW_WIDTH} 16',
        preserveAspectRatio='none',
        width='100%',
        height=16,
        style='display:block;overflow:visible',
    )
