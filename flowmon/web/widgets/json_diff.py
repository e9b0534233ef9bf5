"""Two JSON values as a readable line diff: pretty-printed, compared line by line, changes coloured; as one escaped
HTML block (:func:`json_diff`, for node outputs) or as text nodes only (:func:`text_diff`; :func:`definition_diff`).

Good enough for node outputs (kilobytes, not megabytes): ``difflib`` over ``json.dumps(indent=2,
sort_keys=True)``, so key order never shows up as a difference. A definition's diff (``in_order``) keeps the keys in
the order of the newer side, the document a person wrote, and puts the older side's keys in that order too: moving a
key is no difference there either. Long unchanged stretches are folded.
"""

from __future__ import annotations

import difflib
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from nicegui import ui
from nicegui.elements.mixins.text_element import TextElement

from flowmon.application.workflows import ordered_like
from flowmon.web.markup import Html, join, tag

MAX_LINES = 2000  # lines of pretty JSON per side that are compared; the rest is cut off (and said so)
CONTEXT = 3  # unchanged lines kept around each change

LineKind = Literal['same', 'removed', 'added', 'fold']


@dataclass(frozen=True, slots=True)
class DiffLine:
    kind: LineKind
    text: str


def pretty(value: Any, *, sort_keys: bool = True) -> list[str]:
    if value is None:
        return []
    try:
        text = json.dumps(value, indent=2, sort_keys=sort_keys, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text.splitlines()


def diff_lines(a: Any, b: Any, context: int = CONTEXT, *, in_order: bool = False) -> list[DiffLine]:
    """``a`` → ``b`` as lines: removed (only in a), added (only in b), same, and folds of unchanged lines. Keys are
    sorted, or with ``in_order`` in ``b``'s order (``a``'s following it)."""
    if in_order:
        left, right = pretty(ordered_like(a, b), sort_keys=False), pretty(b, sort_keys=False)
    else:
        left, right = pretty(a), pretty(b)
    left, right = left[:MAX_LINES], right[:MAX_LINES]
    lines: list[DiffLine] = []
    for group in difflib.SequenceMatcher(a=left, b=right, autojunk=False).get_grouped_opcodes(context):
        if lines:
            lines.append(DiffLine('fold', '⋯'))
        for op, i1, i2, j1, j2 in group:
            if op == 'equal':
                lines.extend(DiffLine('same', line) for line in left[i1:i2])
                continue
            lines.extend(DiffLine('removed', line) for line in left[i1:i2])
            lines.extend(DiffLine('added', line) for line in right[j1:j2])
    if not lines and left:  # identical: show it once
        lines = [DiffLine('same', line) for line in left]
    return lines


_STYLE = {
    'same': ('  ', ''),
    'removed': ('- ', 'background: rgba(239,68,68,.16); color: var(--fm-st-failed)'),
    'added': ('+ ', 'background: rgba(34,197,94,.16); color: var(--fm-st-succeeded)'),
    'fold': ('  ', 'opacity: .5'),
}


def json_diff(a: Any, b: Any, *, a_label: str = 'A', b_label: str = 'B') -> Html:
    """The diff as one HTML block (one element, however long); the outputs' lines are escaped text in it."""
    rows = []
    for line in diff_lines(a, b):
        sign, style = _STYLE[line.kind]
        rows.append(tag('div', sign + line.text, style=style or None, data_kind=line.kind))
    if not rows:
        rows.append(tag('div', 'Neither run has an output for this node.', style='opacity:.6'))
    legend = tag(
        'div',
        tag('span', f'- only in {a_label}', style='color:var(--fm-st-failed)'),
        '   ',
        tag('span', f'+ only in {b_label}', style='color:var(--fm-st-succeeded)'),
        style='margin-bottom:6px',
    )
    return (
        Html(join([legend, *rows]))
        .classes('w-full font-mono text-xs whitespace-pre-wrap overflow-auto rounded-lg border p-3')
        .style('max-height: 60vh; border-color: var(--fm-border); overflow-wrap: anywhere')
        .props('data-testid=json-diff')
    )


MAX_BLOCKS = 400  # runs of same-kind lines shown as text blocks; a longer diff is cut off (and says so)


def text_diff(a: Any, b: Any, *, a_label: str = 'A', b_label: str = 'B') -> ui.column:
    """The diff as text only: each run of same-kind lines is one ``<pre>`` text node (``- ``, ``+ `` or two spaces
    before each line), coloured by its class, so nothing in the values is ever parsed as markup."""
    return _text_diff(a, b, a_label, b_label, in_order=False)


def definition_diff(a: Any, b: Any, *, a_label: str, b_label: str) -> ui.column:
    """:func:`text_diff` of two definitions, in ``b``'s key order (the document's): a key that only moved is no
    difference, and a new definition reads as it was written."""
    return _text_diff(a, b, a_label, b_label, in_order=True)


def _text_diff(a: Any, b: Any, a_label: str, b_label: str, *, in_order: bool) -> ui.column:
    with ui.column().classes('w-full gap-0 fm-diff').props('data-testid=text-diff') as box:
        with ui.row().classes('gap-4 text-xs fm-diff-legend'):
            ui.label(f'- only in {a_label}').classes('fm-diff-removed')
            ui.label(f'+ only in {b_label}').classes('fm-diff-added')
        runs = list(_runs(diff_lines(a, b, in_order=in_order)))
        for kind, text in runs[:MAX_BLOCKS]:
            TextElement(tag='pre', text=text).classes(f'fm-diff-block fm-diff-{kind}').props(f'data-kind={kind}')
        if len(runs) > MAX_BLOCKS:
            ui.label(f'… {len(runs) - MAX_BLOCKS} more changed stretches not shown').classes('text-xs text-grey-7')
    return box


def _runs(lines: list[DiffLine]) -> Iterator[tuple[LineKind, str]]:
    """Consecutive lines of one kind, joined with their ``-``/``+`` signs."""
    for kind, group in itertools.groupby(lines, key=lambda line: line.kind):
        sign = _STYLE[kind][0]
        yield kind, '\n'.join(sign + line.text for line in group)
