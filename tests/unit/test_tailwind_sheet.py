"""The compiled Tailwind sheet (flowmon.web.tailwind) stands in for NiceGUI's runtime compiler: it must be what that
compiler would make. Whether it is up to date with flowmon's classes is `make lint`'s check; these check it against
the NiceGUI installed: the same Tailwind release (major and minor: a new release may add or change utilities, and
`make tailwind` with the matching @tailwindcss/cli would then be due) and the same dark variant."""

from __future__ import annotations

import re
from pathlib import Path

import nicegui

from flowmon.web.tailwind import SHEET, tailwind_css

NICEGUI = Path(nicegui.__file__).parent
VERSION = re.compile(r'(\d+)\.(\d+)\.\d+')


def test_the_sheet_is_compiled_by_the_tailwind_release_nicegui_ships() -> None:
    runtime = VERSION.search((NICEGUI / 'static' / 'tailwindcss.min.js').read_text(encoding='utf-8')[:200])
    sheet = re.match(r'/\*! tailwindcss v(\d+\.\d+\.\d+)', SHEET.read_text(encoding='utf-8'))
    assert runtime is not None and sheet is not None
    assert sheet.group(1).split('.')[:2] == list(runtime.groups()[:2]), (sheet.group(1), runtime.group(0))


def test_the_dark_variant_is_nicegui_s() -> None:
    template = (NICEGUI / 'templates' / 'index.html').read_text(encoding='utf-8')
    variant = re.search(r'@custom-variant dark [^;]+;', template)
    assert variant is not None
    assert variant.group(0) in (SHEET.parent / 'source.css').read_text(encoding='utf-8')


def test_each_page_gets_the_sheet_and_nicegui_s_headwind_in_the_overrides_layer() -> None:
    css = tailwind_css()
    assert css.startswith(SHEET.read_text(encoding='utf-8'))
    headwind = (NICEGUI / 'static' / 'headwind.css').read_text(encoding='utf-8').strip()
    assert css.endswith(f'@layer overrides {{\n{headwind}\n}}\n')
