"""Named secrets in node configs: ``{"$secret": "<name>"}`` in any string position, resolved only when a node runs.

A workflow definition keeps the references (so definitions, the ``workflow`` snapshot in ``execution.queued``
and exports never hold a value). Validation substitutes a placeholder string for each reference, so a config
with references is type-checked like any other. When a node runs, the engine asks its injected
:data:`SecretResolver` for the values (the engine never imports the store), builds the node's config with them,
and replaces every occurrence of a resolved value in the node's output, error, traceback and log lines with
``***`` before anything is emitted.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Awaitable, Callable, Collection, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

from pydantic import ValidationError

from flowmon.engine.nodes.base import NodeConfig, NodeRegistry

SECRET_REF = '$secret'
SECRET_NAME_PATTERN = r'^[A-Za-z0-9_.\-]{1,64}$'
REDACTED = '***'
# What a reference stands for while a config is validated: a plain string first, then one shaped like a URL
# (for fields that check a scheme). A reference in a field that takes neither is refused when saving.
PLACEHOLDERS = ('secret-value', 'https://secret.invalid/')

Path = tuple[str | int, ...]
SecretResolver = Callable[[frozenset[str]], Awaitable[Mapping[str, str]]]
_NAME = re.compile(SECRET_NAME_PATTERN)


class SecretMissing(LookupError):
    """A reference names a secret that does not exist (the message names it)."""


class SecretRefError(ValueError):
    """A malformed reference, or one in a position that does not take a string: ``path`` is where in the config,
    ``problem`` what is wrong there (the message says both)."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f'{key_path(path) or "config"}: {problem}')
        self.path = path
        self.problem = problem


def is_ref(value: Any) -> bool:
    return isinstance(value, Mapping) and SECRET_REF in value


def find_refs(value: Any) -> Iterator[tuple[Path, str]]:
    """Every reference in ``value`` with its path; raises :class:`SecretRefError` for a malformed one."""
    stack: list[tuple[Path, Any]] = [((), value)]
    while stack:
        path, item = stack.pop()
        if is_ref(item):
            name = item[SECRET_REF]
            problem = _ref_problem(item, name)
            if problem:
                raise SecretRefError(path, problem)
            yield path, name
        elif isinstance(item, Mapping):
            stack.extend(((*path, key), child) for key, child in reversed(list(item.items())))
        elif isinstance(item, list):
            stack.extend(((*path, index), child) for index, child in reversed(list(enumerate(item))))


def secret_names(definition: Mapping[str, Any]) -> frozenset[str]:
    """The secrets a workflow definition's node configs name (malformed references are ignored here)."""
    names: set[str] = set()
    for node in definition.get('nodes') or ():
        if isinstance(node, Mapping):
            try:
                names.update(name for _, name in find_refs(node.get('config')))
            except SecretRefError:
                continue
    return frozenset(names)


def substitute(value: Any, replace: Callable[[Path, str], Any], path: Path = ()) -> Any:
    """A copy of ``value`` with every reference replaced by ``replace(path, name)``."""
    if is_ref(value):
        return replace(path, value[SECRET_REF])
    if isinstance(value, Mapping):
        return {key: substitute(child, replace, (*path, key)) for key, child in value.items()}
    if isinstance(value, list):
        return [substitute(child, replace, (*path, index)) for index, child in enumerate(value)]
    return value


def parse_config(
    registry: NodeRegistry, type_name: str, config: Mapping[str, Any]
) -> tuple[NodeConfig, frozenset[str]]:
    """Validate a node config that may hold references; returns it (placeholders in place of the references)
    and the names referenced. Raises ``ValidationError`` or :class:`SecretRefError`."""
    refs = dict(find_refs(config))
    if () in refs:  # the config itself is a reference: it stands for a string, and a config is an object
        raise SecretRefError((), 'config must be an object, not a {"$secret": ...} reference')
    if not refs:
        return registry.parse_config(type_name, config), frozenset()
    choice = dict.fromkeys(refs, 0)
    while True:
        candidate = substitute(config, lambda path, _: PLACEHOLDERS[choice[path]])
        try:
            return registry.parse_config(type_name, candidate), frozenset(refs.values())
        except ValidationError as exc:
            at_refs = [path for path in refs if any(_under(tuple(error['loc']), path) for error in exc.errors())]
            if not at_refs:
                raise
            exhausted = [path for path in at_refs if choice[path] + 1 >= len(PLACEHOLDERS)]
            if exhausted:
                raise SecretRefError(
                    exhausted[0], 'a {"$secret": ...} reference stands for a string, which this field does not take'
                ) from None
            for path in at_refs:
                choice[path] += 1


def resolved_config(config: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """``config`` with each reference replaced by its value (``values`` must hold every name referenced)."""
    return substitute(config, lambda _, name: values[name])


def redact_text(text: str, secrets: Collection[str]) -> str:
    """``text`` with every occurrence of each secret value replaced by ``***`` (longest values first)."""
    for value in sorted(secrets, key=len, reverse=True):
        if value and value in text:
            text = text.replace(value, REDACTED)
    return text


def redact(value: Any, secrets: Collection[str]) -> Any:
    """A copy of JSON-like ``value`` with secret values replaced in every string (keys too)."""
    if not secrets:
        return value
    if isinstance(value, str):
        return redact_text(value, secrets)
    if isinstance(value, Mapping):
        return {redact_text(str(key), secrets): redact(child, secrets) for key, child in value.items()}
    if isinstance(value, list | tuple):
        return [redact(child, secrets) for child in value]
    return value


class RedactingLogger(logging.LoggerAdapter):
    """A node's logger while it works with secret values: each line is formatted, then redacted."""

    def __init__(self, logger: logging.Logger, secrets: Collection[str]) -> None:
        super().__init__(logger, {})
        self.secrets = tuple(secrets)

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        exc_info = kwargs.pop('exc_info', None)
        if exc_info:
            text += '\n' + ''.join(traceback.format_exception(*_exc_tuple(exc_info)))
        kwargs.setdefault('stacklevel', 2)
        self.logger.log(level, '%s', redact_text(text, self.secrets), **kwargs)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        return msg, kwargs


def _exc_tuple(exc_info: Any) -> tuple[Any, Any, Any]:
    if isinstance(exc_info, BaseException):
        return type(exc_info), exc_info, exc_info.__traceback__
    if isinstance(exc_info, tuple):
        return exc_info
    return sys.exc_info()


def _under(loc: tuple[Any, ...], path: Path) -> bool:
    return len(loc) >= len(path) and tuple(loc[: len(path)]) == path


def key_path(path: Sequence[str | int]) -> str:
    """Where in a node config ``path`` points, as a definition writes it: ``headers.Authorization``,
    ``items[0].name`` ('' for the config itself)."""
    text = ''
    for part in path:
        text += f'[{part}]' if isinstance(part, int) else (f'.{part}' if text else str(part))
    return text


NAME_RULE = '1 to 64 letters, digits, "_", "." or "-"'


def _ref_problem(ref: Mapping[str, Any], name: Any) -> str | None:
    """What is wrong with a ``{"$secret": ...}`` object, if anything."""
    if len(ref) != 1:
        return 'a secret reference is {"$secret": "<name>"} and nothing else'
    if not isinstance(name, str):
        return f'"$secret" takes the name of a secret: {NAME_RULE}'
    if not _NAME.fullmatch(name):
        return f'{name[:80]!r} is not a secret name: {NAME_RULE}'
    return None
