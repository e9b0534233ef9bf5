"""The palette's text is readable: a status written as a word, the badges' white words, the muted grey, the Gantt's
axis text, the JSON viewer's values and the canvas's card and branch texts reach WCAG's 4.5:1 on the surfaces they
are drawn on, in light and dark mode."""

from __future__ import annotations

import re
from pathlib import Path

import nicegui
import pytest

from flowmon.engine.core.state import NODE_STATUSES
from flowmon.web import theme
from flowmon.web.style import CSS
from flowmon.web.widgets import dag_edges
from flowmon.web.widgets.dag_view import CARD_TEXT_STYLES
from flowmon.web.widgets.inspector import JSON_TREE_STYLE
from flowmon.web.widgets.timeline_chart import AXIS_TEXT

LIGHT = {'surface': '#ffffff', 'page': '#f6f7f9', 'hover': '#f3f4f6', 'log': '#f9fafb', 'selected': '#e6e7fc'}
DARK = {'surface': '#1b1e24', 'page': '#121418', 'hover': '#242831', 'log': '#15181d', 'selected': '#252840'}
# Quasar's palette, as the page gets it: the badges' fills and words are named from it
QUASAR = dict(
    re.findall(
        r'\.bg-([a-z-]+-\d+)\{background:(#[0-9a-f]{6})!important\}',
        (Path(nicegui.__file__).parent / 'static' / 'quasar.important.prod.css').read_text(encoding='utf-8'),
    )
)
QUASAR['white'] = '#ffffff'
AA = 4.5


def luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def reads_in_both_modes(what: str, light: str, dark: str) -> None:
    """``light`` reads on every light surface, ``dark`` on every dark one."""
    for name, ground in LIGHT.items():
        assert contrast(light, ground) >= AA, (what, 'light', name, round(contrast(light, ground), 2))
    for name, ground in DARK.items():
        assert contrast(dark, ground) >= AA, (what, 'dark', name, round(contrast(dark, ground), 2))


@pytest.mark.parametrize('status', sorted(theme.STATUS_TEXT_COLORS))
def test_a_status_word_reads_on_every_surface_in_both_modes(status: str) -> None:
    reads_in_both_modes(status, *theme.STATUS_TEXT_COLORS[status])


def test_every_status_has_a_word_colour_and_the_css_defines_it_for_both_modes() -> None:
    assert set(theme.STATUS_TEXT_COLORS) == set(theme.STATUS_COLORS)
    assert theme.status_text_color('pending') == 'var(--fm-st-pending)'
    assert theme.status_text_color('no such status') == 'var(--fm-st-pending)'
    root, dark = re.search(r':root \{([^}]*)\}\s*body\.body--dark \{([^}]*)\}', CSS).groups()  # type: ignore[union-attr]
    for status, (light_color, dark_color) in theme.STATUS_TEXT_COLORS.items():
        assert f'--fm-st-{status}: {light_color};' in root
        assert f'--fm-st-{status}: {dark_color};' in dark


@pytest.mark.parametrize('status', sorted(theme.STATUS_COLORS))
def test_every_badge_carries_its_word(status: str) -> None:
    fill, word = QUASAR[theme.status_quasar(status)], QUASAR[theme.badge_text(status)]
    assert contrast(word, fill) >= AA, (status, fill, word, round(contrast(word, fill), 2))


def test_the_active_badges_pulse_without_fading_their_word() -> None:
    """Running, queued and sending badges pulse; fading the badge would take its word below 4.5:1 (running's blue
    is 4.6:1 at full strength): the pulse is a ring around it."""
    keyframes = re.search(r'@keyframes fm-pulse \{(.*?)\} \}', CSS, re.DOTALL)
    assert keyframes is not None and 'box-shadow' in keyframes[1]
    assert 'opacity' not in keyframes[1] and 'filter' not in keyframes[1]


