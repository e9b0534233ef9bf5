"""The workflow catalog: validated workflow definitions, stored in the database.

A definition whose node configs name secrets (``{"$secret": "<name>"}``) is accepted only when every named
secret exists; the check happens when a definition is saved or loaded from a file, not when it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from flowmon.engine.cron import never_fires
from flowmon.engine.documents import MAX_DEFINITION_BYTES, WorkflowError, load_document
from flowmon.engine.model import Workflow, parse_workflow
from flowmon.engine.nodes.base import NodeRegistry
from flowmon.engine.nodes.webhook import WebhookNode
from flowmon.engine.runtime.secret_refs import find_refs

from .history import Expected, History, OnStored, StoredWorkflow, TooManyWorkflows
from .trigger_secrets import TriggerSecrets

log = logging.getLogger(__name__)
Where = tuple[str | int, ...]  # a place in a workflow definition: ('nodes', 2, 'config', 'endpoint')

WORKFLOW_FILE_SUFFIXES = ('.json', '.yaml', '.yml')
# Workflows stored at most: every one is read whole for the workflow list and the shell's menu.
MAX_WORKFLOWS = 1000
MAX_FILES_NAMED = 10  # files named by the warning about those not loaded for want of room


class WorkflowCatalog:
    """Create, replace, read and delete workflows; every definition is validated before it is kept."""

    def __init__(
        self,
        history: History,
        registry: NodeRegistry,
        *,
        known_secrets: Callable[[], Collection[str]] = frozenset,
        known_endpoints: Callable[[], Collection[str]] | None = None,
        trigger_secrets: TriggerSecrets | None = None,
        read_names_again: Callable[[str, Collection[str]], Awaitable[bool]] | None = None,
    ) -> None:
        """``known_secrets`` gives the names of the secrets that exist (a definition may name only those);
        ``trigger_secrets`` issues a workflow that accepts triggers its secret as it is stored (None: none is);
        ``read_names_again(kind, names)``, before a save that names a secret or an endpoint (``kind``) not known here
        is refused, asks the database whether one of ``names`` exists and then reads that kind again, returning whether
        it did (processes sharing a database: another may have created it a moment ago)."""
        self._history = history
        self._trigger_secrets = trigger_secrets
        self._registry = registry
        self._known_secrets = known_secrets
        self._known_endpoints = known_endpoints
        self._cache: dict[str, tuple[datetime, Workflow]] = {}
        self._read_names_again = read_names_again
        # Called with (workflow_id, workflow or None when deleted) after every stored change, made here or (when
        # processes share the database) in another process; cheap and synchronous.
        self.listeners: list[Callable[[str, Workflow | None], None]] = []
        # The workflows the last load_directory provisioned, by id: the file each came from (it replaces the
        # stored definition again at the next start).
        self._files: dict[str, str] = {}
        # Called with the workflow id after a change made here (the other processes then refresh it).
        self.announce: Callable[[str], None] = lambda _workflow_id: None
        # a refresh (read what is stored, then tell the listeners) and a change made here (store it, then tell them)
        # one at a time: a refresh that read before a save here and told after it gave the listeners (the
        # schedules) the older definition, after the newer one
        self._changing = asyncio.Lock()

    async def refresh(self, workflow_id: str | None) -> None:
        """Another process changed ``workflow_id`` (None: any workflow): tell the listeners what is stored now."""
        async with self._changing:
            await self._refresh(workflow_id)

    async def _refresh(self, workflow_id: str | None) -> None:
        if workflow_id is None:
            stored = {row.id for row in await self.all()}
            for known in [key for key in self._cache if key not in stored]:
                self._changed(known, None, here=False)
            ids = sorted(stored)
        else:
            ids = [workflow_id]
        for key in ids:
            self._cache.pop(key, None)
            try:
                workflow = await self.get(key)
            except ValueError as exc:
                log.error('workflow %s changed elsewhere and no longer validates here: %s', key, exc)
                continue
            self._changed(key, workflow, here=False)

    def _changed(self, workflow_id: str, workflow: Workflow | None, *, here: bool = True) -> None:
        if here:
            self.announce(workflow_id)
        for listener in list(self.listeners):
            try:
                listener(workflow_id, workflow)
            except Exception:
                log.exception('workflow catalog listener failed for %s', workflow_id)

    @property
    def registry(self) -> NodeRegistry:
        """The node types definitions are validated against."""
        return self._registry

    def validate(self, raw: Any) -> Workflow:
        return parse_workflow(raw, self._registry)

    def validate_new(self, raw: Any) -> Workflow:
        """:meth:`validate`, and every secret the definition names must exist (saving and loading files)."""
        workflow = self.validate(raw)
        self._refuse_unknown_secrets(workflow)
        return workflow

    def _refuse_unknown_secrets(self, workflow: Workflow) -> None:
        _refuse_unknown(
            'secret', _secret_places(workflow), self._known_secrets(), 'PUT /api/secrets/<name> or the Secrets page'
        )

    def _refuse_unknown_endpoints(self, workflow: Workflow) -> None:
        if self._known_endpoints is not None:  # (a file loaded at start-up is not held to it: endpoints load later)
            named, known = _endpoint_places(workflow), self._known_endpoints()
            _refuse_unknown('webhook endpoint', named, known, 'the Webhooks page or POST /api/webhooks/endpoints')

    @contextlib.asynccontextmanager
    async def unchanged(self) -> AsyncIterator[None]:
        """No workflow is saved here while the caller holds this: a secret or an endpoint deleted under it once no
        stored workflow names it is not named by a workflow saved meanwhile (a save checks its names again once its
        turn comes, and is refused as naming an unknown one)."""
        async with self._changing:
            yield

    def check(self, workflow_id: str, raw: Any) -> Workflow:
        """What :meth:`put` would store under ``workflow_id``, validated (the body's id, when it has one, must be
        ``workflow_id``); raises WorkflowError naming the problem. Stores nothing."""
        if isinstance(raw, Mapping):
            body_id = raw.get('id')
            if body_id is None:
                raw = {**raw, 'id': workflow_id}
            elif body_id != workflow_id:
                raise _refusal(f'id {body_id!r} in the body does not match {workflow_id!r} in the path', 'id')
        workflow = self.validate_new(raw)
        schedule = workflow.spec.schedule
        if schedule is not None and never_fires(schedule.cron):  # (a stored one still loads: its schedule is idle)
            raise _refusal(
                f'schedule.cron: invalid cron expression {schedule.cron!r}: it never fires (none of its months has '
                'one of its days of the month)',
                'schedule',
                'cron',
            )
        self._refuse_unknown_endpoints(workflow)
        return workflow

    async def put(
        self, workflow_id: str, raw: Any, now: datetime, *, expected: Expected | None = None
    ) -> tuple[Workflow, bool]:
        """Validate and store ``raw`` under ``workflow_id``; returns the workflow and whether it is new. With
        ``expected``, only over that version (see :meth:`History.put_workflow`: else raises VersionMismatch). A new
        workflow when :data:`MAX_WORKFLOWS` are stored raises TooManyWorkflows (nothing stored)."""
        workflow = await self._check_reading_again(workflow_id, raw)
        async with self._changing:
            self._refuse_unknown_secrets(workflow)  # again: one may have been deleted while this waited its turn
            self._refuse_unknown_endpoints(workflow)
            definition = workflow.definition()
            created = await self._history.put_workflow(
                workflow.id,
                workflow.name,
                definition,
                now,
                expected=expected,
                on_stored=self._issuing(workflow),
                limit=MAX_WORKFLOWS,
            )
            self._cache.pop(workflow.id, None)
            self._changed(workflow.id, workflow)
        return workflow, created

    async def _check_reading_again(self, workflow_id: str, raw: Any) -> Workflow:
        """:meth:`check`; a secret or an endpoint it does not know that another process created a moment ago (its
        announcement not read here yet) is read from the database first, each kind at most once."""
        read: set[str] = set()
        while True:
            try:
                return self.check(workflow_id, raw)
            except UnknownName as exc:
                again = self._read_names_again
                if again is None or exc.kind in read or not await again(exc.kind, exc.names):
                    raise
                read.add(exc.kind)

    def _issuing(self, workflow: Workflow) -> OnStored | None:
        """What storing ``workflow`` also does: a workflow that accepts triggers gets its secret, unless it has one,
        and its trigger marked on; one that does not has its trigger marked off (a secret it has stays)."""
        secrets = self._trigger_secrets
        if secrets is None:
            return None
        if not workflow.accepts_triggers:
            return lambda conn, _since: secrets.switch_off(conn, workflow.id)
        return lambda conn, since: secrets.issue(conn, workflow.id, since)

    async def issue_missing_trigger_secrets(self) -> list[str]:
        """Issue a secret to every stored workflow that accepts triggers and has none (stored by an earlier flowmon,
        which issued it on the first read), and mark the trigger of each such workflow on; the ids of those that got
        a secret."""
        if self._trigger_secrets is None:
            return []
        accepting = []
        for stored in await self.all():
            try:
                workflow = await self.get(stored.id)
            except ValueError:  # no longer validates here (logged where it is loaded): it starts nothing
                continue
            if workflow is not None and workflow.accepts_triggers:
                accepting.append((stored.id, stored.updated_at))
        return await self._trigger_secrets.issue_missing(accepting)

    async def get(self, workflow_id: str) -> Workflow | None:
        stored = await self._history.get_workflow(workflow_id)
        if stored is None:
            return None
        cached = self._cache.get(workflow_id)
        if cached and cached[0] == stored.updated_at:
            return cached[1]
        workflow = self.validate(stored.definition)
        self._cache[workflow_id] = (stored.updated_at, workflow)
        return workflow

    def provisioning_file(self, workflow_id: str) -> str | None:
        """The name of the file in the workflows directory that ``workflow_id`` was loaded from at start-up (None
        when it was not: created through the API or a page)."""
        return self._files.get(workflow_id)

    async def all(self) -> list[StoredWorkflow]:
        return await self._history.list_workflows()

    async def delete(self, workflow_id: str, *, expected: Expected | None = None) -> bool:
        """Delete; whether there was one. With ``expected``, only that version (else raises VersionMismatch)."""
        async with self._changing:
            self._cache.pop(workflow_id, None)
            deleted = await self._history.delete_workflow(workflow_id, expected=expected)
            if deleted:
                self._changed(workflow_id, None)
        return deleted

    async def load_directory(self, directory: Path, now: datetime) -> list[str]:
        """Load every workflow file in ``directory`` (files replace stored workflows with the same id).

        A file that does not validate (or is over the size, nesting and YAML limits of
        :func:`~flowmon.engine.documents.load_document`) is logged by name and skipped; the others still load. A file
        of a new workflow when :data:`MAX_WORKFLOWS` are stored is skipped too, all such files in one warning.
        """
        loaded: list[str] = []
        no_room: list[str] = []
        self._files = {}
        if not directory.is_dir():
            log.info('workflows directory %s does not exist; nothing loaded', directory)
            return loaded
        for path in sorted(directory.iterdir()):
            if path.suffix.lower() not in WORKFLOW_FILE_SUFFIXES:
                continue
            try:
                if path.stat().st_size > MAX_DEFINITION_BYTES:  # never read a huge file into memory
                    raise WorkflowError(f'the file is larger than {MAX_DEFINITION_BYTES} bytes')
                raw = load_document(path.read_text(encoding='utf-8'), yaml_allowed=True)
                workflow = self.validate_new(raw)
                await self._history.put_workflow(
                    workflow.id,
                    workflow.name,
                    workflow.definition(),
                    now,
                    on_stored=self._issuing(workflow),
                    limit=MAX_WORKFLOWS,
                )
            except TooManyWorkflows:
                no_room.append(path.name)
                continue
            except (ValueError, OSError, RecursionError) as exc:  # WorkflowError, bad encoding, absurd nesting
                log.error('workflow file %s not loaded: %s', path.name, exc)
                continue
            self._cache.pop(workflow.id, None)
            self._files[workflow.id] = path.name
            self._changed(workflow.id, workflow)
            loaded.append(workflow.id)
        if no_room:
            named = ', '.join(no_room[:MAX_FILES_NAMED]) + (', ...' if len(no_room) > MAX_FILES_NAMED else '')
            log.warning(
                '%d workflow file(s) not loaded: at most %d workflows can be stored (%s)',
                len(no_room),
                MAX_WORKFLOWS,
                named,
            )
        return loaded


class UnknownName(WorkflowError):
    """A definition names a secret or a webhook endpoint (``kind``) that does not exist (as far as this process
    knows): ``names``, those missing."""

    kind = ''
    names: tuple[str, ...] = ()


def _refuse_unknown(kind: str, named: Mapping[str, Where], known: Collection[str], how: str) -> None:
    """Raise WorkflowError when a definition names a ``kind`` (a secret, an endpoint) that does not exist, about
    the place of the first name missing (``named``: each name and where the definition first names it, in the
    definition's order)."""
    known = set(known)
    missing = sorted(set(named) - known)
    if missing:
        many = len(missing) > 1
        names = ', '.join(repr(name) for name in missing)
        first = next(where for name, where in named.items() if name not in known)
        error = UnknownName(
            f'unknown {kind}{"s" if many else ""} {names}: create {"them" if many else "it"} first ({how})'
        )
        error.where, error.kind, error.names = first, kind, tuple(missing)
        raise error


def _refusal(message: str, *where: str | int) -> WorkflowError:
    """A refused definition's error, about the place ``where`` in it (errors[].loc of the API's answer)."""
    error = WorkflowError(message)
    error.where = where
    return error


def _secret_places(workflow: Workflow) -> dict[str, Where]:
    """Each secret the definition names, and where it first does (``('nodes', 2, 'config', 'headers', 'X')``)."""
    places: dict[str, Where] = {}
    for index, node in enumerate(workflow.spec.nodes):
        if node.id in workflow.secrets:
            for path, name in find_refs(node.config):
                places.setdefault(name, ('nodes', index, 'config', *path))
    return places


def _endpoint_places(workflow: Workflow) -> dict[str, Where]:
    """Each webhook endpoint the definition's ``webhook`` nodes deliver to, and where it first names it."""
    places: dict[str, Where] = {}
    for index, node in enumerate(workflow.spec.nodes):
        if node.type == WebhookNode.type_name and isinstance(node.config.get('endpoint'), str):
            places.setdefault(node.config['endpoint'], ('nodes', index, 'config', 'endpoint'))
    return places
