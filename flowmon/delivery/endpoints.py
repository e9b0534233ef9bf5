"""Webhook endpoints: subscribers to bus events, each with its own ``whsec_`` secret, auth and health.

Secrets are generated here, never chosen by users; a rotation keeps the previous secret valid (both signatures are
sent) for 24 h. Lists and ``to_json`` never show a secret or a credential: only :meth:`EndpointStore.reveal_secret`
does. The store keeps every endpoint in memory as well, so the bus fan-out matches events without a query.
In the database the secrets, the auth settings and the custom headers are sealed (:mod:`flowmon.infra.secretbox`).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from sqlalchemy import delete, func, select

from flowmon.delivery.sender import redact
from flowmon.engine.core.events import EventType, utcnow
from flowmon.engine.core.inputs import located, location
from flowmon.engine.core.payload_values import unstorable
from flowmon.engine.nodes.webhook import WebhookAuth, check_custom_headers
from flowmon.infra.outbound import OutboundGuard, OutboundRefused
from flowmon.infra.secretbox import SecretBox
from flowmon.infra.signing import new_secret
from flowmon.store import dialect
from flowmon.store.codec import dumps, from_db_time, loads
from flowmon.store.database import Database
from flowmon.store.webhook_tables import endpoints

SUBSCRIBABLE_EVENT_TYPES = tuple(str(event_type) for event_type in EventType)
ROTATION_GRACE = timedelta(hours=24)
# Endpoints stored at most. Each one subscribed to an event type costs a delivery row and an HTTP request for every
# such event, so their number multiplies every event's cost; 100 is several times what a deployment routes its events
# to (Stripe allows 16 endpoints per account, GitHub 20 webhooks per event on a repository or organisation).
MAX_ENDPOINTS = 100
# documents the accepted values in /openapi.json; the validators below give the message naming a wrong one
_EVENT_TYPE_ITEMS: dict[str, Any] = {'items': {'enum': list(SUBSCRIBABLE_EVENT_TYPES)}}


def _storable(text: str) -> str:
    held = unstorable(text)
    if held is not None:
        raise ValueError(f'{held} cannot be stored')
    return text


Description = Annotated[str, Field(max_length=500), AfterValidator(_storable)]
"""An endpoint's description, kept as it is given: at most 500 characters (checked before the validator, so the
refusal says characters, also where it may be None), without what no database stores (a NUL character, a lone
surrogate), which a page could send, as the API refuses it in any body."""


def _json_bool(value: object) -> object:
    if not isinstance(value, bool):
        raise PydanticCustomError('bool_type', 'a boolean (true or false) is expected')
    return value


JsonBool = Annotated[bool, BeforeValidator(_json_bool)]
"""A switch of a request body: JSON's ``true`` or ``false`` only. pydantic would read ``"yes"``, ``"on"``, ``"1"``
and ``1`` as true (and their opposites as false), so that a typo or a wrong type switched an endpoint on or off
unseen; ``JsonBool | None`` takes ``null`` too."""


class EndpointSpec(BaseModel):
    """What a user configures for an endpoint (the API's create body)."""

    model_config = ConfigDict(extra='forbid')

    url: str = Field(min_length=1, max_length=2000)
    event_types: list[str] = Field(
        min_length=1, max_length=len(SUBSCRIBABLE_EVENT_TYPES), json_schema_extra=_EVENT_TYPE_ITEMS
    )
    description: Description = ''
    headers: dict[str, str] = Field(default_factory=dict)
    auth: WebhookAuth | None = None
    enabled: JsonBool = True

    @field_validator('event_types')
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in SUBSCRIBABLE_EVENT_TYPES]
        if unknown:
            raise ValueError(f'unknown event type(s) {unknown}; known: {", ".join(SUBSCRIBABLE_EVENT_TYPES)}')
        return sorted(set(value))

    @model_validator(mode='after')
    def _headers(self) -> EndpointSpec:
        try:
            check_custom_headers(self.headers, auth=self.auth)
        except ValueError as exc:  # refused as of the header it names (a check of the whole model names no place)
            problem = PydanticCustomError('value_error', str(exc))
            refused = InitErrorDetails(type=problem, loc=('headers', *location(exc)), input=self.headers)
            raise ValidationError.from_exception_data(type(self).__name__, [refused]) from None
        return self


