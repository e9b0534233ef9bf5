"""The replay playhead: a position in an execution's history and the point on its timeline, and how playing moves it.

Two coordinates move together: ``k`` (after the first ``k`` events, what is drawn) and ``t`` (seconds since
the first event, where the scrubber stands). Seeking by event sets ``t`` to that event's time; seeking by time
sets ``k`` to the last event at or before it, so playing through an idle gap moves the scrubber smoothly while
the picture waits for the next event. No NiceGUI here: the page drives it with its own clock.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowmon.engine.core.replay_index import ReplayIndex

FIXED_PACE_EVENTS_PER_S = 5.0  # "events at a fixed pace": for runs whose real time is mostly idle gaps
PACE = 'pace'
SPEEDS: dict[str, float | None] = {'0.5x': 0.5, '1x': 1.0, '2x': 2.0, '4x': 4.0, PACE: None}
SPEED_LABELS: dict[str, str] = {
    '0.5x': '0.5x',
    '1x': '1x',
    '2x': '2x',
    '4x': '4x',
    PACE: f'Fixed pace ({FIXED_PACE_EVENTS_PER_S:g} events/s)',
}


@dataclass(slots=True)
class Playhead:
    """Where a replay stands; :meth:`advance` plays it forward by some wall-clock seconds."""

    index: ReplayIndex
    k: int = 0
    t: float = 0.0
    _carry: float = 0.0  # fractional events owed at a fixed pace

    @property
    def n(self) -> int:
        return self.index.n

    @property
    def at_end(self) -> bool:
        return self.k >= self.n

    def seek(self, k: int) -> None:
        """Go to position ``k`` (clamped to 0..n); the timeline follows to that event's time."""
        self.k = max(0, min(int(k), self.n))
        self.t = self.index.elapsed_at(self.k)
        self._carry = 0.0

    def seek_time(self, t: float) -> None:
        """Go to ``t`` seconds since the first event (clamped); the position is the last event at or before it."""
        self.t = max(0.0, min(float(t), self.index.duration_s))
        self.k = self.index.position_at(self.t) if self.t > 0 else 0
        self._carry = 0.0

    def step(self, delta: int) -> None:
        self.seek(self.k + delta)

    def advance(self, seconds: float, speed: str) -> None:
        """Play on for ``seconds`` of wall-clock time at ``speed`` (a key of :data:`SPEEDS`)."""
        if seconds <= 0 or self.at_end:
            return
        factor = SPEEDS.get(speed, 1.0)
        if factor is None:
            self._carry += seconds * FIXED_PACE_EVENTS_PER_S
            steps = int(self._carry)
            carry = self._carry - steps
            if steps:
                self.seek(self.k + steps)
            self._carry = carry
            return
        target = self.t + seconds * factor
        if target >= self.index.duration_s:
            self.seek(self.n)
            return
        self.t = target
        self.k = max(self.k, self.index.position_at(target))


def elapsed_text(seconds: float) -> str:
    """``+1.234 s`` under a minute, ``+3:05.2`` under an hour, ``+2:04:05`` beyond."""
    if seconds < 60:
        return f'+{seconds:.3f} s'
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f'+{int(minutes)}:{rest:04.1f}'
    hours, minutes = divmod(int(minutes), 60)
    return f'+{hours}:{minutes:02d}:{int(rest):02d}'


def parse_position(text: str, n: int) -> int | None:
    """``?at=`` as a position 0..n, clamped; None when absent or not a number."""
    text = (text or '').strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return max(0, min(value, n))
