"""End to end on a Dask cluster: ``dask scheduler`` and ``dask worker`` processes started from this environment
(free ports, ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0`` as the README says), and ``python app.py`` with
``FLOWMON_DASK_SCHEDULER`` pointing at them, driven over HTTP. The last test kills the scheduler, so it comes last.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from flowmon_process import FlowmonProcess, free_port
from worker_api import WORKER_ENV, events, finished, kill_the_first_attempt, marker_pid, python, run_cpu_workflow, start

DASK = str(Path(sys.executable).with_name('dask'))
READY_SECONDS = 60


class Cluster:
    """A scheduler process and a worker process with two worker subprocesses (one thread each)."""

    def __init__(self, directory: Path) -> None:
        self.address = f'tcp://127.0.0.1:{free_port()}'
        self.directory = directory
        env = {**os.environ, **WORKER_ENV, 'DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES': '0'}
        env.pop('PYTEST_CURRENT_TEST', None)
        port = self.address.rsplit(':', 1)[1]
        self.scheduler = self._start('scheduler', env, 'scheduler', '--host', '127.0.0.1', '--port', port,
                                     '--no-dashboard', '--dashboard-address', '127.0.0.1:0')  # fmt: skip
        self._wait('scheduler', 'Scheduler at:', 1)
        self.worker = self._start('worker', env, 'worker', self.address, '--nworkers', '2', '--nthreads', '1',
                                  '--host', '127.0.0.1', '--no-dashboard', '--death-timeout', '60')  # fmt: skip
        self._wait('worker', 'Registered to:', 2)

    def _start(self, name: str, env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
        with (self.directory / f'{name}.log').open('wb') as log:
            command = [DASK, *args]
            return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def log(self, name: str) -> str:
        return (self.directory / f'{name}.log').read_text(encoding='utf-8', errors='replace')

    def _wait(self, name: str, line: str, count: int) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while self.log(name).count(line) < count:
            assert time.monotonic() < deadline, f'dask {name} did not start:\n{self.log(name)[-3000:]}'
            time.sleep(0.1)

    def stop(self) -> None:
        for process in (self.worker, self.scheduler):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # the worker's nanny and worker subprocesses too
            process.wait(timeout=10)


@pytest.fixture(scope='module')
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp('dask'))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope='module')
def flowmon(cluster: Cluster, launch_shared: Callable[..., FlowmonProcess]) -> FlowmonProcess:
    process = launch_shared(FLOWMON_DASK_SCHEDULER=cluster.address, **WORKER_ENV)
    process.wait_started()
    return process


def test_cpu_bound_nodes_run_on_the_cluster_while_the_api_answers(flowmon: FlowmonProcess) -> None:
    workers = run_cpu_workflow(flowmon)  # the plugin's count_primes runs on the workers, word_count in flowmon
    assert len(workers) == 2  # both Dask workers computed
    assert all(worker.startswith('tcp://127.0.0.1:') for worker in workers)


def test_cancel_through_the_api_marks_the_node_cancelled_at_once(flowmon: FlowmonProcess, tmp_path: Path) -> None:
    marker = tmp_path / 'marker'
    seconds = 3  # the task computes this long: a cancel cannot stop a Dask task's thread, so keep it short
    execution_id = start(flowmon, 'cancel', [python('hang', 'hang_once')], {'marker': str(marker), 'seconds': seconds})
    marker_pid(marker)
    assert flowmon.api('POST', f'/api/executions/{execution_id}/cancel').status_code == 202
    summary = finished(flowmon, execution_id)
    assert (summary['status'], summary['nodes']['hang']['status']) == ('cancelled', 'cancelled')
    (cancelled,) = events(flowmon, execution_id, 'hang', 'node.cancelled')
    began = datetime.fromtimestamp(marker.stat().st_mtime, UTC)  # when the task began computing
    assert datetime.fromisoformat(cancelled['ts']) < began + timedelta(seconds=seconds)  # not when it ended
    assert events(flowmon, execution_id, 'hang', 'node.completed') == []


def test_a_node_fails_when_it_passes_its_timeout(flowmon: FlowmonProcess, tmp_path: Path) -> None:
    marker = tmp_path / 'marker'
    node = python('hang', 'hang_once', timeout_seconds=0.5)
    execution_id = start(flowmon, 'timeout', [node], {'marker': str(marker), 'seconds': 2})
    summary = finished(flowmon, execution_id)
    assert summary['nodes']['hang']['status'] == 'failed'
    assert summary['nodes']['hang']['error'] == 'timed out after 0.5s'


def test_a_worker_killed_mid_task_fails_the_attempt_and_the_retry_succeeds_elsewhere(
    flowmon: FlowmonProcess, tmp_path: Path
) -> None:
    execution_id, _, retrying = kill_the_first_attempt(flowmon, 'killed', tmp_path / 'marker')
    first, second = events(flowmon, execution_id, 'hang', 'node.started')
    assert retrying['data']['error'] == (
        f'the Dask worker {first["data"]["worker"]} died while running the node (a retry runs on another worker)'
    )
    assert second['data']['worker'] != first['data']['worker']


def test_a_scheduler_lost_mid_task_fails_the_attempt_and_the_next_one_says_it_is_unreachable(
    cluster: Cluster, flowmon: FlowmonProcess, tmp_path: Path
) -> None:
    marker = tmp_path / 'marker'
    node = python('hang', 'hang_once', retry={'max_attempts': 2, 'backoff_seconds': 0})
    execution_id = start(flowmon, 'orphaned', [node], {'marker': str(marker), 'seconds': 5})
    marker_pid(marker)
    cluster.scheduler.send_signal(signal.SIGKILL)
    summary = finished(flowmon, execution_id)
    assert summary['status'] == 'failed'
    (retrying,) = events(flowmon, execution_id, 'hang', 'node.retrying')
    assert retrying['data']['error'] == f'lost the connection to the Dask scheduler at {cluster.address}'
    assert summary['nodes']['hang']['error'].startswith(f'the Dask scheduler at {cluster.address} is unreachable: ')
    assert httpx.get(f'{flowmon.base_url}/api/health', timeout=5).status_code == 200
