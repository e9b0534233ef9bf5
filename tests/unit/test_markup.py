"""The one escaping rule (flowmon.web.markup) and the widgets that build HTML or JavaScript from data with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flowmon.engine.core.events import Event, EventType
from flowmon.engine.core.replay_index import Span
from flowmon.web.markup import Markup, echarts_tooltip, escape, join, tag
from flowmon.web.timeline_marks import Tick
from flowmon.web.widgets.event_log import line_cells
from flowmon.web.widgets.json_diff import diff_lines
from flowmon.web.widgets.timeline_chart import _item
from flowmon.web.widgets.timeline_scrubber import _strip

MARKER = '</svg><img src=x onerror="alert(1)"><b id=\'fm-marker-b\'>bold</b>\n```\n<form>'


def test_escape_replaces_every_character_that_starts_or_ends_markup() -> None:
    assert escape('<a href="x" title=\'y\'>&</a>') == '&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;&amp;&lt;/a&gt;'
    assert escape(1.5) == '1.5'


def test_tag_escapes_text_children_and_attribute_values_but_keeps_markup_children() -> None:
    inner = tag('b', MARKER)
    built = tag('div', inner, ' & ', class_='row', data_kind='"same"', style=None)
    assert isinstance(built, Markup)
    assert built == (
        '<div class="row" data-kind="&quot;same&quot;"><b>&lt;/svg&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt;'
        '&lt;b id=&#x27;fm-marker-b&#x27;&gt;bold&lt;/b&gt;\n```\n&lt;form&gt;</b> &amp; </div>'
    )
    assert tag('br') == '<br>'


def test_only_markup_stays_markup() -> None:
    built = join([tag('i', 'a'), MARKER])  # type: ignore[list-item]  # a plain string is escaped, not trusted
    assert isinstance(built, Markup) and '<img' not in built and built.startswith('<i>a</i>&lt;/svg&gt;')
    assert not isinstance(tag('i', 'a') + '<img>', Markup)  # concatenation gives a plain str
    assert not isinstance(f'{tag("i", "a")}', Markup)


def test_the_echarts_tooltip_takes_only_markup_and_hides_template_braces() -> None:
    assert echarts_tooltip(tag('b', '{b} and {@value}')) == '<b>&#123;b&#125; and &#123;@value&#125;</b>'
    with pytest.raises(TypeError):
        echarts_tooltip('<b>raw</b>')  # type: ignore[arg-type]


def test_the_scrubber_strip_escapes_an_imported_node_id() -> None:
    ticks = [Tick(position=9, elapsed_s=1.0, type=EventType.EXECUTION_FAILED, node_id=MARKER, flag='failure')]
    strip = _strip(ticks, 2.0)
    assert isinstance(strip, Markup)
    assert '<img' not in strip and '</svg><' not in strip.removesuffix('</svg>')
    assert strip.count('<svg') == 1 and strip.endswith('</line></svg>')
    assert '<title>execution.failed · &lt;/svg&gt;&lt;img src=x onerror=&quot;alert(1)&quot;&gt;' in strip


def test_the_output_diff_keeps_markup_in_outputs_as_text() -> None:
    lines = diff_lines({'text': 'plain'}, {'text': MARKER})
    assert any(MARKER.replace('"', '\\"').replace('\n', '\\n') in line.text for line in lines)


def test_gantt_tooltips_escape_node_ids_and_errors() -> None:
    span = Span(node_id='boom', attempt=1, start=3, end=4, start_s=0.0, end_s=0.01, outcome='failed', error=MARKER)
    formatter = _item(0, span, 1.0)['tooltip']['formatter']
    assert '<img' not in formatter and '<form' not in formatter and '&lt;img src=x' in formatter
    assert formatter.startswith('<b>boom · attempt 1</b><br>')


def test_event_log_lines_are_cells_of_text() -> None:
    """The log sends cells, which the browser sets as textContent: nothing in them is HTML, nothing escaped twice."""
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    event = Event(
        execution_id='e1',
        seq=7,
        ts=origin + timedelta(seconds=1.5),
        type=EventType.NODE_FAILED,
        node_id='boom',
        data={'error': MARKER},
    )
    assert line_cells(event, origin) == ('+1.500s', '#7', 'node.failed', 'failed', 'boom', MARKER)
