"""``python``: call a Python function, ``{"callable": "package.module:function"}``, on a worker.

The function is called with the node's input (``{"input": ..., "<upstream id>": <its output>, ...}``), may be a
plain or an ``async`` function, and returns the node's output (JSON-compatible, held to the payload budget like
any output). It runs on a worker (``runs_on = 'worker'``): in flowmon's local process pool or on a Dask worker,
never on the event loop, so a function that computes for seconds does not stall the pages.

Only modules the operator names may be called: ``FLOWMON_PYTHON_MODULES`` lists module prefixes (``reports``
allows ``reports`` and ``reports.monthly``, not ``reports_old``), handed in by the composition root through
:class:`~flowmon.engine.nodes.base.NodeServices` (the engine reads no settings). A config naming any other module
is refused when the workflow is saved, naming the module and the variable.

When a module is imported: importing runs the module's code, so a module is imported only once it has passed the
allow-list. Validation imports it (in the flowmon process, once: Python caches modules), and refuses a config
whose module cannot be imported or has no such function, so a workflow that could never run is not saved. The
module must therefore be installed where flowmon runs as well as on the workers. The worker imports it again
(checking the allow-list again) when the node runs.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from .base import NodeConfig, NodeContext, NodeError, NodeServices, NodeType

ALLOW_LIST_VARIABLE = 'FLOWMON_PYTHON_MODULES'
_CONTEXT_KEY = 'python_modules'  # the allow-list, handed to the config's validator as pydantic context
_DOTTED = r'[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*'
CALLABLE_PATTERN = re.compile(rf'^({_DOTTED}):([A-Za-z_][A-Za-z0-9_]*)$')
MODULE_PATTERN = re.compile(rf'^{_DOTTED}$')


def module_allowed(module: str, prefixes: Iterable[str]) -> bool:
    """Whether ``module`` is one of ``prefixes`` or inside one of them (a prefix is a whole dotted name)."""
    return any(module == prefix or module.startswith(prefix + '.') for prefix in prefixes)


def resolve_callable(reference: str, prefixes: Iterable[str]) -> Callable[..., Any]:
    """The function ``reference`` (``module:function``) names, imported once the allow-list admits its module.

    Raises ``ValueError`` naming what is wrong: the form, a module outside the allow-list, an import that failed,
    no such function.
    """
    match = CALLABLE_PATTERN.fullmatch(reference)
    if match is None:
        raise ValueError(f'{reference!r} is not "package.module:function"')
    module_name, function_name = match.groups()
    prefixes = tuple(prefixes)
    if not module_allowed(module_name, prefixes):
        allowed = ', '.join(prefixes) if prefixes else 'empty'
        raise ValueError(
            f'module {module_name!r} is not allowed: add it (or a package it is in) to {ALLOW_LIST_VARIABLE} '
            f'(now {allowed})'
        )
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # a module that fails to import, whatever it raises
        raise ValueError(f'module {module_name!r} could not be imported: {type(exc).__name__}: {exc}') from None
    function = getattr(module, function_name, None)
    if function is None:
        raise ValueError(f'module {module_name!r} has no function {function_name!r}')
    if not callable(function):
        raise ValueError(f'{reference!r} is not callable')
    return function


class PythonConfig(NodeConfig):
    callable: str = Field(min_length=3, max_length=300, examples=['reports.monthly:build'])

    @field_validator('callable')
    @classmethod
    def _allowed_and_present(cls, value: str, info: ValidationInfo) -> str:
        prefixes = (info.context or {}).get(_CONTEXT_KEY, ())  # validated without an allow-list: nothing allowed
        resolve_callable(value, prefixes)
        return value


class PythonNode(NodeType):
    """Output: what the function returns."""

    type_name = 'python'
    runs_on = 'worker'
    Config = PythonConfig

    def __init__(self, allowed_modules: Iterable[str] = ()) -> None:
        self.allowed_modules = tuple(allowed_modules)

    @classmethod
    def create(cls, services: NodeServices) -> PythonNode:
        return cls(services.python_modules)

    def parse_config(self, config: Mapping[str, Any]) -> NodeConfig:
        return self.Config.model_validate(dict(config), context={_CONTEXT_KEY: self.allowed_modules})

    async def run(self, config: PythonConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        try:
            function = resolve_callable(config.callable, self.allowed_modules)
        except ValueError as exc:  # e.g. the module is not installed on this worker
            raise NodeError(str(exc)) from None
        result = function(dict(input))
        if inspect.isawaitable(result):
            result = await result
        return result


__all__ = ['ALLOW_LIST_VARIABLE', 'PythonConfig', 'PythonNode', 'module_allowed', 'resolve_callable']
