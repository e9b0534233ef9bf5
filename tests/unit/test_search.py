"""Search by content: the searchable text of an execution, what the recorder indexes and when, the query as literal
text, filters combined, and deletion taking the index rows along. The store tests run on SQLite (FTS5 trigrams) and,
unless ``FLOWMON_TEST_POSTGRES=0``, on a throwaway PostgreSQL too (``pg_trgm``)."""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sample_workflows import chain, delay, fail, transform, workflow
from sqlalchemy import func, select, text

from flowmon.engine import Engine, EventBus, default_registry, parse_workflow
from flowmon.engine.core.search_text import (
    MAX_TEXT_CHARS,
    MAX_VALUE_CHARS,
    execution_text,
    input_text,
    normalise_query,
    text_contains,
)
from flowmon.engine.core.state import Attempt, ExecutionState, NodeState
from flowmon.engine.runtime.projector import Projector
from flowmon.store import Database, EventRecorder, History
from flowmon.store.retention import Pruner
from flowmon.store.search import fts5_phrase, like_escaped
from flowmon.store.tables import ExecutionSearchRow

SEARCH = ExecutionSearchRow.__table__  # type: ignore[attr-defined]
T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)

ORDER = chain(
    'order',
    'Order',
    transform('receipt', "{receipt: join('', ['R-77/', input.order])}"),
    fail('charge', 'card declined by the issuer'),
)
ECHO = workflow('echo', 'Echo', transform('copy', 'input'))
WAIT = workflow('wait', 'Wait', delay('wait', 30))


# --- the searchable text (pure) -------------------------------------------------------------------------------------


def test_the_text_lists_keys_and_values_once_each_input_first_then_errors_then_outputs() -> None:
    state = ExecutionState(
        id='e',
        input={'order': {'id': 'A-1001', 'lines': [1, 2.5, True, None, 'A-1001']}},
        error="node 'charge' failed: declined",
        nodes={
            'charge': NodeState(
                id='charge',
                output={'status': 402},
                error='declined',
                attempt_log=(Attempt(n=1, started_at=T0, error='gateway timeout'),),
            ),
            'note': NodeState(id='note', output='two\nlines'),
        },
    )
    assert input_text(state.input) == 'order\nid\nA-1001\nlines\n1\n2.5\ntrue'
    assert execution_text(state).split('\n') == [
        *['order', 'id', 'A-1001', 'lines', '1', '2.5', 'true'],
        "node 'charge' failed: declined",
        'gateway timeout',
        'declined',
        'status',
        '402',
        'two lines',  # a line break inside a value never lets a query match across two values
    ]


def test_the_text_is_bounded_per_value_and_in_all() -> None:
    long = 'x' * (MAX_VALUE_CHARS + 10)
    assert input_text({'v': long}) == 'v\n' + 'x' * MAX_VALUE_CHARS
    many = {f'key-{n}': f'{n:04d}' + 'y' * (MAX_VALUE_CHARS - 4) for n in range(100)}
    text_ = input_text(many)
    assert len(text_) <= MAX_TEXT_CHARS and text_.count('\n') > 10


