"""The compiled Tailwind sheet (flowmon.web.tailwind) stands in for NiceGUI's runtime compiler. Whether it is up to
date with flowmon's classes is `make lint`'s check; these check that it still fits the NiceGUI installed: the same
major Tailwind release as NiceGUI's compiler (a patch or minor release compiles flowmon's classes alike, and the sheet
is compiled by the @tailwindcss/cli that package-lock.json pins, not by NiceGUI's), NiceGUI's dark variant (the
body's class that ui.dark_mode sets), and the cascade layers NiceGUI's page declares for Tailwind's."""

from __future__ import annotations

import re
from pathlib import Path

import nicegui

from flowmon.web.tailwind import SHEET, tailwind_css

NICEGUI = Path(nicegui.__file__).parent
TEMPLATE = (NICEGUI / 'templates' / 'index.html').read_text(encoding='utf-8')


def test_the_sheet_is_compiled_by_the_major_tailwind_release_nicegui_ships() -> None:
    runtime = re.search(r'"(\d+)\.\d+\.\d+"', (NICEGUI / 'static' / 'tailwindcss.min.js').read_text(encoding='utf-8'))
    sheet = re.match(r'/\*! tailwindcss v(\d+)\.\d+\.\d+', SHEET.read_text(encoding='utf-8'))
    assert runtime is not None and sheet is not None
    assert sheet.group(1) == runtime.group(1), (sheet.group(0), runtime.group(0))


def test_the_dark_variant_is_nicegui_s() -> None:
    variant = re.search(r'@custom-variant dark [^;]+;', TEMPLATE)
    assert variant is not None
    assert variant.group(0) in (SHEET.parent / 'source.css').read_text(encoding='utf-8')


def test_nicegui_declares_the_sheet_s_layers_in_tailwind_s_order_below_the_app_s_overrides() -> None:
    declared = re.search(r'@layer (\w+(?:, \w+)+);', TEMPLATE)  # the statement of the layers' order
    sheet = re.search(r'^@layer (\w+(?:, \w+)+);$', SHEET.read_text(encoding='utf-8'), re.M)
    assert declared is not None and sheet is not None
    order = [name.strip() for name in declared.group(1).split(',')]
    layers = [name.strip() for name in sheet.group(1).split(',')]
    assert [name for name in order if name in layers] == layers  # theme, base, components, utilities
    assert order.index('utilities') < order.index('overrides')  # flowmon's own sheet (web.style.layered) wins


def test_each_page_gets_the_sheet_and_nicegui_s_headwind_in_the_overrides_layer() -> None:
    css = tailwind_css()
    assert css.startswith(SHEET.read_text(encoding='utf-8'))
    headwind = (NICEGUI / 'static' / 'headwind.css').read_text(encoding='utf-8').strip()
    assert css.endswith(f'@layer overrides {{\n{headwind}\n}}\n')
