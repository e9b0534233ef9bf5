"""The API's error answers for input no handler should ever see: bodies nested beyond parsing, the safety net
that turns a ``RecursionError`` or ``OverflowError`` raised while handling a request into a 400, never a 500, and a
query parameter given twice (refused only where it takes one value)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import BaseModel

from flowmon.api.errors import MeasuredBodyRoute, install_error_handlers
from flowmon.api.params import one_value_each
from flowmon.application.errors import Invalid


class Thing(BaseModel):
    value: Any = None


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    router = APIRouter(route_class=MeasuredBodyRoute)

    @router.post('/things')
    async def post_thing(thing: Thing) -> dict[str, Any]:
        return {'ok': True}

    @router.get('/recurse')
    async def recurse() -> None:
        raise RecursionError('maximum recursion depth exceeded')

    @router.get('/overflow')
    async def overflow() -> None:
        raise OverflowError('date value out of range')

    app.include_router(router)
    install_error_handlers(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url='http://test') as client:
        yield client


async def test_a_body_nested_beyond_parsing_gets_400_naming_the_limit(client: httpx.AsyncClient) -> None:
    headers = {'content-type': 'application/json'}
    response = await client.post('/things', content='{"value": ' + '[' * 100_000, headers=headers)
    assert response.status_code == 400
    assert response.json() == {'detail': 'the request body is nested more than 512 levels deep'}
    nested = '{"value": ' + '[' * 300 + ']' * 300 + '}'
    assert (await client.post('/things', content=nested, headers=headers)).status_code == 200
    response = await client.post('/things', content='{"value": ', headers=headers)
    assert response.status_code == 400 and 'malformed JSON' in response.json()['detail']


async def test_recursion_and_overflow_are_answered_400_and_logged(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger='flowmon.api.errors'):
        recursed = await client.get('/recurse')
        overflowed = await client.get('/overflow')
    assert recursed.status_code == 400 and recursed.json() == {
        'detail': 'the request is nested too deeply to be handled'
    }
    assert overflowed.status_code == 400
    assert overflowed.json() == {'detail': 'a number or date in the request is out of range'}
    assert [record.getMessage().split(':')[1].strip() for record in caplog.records] == [
        'RecursionError while handling the request',
        'OverflowError while handling the request',
    ]


@pytest.mark.parametrize(
    ('content_type', 'media'),
    [
        ('text/plain', 'text/plain'),
        ('application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'),
        ('Text/Plain; charset=utf-8', 'text/plain'),
        ('application/xml', 'application/xml'),
        (None, None),
    ],
)
async def test_a_body_that_is_not_json_gets_400_saying_it_must_be(
    client: httpx.AsyncClient, content_type: str | None, media: str | None
) -> None:
    headers = {'content-type': content_type} if content_type else {}
    response = await client.post('/things', content='{"value": 1}', headers=headers)
    assert response.status_code == 400, response.text
    instead = f"not '{media}'" if media else 'no Content-Type was given'
    detail = f'the request body must be JSON (Content-Type: application/json); {instead}'
    assert response.json() == {
        'detail': detail,
        'errors': [{'loc': ['header', 'content-type'], 'msg': detail, 'type': 'malformed'}],
    }


@pytest.mark.parametrize('content_type', ['application/json', 'Application/JSON; charset=utf-8', 'application/x+json'])
async def test_json_bodies_are_read_as_before(client: httpx.AsyncClient, content_type: str) -> None:
    response = await client.post('/things', content='{"value": 1}', headers={'content-type': content_type})
    assert response.status_code == 200, response.text


class Page(BaseModel):
    size: int = 10
    sort: list[str] = []


def page_of(limit: int = 50, tag: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
    return {'limit': limit, 'tag': tag}


async def test_a_query_parameter_that_takes_a_list_keeps_its_values() -> None:
    """The refusal of a parameter given twice (:func:`one_value_each`) leaves those FastAPI reads as a list alone: of
    the route, of a dependency, of a model of query parameters (no route of the API takes one yet)."""
    app = FastAPI()

    @app.get('/items', dependencies=[Depends(one_value_each)])
    async def items(
        paged: Annotated[dict[str, Any], Depends(page_of)],
        page: Annotated[Page, Query()],
        ids: Annotated[tuple[str, ...] | None, Query()] = None,
        q: str | None = None,
    ) -> dict[str, Any]:
        return {**paged, **page.model_dump(), 'ids': ids, 'q': q}

    install_error_handlers(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url='http://test') as client:
        listed = await client.get('/items?tag=a&tag=b&sort=x&sort=y&ids=1&ids=2&q=z&other=1&other=2')
        assert listed.status_code == 200, listed.text
        assert listed.json() == {
            'limit': 50,
            'tag': ['a', 'b'],
            'size': 10,
            'sort': ['x', 'y'],
            'ids': ['1', '2'],
            'q': 'z',
        }
        for name in ('q', 'limit', 'size'):
            refused = await client.get(f'/items?tag=a&tag=b&{name}=1&{name}=2')
            detail = f"query parameter '{name}' is given 2 times; it takes one value"
            assert refused.status_code == 422, refused.text
            assert refused.json()['detail'] == detail


async def test_a_refusal_of_a_query_model_field_names_it_in_the_query() -> None:
    """A refusal that names a field of a model of query parameters (``at='size'``) is answered with ``loc``
    ``["query", "size"]``, as a parameter the route names itself is; a name the route does not read is in the body."""
    app = FastAPI()

    @app.get('/pages')
    async def pages(page: Annotated[Page, Query()], at: str = 'size') -> None:
        raise Invalid(f'{at}: not now', at=at)

    install_error_handlers(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url='http://test') as client:
        for at, loc in (('size', ['query', 'size']), ('sort', ['query', 'sort']), ('at', ['query', 'at'])):
            refused = await client.get(f'/pages?size=3&at={at}')
            assert refused.status_code == 422, refused.text
            assert refused.json()['errors'] == [{'loc': loc, 'msg': f'{at}: not now', 'type': 'invalid'}]
        refused = await client.get('/pages?at=other')
        assert refused.json()['errors'][0]['loc'] == ['body', 'other']
