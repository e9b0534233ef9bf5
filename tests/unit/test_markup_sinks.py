"""Keeps the class of markup-injection bugs closed: no new place in flowmon/web may turn text into markup.

Untrusted text (workflow definitions, executions and their events, imports, webhook receivers' answers) reaches
the page as text; HTML built from strings goes through flowmon.web.markup (see its docstring). This scans the
code of flowmon/web (not its comments and docstrings) and fails on:

- ``ui.markdown``, ``ui.code`` (a markdown fence), ``ui.mermaid``, ``ui.restructured_text`` anywhere;
- ``ui.html``, ``sanitize=False`` and ``Markup(...)`` outside flowmon/web/markup.py;
- ``html=True`` / ``text_html=True`` (Quasar renders such messages as HTML) and the ``options-html`` prop;
- in JavaScript (the .js components and JS held in Python strings): ``innerHTML``, ``outerHTML``,
  ``insertAdjacentHTML``, ``v-html``, ``document.write``, ``setHTML``, ``createContextualFragment``;
- more places that hand JavaScript or HTML-returning formatters to the browser (``run_javascript``,
  ``add_body_html``/``add_head_html``, ECharts ``formatter`` keys in Python and in the .js components,
  ``new Function``, dynamic props: a prop named ``:name``, whose value the browser runs, an event's ``js_handler``)
  than the reviewed ones listed below. A new one needs a review against the rule, then an entry here.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / 'flowmon' / 'web'
MARKUP_MODULE = WEB / 'markup.py'

FORBIDDEN_UI = {'markdown', 'code', 'mermaid', 'restructured_text'}
HTML_KEYWORDS = {'html', 'text_html'}
JS_SINKS = re.compile(
    r'innerHTML|outerHTML|insertAdjacentHTML|v-html|document\.write|setHTML|createContextualFragment|options-html'
)
# Reviewed places that send JavaScript or HTML-producing formatters to the browser: file -> how many.
#   run_javascript: the time-zone probe (constant); a code editor's length probe (code_editor.py: the element's id,
#     an int, and nothing else).
#   dynamic prop: a code editor's theme on a page whose mode is not known yet (code_editor.py: the system's mode, a
#     constant); the light/dark toggle's icon there (shell.py: SYSTEM_ICON_JS, the system's mode, a constant).
#   formatter: the DAG tooltip (dag_chart.js, escapes with esc() of lib/fm-escape.js) and card label (ECharts rich
#     text, names made rich-safe), the full label kept while a zoomed-out card shows its short name (the same
#     formatter, handed back), and that short name (shortLabel: cut, then made rich-safe); the Gantt's per-item
#     tooltips, a segment's and the queue lane's (timeline_chart.py, markup.echarts_tooltip), its time axis' label
#     (timeline_chart.js, numbers) and its node names cut in their middle (timeline_chart.js, middleCut: text drawn
#     on the canvas, the axis has no rich styles).
#   js_handler: a saved view's click closing the drawer over the page (saved_views.py: the drawer's id, an int); a
#     click on the light/dark toggle sending the mode the page shows (shell.py: SHOWN_MODE_JS, a constant); the
#     inspector's dialog setting and clearing the body's classes as it shows, hides and leaves the page (inspector.py:
#     four constants, class names only).
#   add_body_html, add_head_html, new Function: none (the browser components are .js files NiceGUI loads).
REVIEWED = {
    'run_javascript': {'__init__.py': 1, 'widgets/code_editor.py': 1},
    'add_body_html': {},
    'add_head_html': {},
    # (duration_trend.py: a constant ECharts template, '{value} ms' or '{value} s', on numeric axis values only)
    'formatter': {
        'widgets/duration_trend.py': 1,
        'widgets/timeline_chart.py': 2,
        'widgets/dag_chart.js': 5,
        'widgets/timeline_chart.js': 2,
    },
    'new Function': {},
    'dynamic prop': {'widgets/code_editor.py': 1, 'shell.py': 1},
    # (workflow_filter.py: a constant '(e) => emit(e.target.value)'; the server cuts what it gets and takes text only)
    'js_handler': {
        'widgets/saved_views.py': 1,
        'shell.py': 1,
        'widgets/workflow_filter.py': 1,
        'widgets/inspector.py': 4,
    },
}
# A prop that NiceGUI hands to the browser as JavaScript (its name starts with a colon): the name alone, or set in a
# props string (':name="..."')
DYNAMIC_PROP = re.compile(r'(?:^|\s):[A-Za-z][\w-]*(?:=|$)')


def _python_files() -> list[Path]:
    return sorted(WEB.rglob('*.py'))


def _name(path: Path) -> str:
    return path.relative_to(WEB).as_posix()


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (their text may name the sinks it warns against)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _strings(tree: ast.AST) -> list[ast.Constant]:
    docs = _docstrings(tree)
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


def _called(node: ast.Call) -> str:
    """``ui.html`` for ``ui.html(...)``, ``run_javascript`` for ``client.run_javascript(...)``, ``Markup`` ..."""
    func = node.func
    if isinstance(func, ast.Attribute):
        owner = func.value.id if isinstance(func.value, ast.Name) else ''
        return f'{owner}.{func.attr}' if owner == 'ui' else func.attr
    return func.id if isinstance(func, ast.Name) else ''


def _js_code(text: str) -> str:
    """A .js file without its comments."""
    text = re.sub(r'/\*.*?\*/', '', text, flags=re.S)
    return '\n'.join(line.split('//', 1)[0] if line.lstrip().startswith('//') else line for line in text.splitlines())


def scan(root: Path) -> list[str]:
    """Every markup sink in the code under ``root`` (a markup.py directly in it may build and render HTML)."""
    problems = []
    escaping_module = root / 'markup.py'
    for path in sorted(root.rglob('*.py')):
        tree = ast.parse(path.read_text(encoding='utf-8'))
        where = path.relative_to(root).as_posix()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            called = _called(node)
            if called.startswith('ui.') and called[3:] in FORBIDDEN_UI:
                problems.append(f'{where}:{node.lineno}: {called}() renders markup; use a label or TextBlock')
            if path != escaping_module and called in ('ui.html', 'Markup'):
                problems.append(f'{where}:{node.lineno}: {called}() outside flowmon/web/markup.py; use markup.Html/tag')
            for keyword in node.keywords:
                value = keyword.value.value if isinstance(keyword.value, ast.Constant) else None
                if keyword.arg == 'sanitize' and value is False and path != escaping_module:
                    problems.append(f'{where}:{node.lineno}: sanitize=False outside flowmon/web/markup.py')
                if keyword.arg in HTML_KEYWORDS and value is not False:
                    problems.append(f'{where}:{node.lineno}: {keyword.arg}= renders the text as HTML')
        for constant in _strings(tree):
            if match := JS_SINKS.search(constant.value):
                problems.append(f'{where}:{constant.lineno}: {match[0]} in a string (JavaScript or props)')
    for path in sorted(root.rglob('*.js')):
        for number, line in enumerate(_js_code(path.read_text(encoding='utf-8')).splitlines(), 1):
            if match := JS_SINKS.search(line):
                where = path.relative_to(root).as_posix()
                problems.append(f'{where}:{number}: {match[0]}; use textContent or Vue text interpolation')
    return problems


def test_no_markup_sink_outside_the_escaping_module() -> None:
    problems = scan(WEB)
    assert not problems, '\n'.join(problems)


def test_places_that_send_javascript_or_html_formatters_are_the_reviewed_ones() -> None:
    found: dict[str, Counter[str]] = {kind: Counter() for kind in REVIEWED}
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding='utf-8'))
        for node in ast.walk(tree):
            called = _called(node).removeprefix('ui.') if isinstance(node, ast.Call) else ''
            if called in ('run_javascript', 'add_body_html', 'add_head_html'):
                found[called][_name(path)] += 1
            if isinstance(node, ast.Call) and any(keyword.arg == 'js_handler' for keyword in node.keywords):
                found['js_handler'][_name(path)] += 1
        for constant in _strings(tree):
            if constant.value in ('formatter', ':formatter'):
                found['formatter'][_name(path)] += 1
            elif DYNAMIC_PROP.search(constant.value):
                found['dynamic prop'][_name(path)] += 1
    for path in sorted(WEB.rglob('*.js')):
        code = _js_code(path.read_text(encoding='utf-8'))
        found['new Function'][_name(path)] += code.count('new Function')
        found['formatter'][_name(path)] += len(re.findall(r'\bformatter\b', code))
    for kind, counts in found.items():
        actual = {name: count for name, count in counts.items() if count}
        assert actual == REVIEWED[kind], (
            f'{kind}: {actual} differs from the reviewed {REVIEWED[kind]}. A new place must keep untrusted text out of '
            'the JavaScript and HTML it sends (flowmon/web/markup.py); review it, then update REVIEWED.'
        )


def test_the_scan_finds_what_it_forbids(tmp_path: Path) -> None:
    """The scanner itself, on a sample of each forbidden form (so a silent scan means a clean tree)."""
    (tmp_path / 'page.py').write_text(
        """\"\"\"Docstrings may name innerHTML and v-html.\"\"\"
from nicegui import ui
ui.code(text)
ui.markdown(text)
ui.html(text, sanitize=False)
ui.notify(text, html=True)
ui.select(options).props('options-html')
Markup(text)
element.client.run_javascript(f'getHtmlElement(1).innerHTML = "{text}"')
""",
        encoding='utf-8',
    )
    (tmp_path / 'markup.py').write_text(
        'from nicegui import ui\nui.html(Markup(x), sanitize=False)\n', encoding='utf-8'
    )
    (tmp_path / 'widget.js').write_text(
        '// el.innerHTML = x\nel.textContent = x;\nchunk.insertAdjacentHTML("beforeend", x);\n'
        'export default { template: `<div v-html="x"></div>` };\n',
        encoding='utf-8',
    )
    found = [problem.split(': ', 1)[0] for problem in scan(tmp_path)]
    assert found == [
        'page.py:3',
        'page.py:4',
        'page.py:5',
        'page.py:5',
        'page.py:6',
        'page.py:8',
        'page.py:7',
        'page.py:9',
        'widget.js:3',
        'widget.js:4',
    ]
