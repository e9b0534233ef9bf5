"""JMESPath expressions for node configs: compiled once at validation, never ``eval``."""

from __future__ import annotations

from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult
from pydantic import field_validator

from .base import NodeConfig


def compile_expression(text: str) -> ParsedResult:
    """Compile a JMESPath expression; raises ``ValueError`` with the parser's message."""
    try:
        return jmespath.compile(text)
    except JMESPathError as exc:
        raise ValueError(f'invalid JMESPath expression {text!r}: {exc}') from None


def evaluate(text: str, data: Any) -> Any:
    """Evaluate a JMESPath expression over ``data``."""
    try:
        return compile_expression(text).search(data)
    except JMESPathError as exc:
        raise ValueError(f'expression {text!r} failed: {exc}') from None


def truthy(value: Any) -> bool:
    """JMESPath truthiness: false, null, empty string, list and object are false; 0 is true."""
    return not (value is None or value is False or value in ('', [], {}))


class ExpressionConfig(NodeConfig):
    """A config whose ``expression`` is JMESPath, checked when the workflow is saved."""

    expression: str

    @field_validator('expression')
    @classmethod
    def _compiles(cls, value: str) -> str:
        compile_expression(value)
        return value
