"""The replay transport bar: jump/step/play buttons, the speed selector and the position readout.

Icon buttons carry aria-labels ("Play", "Pause", "Step back", "Step forward", "Jump to start", "Jump to end")
so screen readers and tests find them by name. The bar only reports what was asked for; the page moves the
playhead and calls :meth:`ReplayControls.show` with the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from flowmon.web.playback import SPEED_LABELS, elapsed_text


@dataclass(frozen=True, slots=True)
class TransportActions:
    """What the buttons ask the page to do."""

    play: Callable[[], Any]
    pause: Callable[[], Any]
    step: Callable[[int], Any]
    to_start: Callable[[], Any]
    to_end: Callable[[], Any]
    speed: Callable[[str], Any]


class ReplayControls:
    """Buttons, speed and "event k / n · +elapsed"; :meth:`show` updates the readout and play/pause."""

    def __init__(self, actions: TransportActions, *, speed: str = '1x') -> None:
        self._playing: bool | None = None
        with ui.row().classes('items-center gap-1 no-wrap').props('role=toolbar aria-label="Replay controls"'):
            self._button('first_page', 'Jump to start', actions.to_start)
            self._button('chevron_left', 'Step back', lambda: actions.step(-1))
            self.play = self._button('play_arrow', 'Play', actions.play, primary=True)
            self.pause = self._button('pause', 'Pause', actions.pause, primary=True)
            self._button('chevron_right', 'Step forward', lambda: actions.step(1))
            self._button('last_page', 'Jump to end', actions.to_end)
            self.speed = (
                ui.select(SPEED_LABELS, value=speed, on_change=lambda e: actions.speed(str(e.value)))
                .props('dense outlined options-dense aria-label="Speed" data-testid=replay-speed')
                .classes('w-[110px] ml-2')
                .mark('replay-speed')
            )
            with self.speed:  # above the select: below it, it would cover the first options of its open menu
                ui.tooltip(
                    'Playback speed: real time times a factor, or one event after another at a fixed pace'
                ).props('anchor="top middle" self="bottom middle"')
        self.position = (
            ui.label('')
            .classes('font-mono text-sm whitespace-nowrap fm-num')
            .props('data-testid=replay-position aria-live=polite')
            .mark('replay-position')
        )
        self.show(0, 0, 0.0, playing=False)

    def show(self, k: int, n: int, elapsed_s: float, *, playing: bool) -> None:
        self.position.set_text(f'event {k} / {n} · {elapsed_text(elapsed_s)}')
        if playing != self._playing:
            self._playing = playing
            self.play.set_visibility(not playing)
            self.pause.set_visibility(playing)

    @staticmethod
    def _button(icon: str, label: str, on_click: Callable[[], Any], *, primary: bool = False) -> ui.button:
        style = 'unelevated round color=primary' if primary else 'flat round'
        return (
            ui.button(icon=icon, on_click=on_click)
            .props(f'{style} dense aria-label="{label}" data-testid="replay-{label.lower().replace(" ", "-")}"')
            .tooltip(label)
            .mark(f'replay-{label.lower().replace(" ", "-")}')
        )