def test_the_primary_colour_carries_white_words_and_reads_as_text_in_both_modes() -> None:
    """Buttons (white on the primary fill) and links, flat buttons, the active tab (the primary colour as text)."""
    assert contrast('#ffffff', theme.PRIMARY) >= AA
    for name, ground in LIGHT.items():
        assert contrast(theme.PRIMARY, ground) >= AA, (name, round(contrast(theme.PRIMARY, ground), 2))
    for name, ground in DARK.items():
        assert contrast(theme.PRIMARY_TEXT_DARK, ground) >= AA, (
            name,
            round(contrast(theme.PRIMARY_TEXT_DARK, ground), 2),
        )
    assert f':root {{ --fm-primary-text: {theme.PRIMARY}; }}' in CSS
    assert f'body.body--dark {{ --fm-primary-text: {theme.PRIMARY_TEXT_DARK}; }}' in CSS
    for rule in ('.text-primary { color: var(--fm-primary-text)', '.fm-link { color: var(--fm-primary-text)'):
        assert rule in CSS


def test_the_palette_was_read() -> None:
    assert QUASAR['green-9'] == '#2e7d32' and len(QUASAR) > 200


def test_the_muted_grey_and_the_gantt_axis_text_read() -> None:
    assert contrast(AXIS_TEXT, LIGHT['surface']) >= AA
    muted_light = re.search(r':root \{ --fm-border[^}]*--fm-muted: (#[0-9a-f]{6})', CSS)
    muted_dark = re.search(r'body\.body--dark \{ --fm-border[^}]*--fm-muted: (#[0-9a-f]{6})', CSS)
    assert muted_light and muted_dark
    for name, ground in LIGHT.items():
        assert contrast(muted_light[1], ground) >= AA, (name, round(contrast(muted_light[1], ground), 2))
    for name, ground in DARK.items():
        assert contrast(muted_dark[1], ground) >= AA, (name, round(contrast(muted_dark[1], ground), 2))
    # every grey the pages write muted text in takes it (Quasar's grey 7 is 3.6:1 on the dark surface, Tailwind's
    # gray 500 3.5:1; both are below 4.5:1 on a selected row in light mode)
    used = set(re.findall(r'\btext-gr[ae]y-\d+\b', _page_sources()))
    sheet = re.sub(r'/\*.*?\*/', '', CSS, flags=re.DOTALL)
    muted = re.search(r'([^{}]*)\{\s*color: var\(--fm-muted\) !important;', sheet)
    assert muted is not None
    assert used and used <= {cls.strip().lstrip('.') for cls in muted[1].split(',')}, used


def _page_sources() -> str:
    web = Path(theme.__file__).parent
    return '\n'.join(path.read_text(encoding='utf-8') for path in sorted(web.rglob('*.py')))


@pytest.mark.parametrize(
    ('selector', 'status'),
    [
        ('.text-negative', 'failed'),
        ('.text-positive', 'succeeded'),
        ('.text-warning', 'retrying'),
        ('.fm-good', 'succeeded'),
        ('.fm-bad', 'failed'),
        ('.fm-diff-removed', 'failed'),
        ('.fm-diff-added', 'succeeded'),
        ('.fm-nr-slow', 'retrying'),
        ('.fm-conn[data-state=offline] .fm-conn-offline', 'failed'),
    ],
)
def test_words_in_outcome_colours_take_the_status_words_shades(selector: str, status: str) -> None:
    """Errors, warnings, good and bad outcomes, diffs, the slow flag and the offline word are written in the status
    words' colours, which reach 4.5:1 on every surface (the first test): Quasar's own negative, positive and warning
    are 2.6, 2.6 and 1.7:1 on white, and the red and green these rules had 3.3-3.8:1."""
    rule = re.search(re.escape(selector) + r' \{([^}]*)\}', CSS)
    assert rule is not None, selector
    assert re.search(r'(^|[ ;])color: var\(--fm-st-' + status + r'\)', rule[1]), rule[1]


