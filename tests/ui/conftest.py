"""Layer-2 fixtures: the real app (``app.py``, its composition root) in NiceGUI's user simulation.

The NiceGUI user plugin is not loaded as a pytest plugin (that would need a top-level conftest or an ini
option and would reach into tests/unit and tests/integration). Instead this conftest does the two things
the plugin does for us: point NiceGUI's storage at a temporary directory once per session, and run the
main file inside ``user_simulation`` for every test. Each test gets a fresh data dir, database and engine;
``app.py`` reads them from ``FLOWMON_*`` variables exactly as in production.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import fastapi.routing
import pytest
from fastapi.datastructures import DefaultPlaceholder
from nicegui import app
from nicegui.storage import Storage
from nicegui.testing.user import User
from nicegui.testing.user_simulation import user_simulation
from schema_template import seed
from uisim import BROKEN, EDITOR_LENGTH, MAIN_FILE, QUICK, SLOW, TOKEN, be_patient, editor_length, wait_until_started

from flowmon.engine.core.state import ExecutionState
from flowmon.engine.runtime.projector import Projector


def _route_states_kept_across_tests() -> None:
    """Each test runs ``app.py`` again on NiceGUI's one app, which includes flowmon's API routers again; FastAPI then
    works out every route's parameters and dependencies again (signatures, pydantic fields, the request handler) on
    the first request that passes them: about a quarter of the CPU of a short UI test. For one route of one router,
    included into NiceGUI's app with the same dependencies and options, that work comes out the same in every test:
    it is done once per process, as in flowmon's own. Only includes into NiceGUI's app are kept (the API tests of
    tests/integration build an app of their own per test), and only plain ones: a dependency with OAuth scopes or a
    concurrency limit, or an include with any responses or callbacks, is built per include as before. The key holds
    the ids of the objects compared, and the entry keeps those objects alive (no id is reused while it is kept)."""
    included = getattr(fastapi.routing, '_IncludedRouter', None)
    build = getattr(included, '_build_effective_context', None)
    if build is None:  # another FastAPI: each test works them out, as before
        return
    built: dict[tuple[Any, ...], tuple[Any, tuple[Any, ...]]] = {}  # key -> (what was built, the objects keyed)

    def unwrapped(value: Any) -> Any:
        return value.value if isinstance(value, DefaultPlaceholder) else value

    def compared(branch: Any, route: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]] | None:
        """The objects (compared by identity) and the values that decide what is built; None: not kept."""
        try:
            context = branch.include_context
            if context.dependency_overrides_provider is not app or context.responses or context.callbacks:
                return None
            depends = context.dependencies
            if any(getattr(d, 'scopes', None) or getattr(d, 'max_concurrency', None) is not None for d in depends):
                return None
            objects = (
                route,
                branch.original_router,
                context.included_router,
                *(d.dependency for d in depends),
                unwrapped(context.default_response_class),
                unwrapped(context.generate_unique_id_function),
                *(type(d) for d in depends),
            )
            values = (context.prefix, repr(context.tags), [(d.use_cache, d.scope) for d in depends],
                      context.deprecated, context.include_in_schema, context.max_body_size,
                      unwrapped(context.strict_content_type))  # fmt: skip
        except AttributeError:
            return None
        return objects, (repr(values),)

    def kept(branch: Any, route: Any) -> Any:
        found = compared(branch, route)
        if found is None:
            return build(branch, route)
        objects, values = found
        key = (*map(id, objects), *values)
        if key not in built:
            if len(built) > 1000:  # (flowmon's routes are about 50; only new ones a test includes could add more)
                built.clear()
            built[key] = (build(branch, route), objects)
        return built[key][0]

    included._build_effective_context = kept


_route_states_kept_across_tests()


@pytest.fixture(scope='session', autouse=True)
def nicegui_storage_dir() -> Iterator[Path]:
    """NiceGUI's user storage in a temporary directory (what the user plugin's pytest_configure does)."""
    path = Path(tempfile.mkdtemp(prefix='flowmon-ui-storage-')).resolve()
    previous = Storage.path
    Storage.path = path
    app.storage = Storage()
    try:
        yield path
    finally:
        Storage.path = previous
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def workflows_dir(tmp_path: Path) -> Path:
    directory = tmp_path / 'workflows'
    directory.mkdir()
    for workflow in (QUICK, BROKEN, SLOW):
        (directory / f'{workflow["id"]}.json').write_text(json.dumps(workflow), encoding='utf-8')
    return directory


@pytest.fixture
async def user(
    tmp_path: Path,
    workflows_dir: Path,
    schema_template: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[User]:
    """A simulated browser on a fresh flowmon (token ``TOKEN``, the three workflows above, an empty database at the
    schema's head); not signed in."""
    seed(tmp_path / 'data', schema_template)
    monkeypatch.setenv('FLOWMON_DATA_DIR', str(tmp_path / 'data'))
    monkeypatch.setenv('FLOWMON_TOKEN', TOKEN)
    monkeypatch.setenv('FLOWMON_ALLOWED_HOSTS', 'test')  # the simulated browser's host (http://test)
    monkeypatch.setenv('FLOWMON_WORKFLOWS_DIR', str(workflows_dir))
    monkeypatch.setenv('FLOWMON_LOG_LEVEL', 'WARNING')
    async with user_simulation(main_file=MAIN_FILE) as simulated:
        simulated.javascript_rules[re.compile(r'.*Intl\.DateTimeFormat.*')] = lambda _: 'UTC'
        simulated.javascript_rules[EDITOR_LENGTH] = lambda match: editor_length(simulated, match)
        be_patient(simulated)
        await wait_until_started(simulated, workflows=3)
        yield simulated
    errors = [record for record in caplog.get_records('call') if record.levelno >= logging.ERROR]
    if errors:
        pytest.fail(f'unexpected ERROR logs: {[record.getMessage() for record in errors]}', pytrace=False)


@pytest.fixture
def loopback_webhooks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback receivers allowed; three quick attempts, 0.3 s apart, no jitter (use before ``user`` starts the app:
    ``pytestmark = pytest.mark.usefixtures('loopback_webhooks')``)."""
    monkeypatch.setenv('FLOWMON_OUTBOUND_ALLOW', '127.0.0.1')
    monkeypatch.setenv('FLOWMON_WEBHOOK_RETRY_SCHEDULE', '0,0.3,0.3')
    monkeypatch.setenv('FLOWMON_WEBHOOK_JITTER', '0')


@pytest.fixture
def live_view_lets_go_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live view lets go of each run as it ends, before any page can see the end: it keeps no ended run, and
    never shows an ended run's state. So pages learn how a run ended from the store, as they must when more runs
    end between two of their pulls than the live view keeps (use before ``user`` starts the app)."""
    build = Projector.__init__
    held = Projector.get

    def keep_none(self: Projector, *args: Any, **kwargs: Any) -> None:
        build(self, *args, **{**kwargs, 'keep_finished': 0})

    def unless_ended(self: Projector, key: str) -> ExecutionState | None:
        state = held(self, key)
        return None if state is not None and state.is_terminal else state

    monkeypatch.setattr(Projector, '__init__', keep_none)
    monkeypatch.setattr(Projector, 'get', unless_ended)