def test_the_walk_stops_at_the_budget_whatever_the_outputs_weigh() -> None:
    """Once the text is full, the outputs of later nodes are not walked at all (indexing runs on the event loop)."""
    walked: list[str] = []

    class Watched(dict[str, Any]):
        def items(self) -> Any:
            walked.append('items')
            return super().items()

    full = [f'{n:04d}' + 'z' * (MAX_VALUE_CHARS - 4) for n in range(MAX_TEXT_CHARS // MAX_VALUE_CHARS + 2)]
    state = ExecutionState(
        id='e',
        nodes={
            'big': NodeState(id='big', output=full),
            'later': NodeState(id='later', output=Watched({f'k{n}': n for n in range(1000)})),
        },
    )
    text_ = execution_text(state)
    assert len(text_) <= MAX_TEXT_CHARS and text_.startswith('0000zzz')
    assert walked == []
    assert 'k1' in execution_text(ExecutionState(id='e', nodes={'later': state.nodes['later']}))
    assert walked == ['items']


_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=12,
)


def _expected_lines(value: Any) -> list[str]:
    """The values of a JSON value as the text lists them, depth first, by recursion (a reference for the walk)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [line for key, inner in value.items() for line in (str(key), *_expected_lines(inner))]
    if isinstance(value, list | tuple):
        return [line for inner in value for line in _expected_lines(inner)]
    if isinstance(value, bool):
        return [str(value).lower()]
    if isinstance(value, float):
        return [repr(value)]
    return [] if value is None else [str(value)]


class _Level(enum.IntEnum):
    LOW = 1


class _Tag(str):
    pass


@given(_JSON, st.lists(_JSON | st.sampled_from([_Level.LOW, _Tag('tag'), 7.0, 7, True]), max_size=5))
def test_the_text_lists_the_values_of_input_and_outputs_in_order_each_once(input_: Any, outputs: list[Any]) -> None:
    state = ExecutionState(
        id='e', input=input_, nodes={f'n{i}': NodeState(id=f'n{i}', output=output) for i, output in enumerate(outputs)}
    )
    lines = [*_expected_lines(input_), *(line for output in outputs for line in _expected_lines(output))]
    expected = list(dict.fromkeys(line.replace('\r', ' ').replace('\n', ' ') for line in lines if line))
    assert execution_text(state) == '\n'.join(dict.fromkeys(line for line in expected if line))


def test_queries_are_stripped_and_bounded() -> None:
    assert normalise_query('  A-1001 ') == 'A-1001'
    for bad, message in (('ab', 'at least 3'), ('x' * 201, 'at most 200'), ('a\nbc', 'control characters')):
        with pytest.raises(ValueError, match=message):
            normalise_query(bad)
    assert text_contains('order\nA-1001', 'a-10') and not text_contains('order\nA-1001', 'der A')


def test_query_syntax_is_escaped_for_each_dialect() -> None:
    assert fts5_phrase('say "hi" * NEAR(a b)') == '"say ""hi"" * NEAR(a b)"'
    assert like_escaped('100% of_it \\') == '100\\% of\\_it \\\\'


# --- the index, through the recorder --------------------------------------------------------------------------------


@dataclass
class Rig:
    engine: Engine
    recorder: EventRecorder
    history: History

    async def run(self, definition: dict[str, Any], input: dict[str, Any]) -> str:
        workflow = parse_workflow(definition, self.engine.registry)
        execution_id = self.engine.submit(workflow, input, trigger={'type': 'api'})
        await self.engine.wait_idle()
        await self.recorder.drain()
        return execution_id

    async def found(self, query: str, **filters: Any) -> list[str]:
        records, total = await self.history.list_executions(q=normalise_query(query), **filters)
        assert total == len(records)
        return sorted(record.id for record in records)


@pytest.fixture
async def rig(db: Database) -> AsyncIterator[Rig]:
    bus = EventBus()
    projector = Projector(bus)
    recorder = EventRecorder(db, bus, projection=projector)
    engine = Engine(bus=bus, registry=default_registry())
    projector.start()
    await recorder.start()
    try:
        yield Rig(engine=engine, recorder=recorder, history=History(db))
    finally:
        await engine.stop()
        await recorder.stop()
        projector.stop()


async def test_a_running_execution_is_found_by_its_input_and_an_ended_one_by_outputs_and_errors_too(rig: Rig) -> None:
    ended = await rig.run(ORDER, {'order': 'A-1001'})
    assert await rig.found('A-1001') == [ended]
    assert await rig.found('r-77/a-10') == [ended]  # a node output, case-insensitive substring
    assert await rig.found('DECLINED BY') == [ended]  # the node's error message
    assert await rig.found('receipt') == [ended]  # a key of an output
    assert await rig.found('nowhere') == []

    waiting = rig.engine.submit(parse_workflow(WAIT, rig.engine.registry), {'order': 'Z-9'}, trigger={'type': 'api'})
    await rig.recorder.flush()
    assert await rig.found('z-9') == [waiting]  # the row that creates it carries the input
    assert await rig.found('waited_seconds') == []  # outputs count once it has ended

    rig.engine.cancel(waiting)
    await rig.engine.wait_idle()
    await rig.recorder.drain()
    assert await rig.found('z-9') == [waiting]  # its whole text replaced the input's row


async def test_query_text_is_never_query_syntax(rig: Rig) -> None:
    literal = await rig.run(ECHO, {'note': 'say "hi" * NEAR(a b) OR 100% of_it \\ end'})
    other = await rig.run(ECHO, {'note': 'say hi NEAR a b AND 1000 ofXit / end'})
    assert await rig.found('"hi" *') == [literal]
    assert await rig.found('NEAR(a b) OR') == [literal]
    assert await rig.found('0% o') == [literal]
    assert await rig.found('f_i') == [literal]
    assert await rig.found('\\ end') == [literal]
    assert await rig.found('say') == sorted([literal, other])
    assert await rig.found('NEAR a') == [other]


async def test_search_combines_with_the_other_filters(rig: Rig) -> None:
    failed = await rig.run(ORDER, {'order': 'C-3'})
    echoed = await rig.run(ECHO, {'order': 'C-3'})
    assert await rig.found('c-3') == sorted([failed, echoed])
    assert await rig.found('c-3', status='failed') == [failed]
    assert await rig.found('c-3', workflow_id='echo') == [echoed]
    assert await rig.found('c-3', trigger='schedule') == []
    assert await rig.found('c-3', until=T0) == []


async def test_a_search_pages_newest_first_with_the_total_on_every_page(rig: Rig) -> None:
    ids = [await rig.run(ECHO, {'order': 'P-5', 'n': n}) for n in range(5)]
    await rig.run(ECHO, {'order': 'Q-6'})
    pages = [await rig.history.list_executions(q='P-5', limit=2, offset=offset) for offset in (0, 2, 4, 6)]
    assert [total for _, total in pages] == [5, 5, 5, 5]  # past the end too
    shown = [record.id for records, _ in pages for record in records]
    assert sorted(shown) == sorted(ids) and len(shown) == 5
    created = [record.created_at for records, _ in pages for record in records]
    assert created == sorted(created, reverse=True)
    assert await rig.history.list_executions(q='nowhere', limit=2, offset=4) == ([], 0)


async def test_deleting_an_execution_deletes_its_text_and_index_entries(rig: Rig, db: Database) -> None:
    kept = await rig.run(ECHO, {'order': 'D-4', 'keep': True})
    gone = await rig.run(ECHO, {'order': 'D-4'})
    assert await rig.found('d-4') == sorted([kept, gone])

    pruner = Pruner(db, delivery_final_statuses=['succeeded'], sleep=_no_sleep)
    assert await pruner.delete_execution(gone) is not None

    assert await rig.found('d-4') == [kept]
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(SEARCH.c.execution_id))).scalars().all()
        assert rows == [kept]
        if db.is_sqlite:  # the FTS5 index lost the entries of the deleted row (the trigger ran)
            hits = text('SELECT count(*) FROM execution_search_fts WHERE execution_search_fts MATCH \'"D-4"\'')
            assert (await conn.execute(hits)).scalar_one() == 1
        else:  # the trigram index exists (pg_trgm is installed with the test server)
            index = text("SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_execution_search_text_trgm'")
            assert (await conn.execute(index)).scalar_one() == 1
        assert (await conn.execute(select(func.count()).select_from(SEARCH))).scalar_one() == 1


async def _no_sleep(_: float) -> None:
    return None
