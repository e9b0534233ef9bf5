"""A page of executions from SQL, kept live: rows that change in the live view update in place, and on the first
page new executions that match the filter join at the top. Shared by the executions list and the workflow page;
:class:`LetGo` by the dashboard's recent executions too."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime

from nicegui import ui

from flowmon.application.history import ExecutionRecord
from flowmon.application.live import LiveView
from flowmon.engine.core.state import TERMINAL_EXECUTION_STATUSES
from flowmon.web.execution_rows import ExecutionSummary, merge_live
from flowmon.web.filters import ExecutionFilter
from flowmon.web.widgets.execution_table import ExecutionTable

log = logging.getLogger(__name__)

LIVE_INTERVAL = 0.2
REREAD_SECONDS = 1.0  # how often rows the live view let go of are read from the store, while any is shown
Records = Callable[[Sequence[str]], Awaitable[Mapping[str, ExecutionRecord]]]  # stored rows by id


class LetGo:
    """Rows shown as not ended whose execution the live view no longer holds. The live view keeps the latest 200
    ended executions: when more end between two pulls of a page, the page never sees how the first ones ended, and
    their rows would stay ``running``. :meth:`settle` reads those rows from the store instead, at most once a
    second while any is shown (a stored row that no process holds, such as the run of a process that stopped and
    has not been recovered yet, is read again each second: one query for the page's few rows)."""

    def __init__(self, live: LiveView, records: Records) -> None:
        self._live = live
        self._records = records
        self._read_at = -REREAD_SECONDS

    def _let_go(self, row: ExecutionSummary) -> bool:
        return row.status not in TERMINAL_EXECUTION_STATUSES and not self._live.holds(row.id)

    async def settle(self, rows: Sequence[ExecutionSummary]) -> list[ExecutionSummary] | None:
        """``rows`` with those let go of as the store has them now; None when there was nothing to read again (or
        it was read less than a second ago)."""
        ids = [row.id for row in rows if self._let_go(row)]
        clock = asyncio.get_running_loop().time()
        if not ids or clock - self._read_at < REREAD_SECONDS:
            return None
        self._read_at = clock
        try:
            records = await self._records(ids)
        except Exception:
            log.exception('could not read %d executions again', len(ids))  # tried again in a second
            return None
        return [ExecutionSummary.from_record(records[row.id]) if row.id in records else row for row in rows]

    def merge(self, rows: Sequence[ExecutionSummary], settled: Sequence[ExecutionSummary]) -> list[ExecutionSummary]:
        """``rows`` (shown now) with the rows :meth:`settle` read, for those still let go of (a pull while it read
        may have moved others on)."""
        read = {row.id: row for row in settled}
        return [read.get(row.id, row) if self._let_go(row) else row for row in rows]


class LiveRows:
    """Shows ``records`` (of ``flt``) in ``table`` at once; :meth:`follow` keeps them current. ``total`` counts what
    SQL matched plus the new executions that joined since (``on_total`` hears of every change)."""

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
        self._let_go = LetGo(live, reread)
        self.table = table
        self.flt = flt
        self._limit = limit
        self._add_new = flt.page == 1
        self._on_total: Callable[[int], object] | None = None
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
        if self._on_total is not None:
            self._on_total(self.total)

    def follow(self, on_total: Callable[[int], object], interval: float = LIVE_INTERVAL) -> None:
        """Pull the live view every ``interval`` seconds for as long as the page lives."""
        self._on_total = on_total
        ui.timer(interval, self.pull)

    async def pull(self) -> None:
        moment = datetime.now(UTC)
        self._seen, states = self._live.changed_states(self._seen)
        if not states:
            self.table.tick(moment)
        else:
            self._rows, new = merge_live(self._rows, states, self.flt, moment, limit=self._limit, add_new=self._add_new)
            if new:
                self.total += new
                if self._on_total is not None:
                    self._on_total(self.total)
            self.table.show(self._rows, moment)
        settled = await self._let_go.settle(self._rows)
        if settled is not None:
            self._rows = self._let_go.merge(self._rows, settled)
            self.table.show(self._rows, datetime.now(UTC))
