"""Multi-line text shown verbatim: code, JSON, tracebacks, request and response bodies.

A ``<pre>`` whose text is a text node, so nothing in it is ever parsed as markup (``ui.code`` renders through a
markdown fence, which a ``````` in the text ends). Monospace, wrapped at the box's edge, scrolled when taller than
its ``max-height`` (``fm-pre`` in :mod:`flowmon.web.style`, readable in light and dark mode).
"""

from __future__ import annotations

from nicegui.elements.mixins.text_element import TextElement


class TextBlock(TextElement):
    """``TextBlock(text)``; ``.text`` is what it shows (``set_text`` replaces it)."""

    def __init__(self, text: str) -> None:
        super().__init__(tag='pre', text=text)
        self.classes('fm-pre')
