"""Execution list filters as they appear in the URL (``?workflow_id=&status=&trigger=&origin=&q=&since=&until=&page=``).

The URL is the one source of truth for a filtered list: metric cards link to it, the filter bar navigates
to it, and the list page is built from it. Bad values are dropped with a message naming them, never a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from flowmon.application.errors import Invalid
from flowmon.application.history import ExecutionFilters, ExecutionQuery, ExecutionRecord, search_query
from flowmon.application.ids import WORKFLOW_ID_RULE, workflow_filter
from flowmon.application.origins import origin as parse_origin
from flowmon.application.time_bounds import (
    RELATIVE_WINDOWS,
    Bound,
    describe_relative,
    is_relative,
    parse_day,
    time_bound,
)
from flowmon.engine.core.provenance import TRIGGER_TYPES, trigger_type
from flowmon.engine.core.search_text import (
    MAX_QUERY_CHARS,
    MIN_QUERY_CHARS,
    execution_text,
    input_text,
    text_contains,
)
from flowmon.engine.core.state import EXECUTION_STATUSES, ExecutionState

__all__ = ['RELATIVE_WINDOWS', 'ExecutionFilter', 'parse_page', 'parse_search']


@dataclass(frozen=True, kw_only=True, slots=True)
class ExecutionFilter:
    """What the execution lists filter on. ``since`` is a relative window key or a day; ``until`` a day; ``q`` a
    search text (see :func:`flowmon.application.history.search_query`); ``trigger`` how they were started;
    ``origin`` ``local`` (run here) or ``imported`` (see :mod:`flowmon.application.origins`)."""

    workflow_id: str | None = None
    status: str | None = None
    trigger: str | None = None
    origin: str | None = None
    q: str | None = None
    since: str | None = None
    until: str | None = None
    page: int = 1

    @classmethod
    def from_query(cls, params: Mapping[str, str | None]) -> tuple[ExecutionFilter, list[str]]:
        """Parse URL parameters; returns the filter and a message for each value that was ignored."""
        problems: list[str] = []
        status = (params.get('status') or '').strip() or None
        if status is not None and status not in EXECUTION_STATUSES:
            problems.append(f'unknown status {status!r} ignored')
            status = None
        since, problem = _parse_bound(params.get('since') or '', 'since')
        problems.extend([problem] if problem else [])
        until, problem = _parse_bound(params.get('until') or '', 'until')
        problems.extend([problem] if problem else [])
        page, problem = parse_page(params.get('page') or '')
        problems.extend([problem] if problem else [])
        workflow_id = (params.get('workflow_id') or '').strip() or None
        if workflow_id is not None and workflow_filter(workflow_id) is not None:  # the list would refuse it
            problems.append(f'workflow id {workflow_id[:40]!r} ignored: an id is {WORKFLOW_ID_RULE}')
            workflow_id = None
        trigger = (params.get('trigger') or '').strip() or None
        if trigger is not None and trigger not in TRIGGER_TYPES:
            problems.append(f'unknown trigger {trigger[:40]!r} ignored')
            trigger = None
        origin, problem = _parse_origin(params.get('origin') or '')
        problems.extend([problem] if problem else [])
        q, problem = parse_search(params.get('q') or '')
        problems.extend([f'{problem}; the list is not searched'] if problem else [])
        found = cls(
            workflow_id=workflow_id, status=status, trigger=trigger, origin=origin, q=q, since=since, until=until,
            page=page,
        )  # fmt: skip
        return found, problems

    def with_(self, **changes: object) -> ExecutionFilter:
        """A copy with ``changes``; any change other than the page goes back to page 1."""
        if 'page' not in changes:
            changes['page'] = 1
        return replace(self, **changes)  # type: ignore[arg-type]

    def query(self, *, include_workflow: bool = True) -> dict[str, str]:
        values = {
            'workflow_id': self.workflow_id if include_workflow else None,
            'status': self.status,
            'trigger': self.trigger,
            'origin': self.origin,
            'q': self.q,
            'since': self.since,
            'until': self.until,
            'page': str(self.page) if self.page > 1 else None,
        }
        return {key: value for key, value in values.items() if value}

    def view_filter(self) -> dict[str, str]:
        """What a saved view keeps of this filter: the URL's parameters but the page."""
        return {key: value for key, value in self.query().items() if key != 'page'}

    def url(self, path: str, *, include_workflow: bool = True) -> str:
        query = self.query(include_workflow=include_workflow)
        return f'{path}?{urlencode(query)}' if query else path

    def window(self, now: datetime) -> tuple[datetime | None, datetime | None]:
        """The creation-time range ``[since, until)`` this filter selects, in UTC (as the API resolves them)."""
        return _bound(self.since, now, 'since'), _bound(self.until, now, 'until')

    def history_query(self, now: datetime, page_size: int) -> ExecutionQuery:
        """What to ask the history for: this filter's executions, on its page of ``page_size`` rows."""
        return {**self.filters(now), 'limit': page_size, 'offset': (self.page - 1) * page_size}

    def filters(self, now: datetime) -> ExecutionFilters:
        """Which executions this filter names, its time window resolved at ``now`` (what bulk actions take too)."""
        since, until = self.window(now)
        return {
            'workflow_id': self.workflow_id,
            'status': self.status,
            'trigger': self.trigger,
            'origin': self.origin,
            'q': self.q,
            'since': since,
            'until': until,
        }

    @property
    def is_empty(self) -> bool:
        return not (self.status or self.trigger or self.origin or self.q or self.since or self.until)

    def describe_window(self) -> str:
        """The time window in words: a relative one by its name, days as days, any other time (an ISO date-time in
        any zone, Unix seconds) as a UTC date and time."""
        since, until = _readable(self.since, 'since'), _readable(self.until, 'until')
        if self.since and is_relative(self.since):
            return describe_relative(self.since)
        if since and until:
            return f'{since} \N{EN DASH} {until}'
        if since:
            return f'Since {since}'
        if until:
            return f'Until {until}'
        return 'Any time'

    def range_days(self, now: datetime) -> dict[str, str] | None:
        """The first and last UTC day (``YYYY-MM-DD``) of the time window at ``now``, as the custom-range picker
        shows them: the days it touches, whatever form ``since`` and ``until`` take (no ``until``: up to today; no
        ``since``: the last day alone). None without a window."""
        start, end = self.window(now)
        if start is None and end is None:
            return None
        last = _last_day(end) if end is not None else now.astimezone(UTC).date()
        first = start.date() if start is not None else last
        return {'from': first.isoformat(), 'to': max(first, last).isoformat()}

    def matches(self, item: ExecutionState | ExecutionRecord, now: datetime) -> bool:
        """Whether a (live) execution belongs in the list, by the same rules as the SQL query."""
        if self.workflow_id and item.workflow_id != self.workflow_id:
            return False
        if self.status and item.status != self.status:
            return False
        if self.trigger and _trigger_type(item) != self.trigger:
            return False
        if self.origin and _origin(item) != self.origin:
            return False
        if self.q and not _contains(item, self.q):
            return False
        created = item.created_at
        start, end = self.window(now)
        if created is None:
            return start is None and end is None
        return (start is None or created >= start) and (end is None or created < end)


