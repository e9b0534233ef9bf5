"""Worker nodes in flowmon's local process pool (:class:`LocalProcessPool`, real forkserver processes): where they
run, and cancel, timeout and a killed process, each seen through the engine's events."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from worker_harness import Harness, alive, kill, marker_pid, python, until

from flowmon.infra.workers.local import LocalProcessPool


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    pool = LocalProcessPool(2)
    await pool.start()
    harness = Harness(pool)
    await harness.finished(harness.submit([python('first', 'pid')], {'n': 0}))  # the processes start with it
    await until(lambda: len(pool.workers) == 2, 30, 'two pool processes')
    try:
        yield harness
    finally:
        await harness.engine.stop()
        await pool.stop()


async def test_the_processes_start_with_the_first_node_that_runs_on_a_worker() -> None:
    pool = LocalProcessPool(2)
    await pool.start()
    harness = Harness(pool)
    try:
        execution_id = harness.submit([{'id': 'io', 'type': 'delay', 'config': {'seconds': 0}}], {})
        assert (await harness.finished(execution_id)).status == 'succeeded'
        starting = [task for task in asyncio.all_tasks() if task.get_name() == 'start local worker']
        assert not starting and pool.workers == []  # none for a node that runs on the event loop
        state = await harness.finished(harness.submit([python('a', 'pid')], {'n': 1}))
        assert state.status == 'succeeded' and state.nodes['a'].worker == f'local:{state.nodes["a"].output["pid"]}'
        await until(lambda: len(pool.workers) == 2, 30, 'the pool full from then on')
        assert state.nodes['a'].worker in pool.workers
    finally:
        await harness.engine.stop()
        await pool.stop()


def pool_of(h: Harness) -> LocalProcessPool:
    assert isinstance(h.workers, LocalProcessPool)
    return h.workers


async def test_cpu_bound_nodes_run_in_the_pool_processes_and_their_events_name_them(h: Harness) -> None:
    nodes = [python(f'spin{i}', 'spin') for i in range(4)]
    nodes.append({'id': 'primes', 'type': 'count_primes', 'config': {'below': 100_000}})  # the example plugin's
    execution_id = h.submit(nodes, {'seconds': 0.2})
    state = await h.finished(execution_id)
    assert state.status == 'succeeded', state.error
    workers = set(pool_of(h).workers)
    used = set()
    for node_id in ('spin0', 'spin1', 'spin2', 'spin3'):
        (started,) = h.of(execution_id, node_id, 'node.started')
        (completed,) = h.of(execution_id, node_id, 'node.completed')
        worker = started.data['worker']
        assert worker == completed.data['worker'] == f'local:{completed.data["output"]["pid"]}'
        assert worker in workers and completed.data['output']['pid'] != os.getpid()
        used.add(worker)
    assert used == workers  # both processes took work
    for worker in workers:  # node work yields the CPU to flowmon's process
        pid = int(worker.removeprefix('local:'))
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 10)
    assert state.nodes['primes'].output == {'below': 100_000, 'primes': 9592}
    assert state.nodes['primes'].worker in workers


async def test_async_functions_and_equal_inputs_each_run(h: Harness) -> None:
    execution_id = h.submit([python('a', 'pause'), python('b', 'pause')], {'seconds': 0.01})
    state = await h.finished(execution_id)
    assert state.status == 'succeeded'
    assert state.nodes['a'].output['echo'] == state.nodes['b'].output['echo'] == {'seconds': 0.01}
    assert len(h.of(execution_id, 'a', 'node.completed')) == len(h.of(execution_id, 'b', 'node.completed')) == 1


async def test_an_exception_in_the_function_fails_the_node_with_its_traceback(h: Harness) -> None:
    execution_id = h.submit([python('boom', 'fails')], {'what': 'ten'})
    state = await h.finished(execution_id)
    node = state.nodes['boom']
    assert node.status == 'failed'
    assert node.error == 'ZeroDivisionError: cannot divide ten by zero'
    assert node.traceback is not None and 'worker_functions.py' in node.traceback


async def test_cancel_marks_the_node_cancelled_at_once_and_kills_its_process(h: Harness, tmp_path: Path) -> None:
    marker = tmp_path / 'marker'
    execution_id = h.submit([python('hang', 'hang_once')], {'marker': str(marker)})
    pid = await marker_pid(marker)
    await h.cancel_at_once(execution_id, 'hang')
    await until(lambda: not alive(pid), 10, f'process {pid} to be killed')
    await until(lambda: len(pool_of(h).workers) == 2, 30, 'a replacement process')
    assert f'local:{pid}' not in pool_of(h).workers


async def test_a_timeout_fails_the_node_and_kills_the_runaway_process(h: Harness, tmp_path: Path) -> None:
    marker = tmp_path / 'marker'
    submitted = datetime.now(UTC)
    execution_id = h.submit([python('hang', 'hang_once', timeout_seconds=1)], {'marker': str(marker)})
    pid = await marker_pid(marker)
    state = await h.finished(execution_id)
    assert state.nodes['hang'].status == 'failed'
    assert state.nodes['hang'].error == 'timed out after 1s'
    started, failed = h.of(execution_id, 'hang', 'node.started')[0], h.of(execution_id, 'hang', 'node.failed')[0]
    assert started.data['worker'] == f'local:{pid}'
    assert (failed.ts - submitted).total_seconds() >= 1.0  # not before its timeout
    await until(lambda: not alive(pid), 10, f'process {pid} to be killed')


async def test_a_killed_process_fails_the_attempt_and_the_retry_runs_on_another(h: Harness, tmp_path: Path) -> None:
    marker = tmp_path / 'marker'
    retry = {'max_attempts': 2, 'backoff_seconds': 0}
    execution_id = h.submit([python('hang', 'hang_once', retry=retry)], {'marker': str(marker)})
    pid = await marker_pid(marker)
    kill(pid)
    state = await h.finished(execution_id)
    node = state.nodes['hang']
    assert node.status == 'succeeded' and node.output['again'] is True
    first, second = node.attempt_log
    assert first.worker == f'local:{pid}' and second.worker != first.worker
    assert first.error == (
        f'the local worker process local:{pid} died while running the node (killed by SIGKILL); '
        'another process took its place'
    )
    await until(lambda: len(pool_of(h).workers) == 2, 30, 'a replacement process')


async def test_a_process_killed_while_idle_fails_nothing_and_is_replaced(h: Harness) -> None:
    pool = pool_of(h)
    victim = int(pool.workers[0].removeprefix('local:'))  # the process the next node is handed first
    kill(victim)
    await until(lambda: not alive(victim), 10, f'process {victim} to die')
    execution_id = h.submit([python('a', 'pid')], {'n': 1})
    state = await h.finished(execution_id)
    assert state.status == 'succeeded' and state.nodes['a'].attempts == 1
    assert state.nodes['a'].worker == f'local:{state.nodes["a"].output["pid"]}' != f'local:{victim}'
    await until(lambda: len(pool.workers) == 2, 30, 'a replacement process')


async def test_a_process_that_fails_to_start_fails_no_node_while_another_is_starting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = LocalProcessPool(2)
    await pool.start()
    real = pool._start_process
    calls = 0

    def first_fails_second_is_slow() -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError('no room for a process')
        time.sleep(0.3)  # still starting when the first one has failed
        return real()

    monkeypatch.setattr(pool, '_start_process', first_fails_second_is_slow)
    harness = Harness(pool)
    try:
        state = await harness.finished(harness.submit([python('a', 'pid')], {'n': 1}))
        assert state.status == 'succeeded', state.error  # the process that did start took the node
        assert calls >= 2
    finally:
        await harness.engine.stop()
        await pool.stop()


async def test_the_node_fails_when_no_process_can_start(monkeypatch: pytest.MonkeyPatch) -> None:
    pool = LocalProcessPool(2)
    await pool.start()

    def fails() -> Any:
        raise OSError('no room for a process')

    monkeypatch.setattr(pool, '_start_process', fails)
    harness = Harness(pool)
    try:
        state = await harness.finished(harness.submit([python('a', 'pid')], {'n': 1}))
        assert state.status == 'failed'
        error = state.nodes['a'].error or ''
        assert 'could not start a local worker process: OSError: no room for a process' in error
    finally:
        await harness.engine.stop()
        await pool.stop()
