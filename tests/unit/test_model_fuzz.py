"""Any change to a valid workflow definition either validates or is refused with a WorkflowError naming the
problem: never another exception (an API caller gets 422, never 500; the editor says what is wrong). Hypothesis
replaces a part of each shipped workflow with any JSON value, a secret reference included."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowmon.engine.documents import WorkflowError, load_document
from flowmon.engine.model import parse_workflow
from flowmon.engine.nodes import default_registry

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / 'data' / 'workflows').iterdir())
REGISTRY = default_registry()

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(['', '*/5 * * * *', 'a.[', 'https://x.example', 'GET', 'fetch', '$secret', 'info', '1e9']),
)
references = st.builds(
    lambda name: {'$secret': name}, st.one_of(st.sampled_from(['api_key', 'x']), st.text(max_size=8), scalars)
)
values = st.recursive(
    st.one_of(scalars, references),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)


def places(document: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``document`` a value could be replaced at (and a key added to, for an object)."""
    found = [path]
    if isinstance(document, dict):
        for key, value in document.items():
            found += places(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += places(value, (*path, index))
    return found


def replaced(document: Any, path: tuple[Any, ...], value: Any, add: str | None) -> Any:
    if not path:
        return value
    changed = copy.deepcopy(document)
    parent = changed
    for part in path[:-1]:
        parent = parent[part]
    if add is not None and isinstance(parent[path[-1]], dict):
        parent[path[-1]][add] = value
    else:
        parent[path[-1]] = value
    return changed


@pytest.mark.parametrize('path', EXAMPLES, ids=lambda path: path.name)
@settings(
    max_examples=int(os.environ.get('FUZZ_EXAMPLES', '150')),
    deadline=None,
    derandomize='FUZZ_EXAMPLES' not in os.environ,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_changed_definition_validates_or_is_refused_naming_the_problem(path: Path, data: st.DataObject) -> None:
    document = load_document(path.read_bytes(), yaml_allowed=path.suffix in ('.yaml', '.yml'))
    everywhere = places(document)
    configs = [path for path in everywhere if 'config' in path] or everywhere  # where most checks are: drawn often
    where = data.draw(st.one_of(st.sampled_from(configs), st.sampled_from(everywhere)), label='where')
    add = data.draw(st.one_of(st.none(), st.none(), st.text(max_size=10)), label='add key')
    changed = replaced(document, where, data.draw(st.one_of(references, values), label='value'), add)
    try:
        parse_workflow(changed, REGISTRY)
    except WorkflowError as exc:
        assert str(exc).strip(), f'an empty refusal for {json.dumps(changed, default=str)[:300]}'
