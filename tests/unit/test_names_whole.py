"""A name or a form checked with a regular expression is checked whole: Python's ``$`` also matches before a final
line break, so ``re.match(r'^...$')`` took ``'name\\n'`` for a name. Each check below refuses what follows a valid
text with a line break."""

from __future__ import annotations

import pytest

from flowmon.application.time_bounds import is_relative, parse_day
from flowmon.engine.nodes.base import header_problem
from flowmon.engine.nodes.python import resolve_callable
from flowmon.infra.secretbox import is_sealed
from flowmon.store.secrets import SecretInvalid, check_name


def test_a_secret_name_with_a_line_break_after_it_is_refused() -> None:
    check_name('api_key')
    with pytest.raises(SecretInvalid):
        check_name('api_key\n')


def test_a_header_name_with_a_line_break_after_it_is_refused() -> None:
    assert header_problem('X-Token', 'v') is None
    assert header_problem('X-Token\n', 'v') is not None


def test_a_python_callable_with_a_line_break_after_it_is_refused() -> None:
    with pytest.raises(ValueError, match=r'is not "package\.module:function"'):
        resolve_callable('json:dumps\n', ['json'])
    assert resolve_callable('json:dumps', ['json']) is not None


def test_the_forms_of_since_and_until_are_recognised_whole() -> None:
    assert is_relative('15m') and not is_relative('15m\n')
    assert parse_day('2026-12-01') is not None and parse_day('2026-12-01\n') is None


def test_a_sealed_value_is_recognised_whole() -> None:
    sealed = 'v1:0123abcd:' + 'A' * 20
    assert is_sealed(sealed) and not is_sealed(sealed + '\n')
