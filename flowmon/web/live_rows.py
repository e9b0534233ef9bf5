"""A page of executions from SQL, kept live: rows that change in the live view update in place, and on the first
page new executions that match the filter join at the top. Shared by the executions list and the workflow page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from nicegui import ui

from flowmon.application.history import ExecutionRecord
from flowmon.application.live import LiveView
from flowmon.web.execution_rows import ExecutionSummary, merge_live
from flowmon.web.filters import ExecutionFilter
from flowmon.web.widgets.execution_table import ExecutionTable

LIVE_INTERVAL = 0.2


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
    ) -> None:
        self._live = live
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

    def pull(self) -> None:
        moment = datetime.now(UTC)
        self._seen, states = self._live.changed_states(self._seen)
        if not states:
            self.table.tick(moment)
            return
        self._rows, new = merge_live(self._rows, states, self.flt, moment, limit=self._limit, add_new=self._add_new)
        if new:
            self.total += new
            if self._on_total is not None:
                self._on_total(self.total)
        self.table.show(self._rows, moment)
