"""Worker nodes through a real ``python app.py`` with the local process pool (no FLOWMON_DASK_SCHEDULER): the
allow-list's 422, CPU-bound nodes in the pool while the API answers, a killed pool process, and node-type plugins
(the example package's types; two packages offering one name stop flowmon at start), and a module list that is not
one stopping it with one line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from flowmon_process import REPO_ROOT, FlowmonProcess, child_env, free_port
from worker_api import WORKER_ENV, kill_the_first_attempt, run_cpu_workflow

from flowmon.engine.nodes import ENTRY_POINT_GROUP


@pytest.fixture(scope='module')
def flowmon(launch_shared: Callable[..., FlowmonProcess]) -> FlowmonProcess:
    process = launch_shared(FLOWMON_WORKERS='2', **WORKER_ENV)
    process.wait_started()
    return process


def test_saving_a_function_outside_the_allow_list_is_refused_naming_the_module_and_the_variable(
    flowmon: FlowmonProcess,
) -> None:
    node = {'id': 'p', 'type': 'python', 'config': {'callable': 'subprocess:run'}}
    response = flowmon.api('PUT', '/api/workflows/escape', {'id': 'escape', 'name': 'Escape', 'nodes': [node]})
    assert response.status_code == 422
    detail = response.json()['detail']
    assert "module 'subprocess' is not allowed" in detail and 'FLOWMON_PYTHON_MODULES' in detail


def test_cpu_bound_nodes_run_in_pool_processes_while_the_api_answers(flowmon: FlowmonProcess) -> None:
    workers = run_cpu_workflow(flowmon)
    assert len(workers) == 2  # FLOWMON_WORKERS processes, each took work
    assert all(worker.startswith('local:') for worker in workers)
    assert f'local:{flowmon.process.pid}' not in workers  # not flowmon itself


def test_a_killed_pool_process_fails_its_attempt_and_the_retry_succeeds(
    flowmon: FlowmonProcess, tmp_path: Path
) -> None:
    _, pid, retrying = kill_the_first_attempt(flowmon, 'hang', tmp_path / 'marker')
    assert retrying['data']['error'] == (
        f'the local worker process local:{pid} died while running the node (killed by SIGKILL); '
        'another process took its place'
    )


def test_two_packages_offering_one_node_type_stop_flowmon_naming_both(tmp_path: Path) -> None:
    site = tmp_path / 'site'
    info = site / 'acme_nodes-2.0.dist-info'
    info.mkdir(parents=True)
    (info / 'METADATA').write_text('Metadata-Version: 2.1\nName: acme-nodes\nVersion: 2.0\n', encoding='utf-8')
    (info / 'entry_points.txt').write_text(f'[{ENTRY_POINT_GROUP}]\npython = acme_nodes:Python\n', encoding='utf-8')
    env = child_env(tmp_path / 'data', free_port(), PYTHONPATH=str(site))
    result = subprocess.run(
        [sys.executable, 'app.py'], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "flowmon: node type 'python' is offered by two packages: acme-nodes 2.0 (acme_nodes:Python) and "
        'flowmon 0.1.0 (flowmon.engine.nodes.python:PythonNode); uninstall one of them (neither replaces the other)'
    )


@pytest.mark.parametrize('command', [['app.py'], ['-m', 'flowmon', 'db', 'current']], ids=['server', 'command'])
def test_a_module_list_that_is_not_one_stops_flowmon_with_one_line_in_its_words(
    tmp_path: Path, command: list[str]
) -> None:
    env = child_env(tmp_path / 'data', free_port(), FLOWMON_PYTHON_MODULES='reports,os.path;rm')
    result = subprocess.run(
        [sys.executable, *command], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "flowmon: invalid configuration: FLOWMON_PYTHON_MODULES: 'os.path;rm' is not a module name (dotted Python "
        'identifiers, e.g. "reports,acme.jobs") (got \'reports,os.path;rm\')'
    ]
