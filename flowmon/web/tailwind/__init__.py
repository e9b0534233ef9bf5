"""Tailwind's classes as one style sheet compiled ahead of time, in place of Tailwind's runtime compiler.

NiceGUI's pages would load Tailwind's compiler into the browser, which reads the classes of every element the page
adds or changes and compiles their CSS as they come, so a page is styled a moment after its first paint. With
``ui.run(tailwind=False)`` it is left out, and every page gets ``tailwind.css`` instead: the CSS of every Tailwind
class written in flowmon/web and of those Quasar and NiceGUI put on their own elements (``source.css`` says how they
are found), what the runtime compiler would make for them (the same Tailwind release, NiceGUI's dark variant, the
same cascade layers). Measured in the browser tests: about 3% less CPU in all. ``make tailwind`` compiles it again;
``make lint`` fails when it is not up to date.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from nicegui.client import HEADWIND_CONTENT

SHEET = Path(__file__).with_name('tailwind.css')


@cache
def tailwind_css() -> str:
    """The compiled sheet, and the few rules NiceGUI adds beside its runtime compiler (its "headwind": Quasar's
    rotations undone) in the ``overrides`` layer, where NiceGUI puts them."""
    return SHEET.read_text(encoding='utf-8') + f'\n@layer overrides {{\n{HEADWIND_CONTENT}\n}}\n'
