"""The composition root: builds the infrastructure and the application layer on it, starts and stops them.

:meth:`System.build` only constructs objects; :meth:`System.start` (registered with ``app.on_startup``) starts
them and :meth:`System.stop` (``app.on_shutdown``) stops them in reverse. Nothing starts at import time. The
entry points (:mod:`flowmon.api`, :mod:`flowmon.web`) are handed :attr:`System.application` and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from flowmon import __version__
from flowmon.application import Application
from flowmon.application.automation import Automation
from flowmon.application.bulk import BulkActions
from flowmon.application.cluster import Cluster
from flowmon.application.dashboard import Dashboard
from flowmon.application.deliveries import Deliveries
from flowmon.application.endpoints import Endpoints
from flowmon.application.exchange import Exchange
from flowmon.application.executions import Executions
from flowmon.application.history import ExecutionHistory
from flowmon.application.live import LiveView
from flowmon.application.replays import ReplayLoader
from flowmon.application.retention import Retention
from flowmon.application.saved_views import SavedViews
from flowmon.application.secrets import Secrets
from flowmon.application.snapshots import SnapshotCache
from flowmon.application.stats import NodeStatistics
from flowmon.application.status import Status, StatusSources
from flowmon.application.streams import EventStreams
from flowmon.application.workflows import Workflows
from flowmon.automation.schedules import ScheduleService
from flowmon.automation.triggers import TriggerService
from flowmon.delivery.policy import TERMINAL_STATUSES as FINAL_DELIVERY_STATUSES
from flowmon.delivery.service import DeliveryService, build_delivery_service
from flowmon.engine.core.events import utcnow
from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.nodes import NodeRegistry, NodeServices, load_registry
from flowmon.engine.nodes.http import MAX_RESPONSE_BYTES
from flowmon.engine.nodes.webhook import WebhookNode
from flowmon.engine.runtime.bus import EventBus
from flowmon.engine.runtime.executor import WorkerPool
from flowmon.engine.runtime.projector import Projector
from flowmon.engine.runtime.scheduler import Engine
from flowmon.infra.loop_probe import LoopLagProbe
from flowmon.infra.outbound import OutboundGuard, guarded_client
from flowmon.infra.prometheus import MetricSources, ProcessMetrics
from flowmon.infra.secretbox import SecretBox
from flowmon.infra.stop_watch import StopWatch
from flowmon.infra.tasks import cancel_and_wait
from flowmon.infra.timers import Timers
from flowmon.infra.workers.local import LocalProcessPool
from flowmon.settings import Settings
from flowmon.store import Database, EventRecorder, History, WorkflowCatalog, interrupt_unfinished
from flowmon.store.cluster import Membership, new_process_id
from flowmon.store.event_tail import EventTail
from flowmon.store.keys import PENDING_KEY_FILE, load_secret_box
from flowmon.store.metrics import ExecutionMetrics
from flowmon.store.node_stats import NodeRunStats
from flowmon.store.retention import Pruner, RetentionPolicy
from flowmon.store.saved_views import SavedViewStore
from flowmon.store.sealed import prepare_sealed
from flowmon.store.secrets import SecretStore
from flowmon.store.trigger_secrets import TriggerSecrets

log = logging.getLogger(__name__)

TICK_SECONDS = 0.1  # the projector closes its changes into a version at least this often
PROCESS_FILE = '.process'  # in the data directory: this process's id on a shared database (see store/cluster.py)


@dataclass(kw_only=True, eq=False)
class System:
    """flowmon's parts, wired: the infrastructure below, the application layer on top."""

    settings: Settings
    bus: EventBus
    db: Database
    history: History
    catalog: WorkflowCatalog
    recorder: EventRecorder
    projector: Projector
    engine: Engine
    http: httpx.AsyncClient  # the http node's client, behind the SSRF guard
    timers: Timers  # the process's one APScheduler: webhook retries, the sweeper, cron schedules, retention
    delivery: DeliveryService
    box: SecretBox  # seals secrets and credentials in the database
    secrets: SecretStore  # named secrets for node configs
    triggers: TriggerService
    schedules: ScheduleService
    application: Application
    prometheus: ProcessMetrics  # GET /metrics
    workers: WorkerPool  # where worker nodes run: the local process pool or a Dask cluster
    cluster: Cluster | None = None  # PostgreSQL: this process among others on the database
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        token: str,
        registry: NodeRegistry | None = None,
        box: SecretBox | None = None,
        workers: WorkerPool | None = None,
    ) -> System:
        """``box`` defaults to the key ring of the settings (``FLOWMON_SECRET_KEY`` or the data dir's key file).

        ``registry`` defaults to every node type of the ``flowmon.node_types`` entry points (raises
        :class:`~flowmon.engine.nodes.PluginError` for a name two packages offer); ``workers`` to a Dask
        cluster with ``FLOWMON_DASK_SCHEDULER``, else the local pool of ``FLOWMON_WORKERS`` processes.
        """
        budget = PayloadBudget(max_bytes=settings.max_payload_bytes)  # inputs, outputs, bodies, imports
        box = box or load_secret_box(settings)
        bus = EventBus()
        process_id = new_process_id()  # its lease on a shared database, and how PostgreSQL names its connections
        db = Database(settings.db_url, application_name=f'flowmon:{process_id}')
        cluster = _cluster(settings, db, process_id)  # PostgreSQL: one process of any number sharing the database
        history = History(db)
        secrets = SecretStore(db, box)
        guard = OutboundGuard(settings.outbound_allow_list, ports=settings.outbound_port_ranges)  # http node, webhooks
        http = guarded_client(guard, timeout=30.0, max_response_bytes=MAX_RESPONSE_BYTES)
        timers = Timers()
        projector = Projector(bus)
        delivery = build_delivery_service(
            settings, db=db, bus=bus, timers=timers, guard=guard, box=box, claimer=cluster.me if cluster else None,
            workflow_of=projector.workflow_of,
        )  # fmt: skip
        if registry is None:
            registry = load_registry(NodeServices(python_modules=settings.python_module_list, webhooks=delivery))
        elif 'webhook' not in registry:
            registry.register(WebhookNode(delivery))
        workers = workers or _worker_pool(settings)
        # writes the projector's fold (one fold per event); with others on the database, fenced by this one's lease
        recorder = EventRecorder(db, bus, projection=projector, fence=cluster.fence if cluster else None)
        known_endpoints = lambda: [endpoint.id for endpoint in delivery.endpoints.cached_all()]  # noqa: E731
        trigger_secrets = TriggerSecrets(db, box)  # issued as a workflow is stored accepting triggers

        async def read_names_again(kind: str, names: Collection[str]) -> bool:
            """Another process may have created what a saved definition names: read that kind again if so."""
            if kind == 'secret':
                return await secrets.read_again_if_stored(names)
            return await delivery.endpoints.read_again_if_stored(names)

        catalog = WorkflowCatalog(
            history, registry, known_secrets=secrets.names, known_endpoints=known_endpoints,
            trigger_secrets=trigger_secrets, read_names_again=read_names_again if cluster else None,
        )  # fmt: skip
        snapshots = SnapshotCache(history)

        def keep_snapshot(digest: str, definition: Mapping[str, Any]) -> None:
            recorder.keep_snapshot(digest, definition)  # stored with the execution.queued event that names it
            snapshots.remember(digest, definition)  # and at hand for the live page

        engine = Engine(
            bus=bus,
            registry=registry,
            workers=workers,
            max_concurrent=settings.max_concurrent_executions,
            max_queued=settings.max_queued_executions,
            http=http,
            budget=budget,
            secrets=secrets.resolve,
            snapshots=keep_snapshot,
        )
        live = LiveView(projector, engine, bus, snapshots)
        replays = ReplayLoader(history, snapshots=snapshots)
        reads = ExecutionHistory(history=history, recorder=recorder, live=live, replays=replays, snapshots=snapshots)
        pruner = Pruner(db, delivery_final_statuses=[str(status) for status in FINAL_DELIVERY_STATUSES])
        executions = Executions(
            catalog=catalog, engine=engine, history=reads, pruner=pruner,
            remote_cancel=cluster.request_cancel if cluster else None, written=recorder.flush if cluster else None,
        )  # fmt: skip
        triggers = TriggerService(db, catalog, executions.submit, trigger_secrets, budget=budget)
        schedules = ScheduleService(
            db, catalog, timers, executions.submit, claims=cluster.claims if cluster else None,
            catch_up_s=settings.schedule_catch_up_seconds,
        )  # fmt: skip
        deliveries = Deliveries(service=delivery, budget=budget)
        tail = EventTail(db, projector, me=cluster.me) if cluster else None  # others' executions, live here
        if cluster is not None and tail is not None:
            cluster.attach(
                engine=engine, recorder=recorder, history=history, tail=tail, delivery=delivery, catalog=catalog,
                secrets=secrets, schedules=schedules,
            )  # fmt: skip
        policy = RetentionPolicy(days=settings.retention_days, max_executions=settings.retention_max_executions)
        retention = Retention(
            pruner=pruner,
            policy=policy,
            interval_s=settings.retention_interval,
            timers=timers,
            history=reads,
            deliveries_pruned=delivery.notifier.changed,
        )
        probe = LoopLagProbe()
        stats = NodeStatistics(runs=NodeRunStats(db), recorder=recorder, history=history)
        reads.deletion_listeners.append(stats.deleted)
        status = Status(
            sources=StatusSources(
                version=__version__, database_url=db.display_url, database_size=db.size,
                recorder_backlog=lambda: recorder.backlog, loop_lag=lambda: probe.lag,
                connected_clients=_connected_clients, executions_active=lambda: engine.running_count,
                executions_queued=lambda: engine.queued_count,
            ),
            timers=timers, retention=retention,
        )  # fmt: skip
        application = Application(
            token=token,
            executions=executions,
            bulk=BulkActions(executions=executions, history=reads),
            history=reads,
            exchange=Exchange(history=reads, recorder=recorder, registry=registry, budget=budget),
            live=live,
            workflows=Workflows(catalog=catalog, history=history),
            deliveries=deliveries,
            endpoints=Endpoints(service=delivery, catalog=catalog),
            automation=Automation(triggers=triggers, schedules=schedules),
            secrets=Secrets(store=secrets, catalog=catalog),
            dashboard=Dashboard(
                metrics=ExecutionMetrics(
                    db,
                    change_counter=lambda: (
                        recorder.written + pruner.deleted_executions + (tail.events_read if tail else 0)
                    ),
                ),
                deliveries=deliveries,
                database_size=db.size, retention=policy,
            ),
            saved_views=SavedViews(store=SavedViewStore(db)),
            retention=retention,
            status=status,
            streams=EventStreams(bus=bus, history=reads, live=live),
            stats=stats,
        )  # fmt: skip
        if tail is not None:
            tail.listeners.append(application.streams.take_stored)  # other processes' runs, for the event streams
        if cluster is not None:
            cluster.share_stats(stats)
            cluster.share_deletions(reads)
            cluster.share_saved_views(application.saved_views)
        prometheus = ProcessMetrics(
            bus=bus, notifier=delivery.notifier, version=__version__, probe=probe,
            sources=MetricSources(
                executions_active=lambda: engine.running_count, executions_queued=lambda: engine.queued_count,
                events_recorded=lambda: recorder.written, recorder_backlog=lambda: recorder.backlog,
                connected_clients=_connected_clients, webhook_pending=lambda: _webhook_pending(delivery),
            ),
        )  # fmt: skip
        return cls(
            settings=settings, bus=bus, db=db, history=history, catalog=catalog, recorder=recorder,
            projector=projector, engine=engine, http=http, timers=timers, delivery=delivery, box=box,
            secrets=secrets, triggers=triggers, schedules=schedules, application=application, prometheus=prometheus,
            cluster=cluster, workers=workers,
        )  # fmt: skip

    async def start(self) -> None:
        """Worker pool, schema, sealed secrets, crash recovery, recorder and projector, workflow files, timers,
        delivery and schedules, in that order; the application is ready once all of them are. (The local pool's
        processes start with the first node that runs on a worker; a Dask scheduler that does not answer yet is
        connected to later.)"""
        await self.workers.start()
        await self.db.start()
        sealed = await prepare_sealed(self.db, self.box)  # raises UnknownSecretKey: the key does not fit
        if sealed:
            log.warning('encrypted %d secret value(s) that an earlier flowmon had stored in plain text', sealed)
        if (self.settings.data_dir / PENDING_KEY_FILE).exists() and self.settings.secret_key is None:
            log.warning('a secret key rotation did not finish: run `python -m flowmon rotate-secret-key` to finish it')
        await self.secrets.load()
        recovered: list[str] = []  # the workflow of each execution closed: counted once the metrics know workflows
        if self.cluster is None:  # the only process: whatever is unfinished was cut short by its last run
            interrupted = await interrupt_unfinished(self.history, self.recorder, utcnow(), closed=recovered.append)
        else:  # others may be running theirs: only executions no live process owns
            self.cluster.interrupted = recovered.append
            await self.cluster.join()
            interrupted = await self.cluster.recover()
        if interrupted:
            log.warning('%d execution(s) were interrupted by the last shutdown', len(interrupted))
        await self.recorder.start()
        self.projector.start()
        if self.cluster is not None:
            self.cluster.start()
        self.prometheus.start()
        self.catalog.listeners.append(self.prometheus.workflow_changed)
        loaded = await self.catalog.load_directory(self.settings.workflows_path, utcnow())
        log.info('loaded %d workflow(s) from %s', len(loaded), self.settings.workflows_path)
        issued = await self.catalog.issue_missing_trigger_secrets()  # (an earlier flowmon issued on the first read)
        if issued:
            log.info(
                'issued the trigger secret of %d workflow(s) that accept triggers: %s', len(issued), ', '.join(issued)
            )
        self._tasks.append(asyncio.get_running_loop().create_task(self._tick(), name='projector tick'))
        self.timers.start()
        await self.delivery.start()
        await self.schedules.start()
        for stored in await self.catalog.all():  # workflows stored earlier (files announced themselves above)
            with contextlib.suppress(ValueError):
                self.prometheus.workflow_changed(stored.id, await self.catalog.get(stored.id))
        for workflow_id in recovered:
            self.prometheus.interrupted(workflow_id)
        if self.cluster is not None:
            self.cluster.interrupted = self.prometheus.interrupted  # those of processes that die from now on
        self.timers.every('hooks:prune', 3600, self.triggers.prune)
        if self.cluster is not None:
            self.timers.every('ticks:prune', 3600, self._prune_ticks)
        self.application.retention.start()  # prunes at once, in the background, then every interval
        self.application.status.started()
        self.application.set_ready(True)

    async def stop(self) -> None:
        """Stop in reverse: the engine interrupts what runs, the recorder writes everything, the database closes.

        A stop that passes :data:`~flowmon.infra.stop_watch.REPORT_AFTER_SECONDS` logs its step and every task."""
        with StopWatch() as watch:
            self.application.set_ready(False)
            self.application.streams.close_all()
            watch.step = 'background tasks'
            for task in self._tasks:
                await cancel_and_wait(task)
            self._tasks.clear()
            watch.step = 'retention'
            await self.application.retention.stop()
            if self.cluster is not None:
                watch.step = 'cluster'
                await self.cluster.stop()  # stop following the others; the lease stays until everything is written
            watch.step = 'schedules'
            await self.schedules.stop()
            self.timers.shutdown()
            watch.step = 'engine'
            await self.engine.stop()
            watch.step = 'workers'
            await self.workers.stop()  # after the engine: its nodes were cancelled, their work is abandoned
            watch.step = 'webhook delivery'
            await self.delivery.stop()
            watch.step = 'recorder'
            await self.recorder.stop()
            self.projector.stop()
            watch.step = 'metrics'
            await self.prometheus.stop()
            with contextlib.suppress(ValueError):  # not there when start-up failed before it
                self.catalog.listeners.remove(self.prometheus.workflow_changed)
            await self.http.aclose()
            if self.cluster is not None:
                watch.step = 'leaving the cluster'
                await self.cluster.leave()
            watch.step = 'database'
            await self.db.stop()

    async def _prune_ticks(self) -> None:
        if self.cluster is not None:
            await self.cluster.claims.prune(utcnow())

    async def _tick(self) -> None:
        while True:
            self.projector.tick()
            await asyncio.sleep(TICK_SECONDS)


