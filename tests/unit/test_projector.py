"""The shared live projection: versions, what changed since a version, bounded memory."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pytest import MonkeyPatch

from flowmon.engine import Event, EventType
from flowmon.engine.runtime import projector as projector_module
from flowmon.engine.runtime.bus import EventBus
from flowmon.engine.runtime.projector import FOLD_EVERY, Projector

T0 = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def event(execution_id: str, seq: int, type_: EventType = EventType.EXECUTION_PROGRESS, **data: object) -> Event:
    if seq == 1:
        type_, data = EventType.EXECUTION_QUEUED, {'nodes': ['a'], 'workflow_id': 'wf'}
    return Event(execution_id=execution_id, seq=seq, type=type_, ts=T0 + timedelta(seconds=seq), data=data)


def started() -> tuple[EventBus, Projector]:
    bus = EventBus()
    projector = Projector(bus, keep_finished=2, events_per_execution=3)
    projector.start()
    return bus, projector


def test_a_reader_sees_an_event_at_once_without_waiting_for_the_tick() -> None:
    bus, projector = started()
    version, changed = projector.changed_since(0)
    assert changed == frozenset()
    bus.publish(event('e1', 1))
    newer, changed = projector.changed_since(version)
    assert newer == version + 1 and changed == {'e1'}
    assert projector.get('e1') is not None and projector.get('e1').status == 'queued'  # type: ignore[union-attr]
    assert projector.changed_since(newer) == (newer, frozenset())  # nothing new: same version, nothing changed


def test_changes_since_an_older_version_are_merged() -> None:
    bus, projector = started()
    bus.publish(event('e1', 1))
    first = projector.tick()
    bus.publish(event('e2', 1))
    projector.tick()
    bus.publish(event('e1', 2))
    assert projector.changed_since(0)[1] == {'e1', 'e2'}
    assert projector.changed_since(first)[1] == {'e1', 'e2'}
    _, states = projector.changed_states(first)
    assert {state.id for state in states} == {'e1', 'e2'}


def test_a_version_too_old_to_answer_for_means_read_everything() -> None:
    bus, projector = started()
    bus.publish(event('old', 1))
    stale = projector.tick()
    for seq in range(2, 1100):  # more closed versions than are kept
        bus.publish(event('busy', seq if seq > 2 else 1))
        projector.tick()
    assert projector.changed_since(stale - 1)[1] is None
    _, states = projector.changed_states(stale - 1)
    assert {state.id for state in states} == {'old', 'busy'}


def test_finished_executions_and_buffered_events_are_bounded() -> None:
    bus, projector = started()
    for name in ('a', 'b', 'c'):
        bus.publish(event(name, 1))
        for seq in range(2, 6):
            bus.publish(event(name, seq))
        bus.publish(event(name, 6, EventType.EXECUTION_CANCELLED))
    assert projector.get('a') is None  # keep_finished=2: the oldest finished one went
    assert projector.get('b') is not None and projector.get('c') is not None
    assert projector.recent_events('c', 0) is None  # only the last 3 events are kept: cannot reach back to 0
    assert [e.seq for e in projector.recent_events('c', 3) or []] == [4, 5, 6]


def test_stop_unsubscribes() -> None:
    bus, projector = started()
    count = bus.subscriber_count
    projector.stop()
    assert bus.subscriber_count == count - 1
    bus.publish(event('e1', 1))
    assert projector.get('e1') is None


def finished_run(bus: EventBus, name: str) -> None:
    bus.publish(event(name, 1))
    bus.publish(event(name, 2))
    bus.publish(event(name, 3, EventType.EXECUTION_CANCELLED))


def test_with_a_recorder_a_finished_execution_is_kept_until_its_last_event_is_written() -> None:
    bus, projector = started()  # keep_finished=2
    projector.await_writes()
    for name in ('a', 'b', 'c', 'd'):
        finished_run(bus, name)
    assert all(projector.get(name) is not None for name in 'abcd')  # nothing written yet: nothing evicted
    projector.persisted('a', 2)
    assert projector.get('a') is not None  # written, but not to the end
    for name in ('a', 'b', 'c'):
        projector.persisted(name, 3)
    assert projector.get('a') is None  # written and beyond keep_finished: gone
    assert [name for name in 'abcd' if projector.get(name) is not None] == ['b', 'c', 'd']
    projector.persisted('d', 3)
    assert [name for name in 'abcd' if projector.get(name) is not None] == ['c', 'd']


def test_a_recorder_that_stops_releases_what_it_held() -> None:
    bus, projector = started()
    projector.await_writes()
    for name in ('a', 'b', 'c'):
        finished_run(bus, name)
    projector.await_writes(False)
    assert [name for name in 'abc' if projector.get(name) is not None] == ['b', 'c']


def count_folds(monkeypatch: MonkeyPatch) -> list[int]:
    """A list that gets the number of events of each fold the projector makes."""
    folded: list[int] = []
    original = projector_module.fold
    monkeypatch.setattr(
        projector_module, 'fold', lambda events, state: folded.append(len(events)) or original(events, state)
    )
    return folded


def test_events_wait_unfolded_until_a_reader_or_the_recorder_needs_the_state(monkeypatch: MonkeyPatch) -> None:
    folded = count_folds(monkeypatch)
    bus, projector = started()
    for seq in range(1, 6):
        bus.publish(event('e1', seq))
    assert folded == []  # taking an event only queues it

    through = projector.state_through('e1', 3)  # what the recorder asks for a batch that ends at event 3
    assert through is not None and through.last_seq == 3
    assert folded == [3]
    assert projector.state_through('e1', 3) is through  # asked again: nothing to fold
    state = projector.get('e1')
    assert state is not None and state.last_seq == 5 and folded == [3, 2]  # the rest, once
    assert projector.get('e1') is state and folded == [3, 2]
    assert projector.state_through('e1', 4) is None  # a reader folded past it: the recorder folds that batch itself
    assert projector.state_through('unknown', 1) is None
    assert projector.state_through('e1', 9) is None  # not taken (yet)


def test_a_long_run_of_events_nobody_reads_is_folded_as_it_goes(monkeypatch: MonkeyPatch) -> None:
    folded = count_folds(monkeypatch)
    bus, projector = started()
    for seq in range(1, 2 * FOLD_EVERY + 2):
        bus.publish(event('e1', seq))
    assert folded == [FOLD_EVERY, FOLD_EVERY]  # folded as the events came: what waits stays under FOLD_EVERY
    state = projector.get('e1')
    assert state is not None and state.last_seq == 2 * FOLD_EVERY + 1
    assert folded == [FOLD_EVERY, FOLD_EVERY, 1]  # the reader folds only the rest


def test_a_reader_learns_of_a_deletion_after_the_number_it_last_saw_and_only_of_that() -> None:
    bus, projector = started()
    bus.publish(event('ended', 1))
    bus.publish(event('ended', 2, EventType.EXECUTION_COMPLETED))
    bus.publish(event('running', 1))
    seen = projector.deletions
    assert projector.deleted_since(seen, 'ended') == (seen, False)
    assert not projector.forget('running')  # a running execution cannot have been deleted: it stays
    assert projector.get('running') is not None and projector.deleted_since(seen, 'running') == (seen, False)
    assert projector.forget('ended') and projector.get('ended') is None
    assert not projector.forget('ended')  # told twice: news once
    assert projector.forget('never-held')  # an execution the projection did not hold (an older one) counts too
    now, deleted = projector.deleted_since(seen, 'ended')
    assert (now, deleted) == (seen + 2, True)
    assert projector.deleted_since(now, 'ended') == (now, False)  # already told
    assert projector.deleted_since(seen, 'other')[1] is False


def test_a_deletion_by_another_process_drops_a_run_whose_end_this_one_has_not_read() -> None:
    """Another process deletes only what the database holds as ended: this projection's tail may be behind (the end
    not read yet), and the run would stay "running" on an open page, never said to be deleted."""
    bus, projector = started()
    bus.publish(event('behind', 1))
    seen = projector.deletions
    assert not projector.forget('behind')  # deleted here: a running execution cannot have been
    assert projector.forget('behind', elsewhere=True)
    assert projector.get('behind') is None and projector.deleted_since(seen, 'behind') == (seen + 1, True)


def test_events_of_another_process_read_before_a_deletion_do_not_bring_the_run_back() -> None:
    """A read of the shared database that began before the deletion (a tail's read, a sweep) and ends after it: its
    events are not taken, and the run stays gone."""
    _, projector = started()
    assert projector.forget('gone', elsewhere=True)  # not held here yet: its first events still on their way
    assert projector.take_stored([event('gone', 1), event('gone', 2, EventType.EXECUTION_COMPLETED)]) == 0
    assert projector.get('gone') is None and 'gone' not in projector.held_finished()
    assert projector.take_stored([event('kept', 1)]) == 1  # (another run is taken as before)


def test_a_reader_further_behind_than_the_deletions_kept_is_told_it_cannot_be_said(monkeypatch: MonkeyPatch) -> None:
    _, projector = started()
    monkeypatch.setattr(projector_module, 'KEEP_DELETED', 3)
    seen = projector.deletions
    for number in range(5):
        projector.forget(f'gone-{number}')
    assert projector.deleted_since(seen, 'gone-0')[1] is None  # forgotten: ask the store
    assert projector.deleted_since(seen + 2, 'gone-4')[1] is True  # the deletions after it are all kept
    now = projector.deletions
    projector.forget_unknown()  # deletions elsewhere may have gone unheard
    assert projector.deleted_since(now, 'gone-4') == (now + 1, None)
    assert projector.deleted_since(now + 1, 'gone-4') == (now + 1, False)


def test_the_ended_executions_held_are_those_another_process_could_have_deleted() -> None:
    """After deletions gone unheard, the store is asked about these (see ExecutionHistory.forget_unknown): the ended
    ones, not a running one."""
    bus, projector = started()
    for name in ('ended', 'also-ended'):
        bus.publish(event(name, 1))
        bus.publish(event(name, 2, EventType.EXECUTION_COMPLETED))
    bus.publish(event('running', 1))
    assert sorted(projector.held_finished()) == ['also-ended', 'ended']


# --- bounded by bytes -----------------------------------------------------------------------------------


def completed(execution_id: str, seq: int, node_id: str, output: str, *, with_text: bool = True) -> Event:
    """A node.completed event with ``output``; ``with_text``: carrying its JSON text as the engine's do (events read
    back from the store do not: their size is estimated)."""
    data = {'attempt': 1, 'output': output}
    text = json.dumps(data, separators=(',', ':')) if with_text else None
    return Event(
        execution_id=execution_id,
        seq=seq,
        type=EventType.NODE_COMPLETED,
        ts=T0 + timedelta(seconds=seq),
        node_id=node_id,
        data=data,
        data_json=text,
    )


def large_run(bus: EventBus, name: str, *, with_text: bool = True) -> None:
    """A finished execution with one node's output of 1,000 characters (about 2 KB counted: the event taken and
    the event kept)."""
    bus.publish(event(name, 1))
    bus.publish(completed(name, 2, 'a', 'x' * 1000, with_text=with_text))
    bus.publish(event(name, 3, EventType.EXECUTION_COMPLETED))


def bytes_bounded() -> tuple[EventBus, Projector]:
    bus = EventBus()
    projector = Projector(bus, keep_finished=100, keep_finished_bytes=5000)  # two such runs fit, three do not
    projector.start()
    return bus, projector


@pytest.mark.parametrize('with_text', [True, False], ids=['engine events', 'stored events'])
def test_finished_executions_beyond_the_byte_budget_are_evicted_oldest_first(with_text: bool) -> None:
    bus, projector = bytes_bounded()
    for name in ('a', 'b'):
        large_run(bus, name, with_text=with_text)
    bus.publish(event('small', 1))
    bus.publish(event('small', 2, EventType.EXECUTION_COMPLETED))
    assert all(projector.holds(name) for name in ('a', 'b', 'small'))  # within the budget: all kept
    large_run(bus, 'c', with_text=with_text)
    # far fewer than keep_finished, but together over the bytes: the oldest go until the rest fit
    assert [name for name in ('a', 'b', 'small', 'c') if projector.holds(name)] == ['b', 'small', 'c']
    bus.publish(event('running', 1))
    for seq in range(2, 5):  # a running execution does not count against the finished ones, however large
        bus.publish(completed('running', seq, 'a', 'x' * 1000))
    assert [name for name in ('b', 'small', 'c', 'running') if projector.holds(name)] == ['b', 'small', 'c', 'running']


def test_an_execution_the_recorder_has_not_written_is_not_evicted_by_bytes_either() -> None:
    bus, projector = bytes_bounded()
    projector.await_writes()
    for name in ('a', 'b', 'c', 'd'):
        large_run(bus, name)
    assert all(projector.holds(name) for name in 'abcd')  # over the budget, but nothing written yet: all kept
    for name in ('a', 'b', 'c'):
        projector.persisted(name, 3)
    assert [name for name in 'abcd' if projector.holds(name)] == ['b', 'c', 'd']  # the oldest written one went
    projector.persisted('b', 2)  # (written, but not to its end: it still counts)
    projector.persisted('d', 3)
    assert [name for name in 'abcd' if projector.holds(name)] == ['c', 'd']


def kept_from(projector: Projector, execution_id: str) -> list[Event]:
    """The events the projector still keeps of an execution (the oldest it can give from)."""
    state = projector.get(execution_id)
    assert state is not None
    after = 0
    while (events := projector.recent_events(execution_id, after)) is None:
        after += 1
    return events


def test_a_running_execution_keeps_recent_events_within_its_byte_bound_and_folds_every_event() -> None:
    bus = EventBus()
    projector = Projector(bus, events_per_execution=500, event_bytes_per_execution=5000)
    projector.start()
    nodes = [f'n{i:02d}' for i in range(20)]
    bus.publish(Event(execution_id='e', seq=1, type=EventType.EXECUTION_QUEUED, ts=T0, data={'nodes': nodes}))
    for seq, node_id in enumerate(nodes, start=2):
        bus.publish(completed('e', seq, node_id, node_id.ljust(1000, '.')))
    kept = kept_from(projector, 'e')
    assert [e.seq for e in kept] == [18, 19, 20, 21]  # the newest that fit in 5,000 bytes, in order
    assert sum(len(e.data_json or '') for e in kept) <= 5000
    state = projector.get('e')
    assert state is not None and state.last_seq == 21 and not state.is_terminal
    assert all(state.nodes[node_id].output == node_id.ljust(1000, '.') for node_id in nodes)  # the fold has every event
    bus.publish(completed('e', 22, 'n00', 'y' * 8000))  # larger than the bound alone: the newest is still kept
    assert [e.seq for e in kept_from(projector, 'e')] == [22]
    assert projector.recent_events('e', 21) == [completed('e', 22, 'n00', 'y' * 8000)]


def test_events_dropped_by_count_no_longer_count_against_the_byte_bound() -> None:
    bus = EventBus()
    projector = Projector(bus, events_per_execution=3, event_bytes_per_execution=3500)  # three such events fit both
    projector.start()
    bus.publish(event('e', 1))
    for seq in range(2, 12):
        bus.publish(completed('e', seq, 'a', 'x' * 1000))
    assert [e.seq for e in kept_from(projector, 'e')] == [9, 10, 11]


def test_a_deleted_execution_no_longer_counts_against_the_byte_budget() -> None:
    bus, projector = bytes_bounded()
    for name in ('a', 'b'):
        large_run(bus, name)
    assert projector.forget('b')
    large_run(bus, 'c')
    assert [name for name in 'abc' if projector.holds(name)] == ['a', 'c']


def test_a_finished_execution_larger_than_the_whole_budget_goes_alone() -> None:
    """One run counting more than every finished run may together is let go (its pages read the store), and the
    others stay: evicting them first made no room for it and left nothing kept."""
    bus, projector = bytes_bounded()
    for name in ('a', 'b'):
        large_run(bus, name)
    bus.publish(event('huge', 1))
    bus.publish(completed('huge', 2, 'a', 'x' * 6000))
    assert projector.holds('huge')  # running: kept, however large
    bus.publish(event('huge', 3, EventType.EXECUTION_COMPLETED))
    assert [name for name in ('a', 'b', 'huge') if projector.holds(name)] == ['a', 'b']
    large_run(bus, 'c')  # the budget still holds two such runs: the oldest goes, as before
    assert [name for name in ('a', 'b', 'c') if projector.holds(name)] == ['b', 'c']