def parse_search(text: str) -> tuple[str | None, str | None]:
    """A search box's text as the list's ``q`` (None when empty) and, when it cannot be searched for, why, in the
    page's words (the API's message names its parameter ``q``)."""
    if not text.strip():
        return None, None
    try:
        return search_query(text), None
    except Invalid:
        return None, _search_problem(text.strip())


def _search_problem(text: str) -> str:
    if len(text) < MIN_QUERY_CHARS:
        return f'search needs at least {MIN_QUERY_CHARS} characters'
    if len(text) > MAX_QUERY_CHARS:
        return f'search takes at most {MAX_QUERY_CHARS} characters'
    if any(ord(char) < 32 or ord(char) == 127 for char in text):
        return 'search cannot hold line breaks, tabs or other control characters'
    return 'search cannot hold a lone surrogate (half of a pair that makes one character)'  # (the one refusal left)


def _origin(item: ExecutionState | ExecutionRecord) -> str:
    """``imported`` for a stored row imported from an export file, else ``local`` (a live execution runs here)."""
    return 'imported' if isinstance(item, ExecutionRecord) and item.imported_from is not None else 'local'


def _parse_origin(text: str) -> tuple[str | None, str | None]:
    """A URL's ``origin`` (None when empty or not acceptable) and what was wrong with it."""
    try:
        return parse_origin(text, label='"origin"'), None
    except Invalid as exc:
        return None, f'{exc}; ignored'