def test_the_json_diff_writes_its_lines_and_legend_in_the_status_words_shades() -> None:
    """The comparison's JSON diff is HTML with inline colours: removed lines in the failed words' red, added ones in
    the succeeded words' green (the red and green it had were 3.8:1 and 3.3:1 on white), the legend too."""
    from flowmon.web.widgets import json_diff

    assert json_diff._STYLE['removed'][1].endswith('color: var(--fm-st-failed)')
    assert json_diff._STYLE['added'][1].endswith('color: var(--fm-st-succeeded)')
    source = Path(json_diff.__file__).read_text(encoding='utf-8')
    assert "style='color:var(--fm-st-failed)'" in source and "style='color:var(--fm-st-succeeded)'" in source
    assert not re.search(r'color: ?#[0-9a-fA-F]{3,6}', source)


@pytest.mark.parametrize('kind', sorted(theme.JSON_VALUE_COLORS))
def test_a_json_value_reads_on_every_surface_in_both_modes(kind: str) -> None:
    reads_in_both_modes(kind, *theme.JSON_VALUE_COLORS[kind])


def test_the_json_viewer_takes_every_colour_from_the_modes_variables() -> None:
    """The inspector's trees: each kind of value in its variable, defined for both modes; no fixed colour left."""
    assert set(theme.JSON_VALUE_COLORS) == {'string', 'number', 'boolean', 'null'}  # every kind the viewer colours
    for kind in theme.JSON_VALUE_COLORS:
        assert f'--jse-value-color-{kind}: var(--fm-json-{kind});' in JSON_TREE_STYLE
    assert re.findall(r'#[0-9a-fA-F]{3,8}\b|rgb', JSON_TREE_STYLE) == []
    # a collapsed list's count ("2 items") is muted text on the hovered surface (both read: see the muted grey's test),
    # as is the "show more" of a long list; URLs (strings the viewer makes links of) are in the primary text colour
    assert '--jse-tag-color: var(--fm-muted); --jse-tag-background: var(--fm-hover);' in JSON_TREE_STYLE
    assert '--jse-collapsed-items-link-color: var(--fm-muted);' in JSON_TREE_STYLE
    assert '--jse-value-color-url: var(--fm-primary-text);' in JSON_TREE_STYLE
    assert '--jse-a-color: var(--fm-primary-text);' in JSON_TREE_STYLE
    root, dark = re.search(r':root \{ (--fm-json-[^}]*)\}\s*body\.body--dark \{ ([^}]*)\}', CSS).groups()  # type: ignore[union-attr]
    for kind, (light_color, dark_color) in theme.JSON_VALUE_COLORS.items():
        assert f'--fm-json-{kind}: {light_color};' in root
        assert f'--fm-json-{kind}: {dark_color};' in dark


@pytest.mark.parametrize('status', sorted(NODE_STATUSES))
@pytest.mark.parametrize('line', sorted(CARD_TEXT_STYLES))
def test_a_cards_name_and_card_line_read_on_its_status_fill(line: str, status: str) -> None:
    """A node's card is filled with its status colour in both modes; its text is drawn at its full strength."""
    style = CARD_TEXT_STYLES[line]
    assert style.get('opacity', 1) == 1 and style.get('textBorderWidth', 0) == 0, style
    fill = theme.status_color(status)
    assert contrast(style['color'], fill) >= AA, (line, status, round(contrast(style['color'], fill), 2))


def test_a_branch_label_on_the_canvas_takes_the_muted_grey() -> None:
    rule = re.search(r'\.fm-branch \{[^}]*\}', dag_edges.CSS)
    assert rule is not None
    assert f'color: var(--fm-muted, {dag_edges.BRANCH_TEXT});' in rule[0]
    reads_in_both_modes("branch label without the pages' variables", dag_edges.BRANCH_TEXT, '#ffffff')
