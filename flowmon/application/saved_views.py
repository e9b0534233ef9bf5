"""Saved views: a named filter and search of the execution list, kept server-side and listed on every page.

A view is its name and the list's filters as ``/executions`` takes them in its URL (``workflow_id``, ``status``,
``trigger``, ``origin``, ``q``, ``since``, ``until``), so opening one is opening that URL. Names and filters are
untrusted text held to budgets: a name is 1-:data:`MAX_NAME_CHARS` characters without control characters (or a
lone surrogate, which no database stores), a filter holds only those keys with bounded string values (each checked
like the list checks it), and there are at most :data:`MAX_VIEWS` views.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from flowmon.engine.core.events import utcnow
from flowmon.engine.core.inputs import located, unknown_key
from flowmon.engine.core.payload_values import MAX_KEY_CHARS_SHOWN, bounded_text, path_text, unstorable
from flowmon.engine.core.provenance import TRIGGER_TYPES
from flowmon.engine.core.state import EXECUTION_STATUSES
from flowmon.store.saved_views import Saved, SavedViewStore, StoredView

from .errors import Conflict, Invalid, NotFound
from .history import search_query
from .origins import origin
from .time_bounds import time_bound

MAX_NAME_CHARS = 64
MAX_VIEWS = 100
MAX_ID_CHARS = 200  # a workflow id in a filter
FILTER_KEYS = ('workflow_id', 'status', 'trigger', 'origin', 'q', 'since', 'until')


SavedView = StoredView


def check_name(name: str) -> str:
    """``name`` without surrounding white space; raises Invalid when it is empty, too long, holds a control
    character or a lone surrogate, or has a "." or ".." segment between slashes."""
    text = name.strip()
    if not text:
        raise Invalid('name must not be empty', at='name')
    if len(text) > MAX_NAME_CHARS:
        raise Invalid(f'name must be at most {MAX_NAME_CHARS} characters (got {len(text)})', at='name')
    if any(ord(char) < 32 or 127 <= ord(char) < 160 for char in text):
        raise Invalid('name must not contain control characters', at='name')
    held = unstorable(text)  # a lone surrogate, which no database stores (a page's field can send one)
    if held is not None:
        raise Invalid(f'name must not contain {held}', at='name')
    if any(part in ('.', '..') for part in text.split('/')):  # DELETE /api/views/{name}: clients would drop it
        raise Invalid('name must not have "." or ".." between slashes (a URL would not keep it)', at='name')
    return text


def check_filter(view_filter: Mapping[str, Any]) -> dict[str, str]:
    """The filter with empty values dropped; raises Invalid naming the first key or value that is not acceptable."""
    unknown = unknown_filter_key(view_filter)
    if unknown is not None:
        shown = bounded_text(str(unknown), MAX_KEY_CHARS_SHOWN)
        raise Invalid(f'{path_text(("filter", shown))}: {unknown_key(shown, FILTER_KEYS)}', at=('filter', unknown))
    checked: dict[str, str] = {}
    for key in FILTER_KEYS:
        value = view_filter.get(key)
        if value is None or value == '':
            continue
        try:
            if not isinstance(value, str):
                raise Invalid(f'filter.{key} must be a string')
            checked[key] = _checked_value(key, value)
        except Invalid as exc:  # about this value of the filter
            located(exc, 'filter', key)
            raise
    return checked


def unknown_filter_key(view_filter: Mapping[Any, Any]) -> Any:
    """The first key of ``view_filter`` that is not one of :data:`FILTER_KEYS`, or None."""
    return next((key for key in view_filter if key not in FILTER_KEYS), None)


def _checked_value(key: str, value: str) -> str:
    if key == 'q':
        return search_query(value)
    text = value.strip()
    if key == 'workflow_id' and not 0 < len(text) <= MAX_ID_CHARS:
        raise Invalid(f'filter.workflow_id must be 1-{MAX_ID_CHARS} characters')
    if key == 'status' and text not in EXECUTION_STATUSES:
        raise Invalid(f'filter.status must be one of {", ".join(EXECUTION_STATUSES)}, got {text[:40]!r}')
    if key == 'trigger' and text not in TRIGGER_TYPES:
        raise Invalid(f'filter.trigger must be one of {", ".join(TRIGGER_TYPES)}, got {text[:40]!r}')
    if key == 'origin':
        origin(text, label='filter.origin')
    if key in ('since', 'until'):  # kept as written: a relative window is resolved each time the view is opened
        time_bound(text, utcnow(), bound='since' if key == 'since' else 'until', label=f'filter.{key}')
    return text


class SavedViews:
    """List, save (create or replace) and delete saved views."""

    def __init__(self, *, store: SavedViewStore, clock: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._clock = clock
        self._lock = asyncio.Lock()  # a save and its read back are one step here (the store counts in every process)
        self.version = 0  # moves on every change: the sidebar re-reads the list only when it moved
        # called after a change made here (other processes sharing the database then move their version too)
        self.announce: Callable[[], None] = lambda: None

    async def all(self) -> list[SavedView]:
        """Every view, by name."""
        return await self._store.all()

    async def save(self, name: str, view_filter: Mapping[str, Any]) -> tuple[SavedView, bool]:
        """Create or replace the view ``name``; returns it and whether it was created. Raises Invalid (the name or
        the filter) or Conflict (already :data:`MAX_VIEWS` views)."""
        name = check_name(name)
        checked = check_filter(view_filter)
        async with self._lock:
            saved = await self._store.put(name, checked, self._clock(), limit=MAX_VIEWS)
            if saved is Saved.FULL:
                raise Conflict(f'there are already {MAX_VIEWS} saved views; delete one first')
            self._changed()
            stored = await self._store.get(name)
        if stored is None:  # written just now, under the lock that deletion takes too
            raise NotFound(f'saved view {name!r} not found')
        return stored, saved is Saved.CREATED

    async def delete(self, name: str) -> None:
        """Delete the view ``name``; raises NotFound."""
        async with self._lock:
            if not await self._store.delete(name):
                raise NotFound(f'saved view {name[:MAX_NAME_CHARS]!r} not found')
            self._changed()

    def _changed(self) -> None:
        self.version += 1
        self.announce()

    async def changed_elsewhere(self, _key: str | None = None) -> None:
        """Another process saved or deleted a view: the sidebars here read the list again."""
        self.version += 1


__all__ = [
    'FILTER_KEYS',
    'MAX_NAME_CHARS',
    'MAX_VIEWS',
    'SavedView',
    'SavedViews',
    'check_filter',
    'check_name',
    'unknown_filter_key',
]
