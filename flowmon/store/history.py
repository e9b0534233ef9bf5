"""Reading and writing history: workflows, the workflow snapshots executions ran, executions and their events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, and_, delete, func, or_, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from flowmon.engine.core.bulk import collector_paused
from flowmon.engine.core.events import Event
from flowmon.engine.core.reducer import fold
from flowmon.engine.core.snapshot import definition_hash
from flowmon.engine.core.state import ExecutionState

from . import dialect
from .codec import dumps, from_db_time, from_db_time_fast, loads, stored_event, to_db_time
from .database import Database
from .search import matching_executions
from .tables import EventRow, ExecutionRow, WorkflowRow, WorkflowSnapshotRow
from .webhook_tables import automation

_workflows = WorkflowRow.__table__  # type: ignore[attr-defined]
_executions = ExecutionRow.__table__  # type: ignore[attr-defined]
_events = EventRow.__table__  # type: ignore[attr-defined]
_snapshots = WorkflowSnapshotRow.__table__  # type: ignore[attr-defined]

MAX_PAGE = 500

ANY_VERSION = '*'
"""A conditional change's expected version: the workflow must exist, whatever its version."""
NO_VERSION = ''
"""A conditional change's expected version: no workflow may be stored under the id (create only)."""
Expected = str | frozenset[str]
"""The version a conditional change expects stored: one version (:attr:`StoredWorkflow.version`), any of a set of
them, :data:`ANY_VERSION` or :data:`NO_VERSION`."""
_RACES = 3  # a conditional change that lost this many races to other writers of the same content says it lost
OnStored = Callable[[AsyncConnection, datetime], Awaitable[object]]
"""What :meth:`History.put_workflow` does in the transaction that stores a definition, given the time the stored
definition dates from (a workflow's trigger secret is issued so)."""


async def _nothing(_conn: AsyncConnection, _since: datetime) -> None:
    return None


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredWorkflow:
    id: str
    name: str
    definition: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @property
    def version(self) -> str:
        """The stored definition's content hash (:func:`~flowmon.engine.core.snapshot.definition_hash`): what a
        conditional change expects, the ``ETag`` of ``GET /api/workflows/{id}``, and the ``workflow_hash`` of the
        executions that ran this definition."""
        return definition_hash(self.definition)


class TooManyWorkflows(RuntimeError):
    """A new workflow, when as many are stored as the limit :meth:`History.put_workflow` was given: nothing stored."""

    def __init__(self, limit: int) -> None:
        super().__init__(f'at most {limit:,} workflows can be stored; delete one first')


class VersionMismatch(Exception):
    """A conditional change found another version stored than the one it expected (``current``: what is stored, None
    when nothing is)."""

    def __init__(self, workflow_id: str, expected: Expected, current: StoredWorkflow | None) -> None:
        super().__init__(f'workflow {workflow_id!r} is not at the version expected')
        self.workflow_id = workflow_id
        self.expected = expected
        self.current = current


def fits(expected: Expected, current: StoredWorkflow | None) -> bool:
    """Whether ``current`` (None: nothing stored) is what ``expected`` asks for."""
    if expected == ANY_VERSION:
        return current is not None
    if expected == NO_VERSION:
        return current is None
    versions = {expected} if isinstance(expected, str) else expected
    return current is not None and current.version in versions


@dataclass(frozen=True, kw_only=True, slots=True)
class ExecutionRecord:
    """One row of the execution list (no events needed)."""

    id: str
    workflow_id: str
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None
    retry_of: str | None
    error: str | None
    nodes_done: int
    nodes_total: int
    imported_from: str | None = None  # set on executions imported from an export file (read-only history)
    trigger_type: str | None = None  # how it was started: api, ui, schedule, hook, rerun (None: not recorded)
    nodes_succeeded: int | None = None  # how many nodes succeeded, once it has ended (None while it runs)
    last_seq: int = 0  # the seq of its last stored event, written with it: how many events it has (seq 1..n)

    def to_json(self) -> dict[str, Any]:
        return {
            'id': self.id,
            'workflow_id': self.workflow_id,
            'status': self.status,
            'created_at': self.created_at.isoformat(),
            'started_at': self.started_at.isoformat() if self.started_at else None,
            'finished_at': self.finished_at.isoformat() if self.finished_at else None,
            'duration_ms': self.duration_ms,
            'retry_of': self.retry_of,
            'error': self.error,
            'progress': {'done': self.nodes_done, 'total': self.nodes_total, 'succeeded': self.nodes_succeeded},
            'imported_from': self.imported_from,
            'trigger_type': self.trigger_type,
        }