class EndpointPatch(BaseModel):
    """A partial update; ``auth: null`` removes the auth settings."""

    model_config = ConfigDict(extra='forbid')

    url: str | None = Field(default=None, min_length=1, max_length=2000)
    event_types: list[str] | None = Field(default=None, json_schema_extra=_EVENT_TYPE_ITEMS)
    description: Description | None = None
    headers: dict[str, str] | None = None
    auth: WebhookAuth | None = None
    enabled: JsonBool | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Endpoint:
    id: str
    url: str
    description: str
    event_types: tuple[str, ...]
    headers: dict[str, str]
    auth: dict[str, Any] | None
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    first_exhausted_at: datetime | None
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The public form: no secret, credentials reduced to the auth type."""
        return {
            'id': self.id,
            'url': self.url,
            'description': self.description,
            'event_types': list(self.event_types),
            'headers': redact(self.headers),
            'auth': {'type': self.auth.get('type')} if self.auth else None,
            'enabled': self.enabled,
            'disabled_reason': self.disabled_reason,
            'disabled_at': _iso(self.disabled_at),
            'failing_since': _iso(self.first_exhausted_at),
            'rotation_ends_at': _iso(self.previous_secret_expires_at),
            'created_at': self.created_at.isoformat(),
            'updated_at': self.updated_at.isoformat(),
        }


class EndpointNotFound(LookupError):
    pass


class TooManyEndpoints(RuntimeError):
    """The store holds :data:`MAX_ENDPOINTS` already."""


class EndpointStore:
    def __init__(
        self, db: Database, guard: OutboundGuard, box: SecretBox, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = db
        self._guard = guard
        self._box = box
        self._clock = clock
        self._all: dict[str, Endpoint] = {}
        self._refreshing = asyncio.Lock()
        self.version = 0
        self.listeners: list[Callable[[], None]] = []  # called after every change (the bus fan-out follows them)
        # called after a change made here (the other processes sharing the database then refresh their copies)
        self.announce: Callable[[], None] = lambda: None

    async def refresh(self) -> None:
        """Reload the in-memory copy (after every change; at start-up).

        One at a time: of two overlapping reloads, the one that read the table first could otherwise replace the
        copy last, hiding a change that the other had already shown.
        """
        async with self._refreshing:
            async with self._db.engine.connect() as conn:
                rows = (await conn.execute(select(endpoints).order_by(endpoints.c.created_at))).all()
            self._all = {row.id: _endpoint(self._open(row)) for row in rows}
        self.version += 1
        for listener in list(self.listeners):
            listener()

    async def written(self) -> None:
        """After a change made here: reload the copy and tell the other processes (:attr:`announce`)."""
        await self.refresh()
        self.announce()

    def cached(self, endpoint_id: str) -> Endpoint | None:
        return self._all.get(endpoint_id)

    def mark_disabled(self, endpoint_id: str, reason: str, at: datetime) -> None:
        """Show a disable just committed in the copy at once, before :meth:`refresh` has read it back: whoever
        learns that the delivery settled (it settles in the same transaction) must not read a stale copy."""
        endpoint = self._all.get(endpoint_id)
        if endpoint is not None and endpoint.enabled:
            self._all = {
                **self._all,
                endpoint_id: replace(endpoint, enabled=False, disabled_reason=reason, disabled_at=at),
            }

    def cached_all(self) -> list[Endpoint]:
        return list(self._all.values())

    def subscribed_to(self, event_type: str) -> list[Endpoint]:
        """Endpoints (enabled or not) whose ``event_types`` include ``event_type``."""
        return [endpoint for endpoint in self._all.values() if event_type in endpoint.event_types]

    async def get(self, endpoint_id: str) -> Endpoint | None:
        """The endpoint, from the copy; one the copy lacks is looked for in the database, and the copy read again
        when it is there: another process sharing the database created it a moment ago (its announcement not read
        here yet), and a script that created it through that process must find it through this one."""
        endpoint = self._all.get(endpoint_id)
        if endpoint is None and await self.read_again_if_stored([endpoint_id]):
            endpoint = self._all.get(endpoint_id)
        return endpoint

    async def read_again_if_stored(self, endpoint_ids: Collection[str]) -> bool:
        """Read the copy again when the database holds one of ``endpoint_ids`` that the copy lacks (another process
        sharing it created it a moment ago); returns whether it did."""
        lacking = sorted(endpoint_id for endpoint_id in endpoint_ids if endpoint_id not in self._all)
        if not lacking:
            return False
        async with self._db.engine.connect() as conn:
            found = await conn.execute(select(endpoints.c.id).where(endpoints.c.id.in_(lacking)).limit(1))
            if found.first() is None:
                return False
        await self.refresh()
        return True

    async def create(self, spec: EndpointSpec) -> tuple[Endpoint, str]:
        """Store a new endpoint; returns it and its generated secret (shown once, revealable later). Raises
        TooManyEndpoints, storing nothing, when there are :data:`MAX_ENDPOINTS`: counted in the database, the count
        and the insert one step for every process that shares it (:func:`~flowmon.store.dialect.take_turn`)."""
        self._check_url(spec.url)
        now = self._clock()
        endpoint_id = f'ep_{secrets.token_hex(8)}'
        secret = new_secret()
        values = {
            'id': endpoint_id,
            'url': spec.url,
            'description': spec.description,
            'event_types': dumps(spec.event_types),
            'headers': dumps(spec.headers),
            'auth': dumps(spec.auth.model_dump(exclude_none=True)) if spec.auth else None,
            'secret': secret,
            'enabled': spec.enabled,
            'disabled_reason': None if spec.enabled else 'disabled by a user',
            'disabled_at': None if spec.enabled else now,
            'created_at': now,
            'updated_at': now,
        }
        async with self._db.engine.begin() as conn:
            await dialect.take_turn(conn, dialect.ENDPOINTS_LOCK_KEY)
            count = (await conn.execute(select(func.count()).select_from(endpoints))).scalar_one()
            if count >= MAX_ENDPOINTS:
                raise TooManyEndpoints(f'at most {MAX_ENDPOINTS} webhook endpoints can be stored; delete one first')
            await conn.execute(endpoints.insert().values(**self._box.seal_row(endpoints, endpoint_id, values)))
        await self.written()
        return await self._require(endpoint_id), secret

    async def update(self, endpoint_id: str, patch: EndpointPatch) -> Endpoint:
        current = await self._require(endpoint_id)
        fields = patch.model_fields_set
        current_auth = WebhookAuth.model_validate(current.auth) if current.auth else None
        try:
            merged = EndpointSpec(
                url=patch.url if patch.url is not None else current.url,
                event_types=patch.event_types if patch.event_types is not None else list(current.event_types),
                description=patch.description if patch.description is not None else current.description,
                headers=patch.headers if patch.headers is not None else current.headers,
                auth=patch.auth if 'auth' in fields else current_auth,
            )
        except ValidationError as exc:  # the patched field, named as the create body's check names it
            raise _refused_patch(exc) from None
        self._check_url(merged.url)
        values: dict[str, Any] = {
            'url': merged.url,
            'description': merged.description,
            'event_types': dumps(merged.event_types),
            'headers': dumps(merged.headers),
            'auth': dumps(merged.auth.model_dump(exclude_none=True)) if merged.auth else None,
            'updated_at': self._clock(),
        }
        sealed = self._box.seal_row(endpoints, endpoint_id, values)
        async with self._db.engine.begin() as conn:
            result = await conn.execute(endpoints.update().where(endpoints.c.id == endpoint_id).values(**sealed))
        if result.rowcount == 0:  # deleted since the copy was read
            raise _not_found(endpoint_id)
        if patch.enabled is not None and patch.enabled != current.enabled:
            return await self.set_enabled(endpoint_id, patch.enabled)
        await self.written()
        return await self._require(endpoint_id)

    async def set_enabled(self, endpoint_id: str, enabled: bool, *, reason: str = 'disabled by a user') -> Endpoint:
        """Enable (clearing the failure clock and reason) or disable (with ``reason``) an endpoint."""
        await self._require(endpoint_id)
        now = self._clock()
        values: dict[str, Any] = (
            {'enabled': True, 'disabled_reason': None, 'disabled_at': None, 'first_exhausted_at': None}
            if enabled
            else {'enabled': False, 'disabled_reason': reason, 'disabled_at': now}
        )
        async with self._db.engine.begin() as conn:
            result = await conn.execute(
                endpoints.update().where(endpoints.c.id == endpoint_id).values(updated_at=now, **values)
            )
        if result.rowcount == 0:  # deleted since the copy was read
            raise _not_found(endpoint_id)
        await self.written()
        return await self._require(endpoint_id)

    async def delete(self, endpoint_id: str) -> bool:
        async with self._db.engine.begin() as conn:
            result = await conn.execute(delete(endpoints).where(endpoints.c.id == endpoint_id))
        await self.written()
        return bool(result.rowcount)

    async def reveal_secret(self, endpoint_id: str) -> dict[str, Any]:
        """The endpoint's signing secret (and the previous one while a rotation's grace period lasts)."""
        await self._require(endpoint_id)
        async with self._db.engine.connect() as conn:
            found = (await conn.execute(select(endpoints).where(endpoints.c.id == endpoint_id))).one_or_none()
        if found is None:  # deleted since the copy was read
            raise _not_found(endpoint_id)
        row = self._open(found)
        expires = from_db_time(row['previous_secret_expires_at'])
        rotating = row['previous_secret'] is not None and expires is not None and expires > self._clock()
        return {
            'secret': row['secret'],
            'previous_secret': row['previous_secret'] if rotating else None,
            'previous_secret_expires_at': expires.isoformat() if rotating and expires else None,
        }

    async def rotate_secret(self, endpoint_id: str, *, grace: timedelta = ROTATION_GRACE) -> dict[str, Any]:
        """Make a new secret; the old one keeps signing alongside it for ``grace`` (zero: it stops at once, and so
        does a previous one still in its grace period).

        The new secret replaces only the secret read here: a rotation made meanwhile (here or by another process
        sharing the database) stands for this one too, and its secrets are returned, so every caller is handed a
        secret that signs. The secret both replaced keeps the shorter of their graces (one asking for none, after a
        leak, stops it at once whichever of the two wrote the new secret)."""
        await self._require(endpoint_id)
        now = self._clock()
        stops = None if grace <= timedelta(0) else now + grace  # (None: the replaced secret stops now)
        read = await self._sealed_secret(endpoint_id)
        current = self._box.open_field(endpoints.name, endpoint_id, 'secret', read)
        values = {'secret': new_secret(), 'previous_secret': current if stops else None}  # sealed again
        change = (
            endpoints.update()
            .where((endpoints.c.id == endpoint_id) & (endpoints.c.secret == read))
            .values(
                **self._box.seal_row(endpoints, endpoint_id, values), previous_secret_expires_at=stops, updated_at=now
            )
        )
        async with self._db.engine.begin() as conn:
            rotated = (await conn.execute(change)).rowcount
        if not rotated:
            await self._sooner(endpoint_id, current, stops, now)
        await self.written()
        return await self.reveal_secret(endpoint_id)

    async def _sooner(self, endpoint_id: str, replaced: str | None, stops: datetime | None, now: datetime) -> None:
        """After a rotation made meanwhile, which replaced ``replaced`` too: that secret, when still the previous
        one, stops at ``stops`` (None: now) if that is sooner than the other rotation gave it. Written only while
        the current secret is the one read here; a later rotation has replaced ``replaced`` for good."""
        async with self._db.engine.connect() as conn:
            query = select(endpoints.c.secret, endpoints.c.previous_secret, endpoints.c.previous_secret_expires_at)
            row = (await conn.execute(query.where(endpoints.c.id == endpoint_id))).one_or_none()
        if row is None:  # deleted meanwhile
            raise _not_found(endpoint_id)
        previous = self._box.open_field(endpoints.name, endpoint_id, 'previous_secret', row.previous_secret)
        expires = from_db_time(row.previous_secret_expires_at)
        if previous is None or previous != replaced or (stops is not None and expires is not None and expires <= stops):
            return
        same = (endpoints.c.id == endpoint_id) & (endpoints.c.secret == row.secret)
        cut = {'previous_secret': None} if stops is None else {}
        async with self._db.engine.begin() as conn:
            await conn.execute(
                endpoints.update().where(same).values(previous_secret_expires_at=stops, updated_at=now, **cut)
            )

    async def _sealed_secret(self, endpoint_id: str) -> str:
        """The endpoint's current secret as stored (sealed): what a rotation replaces."""
        async with self._db.engine.connect() as conn:
            row = (await conn.execute(select(endpoints.c.secret).where(endpoints.c.id == endpoint_id))).one_or_none()
        if row is None:  # deleted since the copy was read
            raise _not_found(endpoint_id)
        return str(row.secret)

    def _open(self, row: Any) -> dict[str, Any]:
        return self._box.open_row(endpoints, row.id, row._mapping)

    async def _require(self, endpoint_id: str) -> Endpoint:
        endpoint = await self.get(endpoint_id)
        if endpoint is None:
            raise _not_found(endpoint_id)
        return endpoint

    def _check_url(self, url: str) -> None:
        try:
            self._guard.check_url(url)
        except OutboundRefused as exc:
            raise located(ValueError(f'url: {exc}'), 'url') from None


