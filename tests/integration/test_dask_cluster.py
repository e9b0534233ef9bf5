"""Worker nodes on a real Dask cluster: a ``distributed.LocalCluster`` of two worker processes (one thread each, no
dashboard), shared by this module, with ``allowed-failures`` 0 as the README asks of a cluster flowmon uses. The
end-to-end run with ``dask scheduler`` and ``dask worker`` processes, where the scheduler is also killed mid-task, is
test_dask_process.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import dask
import pytest
import pytest_asyncio
from distributed import LocalCluster
from flowmon_process import free_port
from worker_harness import Harness, alive, kill, marker_pid, python, until

from flowmon.infra.workers.dask import DaskWorkers

pytestmark = pytest.mark.asyncio(loop_scope='module')


@pytest_asyncio.fixture(loop_scope='module', scope='module')
async def cluster() -> AsyncIterator[LocalCluster]:
    with dask.config.set({'distributed.scheduler.allowed-failures': 0}):
        async with LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, asynchronous=True, dashboard_address=None
        ) as local:
            yield local


@pytest_asyncio.fixture(loop_scope='module')
async def h(cluster: LocalCluster) -> AsyncIterator[Harness]:
    workers = DaskWorkers(cluster.scheduler_address)
    await workers.start()
    harness = Harness(workers)
    await two_workers(workers)
    try:
        yield harness
    finally:
        await harness.engine.stop()
        await workers.stop()


async def two_workers(workers: DaskWorkers) -> list[str]:
    """Wait until the cluster has its two workers (a killed one comes back under a new address)."""
    found: list[str] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while len(found) != 2:
        assert loop.time() < deadline, f'the cluster has workers {found}'
        found = await workers.workers()
        await asyncio.sleep(0.05)
    return found


async def test_cpu_bound_nodes_run_on_the_cluster_and_their_events_name_the_workers(h: Harness) -> None:
    assert isinstance(h.workers, DaskWorkers)
    addresses = set(await h.workers.workers())
    nodes = [python(f'spin{i}', 'spin') for i in range(4)]
    nodes.append({'id': 'primes', 'type': 'count_primes', 'config': {'below': 100_000}})  # the example plugin's
    nodes.append({'id': 'words', 'type': 'word_count', 'config': {}})  # the plugin's loop type: runs here
    execution_id = h.submit(nodes, {'seconds': 0.3, 'text': 'three little words'})
    state = await h.finished(execution_id)
    assert state.status == 'succeeded', state.error
    used = set()
    for node_id in ('spin0', 'spin1', 'spin2', 'spin3', 'primes'):
        (started,) = h.of(execution_id, node_id, 'node.started')
        (completed,) = h.of(execution_id, node_id, 'node.completed')
        assert started.data['worker'] == completed.data['worker'] in addresses
        used.add(completed.data['worker'])
    assert used == addresses  # both workers computed
    assert state.nodes['primes'].output == {'below': 100_000, 'primes': 9592}
    assert state.nodes['words'].output == {'words': 3}
    assert 'worker' not in h.of(execution_id, 'words', 'node.completed')[0].data


async def test_equal_inputs_each_run_and_failures_keep_their_traceback(h: Harness) -> None:
    execution_id = h.submit([python('a', 'pid'), python('b', 'pid'), python('boom', 'fails')], {'what': 'seven'})
    state = await h.finished(execution_id)
    assert state.nodes['a'].status == state.nodes['b'].status == 'succeeded'  # two tasks, not one shared result
    assert state.nodes['a'].output['got'] == state.nodes['b'].output['got'] == {'what': 'seven'}
    assert state.nodes['boom'].error == 'ZeroDivisionError: cannot divide seven by zero'
    assert 'worker_functions.py' in (state.nodes['boom'].traceback or '')


async def test_cancel_marks_the_node_cancelled_at_once_and_drops_the_result(h: Harness, tmp_path: Path) -> None:
    done = tmp_path / 'done'
    execution_id = h.submit([python('work', 'compute_then_mark')], {'seconds': 1.5, 'done': str(done)})
    await until(lambda: bool(h.of(execution_id, 'work', 'node.started')), 30, 'the worker to start the node')
    await h.cancel_at_once(execution_id, 'work')
    await until(done.exists, 30, 'the computation to finish on the worker')  # Dask cannot stop a running task
    (cancelled,) = h.of(execution_id, 'work', 'node.cancelled')
    assert cancelled.ts < datetime.fromtimestamp(done.stat().st_mtime, UTC)  # cancelled before the work ended
    await asyncio.sleep(0.2)  # (its result would have arrived by now)
    assert h.of(execution_id, 'work', 'node.completed') == []  # ... and its result was dropped


async def test_a_timeout_fails_the_node_when_it_passes(h: Harness, tmp_path: Path) -> None:
    done = tmp_path / 'done'
    node = python('work', 'compute_then_mark', timeout_seconds=0.5)
    submitted = datetime.now(UTC)
    execution_id = h.submit([node], {'seconds': 3, 'done': str(done)})
    state = await h.finished(execution_id)
    assert state.nodes['work'].status == 'failed'
    assert state.nodes['work'].error == 'timed out after 0.5s'
    (failed,) = h.of(execution_id, 'work', 'node.failed')
    assert (failed.ts - submitted).total_seconds() >= 0.5  # not before its timeout
    await until(done.exists, 30, 'the abandoned computation to end')  # let the worker finish before the next test
    assert failed.ts < datetime.fromtimestamp(done.stat().st_mtime, UTC)  # failed before the work ended


async def test_a_worker_killed_mid_task_fails_the_attempt_and_the_retry_runs_elsewhere(
    h: Harness, tmp_path: Path
) -> None:
    marker = tmp_path / 'marker'
    retry = {'max_attempts': 2, 'backoff_seconds': 0}
    execution_id = h.submit([python('hang', 'hang_once', retry=retry)], {'marker': str(marker)})
    pid = await marker_pid(marker)
    kill(pid)  # kill -9 the worker process computing the node
    state = await h.finished(execution_id)
    node = state.nodes['hang']
    assert node.status == 'succeeded' and node.output['again'] is True
    first, second = node.attempt_log
    assert first.outcome == 'retried' and first.worker is not None and second.worker != first.worker
    assert first.error == f'the Dask worker {first.worker} died while running the node (a retry runs on another worker)'
    assert not alive(pid)
    assert isinstance(h.workers, DaskWorkers)
    await two_workers(h.workers)  # the nanny started a new one


async def test_an_unreachable_scheduler_fails_the_attempt_with_a_clear_error(tmp_path: Path) -> None:
    address = f'tcp://127.0.0.1:{free_port()}'
    workers = DaskWorkers(address, connect_timeout=0.5)
    await workers.start()
    harness = Harness(workers)
    try:
        execution_id = harness.submit([python('a', 'pid', retry={'max_attempts': 2, 'backoff_seconds': 0})])
        state = await harness.finished(execution_id)
    finally:
        await harness.engine.stop()
        await workers.stop()
    node = state.nodes['a']
    assert node.status == 'failed' and node.attempts == 2  # retryable: it was retried
    assert (node.error or '').startswith(f'the Dask scheduler at {address} is unreachable: ')
    assert [event.data['worker'] for event in harness.of(execution_id, 'a', 'node.started')] == [None, None]
