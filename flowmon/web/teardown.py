"""Leave no reference cycles behind when a page goes away.

A full garbage collection stops the one event loop for as long as it takes to walk every tracked object and to
free the unreachable ones. Objects in reference cycles are freed only then: a torn-down page whose objects are
cyclic (about 5,000 of them for the execution page) waits for the next full collection and lengthens it, and
twenty tabs closed or navigated away together made one collection take 150-200 ms. Freed by reference counting
instead, a page costs its own deletion a few milliseconds and nothing later.

Two kinds of cycle are broken here:

- NiceGUI's own: every element's props, style and classes are observable collections that hold a bound method
  of themselves as their change handler, and value elements (selects, inputs) hold their ``on_change`` handlers,
  which usually are methods of the widget object that owns the element. :func:`release_elements` clears those
  handlers once the client is deleted, when no event can reach its elements any more.
- Ours: a child widget that calls back into its owner keeps only a weak reference to the owner's method
  (:func:`weak_callback`), so owner and child do not keep each other alive.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Iterable
from types import MethodType
from typing import Any

from nicegui import Client
from nicegui.element import Element


def weak_callback(callback: Callable[..., Any]) -> Callable[..., Any]:
    """``callback`` without a strong reference to its object, when it is a bound method (else ``callback``).

    Once the object is gone, calling it does nothing and returns None. The object must be kept alive by
    something else while the callback matters: for page widgets that is the page object their owner belongs to.
    """
    if not isinstance(callback, MethodType):
        return callback
    method = weakref.WeakMethod(callback)

    def call(*args: Any, **kwargs: Any) -> Any:
        bound = method()
        return bound(*args, **kwargs) if bound is not None else None

    return call


def release_elements(elements: Iterable[Element]) -> None:
    """Clear the change handlers of deleted elements (see the module's docstring)."""
    for element in elements:
        for holder in (element._props, element._style, element._classes, element):
            handlers = getattr(holder, '_change_handlers', None)
            if isinstance(handlers, list):
                handlers.clear()


def release_on_delete(client: Client) -> None:
    """For ``app.on_delete``: release the client's elements once its deletion has removed them."""
    elements = list(client.elements.values())
    asyncio.get_running_loop().call_soon(release_elements, elements)
