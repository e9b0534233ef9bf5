"""Every browser component declares the modules its JavaScript imports, so the page's import map has them on any
page the component is on (not only where another element happened to bring them)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from nicegui import dependencies
from nicegui.element import Element

import flowmon.web

WEB = Path(flowmon.web.__file__).parent
IMPORT = re.compile(r'^import\s[^"\']*["\']([^"\']+)["\'];?$', re.M)


def _component_classes() -> list[type[Element]]:
    for module in pkgutil.walk_packages(flowmon.web.__path__, 'flowmon.web.'):
        importlib.import_module(module.name)
    found, todo = [], [Element]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        component = cls.component
        if cls.__module__.startswith('flowmon.') and component is not None and component.path.is_relative_to(WEB):
            found.append(cls)
    return found


def _imports(path: Path) -> set[str]:
    return {name for name in IMPORT.findall(path.read_text(encoding='utf-8')) if not name.startswith('.')}


def test_each_component_declares_what_its_module_imports() -> None:
    """Also what the shared modules it declares import in turn."""
    classes = _component_classes()
    assert {cls.__name__ for cls in classes} >= {'DagChart', 'EdgeLayer', 'NodeList', 'LogLines', 'TimelineChart'}
    esm_names = {module.name for module in dependencies.esm_modules.values()}
    for cls in classes:
        assert cls.component is not None
        declared = {library.name: library.path for library in cls.exposed_libraries}
        modules = [cls.component.path, *declared.values()]
        for name in set().union(*map(_imports, modules)):
            if name.startswith('fm-'):  # flowmon's own modules: declared as dependencies of the element
                assert name in declared, f'{cls.__name__} ({cls.component.path.name}) imports {name} undeclared'
            else:  # packages NiceGUI ships (ECharts): declared with esm= by the element
                assert name in esm_names, f'{cls.__name__} ({cls.component.path.name}) imports unknown {name}'


def test_shared_modules_are_named_after_their_files() -> None:
    """The import names the components use are the file names of widgets/lib (the rule tests/js/resolve.js follows)."""
    for path in (WEB / 'widgets' / 'lib').glob('*.js'):
        assert path.stem.startswith('fm-'), path
