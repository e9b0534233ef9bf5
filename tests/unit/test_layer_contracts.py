"""The layer contracts of ``make lint`` (``lint-imports``, contracts in pyproject.toml) see every module of flowmon.

import-linter checks the import graph grimp builds, and grimp does not look into a folder without ``__init__.py``:
the imports of every module in such a folder went unchecked (the pages and the widgets, until a page imported what
the contracts forbid and ``make lint`` passed).
"""

from __future__ import annotations

from pathlib import Path

import grimp

PACKAGE = Path(__file__).resolve().parents[2] / 'flowmon'


def modules_on_disk() -> set[str]:
    names = set()
    for path in PACKAGE.rglob('*.py'):
        parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
        names.add('.'.join(parts[:-1] if parts[-1] == '__init__' else parts))
    return names


def test_the_import_graph_the_contracts_check_holds_every_module() -> None:
    graph = grimp.build_graph('flowmon', cache_dir=None)
    unseen = sorted(modules_on_disk() - graph.modules)
    assert unseen == [], f'lint-imports never sees these modules (a folder without __init__.py?): {unseen}'