def _trigger_type(item: ExecutionState | ExecutionRecord) -> str | None:
    return trigger_type(item.trigger) if isinstance(item, ExecutionState) else item.trigger_type


def _contains(item: ExecutionState | ExecutionRecord, q: str) -> bool:
    """Whether a live execution holds ``q`` by the index's rules: its input while it runs, everything once ended.

    The answer stays the same while the execution runs (its input does not change) and once it has ended, so it is
    kept (a running execution changes at every event, and each open list asks at every change)."""
    if not isinstance(item, ExecutionState):
        return True  # a stored row comes from a query that searched already
    key = (item.id, item.is_terminal, q)
    found = _SEARCHED.get(key)
    if found is None:
        if len(_SEARCHED) >= _SEARCHED_KEPT:
            _SEARCHED.clear()
        found = _SEARCHED[key] = text_contains(execution_text(item) if item.is_terminal else input_text(item.input), q)
    return found


# (execution id, ended, q) -> whether it matches: the answers _contains gave lately (at most _SEARCHED_KEPT of them)
_SEARCHED: dict[tuple[str, bool, str], bool] = {}
_SEARCHED_KEPT = 4096


MAX_PAGE_NUMBER = 1_000_000  # a page further on is taken for a mistake (its offset must fit the database's integer)


def parse_page(text: str) -> tuple[int, str | None]:
    """A page number from a URL's ``page`` parameter: ``(page, None)``, or ``(1, what was wrong)``."""
    text = text.strip()
    if not text:
        return 1, None
    if text.isascii() and text.isdigit() and len(text) <= 7 and str(int(text)) == text:
        page = int(text)
        if 1 <= page <= MAX_PAGE_NUMBER:
            return page, None
    return 1, f'page {text[:40]!r} ignored'


def _parse_bound(text: str, bound: Bound) -> tuple[str | None, str | None]:
    """A URL's ``since`` or ``until`` as written (None when empty or not acceptable) and what was wrong with it."""
    text = text.strip()
    if not text:
        return None, None
    try:
        time_bound(text, datetime.now(UTC), bound=bound, label=f'"{bound}"')
    except Invalid as exc:
        return None, f'{exc}; ignored'
    return text, None


def _readable(text: str | None, bound: Bound) -> str | None:
    """A bound as the page says it: a day or a relative window as it is, any other time as ``YYYY-MM-DD HH:MM UTC``
    (seconds when it has some)."""
    if not text or is_relative(text) or parse_day(text) is not None:
        return text
    moment = _bound(text, datetime.now(UTC), bound)
    if moment is None:
        return text
    return f'{moment.date().isoformat()} ' + moment.strftime(
        '%H:%M:%S UTC' if moment.second or moment.microsecond else '%H:%M UTC'
    )


def _bound(text: str | None, now: datetime, bound: Bound) -> datetime | None:
    if not text:
        return None
    try:
        return time_bound(text, now, bound=bound)
    except Invalid:
        return None


def _last_day(end: datetime) -> date:
    """The last day a window that ends (exclusively) at ``end`` touches: the day before when it ends at midnight."""
    try:
        return (end - timedelta(microseconds=1)).date()
    except OverflowError:  # the first instant there is ("until=0001-01-01"): a window with no day in it
        return end.date()
