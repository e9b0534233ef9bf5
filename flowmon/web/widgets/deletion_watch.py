"""A page's watch for its subject (a workflow, an execution) being deleted elsewhere: in another tab, through the API,
by a pruning or by another process. Once it is, the page says so in a notice and withdraws its actions; what it shows
stays readable until the visitor leaves.

The page says how to tell: ``deleted`` looks without a query (it runs at every look) and answers whether the subject
is gone, or None when it cannot say; ``read`` then reads the subject from the store, once, in the background (None:
it is gone). The watch looks on a timer of its own (``seconds``), or whenever the page's own timer calls
:meth:`DeletionWatch.look`. :func:`execution_watch` is the watch of a page that shows an execution (its page, its
replay, a comparison).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Awaitable, Callable

from nicegui import background_tasks, ui

from flowmon.application import Application
from flowmon.application.live import LiveView

log = logging.getLogger(__name__)

EXECUTION_WATCH_SECONDS = 0.5  # how often a page that does not pull the live view looks whether its execution went


class DeletionWatch:
    """The notice, built where the watch is made and hidden until the subject is gone, and the watch; :attr:`gone`
    says whether it was seen gone."""

    def __init__(
        self,
        subject: str,
        text: str,
        marker: str,
        *,
        deleted: Callable[[], bool | None],
        withdraw: Callable[[], None],
        read: Callable[[], Awaitable[object | None]] | None = None,
        link: tuple[str, str] | None = None,
        seconds: float | None = None,
    ) -> None:
        """``subject`` names it in logs (``execution 1f2e...``); ``text`` is what the notice says, with ``link`` (its
        text and target) after it; ``withdraw`` takes the page's actions away, once."""
        self._subject = subject
        self._deleted = deleted
        self._withdraw = withdraw
        self._read = read
        self.gone = False
        with (
            ui.row()
            .classes('fm-callout w-full items-center gap-2 no-wrap')
            .props(f'role=status data-testid={marker}')
            .mark(marker) as self._notice
        ):
            ui.icon('delete_forever', size='1.2rem').classes('text-negative')
            ui.label(text).classes('text-sm grow')
            if link is not None:
                ui.link(*link).classes('fm-link text-sm shrink-0')
        self._notice.set_visibility(False)
        # (the timer keeps the watch: a weak reference back, so the two make no reference cycle)
        self._timer = weakref.ref(ui.timer(seconds, self.look)) if seconds is not None else None

    def look(self) -> bool:
        """Whether the subject is gone, showing so the first time it is known to be."""
        if not self.gone:
            deleted = self._deleted()
            if deleted:
                self._show()
            elif deleted is None and self._read is not None:
                reading = self._read_stored(self._read)
                background_tasks.create(reading, name=f'is {self._subject} deleted', context=self._notice.parent_slot)
        return self.gone

    def _show(self) -> None:
        """Say the subject was deleted and withdraw the page's actions (once)."""
        if self.gone:
            return
        self.gone = True
        timer = self._timer() if self._timer is not None else None
        if timer is not None:
            timer.cancel()
        self._notice.set_visibility(True)
        self._withdraw()

    async def _read_stored(self, read: Callable[[], Awaitable[object | None]]) -> None:
        try:
            stored = await read()
        except Exception:
            log.exception('could not look whether %s still exists', self._subject)
            return
        if stored is None and not self._notice.is_deleted:
            self._show()


class ExecutionDeletions:
    """``deleted`` for a watch of one execution: whether the live view counted its deletion since deletion number
    ``since`` (read before the page read the execution, so a deletion meanwhile counts); None when it cannot say."""

    def __init__(self, live: LiveView, execution_id: str, since: int) -> None:
        self._live = live
        self._id = execution_id
        self._number = since

    def __call__(self) -> bool | None:
        self._number, deleted = self._live.deleted_since(self._number, self._id)
        return deleted


def execution_watch(
    application: Application,
    execution_id: str,
    since: int,
    text: str,
    marker: str,
    *,
    withdraw: Callable[[], None],
    seconds: float | None = EXECUTION_WATCH_SECONDS,
) -> DeletionWatch:
    """The watch of a page that shows ``execution_id`` (read after deletion number ``since``): the live view says, else
    the store; on a timer of its own every ``seconds`` (None: the page's timer looks)."""
    return DeletionWatch(
        f'execution {execution_id}',
        text,
        marker,
        deleted=ExecutionDeletions(application.live, execution_id, since),
        read=lambda: application.history.record(execution_id),
        withdraw=withdraw,
        seconds=seconds,
    )
