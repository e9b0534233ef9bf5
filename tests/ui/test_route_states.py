"""Every UI test builds NiceGUI's app again (``app.py``); what FastAPI works out about each of flowmon's API routes is
kept from the first build and served to the next (tests/ui/conftest.py), as long as the router is included with the
same dependencies. Here: a new include of a router with the same dependencies (new ``Depends`` of the same functions,
as each build makes) gets what was built before; one with another dependency gets its own; and the API under it
checks the token of the application installed now."""

from __future__ import annotations

import dataclasses
from typing import Any

import fastapi.routing
from fastapi import Depends
from nicegui import app
from nicegui.testing.user import User
from uisim import TOKEN, api


def guarded_branch() -> Any:
    """The included router of the workflow routes (guarded by the token), as ``app.py`` included it for this test."""
    for route in app.routes:
        router = getattr(route, 'original_router', None)
        if router is not None and router.prefix == '/api/workflows':
            return route
    raise AssertionError('the workflow routes are not included in the app')


def included_again(branch: Any, dependencies: list[Any]) -> Any:
    context = dataclasses.replace(branch.include_context, dependencies=dependencies)
    return fastapi.routing._IncludedRouter(original_router=branch.original_router, include_context=context)


def never() -> None:
    raise AssertionError('not called')


async def test_what_fastapi_works_out_per_route_is_kept_only_for_the_same_dependencies(user: User) -> None:
    assert (await api(user, 'GET', '/api/workflows')).status_code == 200  # the routes are prepared on the way
    branch = guarded_branch()
    first = [id(candidate) for candidate in branch.effective_candidates()]
    assert first, 'no routes'
    dependencies = branch.include_context.dependencies
    same = [Depends(d.dependency, use_cache=d.use_cache, scope=d.scope) for d in dependencies]
    assert [id(candidate) for candidate in included_again(branch, same).effective_candidates()] == first

    other = included_again(branch, [*same, Depends(never)]).effective_candidates()
    assert not {id(candidate) for candidate in other} & set(first)
    assert all(any(d.dependency is never for d in candidate.dependencies) for candidate in other)


async def test_the_kept_guard_checks_the_token_of_the_application_installed_now(user: User) -> None:
    assert (await api(user, 'GET', '/api/workflows')).status_code == 200
    for wrong in ('Bearer nope', f'Bearer {TOKEN}x', None):
        headers = {'Authorization': wrong} if wrong else {}
        response = await user.http_client.get('/api/workflows', headers=headers)
        assert response.status_code == 401, (wrong, response.text)
