"""The delivery ledger: every state change of a delivery, committed before anything depends on it.

A send is bracketed by two commits. :meth:`Ledger.claim` moves the delivery ``pending``/``retrying`` -> ``sending``
with a lease, by a conditional UPDATE whose row count must be 1, so a timer, the sweeper and a manual redeliver
racing for the same delivery send it once, in this process or in any other sharing the database (the claim also
records which process made it, ``claimed_by``). :meth:`Ledger.finish` writes the attempt's log row, moves the delivery
on and updates the endpoint's health. A delivery found ``sending`` after a crash (or past its lease) had an attempt
whose outcome is unknown: :meth:`Ledger.recover` logs that attempt as ``interrupted`` and sets it ``retrying``
(when processes share the database, also one whose claimer has no lease any more: it died mid-attempt).

All writes go through a :class:`BatchWriter` (group commits) and use prebuilt Core statements: this is the
delivery hot path. Secrets and credentials are sealed on insert and opened when an attempt is claimed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import bindparam, case, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from flowmon.delivery.claims import AttemptOutcome, Claim, ClaimMiss, EndpointHealthChange, claim_from_row
from flowmon.delivery.health import record_health
from flowmon.delivery.policy import (
    TEST_EVENT_TYPE,
    Decision,
    DeliveryStatus,
    ErrorClass,
    RetrySchedule,
    schedule_for,
)
from flowmon.delivery.writer import BatchWriter
from flowmon.infra.secretbox import SecretBox
from flowmon.store.codec import dumps, from_db_time, loads
from flowmon.store.database import Database
from flowmon.store.tables import ExecutionRow, ProcessRow
from flowmon.store.webhook_tables import attempts, deliveries, endpoints

_processes = ProcessRow.__table__  # type: ignore[attr-defined]
_executions = ExecutionRow.__table__  # type: ignore[attr-defined]
CANCELLED_RUN = 'execution_cancelled'  # the reason of a delivery cancelled with its run (see run_cancels.py)
Claimer = Callable[[], str | None]

WAITING = (DeliveryStatus.PENDING.value, DeliveryStatus.RETRYING.value)
SENDING = DeliveryStatus.SENDING.value
INTERRUPTED_MESSAGE = 'flowmon stopped during this attempt; the outcome is unknown, so it is sent again'

# What a delivery no longer holds once its attempt is cut short (recovered after a stop, or cancelled): the
# lease and the trigger of an attempt. (_FINISH, which ends an attempt normally, clears them too.)
_NO_ATTEMPT: dict[str, Any] = {'lease_until': None, 'attempt_trigger': None}
_CLAIM = (
    deliveries.update()
    .where(
        deliveries.c.id == bindparam('b_id'),
        deliveries.c.status.in_(WAITING),
        deliveries.c.next_attempt_at <= bindparam('b_due'),
    )
    .values(
        status=SENDING,
        attempts=deliveries.c.attempts + 1,
        lease_until=bindparam('b_lease'),
        updated_at=bindparam('b_now'),
        attempt_trigger=bindparam('b_trigger'),
        claimed_by=bindparam('b_claimer'),
    )
)
_FINISH = (
    deliveries.update()
    .where(deliveries.c.id == bindparam('b_id'), deliveries.c.status == SENDING)
    .values(
        status=bindparam('b_status'),
        url=bindparam('b_url'),
        next_attempt_at=bindparam('b_next'),
        lease_until=None,
        attempt_trigger=None,
        last_status_code=bindparam('b_code'),
        last_error=bindparam('b_error'),
        last_duration_ms=bindparam('b_duration'),
        updated_at=bindparam('b_now'),
        finished_at=bindparam('b_finished'),
    )
)
_LOG_ATTEMPT = attempts.insert()


class Ledger:
    """Writes to the delivery, attempt and endpoint tables; each method returns once its change is committed."""

    def __init__(self, db: Database, box: SecretBox, *, claimer: Claimer | None = None) -> None:
        """``claimer``: the id of this process when processes share the database (None: this process is alone)."""
        self._writer = BatchWriter(db)
        self._box = box
        self._claimer = claimer
        self.shared = claimer is not None

    @property
    def claimer(self) -> str | None:
        return None if self._claimer is None else self._claimer()

    @property
    def commits(self) -> int:
        """Transactions committed so far (each holds every write queued while the one before it ran)."""
        return self._writer.transactions

    async def stop(self) -> None:
        await self._writer.stop()

    async def insert(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert delivery rows (one Core executemany with every insert of the batch)."""
        if rows:
            sealed = [self._box.seal_row(deliveries, row['id'], {'claimed_by': None, **row}) for row in rows]
            await self._writer.run_bulk(_insert_many, sealed)

    async def claim(
        self,
        delivery_id: str,
        *,
        trigger: str,
        now: datetime,
        lease_s: float,
        slack_s: float,
        known: Mapping[str, Any] | None = None,
    ) -> Claim | ClaimMiss:
        """Claim the delivery for one attempt if it is waiting and due. ``known`` is the row as just inserted
        (saves reading it back for a first attempt)."""
        params = {
            'b_id': delivery_id,
            'b_due': now + timedelta(seconds=slack_s),
            'b_lease': now + timedelta(seconds=lease_s),
            'b_now': now,
            'b_trigger': trigger,
            'b_claimer': self.claimer,
        }

        async def op(conn: AsyncConnection) -> Claim | ClaimMiss:
            if (await conn.execute(_CLAIM, params)).rowcount != 1:
                miss = (
                    await conn.execute(
                        select(deliveries.c.status, deliveries.c.next_attempt_at).where(deliveries.c.id == delivery_id)
                    )
                ).first()
                if miss is None:
                    return ClaimMiss(status=None)
                return ClaimMiss(status=miss.status, next_attempt_at=from_db_time(miss.next_attempt_at))
            if known is not None:  # the row as built (plain values)
                row: Mapping[str, Any] = {**known, 'attempts': known['attempts'] + 1}
            else:
                found = (await conn.execute(select(deliveries).where(deliveries.c.id == delivery_id))).one()
                row = self._box.open_row(deliveries, delivery_id, found._mapping)
                # (the first round only: a round a person started by redelivering it is theirs to send)
                automatic = row['source'] == 'node' and not row['round_base']
                if automatic and await _run_cancelled(conn, row['execution_id']):
                    await _cancel(conn, delivery_id, CANCELLED_RUN, now, attempts_back=1)
                    return ClaimMiss(
                        status=DeliveryStatus.CANCELLED.value, cancelled_now=True, row=row, reason=CANCELLED_RUN
                    )
            url, headers, auth = row['secret_url'] or row['url'], loads(row['headers']) or {}, loads(row['auth'])
            signing: tuple[str, ...] = (row['secret'],) if row['secret'] else ()
            if row['endpoint_id'] is not None:
                query = select(endpoints).where(endpoints.c.id == row['endpoint_id'])
                found_endpoint = (await conn.execute(query)).first()
                if found_endpoint is None or not found_endpoint.enabled:
                    reason = 'endpoint_deleted' if found_endpoint is None else 'endpoint_disabled'
                    await _cancel(conn, delivery_id, reason, now, attempts_back=1)
                    return ClaimMiss(status=DeliveryStatus.CANCELLED.value, cancelled_now=True, row=row, reason=reason)
                endpoint = self._box.open_row(endpoints, found_endpoint.id, found_endpoint._mapping)
                url, auth = endpoint['url'], loads(endpoint['auth'])
                headers = {**(loads(endpoint['headers']) or {}), **headers}
                signing = _signing_secrets(endpoint, now)
            return claim_from_row(row, trigger, now, url=url, headers=headers, auth=auth, signing=signing)

        return await self._writer.run(op)

    async def finish(
        self, claim: Claim, outcome: AttemptOutcome, decision: Decision, *, disable_after_s: float
    ) -> EndpointHealthChange | None:
        """Log the attempt and move the delivery on; says whether the endpoint's health changed."""
        now, status = outcome.ended_at, decision.status
        terminal = status not in (DeliveryStatus.RETRYING, DeliveryStatus.PENDING)
        logged = {
            'delivery_id': claim.delivery_id,
            'webhook_id': claim.webhook_id,
            'endpoint_id': claim.endpoint_id,
            'n': claim.n,
            'trigger': claim.trigger,
            'started_at': claim.started_at,
            'ended_at': now,
            'duration_ms': outcome.duration_ms,
            'url': outcome.url,
            'resolved_ip': outcome.resolved_ip,
            'request_headers': dumps(dict(outcome.request_headers)),
            'body_sha256': hashlib.sha256(claim.body).hexdigest(),
            'body_size': len(claim.body),
            'status_code': outcome.status_code,
            'response_headers': dumps(dict(outcome.response_headers or {})),
            'response_body_prefix': outcome.response_body_prefix,
            'error_class': None if outcome.error_class is None else outcome.error_class.value,
            'error_message': outcome.error_message,
            'retryable': status in (DeliveryStatus.RETRYING, DeliveryStatus.EXHAUSTED),
            'retry_after_s': outcome.retry_after_s,
            'next_attempt_at': decision.next_attempt_at,
            'planned_at': claim.planned_at,
        }
        moved = {
            'b_id': claim.delivery_id,
            'b_status': status.value,
            'b_url': claim.shown_url,
            'b_next': decision.next_attempt_at,
            'b_code': outcome.status_code,
            'b_error': _error_text(outcome),
            'b_duration': outcome.duration_ms,
            'b_now': now,
            'b_finished': now if terminal else None,
        }

        if claim.endpoint_id is None:  # no health to keep: share two executemany statements with the batch
            await self._writer.run_bulk(_finish_many, (logged, moved))
            return None
        endpoint_id = claim.endpoint_id

        async def op(conn: AsyncConnection) -> EndpointHealthChange | None:
            await conn.execute(_LOG_ATTEMPT, [logged])
            await conn.execute(_FINISH, moved)
            return await record_health(conn, endpoint_id, decision, outcome.status_code, now, disable_after_s)

        return await self._writer.run(op)

    async def recover(
        self, *, now: datetime, schedule: RetrySchedule, rand: Callable[[], float], which: Literal['all', 'lost']
    ) -> list[tuple[str, datetime]]:
        """Log the attempt of ``sending`` deliveries as interrupted and set them ``retrying``: ``all`` of them (at
        start-up, when this process is alone), or those whose attempt is ``lost``: past its lease, or (processes
        sharing the database) claimed by a process that has no lease any more. Returns the deliveries with their
        next attempt time. Each is recovered once, whichever processes try at the same time."""

        async def op(conn: AsyncConnection) -> list[tuple[str, datetime]]:
            query = select(deliveries).where(deliveries.c.status == SENDING)
            if which == 'lost':
                expired = deliveries.c.lease_until < now
                if self.shared:
                    alive = exists().where(_processes.c.id == deliveries.c.claimed_by)
                    query = query.where(or_(expired, deliveries.c.claimed_by.is_(None), ~alive))
                else:
                    query = query.where(expired)
            recovered: list[tuple[str, datetime]] = []
            for row in (await conn.execute(query)).all():
                in_round = row.attempts - row.round_base  # the interrupted attempt's place in its round
                delay = schedule.delay_before(in_round + 1, rand)
                when = now + timedelta(seconds=schedule.delays[-1] if delay is None else delay)
                moved = await conn.execute(
                    deliveries.update()
                    .where(deliveries.c.id == row.id, deliveries.c.status == SENDING)
                    .values(
                        status=DeliveryStatus.RETRYING.value,
                        next_attempt_at=when,
                        **_NO_ATTEMPT,
                        claimed_by=None,
                        last_error=INTERRUPTED_MESSAGE,
                        updated_at=now,
                        # an attempt whose outcome is unknown is made again, even the round's last: its budget
                        # grows by that one (the ledger said "Attempts 9/8" after it)
                        max_attempts=max(row.max_attempts, in_round + 1),
                    )
                )
                if moved.rowcount != 1:  # another process recovered it (or the attempt ended) meanwhile
                    continue
                interrupted = {
                    'delivery_id': row.id,
                    'webhook_id': row.webhook_id,
                    'endpoint_id': row.endpoint_id,
                    'n': row.attempts,
                    'trigger': row.attempt_trigger or 'unknown',
                    'started_at': from_db_time(row.updated_at),
                    'ended_at': now,
                    'url': row.url,
                    'body_sha256': hashlib.sha256(row.body).hexdigest(),
                    'body_size': len(row.body),
                    'error_class': ErrorClass.INTERRUPTED.value,
                    'error_message': INTERRUPTED_MESSAGE,
                    'retryable': True,
                    'next_attempt_at': when,
                }
                await conn.execute(_LOG_ATTEMPT, [interrupted])
                recovered.append((row.id, when))
            return recovered

        return await self._writer.run(op)

    async def requeue(
        self, delivery_ids: Iterable[str], *, now: datetime, schedule: RetrySchedule, from_statuses: Iterable[str]
    ) -> list[str]:
        """Start a new round of attempts (same ``webhook_id``, same body) for each delivery still in one of
        ``from_statuses``, as many as its schedule has (:func:`schedule_for`: one for a test event); returns the ids
        requeued."""
        allowed, wanted = list(from_statuses), list(delivery_ids)
        test_event = schedule_for(TEST_EVENT_TYPE, schedule).max_attempts
        max_attempts = case((deliveries.c.event_type == TEST_EVENT_TYPE, test_event), else_=schedule.max_attempts)

        async def op(conn: AsyncConnection) -> list[str]:
            done: list[str] = []
            for delivery_id in wanted:
                result = await conn.execute(
                    deliveries.update()
                    .where(deliveries.c.id == delivery_id, deliveries.c.status.in_(allowed))
                    .values(
                        status=DeliveryStatus.PENDING.value,
                        round_base=deliveries.c.attempts,
                        max_attempts=max_attempts,
                        next_attempt_at=now,
                        finished_at=None,
                        status_reason=None,
                        updated_at=now,
                    )
                )
                if result.rowcount == 1:
                    done.append(delivery_id)
            return done

        return await self._writer.run(op)

    async def cancel_of_execution(self, execution_id: str, *, reason: str, now: datetime) -> list[str]:
        """Cancel every delivery of ``execution_id``'s nodes that is waiting for an attempt; the ids cancelled."""

        async def op(conn: AsyncConnection) -> list[str]:
            waiting = select(deliveries.c.id).where(  # (found through the status index: few rows wait)
                deliveries.c.status.in_(WAITING),
                deliveries.c.execution_id == execution_id,
                deliveries.c.source == 'node',
            )
            ids = [row[0] for row in (await conn.execute(waiting)).all()]
            return [delivery_id for delivery_id in ids if await _cancel(conn, delivery_id, reason, now)]

        return await self._writer.run(op)

    async def cancel(self, delivery_id: str, *, reason: str, now: datetime) -> bool:
        """Cancel a delivery that is waiting for an attempt; False when it is not waiting."""

        async def op(conn: AsyncConnection) -> bool:
            return await _cancel(conn, delivery_id, reason, now)

        return await self._writer.run(op)