def _refused_patch(exc: ValidationError) -> ValueError:
    """The first problem of an endpoint patched into one that is not valid, about its field and the place in it
    (a custom header by its name: ``('headers', 'Host')``)."""
    first = exc.errors()[0]
    loc = tuple(first['loc']) or ('headers',)  # (a custom header: its name after it)
    message = str(first['msg']).removeprefix('Value error, ')
    return located(ValueError(f'{loc[0]}: {message}'), *loc)


def _not_found(endpoint_id: str) -> EndpointNotFound:
    return EndpointNotFound(f'webhook endpoint {endpoint_id!r} not found')


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _endpoint(row: dict[str, Any]) -> Endpoint:
    return Endpoint(
        id=row['id'],
        url=row['url'],
        description=row['description'],
        event_types=tuple(loads(row['event_types']) or ()),
        headers=loads(row['headers']) or {},
        auth=loads(row['auth']),
        enabled=bool(row['enabled']),
        disabled_reason=row['disabled_reason'],
        disabled_at=from_db_time(row['disabled_at']),
        first_exhausted_at=from_db_time(row['first_exhausted_at']),
        previous_secret_expires_at=from_db_time(row['previous_secret_expires_at']),
        created_at=from_db_time(row['created_at']),  # type: ignore[arg-type]
        updated_at=from_db_time(row['updated_at']),  # type: ignore[arg-type]
    )
