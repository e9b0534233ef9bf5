"""Accessible names for controls repeated on every row of a list (an endpoint's Edit, a secret's Delete, a
workflow's Run): the visible text stays short, and a screen reader hears which row the control acts on.

The name goes into the element's props as a value, never parsed from a props string, so untrusted text in it (an
endpoint's description, a workflow's name) stays text.
"""

from __future__ import annotations

from typing import TypeVar

from nicegui.element import Element

E = TypeVar('E', bound=Element)


def named(element: E, name: str) -> E:
    """``element`` with the accessible name ``name`` (``aria-label``); start it with the visible text, so a voice
    command that says what is shown still finds it."""
    element.props['aria-label'] = name
    return element
