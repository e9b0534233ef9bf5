"""Every UI test builds NiceGUI's app again (``app.py``); what FastAPI works out about each of flowmon's API routes is
kept from the first build and served to the next (tests/ui/conftest.py), as long as the router is included into
NiceGUI's app with the same dependencies and options. Here: a new include of a router with new ``Depends`` of the
same functions (what each build makes) gets what was built before, route by route; an include that differs in one
of the things the key compares gets its own, and one the layer does not keep is built each time."""

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
    routes = list(branch.original_router.routes)
    first = list(branch.effective_candidates())
    assert [candidate.original_route for candidate in first] == routes
    *rest, last = [
        Depends(d.dependency, use_cache=d.use_cache, scope=d.scope) for d in branch.include_context.dependencies
    ]
    same = [*rest, last]
    assert [id(candidate) for candidate in built_for(branch, dependencies=same)] == [id(c) for c in first]

    kept_apart = {  # each gets a context of its own, kept for the next include like it
        'another dependency function': {'dependencies': [*rest, Depends(never)]},
        'another dependency class': {'dependencies': [*rest, Security(last.dependency)]},
        'another response class': {'dependencies': same, 'default_response_class': PlainTextResponse},
        'another unique-id function': {'dependencies': same, 'generate_unique_id_function': lambda route: route.name},
        'no strict content type': {'dependencies': same, 'strict_content_type': False},
    }
    never_kept = {  # built for each include
        'another app': {'dependencies': same, 'dependency_overrides_provider': FastAPI()},
        'OAuth scopes': {'dependencies': [*rest, Security(last.dependency, scopes=['read'])]},
        'a concurrency limit': {'dependencies': [*rest, Depends(last.dependency, max_concurrency=1)]},
        'responses of its own': {'dependencies': same, 'responses': {418: {'description': 'a teapot'}}},
    }
    for what, changes in {**kept_apart, **never_kept}.items():
        built, again = built_for(branch, **changes), built_for(branch, **changes)
        assert [candidate.original_route for candidate in built] == routes, what
        assert not ids(built) & ids(first), f'{what}: served what was built for the app'
        assert (ids(built) == ids(again)) is (what in kept_apart), f'{what}: kept {what not in kept_apart}'