def _cluster(settings: Settings, db: Database, process_id: str) -> Cluster | None:
    """On PostgreSQL, this process's part among others on the database (none on SQLite: one process only)."""
    if not db.is_postgresql:
        return None
    identity = settings.data_dir / PROCESS_FILE  # a crashed previous run's lease is given up at once
    membership = Membership(db, lease_seconds=settings.lease_seconds, identity_file=identity, process_id=process_id)
    return Cluster(db, lease_seconds=settings.lease_seconds, membership=membership)


def _worker_pool(settings: Settings) -> WorkerPool:
    """A Dask cluster when ``FLOWMON_DASK_SCHEDULER`` names one (distributed imported only then), else local."""
    if settings.dask_scheduler:
        from flowmon.infra.workers.dask import DaskWorkers

        return DaskWorkers(settings.dask_scheduler)
    return LocalProcessPool(settings.workers)


def _connected_clients() -> int:
    """Browser tabs connected now (NiceGUI keeps a disconnected client a few seconds, in case it comes back)."""
    from nicegui import Client  # the web layer's registry; imported when scraped, never at start-up

    return sum(1 for client in Client.instances.values() if client.has_socket_connection)


async def _webhook_pending(delivery: DeliveryService) -> int:
    return (await delivery.stats()).outstanding


__all__ = ['System']