class History:
    """Queries over the history tables. Reads use Core selects; the recorder does the event writes."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # --- workflows ------------------------------------------------------------------------------------

    async def list_workflows(self) -> list[StoredWorkflow]:
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(select(_workflows).order_by(_workflows.c.name, _workflows.c.id))).all()
        return [_workflow(row) for row in rows]

    async def get_workflow(self, workflow_id: str) -> StoredWorkflow | None:
        row = await self._workflow_row(workflow_id)
        return _workflow(row) if row else None

    async def put_workflow(
        self,
        workflow_id: str,
        name: str,
        definition: dict[str, Any],
        now: datetime,
        *,
        expected: Expected | None = None,
        on_stored: OnStored | None = None,
        limit: int | None = None,
    ) -> bool:
        """Create or replace; returns True when it was created.

        With ``limit``, a new workflow is not created when there are ``limit`` workflows already (raises
        :class:`TooManyWorkflows`; replacing one needs no room): the count and the insert are one step for every
        process that shares the database (:func:`~flowmon.store.dialect.take_turn`).

        With ``expected`` only when the stored version is the one expected (see :data:`Expected`), else raises
        :class:`VersionMismatch` naming what is stored: the stored text read is the condition of the one UPDATE (or
        the INSERT gives way to any row), so of two writers expecting the same version, in any processes, one wins.

        Processes that share a database start together and each stores the workflows of its files: the insert
        gives way to a row another process has just inserted, and the update then replaces it.

        ``on_stored`` runs in the same transaction once the definition is stored (or found stored as it is), with
        the time the stored definition dates from, while that transaction holds the workflow's row (found stored as
        it is, the row is locked on PostgreSQL as an update would lock it): what it writes beside the definition (the
        trigger marked on or off) cannot be overwritten by a writer that stored another definition before it."""
        values = {'name': name, 'definition': dumps(definition), 'updated_at': to_db_time(now)}
        replace = _workflows.update().where(_workflows.c.id == workflow_id).values(**values)
        then = on_stored or _nothing
        if expected is not None:
            return await self._put_expecting(workflow_id, values, now, expected, then, limit)
        unchanged = and_(_workflows.c.id == workflow_id, _workflows.c.definition == values['definition'])
        async with self._db.engine.begin() as conn:
            if limit is not None:
                await dialect.take_turn(conn, dialect.WORKFLOWS_LOCK_KEY)
            # stored as it is (a file loaded again at start-up): nothing changes, its updated_at included
            found = select(_workflows.c.updated_at).where(unchanged).with_for_update()
            if (stored := (await conn.execute(found)).first()) is not None:
                await then(conn, from_db_time_fast(stored[0]))
                return False
            if not (await conn.execute(replace)).rowcount:
                await self._refuse_when_full(conn, limit, workflow_id)
                create = self._db.insert_ignore(_workflows, ['id']).values(
                    id=workflow_id, created_at=to_db_time(now), **values
                )
                if (await conn.execute(create)).rowcount:
                    await then(conn, now)
                    return True
                await conn.execute(replace)
            await then(conn, now)
            return False

    async def _put_expecting(
        self,
        workflow_id: str,
        values: dict[str, Any],
        now: datetime,
        expected: Expected,
        then: OnStored,
        limit: int | None,
    ) -> bool:
        for _ in range(_RACES):
            row = await self._workflow_row(workflow_id)
            current = _workflow(row) if row else None
            if not fits(expected, current):
                raise VersionMismatch(workflow_id, expected, current)
            async with self._db.engine.begin() as conn:
                if row is None:
                    if limit is not None:
                        await dialect.take_turn(conn, dialect.WORKFLOWS_LOCK_KEY)
                        await self._refuse_when_full(conn, limit, workflow_id)
                    create = self._db.insert_ignore(_workflows, ['id'])
                    create = create.values(id=workflow_id, created_at=to_db_time(now), **values)
                    if (await conn.execute(create)).rowcount:
                        await then(conn, now)
                        return True
                else:
                    unchanged = and_(_workflows.c.id == workflow_id, _workflows.c.definition == row.definition)
                    if row.definition == values['definition']:  # stored as it is: nothing changes, its updated_at too
                        if (await conn.execute(select(_workflows.c.id).where(unchanged).with_for_update())).first():
                            await then(conn, from_db_time_fast(row.updated_at))
                            return False
                    elif (await conn.execute(_workflows.update().where(unchanged).values(**values))).rowcount:
                        await then(conn, now)
                        return False
            # another writer changed it between the read and the write: what did it store?
        raise await self._mismatch(workflow_id, expected)

    @staticmethod
    async def _refuse_when_full(conn: AsyncConnection, limit: int | None, workflow_id: str) -> None:
        """Raise TooManyWorkflows when ``limit`` workflows are stored (in a transaction that has taken its turn) and
        ``workflow_id`` is not one of them: one another process created since it was looked for is no new workflow
        (the insert gives way, and the caller says what is stored: a 412 for a save that expected none, not a 409)."""
        if limit is None:
            return
        if (await conn.execute(select(_workflows.c.id).where(_workflows.c.id == workflow_id))).first() is not None:
            return
        if (await conn.execute(select(func.count()).select_from(_workflows))).scalar_one() >= limit:
            raise TooManyWorkflows(limit)

    async def delete_workflow(self, workflow_id: str, *, expected: Expected | None = None) -> bool:
        """Delete; returns whether there was one. With ``expected`` only when the stored version is the one expected
        (else raises :class:`VersionMismatch`, as :meth:`put_workflow` does). Its trigger secrets and schedule pause
        go with it (a new workflow under its id starts clean: the old secret must start nothing); its executions
        stay."""
        if expected is None:
            async with self._db.engine.begin() as conn:
                return await _delete_workflow(conn, workflow_id, _workflows.c.id == workflow_id)
        for _ in range(_RACES):
            row = await self._workflow_row(workflow_id)
            current = _workflow(row) if row else None
            if not fits(expected, current):
                raise VersionMismatch(workflow_id, expected, current)
            if row is None:  # (NO_VERSION expected: nothing to delete)
                return False
            unchanged = and_(_workflows.c.id == workflow_id, _workflows.c.definition == row.definition)
            async with self._db.engine.begin() as conn:
                if await _delete_workflow(conn, workflow_id, unchanged):
                    return True
        raise await self._mismatch(workflow_id, expected)

    async def _mismatch(self, workflow_id: str, expected: Expected) -> VersionMismatch:
        row = await self._workflow_row(workflow_id)
        return VersionMismatch(workflow_id, expected, _workflow(row) if row else None)

    async def _workflow_row(self, workflow_id: str) -> Any:
        async with self._db.engine.connect() as conn:
            return (await conn.execute(select(_workflows).where(_workflows.c.id == workflow_id))).first()

    async def get_snapshot(self, digest: str) -> dict[str, Any] | None:
        """The workflow definition stored under content hash ``digest`` (None when there is none)."""
        async with self._db.engine.connect() as conn:
            text = (await conn.execute(select(_snapshots.c.definition).where(_snapshots.c.hash == digest))).scalar()
        return None if text is None else dict(loads(text))

    # --- executions -----------------------------------------------------------------------------------

    async def list_executions(
        self,
        *,
        workflow_id: str | None = None,
        status: str | Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        trigger: str | None = None,
        origin: str | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[ExecutionRecord], int]:
        """A page of executions, newest first, and the total matching the filters (``trigger``: a trigger type;
        ``origin``: ``local`` or ``imported``; ``q``: a normalised search query, see :mod:`flowmon.store.search`)."""
        conditions = []
        if origin == 'local':
            conditions.append(_executions.c.imported_from.is_(None))
        elif origin == 'imported':
            conditions.append(_executions.c.imported_from.is_not(None))
        if q:
            conditions.append(_executions.c.id.in_(matching_executions(self._db, q)))
        if workflow_id:
            conditions.append(_executions.c.workflow_id == workflow_id)
        if trigger:
            conditions.append(_executions.c.trigger_type == trigger)
        if isinstance(status, str):
            conditions.append(_executions.c.status == status)
        elif status:
            conditions.append(_executions.c.status.in_(list(status)))
        if since is not None:
            conditions.append(_executions.c.created_at >= to_db_time(since))
        if until is not None:
            conditions.append(_executions.c.created_at < to_db_time(until))
        limit = max(1, min(limit, MAX_PAGE))
        count = select(func.count()).select_from(_executions).where(*conditions)
        if q:
            return await self._search_page(conditions, count, limit, max(offset, 0))
        query = (
            select(_executions)
            .where(*conditions)
            .order_by(_executions.c.created_at.desc(), _executions.c.id.desc())
            .limit(limit)
            .offset(max(offset, 0))
        )
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            total = (await conn.execute(count)).scalar_one()
        return [_execution(row) for row in rows], int(total)

    async def _search_page(
        self, conditions: list[Any], count: Select[Any], limit: int, offset: int
    ) -> tuple[list[ExecutionRecord], int]:
        """A page of a search and its total in one pass over the matches (the substring match is the costly part,
        and a COUNT would repeat it): the page's ids and the total are found first (sorting ids, not whole rows,
        which hold the payloads), then the page's rows are read. A page past the end counts on its own."""
        page = (
            select(_executions.c.id, _executions.c.created_at, func.count().over().label('total'))
            .where(*conditions)
            .order_by(_executions.c.created_at.desc(), _executions.c.id.desc())
            .limit(limit)
            .offset(offset)
            .cte('search_page')
        )
        query = (
            select(_executions, page.c.total)
            .join(page, page.c.id == _executions.c.id)
            .order_by(page.c.created_at.desc(), page.c.id.desc())
        )
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            total = rows[0].total if rows else (await conn.execute(count)).scalar_one() if offset else 0
        return [_execution(row) for row in rows], int(total)

    async def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(select(_executions).where(_executions.c.id == execution_id))).first()
        return _execution(row) if row else None

    async def get_executions(self, execution_ids: Sequence[str]) -> dict[str, ExecutionRecord]:
        """The rows of those of ``execution_ids`` that exist, by id (:data:`MAX_PAGE` ids a query)."""
        found: dict[str, ExecutionRecord] = {}
        unique = list(dict.fromkeys(execution_ids))
        async with self._db.engine.connect() as conn:
            for start in range(0, len(unique), MAX_PAGE):
                query = select(_executions).where(_executions.c.id.in_(unique[start : start + MAX_PAGE]))
                for row in (await conn.execute(query)).all():
                    record = _execution(row)
                    found[record.id] = record
        return found

    async def workflows_of(self, execution_ids: Sequence[str]) -> dict[str, str]:
        """The workflow id of each of ``execution_ids`` that is stored, by execution id (:data:`MAX_PAGE` ids a
        query; only the two columns are read)."""
        return await self._column_of(execution_ids, _executions.c.workflow_id)

    async def inputs_of(self, execution_ids: Sequence[str]) -> dict[str, Any]:
        """The input of each of ``execution_ids`` that is stored, by execution id, as its row holds it (what a rerun
        runs with; read like :meth:`workflows_of`)."""
        stored = await self._column_of(execution_ids, _executions.c.input)
        return {execution_id: loads(text) for execution_id, text in stored.items()}

    async def _column_of(self, execution_ids: Sequence[str], column: Any) -> dict[str, Any]:
        found: dict[str, Any] = {}
        unique = list(dict.fromkeys(execution_ids))
        async with self._db.engine.connect() as conn:
            for start in range(0, len(unique), MAX_PAGE):
                query = select(_executions.c.id, column).where(_executions.c.id.in_(unique[start : start + MAX_PAGE]))
                found.update({row[0]: row[1] for row in (await conn.execute(query)).all()})
        return found

    async def unfinished_execution_ids(self) -> list[str]:
        query = select(_executions.c.id).where(_executions.c.status.in_(['queued', 'running']))
        async with self._db.engine.connect() as conn:
            return [row[0] for row in (await conn.execute(query)).all()]

    async def events(self, execution_id: str, *, after_seq: int = 0, limit: int | None = None) -> list[Event]:
        """The execution's events in ``seq`` order.

        A lean path, because replay loads whole histories (100,000 events must load well under a second):
        the timestamp comes back as the driver gives it (skipping the column type's per-row processing)
        and is parsed in one C call, and the JSON is decoded with :func:`loads_fast`.
        """
        query = (
            select(_events.c.seq, _events.c.type, _events.c.node_id, type_coerce(_events.c.ts, String), _events.c.data)
            .where(_events.c.execution_id == execution_id, _events.c.seq > after_seq)
            .order_by(_events.c.seq)
        )
        if limit is not None:
            query = query.limit(limit)
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        with collector_paused():
            return [stored_event(execution_id, *row) for row in rows]

    async def event_page(
        self, execution_id: str, *, after_seq: int, limit: int, max_chars: int
    ) -> tuple[list[Event], bool, int]:
        """A page of the execution's events after ``after_seq`` in ``seq`` order: at most ``limit`` of them, and no
        more after the one that brings their ``data`` to ``max_chars`` characters (the first event always comes, as
        large as it is). Also whether the page was cut by that size (more events may follow a page shorter than
        ``limit``), and the characters of the page's data. The sizes are summed in the database as it reads (each of
        the ``limit`` events is sized, kept or not: ask for about as many as a page holds), so a page of large
        outputs is never held whole beyond its budget."""
        before = (
            func.sum(func.length(_events.c.data))
            .over(order_by=_events.c.seq, rows=(None, -1))  # the characters of the events before this one
            .label('before')
        )
        inner = (
            select(
                _events.c.seq,
                _events.c.type,
                _events.c.node_id,
                type_coerce(_events.c.ts, String).label('ts'),
                _events.c.data,
                before,
                func.length(_events.c.data).label('size'),
            )
            .where(_events.c.execution_id == execution_id, _events.c.seq > after_seq)
            .order_by(_events.c.seq)
            .limit(limit)
            .subquery()
        )
        query = (
            select(inner.c.seq, inner.c.type, inner.c.node_id, inner.c.ts, inner.c.data, inner.c.before, inner.c.size)
            .where(or_(inner.c.before.is_(None), inner.c.before < max_chars))
            .order_by(inner.c.seq)
        )
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        chars = _page_chars(rows)
        with collector_paused():
            return [stored_event(execution_id, *row[:5]) for row in rows], _cut_by_size(rows, limit, max_chars), chars

    async def event_time(self, execution_id: str, seq: int) -> datetime | None:
        """When the execution's event ``seq`` was recorded (None when there is no such event)."""
        query = select(_events.c.ts).where(_events.c.execution_id == execution_id, _events.c.seq == seq)
        async with self._db.engine.connect() as conn:
            value = (await conn.execute(query)).scalar()
        return from_db_time(value)

    async def events_after(
        self,
        after: tuple[datetime, str, int],
        *,
        workflow_id: str | None = None,
        types: Sequence[str] | None = None,
        limit: int = MAX_PAGE,
        max_chars: int,
    ) -> tuple[list[Event], bool]:
        """Events of every execution recorded after ``after`` (a position: timestamp, execution id, seq), in that
        order, optionally only of one workflow and some event types: a page of the event stream's replay. At most
        ``limit`` of them, and none after the one that brings their ``data`` to ``max_chars``
        characters, summed in the database as it reads (as :meth:`event_page` does). Also whether the page was cut
        by that size (more events may follow a page shorter than ``limit``).

        Only executions that had not finished by ``after``'s time can hold such events, and an index finds those.
        """
        ts, execution_id, seq = after
        at = to_db_time(ts)
        position = or_(
            _events.c.ts > at,
            and_(_events.c.ts == at, _events.c.execution_id > execution_id),
            and_(_events.c.ts == at, _events.c.execution_id == execution_id, _events.c.seq > seq),
        )
        candidates = select(_executions.c.id).where(
            or_(_executions.c.finished_at.is_(None), _executions.c.finished_at >= at)
        )
        if workflow_id is not None:
            candidates = candidates.where(_executions.c.workflow_id == workflow_id)
        order = (_events.c.ts, _events.c.execution_id, _events.c.seq)
        columns = (
            _events.c.execution_id,
            _events.c.seq,
            _events.c.type,
            _events.c.node_id,
            type_coerce(_events.c.ts, String).label('ts'),
            _events.c.data,
        )
        after_position = [_events.c.execution_id.in_(candidates), position]
        if types is not None:
            after_position.append(_events.c.type.in_(list(types)))
        # the first ``limit`` positions (a top-N by the key alone), then only those events read and sized: the sort
        # never holds the data of everything after the position, however much was recorded since
        first = select(*order).where(*after_position).order_by(*order).limit(max(1, limit)).subquery()
        size = func.length(_events.c.data)
        sized = (
            select(
                *columns,
                func.sum(size).over(order_by=tuple(first.c), rows=(None, -1)).label('before'),
                size.label('size'),
            )
            .join_from(
                first, _events, and_(_events.c.execution_id == first.c.execution_id, _events.c.seq == first.c.seq)
            )
            .subquery()
        )
        query = (
            select(*sized.c)
            .where(or_(sized.c.before.is_(None), sized.c.before < max_chars))
            .order_by(sized.c.ts, sized.c.execution_id, sized.c.seq)
        )
        async with self._db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [stored_event(*row[:6]) for row in rows], _cut_by_size(rows, limit, max_chars)

    async def load_state(self, execution_id: str) -> ExecutionState | None:
        """The execution's state folded from its stored events (None when unknown), on the event loop: for
        start-up recovery. Pages and routes read state through the application's history, which folds in a
        worker thread and keeps finished executions' folds."""
        return fold(await self.events(execution_id))


