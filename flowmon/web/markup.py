"""The one escaping rule of the UI: text from a workflow, an execution, an import or a remote server is data.

Such text reaches the page as text: labels, tooltips, :class:`~flowmon.web.widgets.text_block.TextBlock` for
multi-line text, Vue's ``{{ }}`` and ``textContent`` in flowmon's components. Never through ``ui.markdown``,
``ui.code`` (a markdown fence that a ``````` in the text ends), ``innerHTML`` or ``v-html``.

Where HTML has to be built from strings (the scrubber's SVG strip, the output diff, the Gantt's ECharts tooltips),
it is built here: :func:`tag` escapes every text child and attribute value with :func:`escape`
(``html.escape`` with quotes), and only what it returns, a :class:`Markup`, can be put on the page, by
:class:`Html`. ``Markup + str`` is a plain ``str`` again, so an f-string with a raw value in it cannot pass for
markup (mypy says so, and :class:`Html` refuses it at run time). In JavaScript the same rule is ``esc()`` of
``widgets/lib/fm-escape.js`` (``tests/js/escape.test.js`` checks it maps the same characters to the same entities).
``tests/unit/test_markup_sinks.py`` fails when another sink appears anywhere in ``flowmon/web``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from nicegui import ui

VOID_TAGS = frozenset({'br', 'img', 'input', 'hr', 'meta', 'link', 'wbr'})


class Markup(str):
    """HTML in which every value from outside went through :func:`escape`; made only by :func:`tag` and
    :func:`join`, so holding one is the proof."""

    __slots__ = ()


def escape(value: object) -> str:
    """``value`` as HTML text or attribute value: ``& < > " '`` replaced by entities."""
    return html.escape(str(value), quote=True)


def tag(name: str, *children: str | float, **attributes: str | float | None) -> Markup:
    """``<name attr="value">children</name>``. Text children and every attribute value are escaped; children
    that are :class:`Markup` already are kept. Attribute names: ``class_`` is ``class``, ``_`` becomes ``-``
    (``data_kind`` is ``data-kind``); ``None`` leaves an attribute out. ``name`` and the attribute names are
    flowmon's own, never data."""
    attrs = ''.join(
        f' {key.rstrip("_").replace("_", "-")}="{escape(value)}"'
        for key, value in attributes.items()
        if value is not None
    )
    if name in VOID_TAGS:
        return Markup(f'<{name}{attrs}>')
    inner = ''.join(child if isinstance(child, Markup) else escape(child) for child in children)
    return Markup(f'<{name}{attrs}>{inner}</{name}>')


def join(parts: Iterable[Markup]) -> Markup:
    """Markup after markup (plain strings are escaped, so nothing unescaped slips in through a join)."""
    return Markup(''.join(part if isinstance(part, Markup) else escape(part) for part in parts))


def echarts_tooltip(content: Markup) -> str:
    """An ECharts tooltip ``formatter`` string: HTML to ECharts, so it must be markup, and with its braces as
    entities, so that no text in it is read as a template (``{a}``, ``{b}``, ...)."""
    return _checked(content).replace('{', '&#123;').replace('}', '&#125;')


class Html(ui.html):
    """The only HTML element flowmon puts on a page: its content must be :class:`Markup`, also when replaced
    with ``set_content``. Not sanitized again in the browser (it is escaped already, and large edge layers are
    re-sent as a whole)."""

    def __init__(self, content: Markup, *, tag: str = 'div') -> None:
        super().__init__(_checked(content), sanitize=False, tag=tag)

    def _handle_content_change(self, content: str) -> None:
        super()._handle_content_change(_checked(content))


def _checked(content: str) -> Markup:
    if not isinstance(content, Markup):
        raise TypeError('Html takes Markup built by flowmon.web.markup (tag, join), not a plain string')
    return content
