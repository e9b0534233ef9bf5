"""Every UI test builds NiceGUI's app again (``app.py``); what FastAPI works out about each of flowmon's API routes is
kept from the first build and served to the next (tests/ui/conftest.py), as long as the router is included into
NiceGUI's app with the same dependencies and options. Here: a new include of a router with new ``Depends`` of the
same functions (what each build makes) gets what was built before; an include with another dependency, another
response class, a dependency with OAuth scopes or into another app gets its own."""

from __future__ import annotations

import dataclasses
from typing import Any

import fastapi.routing
from fastapi import Depends, FastAPI, Security
from fastapi.responses import PlainTextResponse
from nicegui import app
from nicegui.testing.user import User
from uisim import api


def guarded_branch() -> Any:
    """The included router of the workflow routes (guarded by the token), as ``app.py`` included it for this test."""
    for route in app.routes:
        router = getattr(route, 'original_router', None)
        if router is not None and router.prefix == '/api/workflows':
            return route
    raise AssertionError('the workflow routes are not included in the app')


def built_for(branch: Any, **changes: Any) -> list[Any]:
    """What FastAPI gives a new include of ``branch``'s router with ``changes`` to its include context (compare the
    ids while the lists are held: an id is unique among objects alive at once)."""
    context = dataclasses.replace(branch.include_context, **changes)
    again = fastapi.routing._IncludedRouter(original_router=branch.original_router, include_context=context)
    return list(again.effective_candidates())


def ids(candidates: list[Any]) -> set[int]:
    return {id(candidate) for candidate in candidates}


def never() -> None:
    raise AssertionError('not called')


async def test_what_fastapi_works_out_per_route_is_kept_only_for_the_same_include(user: User) -> None:
    assert (await api(user, 'GET', '/api/workflows')).status_code == 200  # the routes are prepared on the way
    branch = guarded_branch()
    first = list(branch.effective_candidates())
    assert first, 'no routes'
    same = [Depends(d.dependency, use_cache=d.use_cache, scope=d.scope) for d in branch.include_context.dependencies]
    assert [id(candidate) for candidate in built_for(branch, dependencies=same)] == [id(c) for c in first]

    others = {
        'another dependency': {'dependencies': [*same, Depends(never)]},
        'OAuth scopes': {'dependencies': [*same, Security(never, scopes=['read'])]},
        'another response class': {'dependencies': same, 'default_response_class': PlainTextResponse},
        'another app': {'dependencies': same, 'dependency_overrides_provider': FastAPI()},
    }
    for what, changes in others.items():
        built = built_for(branch, **changes)
        assert len(built) == len(first), what
        assert not ids(built) & ids(first), f'{what}: served what was built for the app'
    scoped, again = built_for(branch, **others['OAuth scopes']), built_for(branch, **others['OAuth scopes'])
    assert not ids(scoped) & ids(again), 'an include with OAuth scopes was kept'
