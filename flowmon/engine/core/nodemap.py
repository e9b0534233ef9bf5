"""An immutable mapping of node states whose one-entry update copies a small slice, not the whole map.

The reducer makes a new execution state for every event, and nearly every event changes one node. With
a plain dict that means copying every node per event (a 500-node workflow: 500 entries, 100,000 times
to replay 100,000 events). :class:`NodeMap` keeps its values in fixed-size chunks: :meth:`NodeMap.set`
copies one chunk and the short tuple of chunks, whatever the number of nodes. Keys keep the order they
were first added in (the workflow's definition order), like a dict.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, Mapping, ValuesView
from itertools import chain
from typing import Any, TypeVar

_V = TypeVar('_V')

_SHIFT = 5
_MASK = (1 << _SHIFT) - 1  # chunks of 32 values


class NodeMap(Mapping[str, _V]):
    """A persistent ``Mapping[str, V]``: reads like a dict, updated with :meth:`set` into a new map."""

    __slots__ = ('_chunks', '_index')

    _index: dict[str, int]  # key -> position; shared by every map with the same keys, never mutated
    _chunks: tuple[tuple[_V, ...], ...]

    def __init__(self, items: Mapping[str, _V] | Iterable[tuple[str, _V]] = ()) -> None:
        pairs = dict(items)
        values = tuple(pairs.values())
        self._index = {key: position for position, key in enumerate(pairs)}
        self._chunks = tuple(values[start : start + _MASK + 1] for start in range(0, len(values), _MASK + 1))

    def set(self, key: str, value: _V) -> NodeMap[_V]:
        """A new map with ``key`` set to ``value`` (appended at the end when ``key`` is new)."""
        new: NodeMap[_V] = NodeMap.__new__(NodeMap)
        position = self._index.get(key)
        chunks = self._chunks
        if position is None:
            position = len(self._index)
            new._index = {**self._index, key: position}
            if position & _MASK:
                new._chunks = (*chunks[:-1], (*chunks[-1], value))
            else:
                new._chunks = (*chunks, (value,))
            return new
        c, i = position >> _SHIFT, position & _MASK
        chunk = chunks[c]
        new._index = self._index
        new._chunks = (*chunks[:c], (*chunk[:i], value, *chunk[i + 1 :]), *chunks[c + 1 :])
        return new

    def update(self, changes: Mapping[str, _V]) -> NodeMap[_V]:
        """A new map with every entry of ``changes`` set (new keys appended in ``changes``' order)."""
        if len(changes) == 1:
            ((key, value),) = changes.items()
            return self.set(key, value)
        index = self._index
        if any(key not in index for key in changes):
            index = {**index}
            for key in changes:
                index.setdefault(key, len(index))
        chunks: list[Any] = list(self._chunks)  # chunks no change touches stay shared with this map
        copied: set[int] = set()
        for key, value in changes.items():
            position = index[key]
            c, i = position >> _SHIFT, position & _MASK
            if c == len(chunks):
                chunks.append([])
                copied.add(c)
            elif c not in copied:
                chunks[c] = list(chunks[c])
                copied.add(c)
            chunk = chunks[c]
            if i == len(chunk):
                chunk.append(value)
            else:
                chunk[i] = value
        for c in copied:
            chunks[c] = tuple(chunks[c])
        new: NodeMap[_V] = NodeMap.__new__(NodeMap)
        new._index = index
        new._chunks = tuple(chunks)
        return new

    def __getitem__(self, key: str) -> _V:
        position = self._index[key]
        return self._chunks[position >> _SHIFT][position & _MASK]

    def get(self, key: str, default: Any = None) -> Any:
        position = self._index.get(key)
        if position is None:
            return default
        return self._chunks[position >> _SHIFT][position & _MASK]

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)

    def values(self) -> ValuesView[_V]:
        return _Values(self)

    def items(self) -> ItemsView[str, _V]:
        return _Items(self)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, NodeMap) and other._index is self._index:
            return self._chunks == other._chunks
        if isinstance(other, Mapping):  # like dicts: the same keys and values, in any order
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to dicts, which are unhashable

    def __repr__(self) -> str:
        return f'NodeMap({dict(self.items())!r})'

    def _values(self) -> Iterator[_V]:
        return chain.from_iterable(self._chunks)


def changed_keys(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> Iterable[str]:
    """Keys whose value in ``new`` is not the very same object as in ``old`` (or that only one of them has).

    Between two versions of one :class:`NodeMap` this costs one comparison per chunk of 32 plus the changed
    chunks, because a chunk no update touched is shared; other mappings are compared key by key.
    """
    if new is old:
        return ()
    if isinstance(new, NodeMap) and isinstance(old, NodeMap) and new._index is old._index:
        changed: list[str] = []
        keys: list[str] | None = None
        for c, (now, before) in enumerate(zip(new._chunks, old._chunks, strict=True)):
            if now is before:
                continue
            if keys is None:
                keys = list(new._index)
            base = c << _SHIFT
            changed.extend(keys[base + i] for i, (a, b) in enumerate(zip(now, before, strict=True)) if a is not b)
        return changed
    previous = old or {}
    missing = object()
    return [
        key
        for key in {**dict.fromkeys(new), **dict.fromkeys(previous)}
        if new.get(key, missing) is not previous.get(key, missing)
    ]


class _Values(ValuesView[_V]):
    _mapping: NodeMap[_V]

    def __iter__(self) -> Iterator[_V]:
        return self._mapping._values()


class _Items(ItemsView[str, _V]):
    _mapping: NodeMap[_V]

    def __iter__(self) -> Iterator[tuple[str, _V]]:
        return zip(self._mapping._index, self._mapping._values(), strict=True)
