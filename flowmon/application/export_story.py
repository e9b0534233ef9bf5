"""The checks that an export's events tell a story the engine could have told (:mod:`.export_format`), and that the
document's ``execution`` head says what its events say.

The events are walked once, each node's status kept as the engine keeps it: a node starts (its first attempt) only
once every node upstream of it has succeeded or was skipped, at least one of them having succeeded; it is
retried, completes or fails only while it runs; a ``node.completed`` of a node that did not run is a rerun's reuse of
an earlier output (``reused``: only in a rerun from a node, for a node upstream of it); it is skipped only once all
its upstream nodes have settled, and cancelled unless it was skipped or cancelled already (an engine error can
cancel a node that has just ended). ``data.flow`` runs along an edge of the workflow, from a node that succeeded to
one that has not started. Node events follow ``execution.started``, which comes once. An execution ends succeeded
only once every node succeeded or was skipped, and failed only once every node settled, the nodes it names as
failed being those that failed; a cancelled or interrupted one may end anywhere (a crash or a stop leaves nodes as
they were).

Every check raises :class:`~flowmon.application.errors.ImportRejected` naming the problem and its place; the walk
costs one step per event and one per edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from flowmon.engine.core.events import Event, EventType
from flowmon.engine.core.inputs import in_body
from flowmon.engine.core.state import ExecutionState
from flowmon.engine.model import Workflow

from .errors import ImportRejected
from .export_events import kind_of

_SETTLED = frozenset({'succeeded', 'failed', 'skipped', 'cancelled'})
_MAY_FEED = frozenset({'succeeded', 'skipped'})  # what an upstream node may be when its downstream node starts
_WHAT_IT_IS = {
    'pending': 'had not started',
    'running': 'was running',
    'retrying': 'was waiting to be retried',
    'succeeded': 'had succeeded',
    'failed': 'had failed',
    'skipped': 'had been skipped',
    'cancelled': 'had been cancelled',
}
# A node event's type -> the statuses the node may be in when it comes, and the status it leaves (node.started and
# node.completed have more to them: see _NodeWalk)
_MOVES = {
    EventType.NODE_RETRYING: (frozenset({'running'}), 'retrying'),
    EventType.NODE_FAILED: (frozenset({'running'}), 'failed'),
    # (an engine error in the bookkeeping of a node's end leaves it running to the engine, which cancels it)
    EventType.NODE_CANCELLED: (frozenset({'pending', 'running', 'retrying', 'succeeded', 'failed'}), 'cancelled'),
}


def check_story(events: list[Event], workflow: Workflow) -> None:
    """Every node event possible where it is, given the graph and the events before it, and the ending possible
    given every node's status (see the module's description)."""
    _NodeWalk(events, workflow).walk()


def check_head(document: Mapping[str, Any], events: list[Event], workflow: Workflow, state: ExecutionState) -> None:
    """What the document's ``execution`` head says (its id, workflow, status, count of events, times) is what its
    events say; a field it lacks (an export of an earlier flowmon) is not checked."""
    if 'execution' not in document:
        return
    head = document['execution']
    if not isinstance(head, Mapping):
        raise in_body(ImportRejected(f'export "execution" must be an object, got {kind_of(head)}'), 'execution')
    said = {
        'id': events[0].execution_id,
        'workflow_id': workflow.id,
        'status': state.status,
        'events': len(events),
        'created_at': events[0].ts,
        'finished_at': events[-1].ts,
    }
    for name, truth in said.items():
        value = head.get(name)
        if value is None:
            continue
        if isinstance(truth, datetime):
            stated = _time(value)
            if stated == truth:
                continue
            shown = truth.isoformat()
        else:
            if value == truth and type(value) is type(truth):
                continue
            shown = repr(truth)
        raise in_body(
            ImportRejected(f'export "execution.{name}" is {_shown(value)}, but its events say {shown}'),
            'execution',
            name,
        )


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str | int | float) else kind_of(value)
    return text if len(text) <= 80 else text[:79] + '…'


class _NodeWalk:
    """One walk through the events, each node's status kept as the engine keeps it."""

    def __init__(self, events: list[Event], workflow: Workflow) -> None:
        self.events = events
        self.workflow = workflow
        self.status = dict.fromkeys(workflow.order, 'pending')
        self.attempts = dict.fromkeys(workflow.order, 0)
        self.upstream = {node_id: [edge.source for edge in edges] for node_id, edges in workflow.incoming.items()}
        self.edges = {(edge.source, edge.target) for edges in workflow.outgoing.values() for edge in edges}
        from_node = events[0].data.get('from_node')
        self.from_node = from_node
        self.rerun = workflow.downstream_of(from_node) if from_node is not None else None

    def walk(self) -> None:
        started = False
        status = self.status
        for index, event in enumerate(self.events):
            kind = event.type
            if kind is EventType.EXECUTION_STARTED:
                if started:
                    raise self._refused(index, 'the execution had started already', 'type')
                started = True
                continue
            node_id = event.node_id
            if node_id is None:  # (an execution event; check_against_workflow saw node events name a node)
                continue
            if not started:
                raise self._refused(index, f'it comes before {EventType.EXECUTION_STARTED}', 'type')
            if kind is EventType.DATA_FLOW:
                self._flow(index, event, node_id)
            elif kind is EventType.NODE_STARTED:
                self._start(index, event, node_id)
            elif kind is EventType.NODE_COMPLETED:
                self._complete(index, event, node_id)
            elif kind is EventType.NODE_SKIPPED:
                self._skip(index, node_id)
            else:
                allowed, after = _MOVES[kind]
                if status[node_id] not in allowed:
                    raise self._refused(index, f'node {node_id!r} {_WHAT_IT_IS[status[node_id]]}', 'type')
                status[node_id] = after
        self._ending(len(self.events) - 1)

    def _flow(self, index: int, event: Event, source: str) -> None:
        target = str(event.data.get('target'))
        if (source, target) not in self.edges:
            raise self._refused(index, f'the workflow has no edge from {source!r} to {target!r}', 'data', 'target')
        if self.status[source] != 'succeeded':
            raise self._refused(index, f'node {source!r} {_WHAT_IT_IS[self.status[source]]}', 'node_id')
        if self.status[target] != 'pending':
            raise self._refused(index, f'node {target!r} {_WHAT_IT_IS[self.status[target]]}', 'data', 'target')

    def _start(self, index: int, event: Event, node_id: str) -> None:
        now = self.status[node_id]
        if now == 'pending':
            upstream = self.upstream[node_id]
            for source in upstream:
                if self.status[source] not in _MAY_FEED:
                    problem = f'node {node_id!r} starts while its upstream node {source!r} '
                    raise self._refused(index, problem + _WHAT_IT_IS[self.status[source]], 'type')
            if upstream and not any(self.status[source] == 'succeeded' for source in upstream):
                raise self._refused(index, f'node {node_id!r} starts but none of its upstream nodes succeeded', 'type')
        elif now != 'retrying':
            raise self._refused(index, f'node {node_id!r} {_WHAT_IT_IS[now]}', 'type')
        attempt = event.data.get('attempt')
        expected = self.attempts[node_id] + 1
        if attempt is not None and attempt != expected:
            raise self._refused(index, f'node {node_id!r} starts attempt {attempt}, not {expected}', 'data', 'attempt')
        self.attempts[node_id] = expected
        self.status[node_id] = 'running'

    def _complete(self, index: int, event: Event, node_id: str) -> None:
        now = self.status[node_id]
        if not event.data.get('reused'):
            if now != 'running':
                raise self._refused(index, f'node {node_id!r} {_WHAT_IT_IS[now]}', 'type')
        elif self.rerun is None:
            raise self._refused(index, 'only a rerun from a node reuses an earlier output', 'data', 'reused')
        elif node_id in self.rerun:
            problem = f'node {node_id!r} runs again in a rerun from {self.from_node!r}; its output is not reused'
            raise self._refused(index, problem, 'data', 'reused')
        elif now != 'pending':
            raise self._refused(index, f'node {node_id!r} {_WHAT_IT_IS[now]}', 'type')
        self.status[node_id] = 'succeeded'

    def _skip(self, index: int, node_id: str) -> None:
        now = self.status[node_id]
        if now != 'pending':
            raise self._refused(index, f'node {node_id!r} {_WHAT_IT_IS[now]}', 'type')
        upstream = self.upstream[node_id]
        if not upstream:
            raise self._refused(index, f'node {node_id!r} has no upstream node: it always runs', 'type')
        for source in upstream:
            if self.status[source] not in _SETTLED:
                problem = f'node {node_id!r} is skipped while its upstream node {source!r} '
                raise self._refused(index, problem + _WHAT_IT_IS[self.status[source]], 'type')
        self.status[node_id] = 'skipped'

    def _ending(self, index: int) -> None:
        """The last event (check_sequence saw it end the execution) against every node's status."""
        last = self.events[index]
        if last.type is EventType.EXECUTION_COMPLETED:
            settled = _MAY_FEED
        elif last.type is EventType.EXECUTION_FAILED:
            settled = _SETTLED
        else:  # cancelled or interrupted: a stop, a crash or a cancel may leave nodes as they were
            return
        ends = 'succeeded' if settled is _MAY_FEED else 'failed'
        for node_id in self.workflow.order:
            now = self.status[node_id]
            if now not in settled:
                raise self._refused(
                    index, f'the execution ends {ends} while node {node_id!r} {_WHAT_IT_IS[now]}', 'type'
                )
        listed = last.data.get('failed_nodes')
        if listed is None:
            return
        for at, node_id in enumerate(listed):
            if self.status[node_id] != 'failed':
                problem = f'it names node {node_id!r} as failed, but that node {_WHAT_IT_IS[self.status[node_id]]}'
                raise self._refused(index, problem, 'data', 'failed_nodes', at)
        named = set(listed)
        missing = [node_id for node_id, now in self.status.items() if now == 'failed' and node_id not in named]
        if missing:
            problem = f'node {missing[0]!r} failed, but failed_nodes does not name it'
            raise self._refused(index, problem, 'data', 'failed_nodes')

    def _refused(self, index: int, problem: str, *place: str | int) -> ImportRejected:
        event = self.events[index]
        return in_body(
            ImportRejected(f'events[{index}] ({event.type}) cannot happen here: {problem}'), 'events', index, *place
        )