async def _insert_many(conn: AsyncConnection, batches: Sequence[list[dict[str, Any]]]) -> list[None]:
    """One executemany per set of columns: an INSERT is compiled from its first row's keys, and rows of several
    callers (a delivery claimed as it is created names its ``attempt_trigger``) do not all name the same ones."""
    by_columns: dict[frozenset[str], list[dict[str, Any]]] = {}
    for rows in batches:
        for row in rows:
            by_columns.setdefault(frozenset(row), []).append(row)
    for rows in by_columns.values():
        await conn.execute(deliveries.insert(), rows)
    return [None] * len(batches)


async def _finish_many(conn: AsyncConnection, items: Sequence[tuple[dict[str, Any], dict[str, Any]]]) -> list[None]:
    await conn.execute(_LOG_ATTEMPT, [logged for logged, _ in items])
    await conn.execute(_FINISH, [moved for _, moved in items])
    return [None] * len(items)


async def _run_cancelled(conn: AsyncConnection, execution_id: str | None) -> bool:
    """Whether the run ``execution_id`` (a node's delivery's) was cancelled by its user."""
    if execution_id is None:
        return False
    query = select(_executions.c.status).where(_executions.c.id == execution_id)
    return (await conn.execute(query)).scalar() == 'cancelled'


async def _cancel(conn: AsyncConnection, delivery_id: str, reason: str, now: datetime, attempts_back: int = 0) -> bool:
    statuses = [*WAITING, SENDING] if attempts_back else list(WAITING)
    result = await conn.execute(
        deliveries.update()
        .where(deliveries.c.id == delivery_id, deliveries.c.status.in_(statuses))
        .values(
            status=DeliveryStatus.CANCELLED.value,
            status_reason=reason,
            attempts=deliveries.c.attempts - attempts_back,
            next_attempt_at=None,
            **_NO_ATTEMPT,
            finished_at=now,
            updated_at=now,
        )
    )
    return result.rowcount == 1


def _signing_secrets(endpoint: Mapping[str, Any], now: datetime) -> tuple[str, ...]:
    previous_expires = from_db_time(endpoint['previous_secret_expires_at'])
    if endpoint['previous_secret'] and previous_expires is not None and previous_expires > now:
        return (endpoint['secret'], endpoint['previous_secret'])
    return (endpoint['secret'],)


def _error_text(outcome: AttemptOutcome) -> str | None:
    if outcome.error_class is not None:
        return f'{outcome.error_class.value}: {outcome.error_message or ""}'.strip()
    if outcome.status_code is not None and not 200 <= outcome.status_code < 300:
        return f'HTTP {outcome.status_code}'
    return None
