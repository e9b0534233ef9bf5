"""FLOWMON_PYTHON_MODULES, FLOWMON_WORKERS and FLOWMON_DASK_SCHEDULER, and what the composition root builds from
them (nothing is started here: System.build only constructs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowmon.bootstrap import System
from flowmon.engine.nodes.python import PythonNode
from flowmon.infra.workers.local import LocalProcessPool, default_processes
from flowmon.settings import Settings, SettingsError, load_settings


def settings_with(tmp_path: Path, **env: str) -> Settings:
    return load_settings({'FLOWMON_DATA_DIR': str(tmp_path / 'data'), **env})


def test_defaults_allow_no_module_and_use_a_local_pool_of_one_process_per_core(tmp_path: Path) -> None:
    settings = settings_with(tmp_path)
    assert settings.python_module_list == ()
    assert settings.dask_scheduler == '' and settings.workers is None
    system = System.build(settings, token='t' * 16)
    assert isinstance(system.workers, LocalProcessPool) and system.workers.processes == default_processes()
    assert system.engine.workers is system.workers
    python = system.engine.registry.get('python')
    assert isinstance(python, PythonNode) and python.allowed_modules == ()
    assert {'webhook', 'count_primes', 'word_count'} <= set(system.engine.registry)  # entry points, with the port


def test_the_settings_reach_the_python_type_and_the_pool(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, FLOWMON_PYTHON_MODULES=' reports , acme.jobs ', FLOWMON_WORKERS='3')
    assert settings.python_module_list == ('reports', 'acme.jobs')
    system = System.build(settings, token='t' * 16)
    assert isinstance(system.workers, LocalProcessPool) and system.workers.processes == 3
    python = system.engine.registry.get('python')
    assert isinstance(python, PythonNode) and python.allowed_modules == ('reports', 'acme.jobs')


def test_a_scheduler_address_puts_worker_nodes_on_dask(tmp_path: Path) -> None:
    from flowmon.infra.workers.dask import DaskWorkers

    system = System.build(settings_with(tmp_path, FLOWMON_DASK_SCHEDULER='tcp://scheduler:8786'), token='t' * 16)
    assert isinstance(system.workers, DaskWorkers) and system.workers.address == 'tcp://scheduler:8786'


@pytest.mark.parametrize(
    ('name', 'value', 'message'),
    [
        (
            'FLOWMON_PYTHON_MODULES',
            'reports,os.path;rm',
            "FLOWMON_PYTHON_MODULES: 'os.path;rm' is not a module",
        ),
        ('FLOWMON_PYTHON_MODULES', 'reports.', "'reports.' is not a module name"),
        ('FLOWMON_WORKERS', '0', 'FLOWMON_WORKERS: Input should be greater than or equal to 1'),
        ('FLOWMON_DASK_SCHEDULER', 'scheduler:8786', 'FLOWMON_DASK_SCHEDULER: must be a Dask scheduler'),
        ('FLOWMON_DASK_SCHEDULER', 'tcp://scheduler', 'must be a Dask scheduler address such as tcp://'),
        ('FLOWMON_DASK_SCHEDULER', 'tcp://scheduler:99999', 'FLOWMON_DASK_SCHEDULER: not an address'),
    ],
)
def test_bad_values_stop_start_up_naming_the_variable(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        settings_with(tmp_path, **{name: value})
    assert message in str(caught.value) and 'Value error' not in str(caught.value)
