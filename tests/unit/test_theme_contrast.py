"""The palette's text is readable: a status written as a word, the badges' white words, the muted grey and the
Gantt's axis text reach WCAG's 4.5:1 on the surfaces they are drawn on, in light and in dark mode."""

from __future__ import annotations

import re

import pytest

from flowmon.web import theme
from flowmon.web.style import CSS
from flowmon.web.widgets.timeline_chart import AXIS_TEXT

LIGHT = {'surface': '#ffffff', 'page': '#f6f7f9', 'hover': '#f3f4f6', 'log': '#f9fafb', 'selected': '#e6e7fc'}
DARK = {'surface': '#1b1e24', 'page': '#121418', 'hover': '#242831', 'log': '#15181d', 'selected': '#252840'}
QUASAR = {'grey-7': '#757575', 'blue-grey-7': '#546e7a'}  # the badges' greys (Quasar's palette)
AA = 4.5


def luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize('status', sorted(theme.STATUS_TEXT_COLORS))
def test_a_status_word_reads_on_every_surface_in_both_modes(status: str) -> None:
    light, dark = theme.STATUS_TEXT_COLORS[status]
    for name, ground in LIGHT.items():
        assert contrast(light, ground) >= AA, (status, 'light', name, round(contrast(light, ground), 2))
    for name, ground in DARK.items():
        assert contrast(dark, ground) >= AA, (status, 'dark', name, round(contrast(dark, ground), 2))


def test_every_status_has_a_word_colour_and_the_css_defines_it_for_both_modes() -> None:
    assert set(theme.STATUS_TEXT_COLORS) == set(theme.STATUS_COLORS)
    assert theme.status_text_color('pending') == 'var(--fm-st-pending)'
    assert theme.status_text_color('no such status') == 'var(--fm-st-pending)'
    root, dark = re.search(r':root \{([^}]*)\}\s*body\.body--dark \{([^}]*)\}', CSS).groups()  # type: ignore[union-attr]
    for status, (light_color, dark_color) in theme.STATUS_TEXT_COLORS.items():
        assert f'--fm-st-{status}: {light_color};' in root
        assert f'--fm-st-{status}: {dark_color};' in dark


@pytest.mark.parametrize('status', ['pending', 'skipped'])
def test_the_grey_badges_carry_their_white_word(status: str) -> None:
    fill = QUASAR[theme.status_quasar(status)]
    assert contrast('#ffffff', fill) >= AA, (status, fill)


def test_the_muted_grey_and_the_gantt_axis_text_read() -> None:
    assert contrast(AXIS_TEXT, LIGHT['surface']) >= AA
    muted_light = re.search(r':root \{ --fm-border[^}]*--fm-muted: (#[0-9a-f]{6})', CSS)
    muted_dark = re.search(r'body\.body--dark \{ --fm-border[^}]*--fm-muted: (#[0-9a-f]{6})', CSS)
    assert muted_light and muted_dark
    assert contrast(muted_light[1], LIGHT['surface']) >= AA
    assert contrast(muted_dark[1], DARK['surface']) >= AA
