"""The composition of flowmon's parts, and the operations the API and the pages share.

:meth:`Services.build` only constructs objects; :meth:`Services.start` (registered with
``app.on_startup``) starts them and :meth:`Services.stop` (``app.on_shutdown``) stops them in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from flowmon.application.replays import ReplayLoader
from flowmon.automation.schedules import ScheduleService
from flowmon.automation.triggers import TriggerService
from flowmon.delivery.service import DeliveryService, build_delivery_service
from flowmon.engine.core.events import Event, utcnow
from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.core.replay_index import ReplayIndex
from flowmon.engine.core.state import ExecutionState
from flowmon.engine.nodes import NodeRegistry, default_registry
from flowmon.engine.nodes.http import MAX_RESPONSE_BYTES
from flowmon.engine.nodes.webhook import WebhookNode
from flowmon.engine.runtime.bus import EventBus
from flowmon.engine.runtime.projector import Projector
from flowmon.engine.runtime.scheduler import Engine
from flowmon.engine.runtime.secret_refs import secret_names
from flowmon.infra.outbound import OutboundGuard, guarded_client
from flowmon.infra.secretbox import SecretBox
from flowmon.infra.timers import Timers
from flowmon.settings import Settings
from flowmon.store import Database, EventRecorder, History, WorkflowCatalog, interrupt_unfinished
from flowmon.store.keys import PENDING_KEY_FILE, load_secret_box
from flowmon.store.metrics import ExecutionMetrics
from flowmon.store.sealed import prepare_sealed
from flowmon.store.secrets import SecretInfo, SecretStore

log = logging.getLogger(__name__)


class NotFound(LookupError):
    """The named workflow or execution does not exist."""


class Conflict(RuntimeError):
    """The request does not fit the current state (e.g. cancelling a finished execution)."""


READ_ONLY = 'imported executions are read-only'


@dataclass(kw_only=True)
class Services:
    settings: Settings
    token: str
    bus: EventBus
    registry: NodeRegistry
    db: Database
    history: History
    catalog: WorkflowCatalog
    recorder: EventRecorder
    projector: Projector
    engine: Engine
    budget: PayloadBudget  # the one payload budget: inputs, outputs, trigger bodies, imports, webhook bodies
    http: httpx.AsyncClient
    metrics: ExecutionMetrics  # dashboard numbers, cached and shared by every client
    timers: Timers  # the process's one APScheduler: webhook retries, the sweeper, cron schedules
    webhooks: DeliveryService
    box: SecretBox  # seals secrets and credentials in the database
    secrets: SecretStore  # named secrets for node configs
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    triggers: TriggerService = field(init=False)
    schedules: ScheduleService = field(init=False)
    replays: ReplayLoader = field(init=False)  # replay indexes of recently replayed finished executions

    def __post_init__(self) -> None:
        self.replays = ReplayLoader(self.history)
        self.triggers = TriggerService(self.db, self.catalog, self.start_execution, self.box, budget=self.budget)
        self.schedules = ScheduleService(self.db, self.catalog, self.timers, self.start_execution)

    @classmethod
    def build(
        cls, settings: Settings, *, token: str, registry: NodeRegistry | None = None, box: SecretBox | None = None
    ) -> Services:
        """``box`` defaults to the key ring of the settings (``FLOWMON_SECRET_KEY`` or the data dir's key file)."""
        registry = registry or default_registry()
        budget = PayloadBudget(max_bytes=settings.max_payload_bytes)
        box = box or load_secret_box(settings)
        bus = EventBus()
        db = Database(settings.db_url)
        history = History(db)
        secrets = SecretStore(db, box)
        # the http node and webhooks share the SSRF guard
        guard = OutboundGuard(settings.outbound_allow_list, ports=settings.outbound_port_ranges)
        http = guarded_client(guard, timeout=30.0, max_response_bytes=MAX_RESPONSE_BYTES)
        timers = Timers()
        webhooks = build_delivery_service(settings, db=db, bus=bus, timers=timers, guard=guard, box=box)
        if 'webhook' not in registry:
            registry.register(WebhookNode(webhooks))
        projector = Projector(bus)
        recorder = EventRecorder(db, bus, projection=projector)  # writes the projector's fold: one fold per event
        return cls(
            settings=settings,
            token=token,
            bus=bus,
            registry=registry,
            db=db,
            history=history,
            catalog=WorkflowCatalog(history, registry, known_secrets=secrets.names),
            recorder=recorder,
            projector=projector,
            engine=Engine(
                bus=bus,
                registry=registry,
                max_concurrent=settings.max_concurrent_executions,
                http=http,
                budget=budget,
                secrets=secrets.resolve,
            ),
            budget=budget,
            http=http,
            timers=timers,
            webhooks=webhooks,
            box=box,
            secrets=secrets,
            metrics=ExecutionMetrics(db, change_counter=lambda: recorder.written),
        )

    async def start(self) -> None:
        await self.db.start()
        sealed = await prepare_sealed(self.db, self.box)  # raises UnknownSecretKey: the key does not fit
        if sealed:
            log.warning('encrypted %d secret value(s) that an earlier flowmon had stored in plain text', sealed)
        if (self.settings.data_dir / PENDING_KEY_FILE).exists() and self.settings.secret_key is None:
            log.warning('a secret key rotation did not finish: run `python -m flowmon rotate-secret-key` to finish it')
        await self.secrets.load()
        interrupted = await interrupt_unfinished(self.history, self.recorder, utcnow())
        if interrupted:
            log.warning('%d execution(s) were interrupted by the last shutdown', len(interrupted))
        await self.recorder.start()
        self.projector.start()
        loaded = await self.catalog.load_directory(self.settings.workflows_path, utcnow())
        log.info('loaded %d workflow(s) from %s', len(loaded), self.settings.workflows_path)
        self._tasks.append(asyncio.get_running_loop().create_task(self._tick(), name='projector tick'))
        self.timers.start()
        await self.webhooks.start()
        await self.schedules.start()
        self.timers.every('hooks:prune', 3600, self.triggers.prune)
        self._ready.set()

    @property
    def is_ready(self) -> bool:
        """True once :meth:`start` has finished (NiceGUI runs async start-up handlers in the background)."""
        return self._ready.is_set()

    async def wait_ready(self, timeout: float = 30.0) -> bool:
        """Wait until start-up has finished; False if it has not within ``timeout`` seconds."""
        try:
            async with asyncio.timeout(timeout):
                await self._ready.wait()
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        self._ready.clear()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.schedules.stop()
        self.timers.shutdown()
        await self.engine.stop()
        await self.webhooks.stop()
        await self.recorder.stop()
        self.projector.stop()
        await self.http.aclose()
        await self.db.stop()

    async def _tick(self) -> None:
        while True:
            self.projector.tick()
            await asyncio.sleep(0.1)

    # --- operations shared by the API and the pages ---------------------------------------------------

    async def start_execution(self, workflow_id: str, input: Any = None, *, priority: int = 0) -> str:
        """Queue a run of ``workflow_id``; raises NotFound, WorkflowError, or PayloadError for an input over budget."""
        workflow = await self.catalog.get(workflow_id)
        if workflow is None:
            raise NotFound(f'workflow {workflow_id!r} not found')
        return self.engine.submit(workflow, input, priority=priority)

    async def cancel_execution(self, execution_id: str) -> None:
        if self.engine.cancel(execution_id):
            return
        state = await self.execution_state(execution_id)
        if state is None:
            raise NotFound(f'execution {execution_id!r} not found')
        await self._refuse_imported(execution_id)
        raise Conflict(f'execution {execution_id!r} is already {state.status}')

    async def rerun_execution(self, execution_id: str, *, from_node: str | None = None, input: Any = None) -> str:
        """Rerun with the workflow's current definition (or the one it ran with, if since deleted).

        An imported execution is history from elsewhere, and its definition came from a file: it is never run
        (Conflict), whether or not a workflow with its id exists here.
        """
        previous = await self.execution_state(execution_id)
        if previous is None:
            raise NotFound(f'execution {execution_id!r} not found')
        await self._refuse_imported(execution_id)
        if not previous.is_terminal:
            raise Conflict(f'execution {execution_id!r} is still {previous.status}; cancel it or wait')
        workflow = await self.catalog.get(previous.workflow_id or '')
        if workflow is None:
            await self.recorder.flush()  # the snapshot is in the first event, which may not be written yet
            snapshot = await self.history.workflow_snapshot(execution_id)
            if snapshot is None:
                raise NotFound(f'workflow {previous.workflow_id!r} of execution {execution_id!r} no longer exists')
            workflow = self.catalog.validate(snapshot)
        return self.engine.rerun(previous, workflow, from_node=from_node, input=input)

    async def is_imported(self, execution_id: str) -> bool:
        """Whether the execution came from an export file (imported executions are read-only)."""
        if self.engine.is_active(execution_id):
            return False
        record = await self.history.get_execution(execution_id)
        return record is not None and record.imported_from is not None

    async def _refuse_imported(self, execution_id: str) -> None:
        if await self.is_imported(execution_id):
            raise Conflict(f'execution {execution_id!r} was imported: {READ_ONLY}')

    async def put_secret(self, name: str, value: str) -> tuple[SecretInfo, bool]:
        """Create or replace a named secret; returns its info and whether it was created."""
        return await self.secrets.put(name, value)

    async def delete_secret(self, name: str) -> None:
        """Delete a named secret; refused (:class:`Conflict`, naming them) while stored workflows name it."""
        if self.secrets.get(name) is None:
            raise NotFound(f'secret {name!r} not found')
        users = sorted(stored.id for stored in await self.catalog.all() if name in secret_names(stored.definition))
        if users:
            listed = ', '.join(repr(workflow_id) for workflow_id in users[:10]) + (' ...' if len(users) > 10 else '')
            raise Conflict(f'secret {name!r} is used by workflow(s) {listed}; change them first')
        await self.secrets.delete(name)

    async def execution_state(self, execution_id: str) -> ExecutionState | None:
        """Live state when the execution is in the projection, else folded from stored events."""
        state = self.projector.get(execution_id)
        if state is not None:
            return state
        await self.recorder.flush()
        return await self.history.load_state(execution_id)

    async def execution_events(self, execution_id: str, *, after_seq: int = 0, limit: int | None = None) -> list[Event]:
        await self.recorder.flush()
        return await self.history.events(execution_id, after_seq=after_seq, limit=limit)

    async def replay_index(self, execution_id: str) -> ReplayIndex:
        """The execution's replay index (state at any position, timeline, Gantt spans); raises NotFound."""
        await self.recorder.flush()
        index = await self.replays.open(execution_id)
        if index is None:
            raise NotFound(f'execution {execution_id!r} not found')
        return index
