"""What the tables of executions and of deliveries share: one row per item, keyed by its id, updated in place while
the same items are shown in the same order and rebuilt otherwise (a new page, a new item, another order)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, Protocol, TypeVar

from nicegui import ui


class Keyed(Protocol):
    @property
    def id(self) -> str: ...


Item = TypeVar('Item', bound=Keyed)
Row = TypeVar('Row')


class RowTable(Generic[Item, Row]):
    """Rows under a head (hidden while there are none) in ``_body``; :meth:`_empty` draws the empty state."""

    _head: ui.element
    _body: ui.element

    def __init__(self) -> None:
        self._rows: dict[str, Row] = {}
        self._order: list[str] | None = None

    @property
    def ids(self) -> list[str]:
        return list(self._order or [])

    def _show(self, items: Sequence[Item], build: Callable[[Item], Row], update: Callable[[Row, Item], None]) -> bool:
        """Show ``items``: ``update`` each row when the ids are those shown, in the same order; else ``build`` them
        all again (True)."""
        order = [item.id for item in items]
        if order == self._order:
            for item in items:
                update(self._rows[item.id], item)
            return False
        self._order = order
        self._rows.clear()
        self._body.clear()
        self._head.set_visibility(bool(items))
        with self._body:
            if not items:
                self._empty()
            for item in items:
                self._rows[item.id] = build(item)
        return True

    def _empty(self) -> None:
        raise NotImplementedError
