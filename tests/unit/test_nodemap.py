"""NodeMap: the reducer's persistent mapping of node states behaves like an immutable dict."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flowmon.engine.core.nodemap import NodeMap, changed_keys


def test_reads_like_a_dict_in_insertion_order() -> None:
    nodes = NodeMap([('b', 2), ('a', 1), ('c', 3)])
    assert list(nodes) == ['b', 'a', 'c']
    assert list(nodes.values()) == [2, 1, 3]
    assert list(nodes.items()) == [('b', 2), ('a', 1), ('c', 3)]
    assert (nodes['a'], nodes.get('zz'), nodes.get('zz', 0), len(nodes), 'a' in nodes, 'zz' in nodes) == (
        1,
        None,
        0,
        3,
        True,
        False,
    )
    assert dict(nodes) == {'b': 2, 'a': 1, 'c': 3}
    assert nodes == {'a': 1, 'b': 2, 'c': 3}  # equal to a dict with the same items, in any order
    assert nodes != {'a': 1, 'b': 2}
    assert 2 in nodes.values() and ('a', 1) in nodes.items()
    assert repr(NodeMap([('a', 1)])) == "NodeMap({'a': 1})"


def test_set_and_update_leave_the_original_alone() -> None:
    before = NodeMap((f'n{i}', i) for i in range(70))  # three chunks
    after = before.set('n40', -40)
    assert before['n40'] == 40 and after['n40'] == -40
    assert list(after) == list(before)
    grown = after.set('new', 'x')
    assert list(grown)[-1] == 'new' and 'new' not in after and len(grown) == 71
    many = before.update({'n0': 'first', 'n69': 'last', 'extra': 1, 'more': 2})
    assert (many['n0'], many['n69'], many['extra'], many['more']) == ('first', 'last', 1, 2)
    assert list(many)[-2:] == ['extra', 'more']
    assert before == {f'n{i}': i for i in range(70)}


def test_not_hashable_like_a_dict() -> None:
    try:
        hash(NodeMap([('a', 1)]))
    except TypeError:
        return
    raise AssertionError('NodeMap must not be hashable')


@settings(max_examples=200, deadline=None)
@given(
    initial=st.dictionaries(st.text(max_size=3), st.integers(), max_size=80),
    changes=st.lists(
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=5),
        max_size=20,
    ),
)
def test_behaves_like_copying_a_dict(initial: dict[str, int], changes: list[dict[str, int]]) -> None:
    expected = dict(initial)
    nodes = NodeMap(initial)
    for change in changes:
        expected = {**expected, **change}
        nodes = nodes.update(change) if len(change) != 1 else nodes.set(*next(iter(change.items())))
        assert list(nodes.items()) == list(expected.items())
        assert nodes == expected and NodeMap(expected) == nodes


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(min_value=0, max_value=120),
    steps=st.lists(st.lists(st.integers(min_value=0, max_value=119), max_size=6), max_size=10),
)
def test_changed_keys_names_exactly_the_entries_replaced(size: int, steps: list[list[int]]) -> None:
    """Values are fresh objects, so "changed" means replaced, as the reducer replaces a node's state."""
    keys = [f'n{i}' for i in range(size)]
    nodes: NodeMap[object] = NodeMap((key, object()) for key in keys)
    for step in steps:
        replaced = {keys[i]: object() for i in step if i < size}
        newer = nodes.update(replaced) if replaced else nodes
        assert sorted(changed_keys(newer, nodes)) == sorted(replaced)
        assert sorted(changed_keys(dict(newer.items()), dict(nodes.items()))) == sorted(replaced)  # plain dicts
        nodes = newer


def test_changed_keys_against_nothing_or_fewer_keys_names_every_difference() -> None:
    a, b = object(), object()
    assert sorted(changed_keys(NodeMap([('x', a), ('y', b)]), None)) == ['x', 'y']
    assert sorted(changed_keys({}, {'x': a})) == ['x']  # a node that went back to having no state
    assert list(changed_keys(NodeMap([('x', a)]), NodeMap([('x', a), ('y', b)]))) == ['y']
    same = NodeMap([('x', a)])
    assert list(changed_keys(same, same)) == []