def _page_chars(rows: Sequence[Any]) -> int:
    """The characters of the data of a page read with its window sum (``before``) and each event's ``size``."""
    return (rows[-1].before or 0) + rows[-1].size if rows else 0


def _cut_by_size(rows: Sequence[Any], limit: int, max_chars: int) -> bool:
    """Whether a page read with its window sum ended for its size: more events may follow one shorter than ``limit``."""
    return len(rows) < limit and _page_chars(rows) >= max_chars


def _workflow(row: Any) -> StoredWorkflow:
    return StoredWorkflow(
        id=row.id,
        name=row.name,
        definition=loads(row.definition),
        created_at=from_db_time(row.created_at),  # type: ignore[arg-type]
        updated_at=from_db_time(row.updated_at),  # type: ignore[arg-type]
    )


def _execution(row: Any) -> ExecutionRecord:
    return ExecutionRecord(
        id=row.id,
        workflow_id=row.workflow_id,
        status=row.status,
        created_at=from_db_time(row.created_at),  # type: ignore[arg-type]
        started_at=from_db_time(row.started_at),
        finished_at=from_db_time(row.finished_at),
        duration_ms=row.duration_ms,
        retry_of=row.retry_of,
        error=row.error,
        nodes_done=row.nodes_done,
        nodes_total=row.nodes_total,
        imported_from=row.imported_from,
        trigger_type=row.trigger_type,
        nodes_succeeded=row.nodes_succeeded,
        last_seq=row.last_seq,
    )


async def _delete_workflow(conn: Any, workflow_id: str, where: Any) -> bool:
    """Delete the workflow row ``where`` selects and, when there was one, its automation row (trigger secrets, schedule
    pause); whether there was one."""
    if not (await conn.execute(delete(_workflows).where(where))).rowcount:
        return False
    await conn.execute(delete(automation).where(automation.c.workflow_id == workflow_id))
    return True
