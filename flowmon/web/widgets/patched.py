"""Draw once, then patch: the base of flowmon's browser components (canvas, edge layer, node list, event log).

These components show many parts (300 nodes, 500 log lines) that change ten times a second. Re-sending their props
would send every part to every tab on every change, so each keeps what it shows in the browser and takes only the
changes, in one handshake written here and in ``lib/fm-patched.js`` (the Vue mixin of the browser half):

1. The browser component says ``ready`` once it is mounted (and again when it is mounted anew). Nothing is sent
   before that: a message to a component that does not exist yet would be lost.
2. The answer to ``ready`` is ``reset(snapshot)``: everything the component shows (:meth:`PatchedElement.snapshot`),
   drawn from scratch. :meth:`PatchedElement.redraw` sends one at any time (a filter changed, a replay went back).
3. After that only ``patch(diff)`` (:meth:`PatchedElement.send_patch`): what changed since.

What never changes (layout, names) goes into the props once, as one JSON string: NiceGUI would wrap nested dicts in
observables, per page. A subclass keeps its model (what the browser should show) up to date whether or not the
browser is drawn, builds patches only while :attr:`PatchedElement.drawn`, and says what a snapshot holds.
"""

from __future__ import annotations

from typing import Any

from nicegui import ui


class PatchedElement(ui.element, dependencies=['lib/fm-patched.js']):
    """A browser component drawn from a snapshot once it is ready, then patched (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._drawn = False
        self.on('ready', lambda _: self._ready())

    @property
    def drawn(self) -> bool:
        """True once the browser has its snapshot: changes from now on are sent as patches."""
        return self._drawn

    def snapshot(self) -> Any:
        """Everything the component shows, as its browser half's ``draw`` takes it."""
        raise NotImplementedError

    def redraw(self) -> None:
        """Draw the component again from a fresh snapshot (nothing before the browser is ready: it gets one then)."""
        if self._drawn:
            self.run_method('reset', self.snapshot())

    def send_patch(self, diff: Any) -> None:
        """Send ``diff`` to the drawn component; an empty one, or one before the first snapshot, is not sent (the
        snapshot will hold it)."""
        if self._drawn and diff:
            self.run_method('patch', diff)

    def _ready(self) -> None:
        self._drawn = True
        self.run_method('reset', self.snapshot())
