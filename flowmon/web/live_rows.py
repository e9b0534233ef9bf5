"""A page of executions from SQL, kept live: rows that change in the live view update in place, and on the first
page new executions that match the filter join at the top. Shared by the executions list and the workflow page;
:class:`LetGo` by the dashboard's recent executions too."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

from nicegui import background_tasks, ui

from flowmon.application.history import ExecutionRecord
from flowmon.application.live import LiveView
from flowmon.engine.core.state import TERMINAL_EXECUTION_STATUSES
from flowmon.web.execution_rows import ExecutionSummary, merge_live
from flowmon.web.filters import ExecutionFilter
from flowmon.web.widgets.execution_table import ExecutionTable

log = logging.getLogger(__name__)

LIVE_INTERVAL = 0.2
REREAD_SECONDS = 1.0  # how often rows the live view let go of are read from the store, while any is shown
Records = Callable[[Sequence[str]], Awaitable[Mapping[str, ExecutionRecord]]]  # stored rows by id, as they are now
Read = Mapping[str, ExecutionSummary | None]  # rows read again by id (None: no longer stored)


class LetGo:
    """Rows shown as not ended whose execution the live view no longer holds. The live view keeps the latest 200
    ended executions: when more end between two pulls of a page, the page never sees how the first ones ended, and
    their rows would stay ``running``. :meth:`check` reads those rows from the store instead, in the background and
    at most once a second while any is shown, and hands what it read to ``show``. It does not wait for this
    process's recorder (the live view lets go of a run only once its end is written), so a busy recorder never holds
    up the page's pull. A stored row that no process holds (the run of a process that stopped, not recovered yet;
    in a cluster, a run another process began before this one started) is read again each second: one query for
    the page's rows."""

    def __init__(self, live: LiveView, records: Records, show: Callable[[Read], None], context: ui.element) -> None:
        """``context``: the element the reads' results are shown in (the page's table)."""
        self._live = live
        self._records = records
        self._show = show
        self._context = context
        self._read_at = -REREAD_SECONDS
        self._reading = False
        self._failing = False

    def let_go(self, row: ExecutionSummary) -> bool:
        """Whether ``row`` shows a run as not ended that the live view no longer holds."""
        return row.status not in TERMINAL_EXECUTION_STATUSES and not self._live.holds(row.id)

    def check(self, rows: Sequence[ExecutionSummary]) -> None:
        """Read the rows of ``rows`` let go of again, unless a read is on its way or one went less than a second
        ago (cheap: from the page's pull)."""
        if self._reading:
            return
        ids = [row.id for row in rows if self.let_go(row)]
        clock = asyncio.get_running_loop().time()
        if not ids or clock - self._read_at < REREAD_SECONDS:
            return
        self._reading, self._read_at = True, clock
        background_tasks.create(self._read(ids), name='rows the live view let go of', context=self._context)

    async def _read(self, ids: Sequence[str]) -> None:
        try:
            records = await self._records(ids)
        except Exception:
            if not self._failing:  # once until a read succeeds again (tried again every second)
                log.exception('could not read %d executions again', len(ids))
            self._failing = True
            return
        finally:
            self._reading = False
        self._failing = False
        self._show({key: ExecutionSummary.from_record(records[key]) if key in records else None for key in ids})

    def merge(self, rows: Sequence[ExecutionSummary], read: Read) -> list[ExecutionSummary]:
        """``rows`` (shown now) with the rows read, for those still let go of; a row no longer stored (deleted or
        pruned meanwhile) goes."""
        merged: list[ExecutionSummary] = []
        for row in rows:
            if row.id in read and self.let_go(row):
                stored = read[row.id]
                if stored is None:
                    continue
                row = stored
            merged.append(row)
        return merged


class LiveRows:
    """Shows ``records`` (of ``flt``) in ``table`` at once; :meth:`follow` keeps them current. ``total`` counts what
    SQL matched plus the new executions that joined since (the ``on_total`` of :meth:`follow` and those of
    :meth:`listen` hear of every change)."""

    def __init__(
        self,
        live: LiveView,
        table: ExecutionTable,
        records: Sequence[ExecutionRecord],
        total: int,
        flt: ExecutionFilter,
        *,
        limit: int,
        reread: Records,
    ) -> None:
        """``reread`` reads stored rows by id (for the rows the live view let go of: :class:`LetGo`)."""
        self._live = live
        self._let_go = LetGo(live, reread, self._settled, table.element)
        self.table = table
        self.flt = flt
        self._limit = limit
        self._add_new = flt.page == 1
        self._on_total: list[Callable[[int], object]] = []
        self._rows: list[ExecutionSummary] = []
        self.total = 0
        self._seen = 0
        self.reload(records, total)

    def reload(self, records: Sequence[ExecutionRecord], total: int) -> None:
        """Show a fresh page from SQL (after the list changed under it: a bulk action)."""
        now = datetime.now(UTC)
        rows = [ExecutionSummary.from_record(record) for record in records]
        self._rows, added = merge_live(
            rows, self._live.states(), self.flt, now, limit=self._limit, add_new=self._add_new
        )
        self.total = total + added
        self._seen = self._live.version
        self.table.show(self._rows, now)
        self._tell_total()

    def follow(self, on_total: Callable[[int], object], interval: float = LIVE_INTERVAL) -> None:
        """Pull the live view every ``interval`` seconds for as long as the page lives."""
        self.listen(on_total)
        ui.timer(interval, self.pull)

    def listen(self, on_total: Callable[[int], object]) -> None:
        """Call ``on_total`` with the total whenever it changes (the pager under the rows counts them too)."""
        self._on_total.append(on_total)

    def _tell_total(self) -> None:
        for on_total in self._on_total:
            on_total(self.total)

    def pull(self) -> None:
        moment = datetime.now(UTC)
        self._seen, states = self._live.changed_states(self._seen)
        if not states:
            self.table.tick(moment)
        else:
            self._rows, new = merge_live(self._rows, states, self.flt, moment, limit=self._limit, add_new=self._add_new)
            if new:
                self.total += new
                self._tell_total()
            self.table.show(self._rows, moment)
        self._let_go.check(self._rows)

    def _settled(self, read: Read) -> None:
        self._rows = self._let_go.merge(self._rows, read)
        self.table.show(self._rows, datetime.now(UTC))
