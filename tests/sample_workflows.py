"""Workflow definitions for tests, as the JSON documents the API and the workflow files take.

Builders for nodes (``transform``, ``log``, ``http``, ``delay``, ``fail``, ``condition``; ``node`` for any type)
and for whole workflows (``workflow``: nodes joined by the edges given, none by default; ``chain``: each node feeds the
next; ``fan_out``: one node feeding many), and the few workflows many test layers share: a quick chain, a slow one
that stays running, one that always fails and one whose middle node fails once before it succeeds.

Importable from every test directory (tests/ is on the path through tests/conftest.py).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

Node = dict[str, Any]


def node(node_id: str, type_: str, name: str | None = None, **extra: Any) -> Node:
    """A node of ``type_``; ``extra`` holds its ``config`` and any of ``retry``, ``timeout_seconds``."""
    return {'id': node_id, 'type': type_, **({'name': name} if name else {}), **extra}


def transform(node_id: str, expression: str, name: str | None = None) -> Node:
    return node(node_id, 'transform', name, config={'expression': expression})


def log(node_id: str, message: Any, expression: str | None = None, name: str | None = None) -> Node:
    """A log node writing ``message`` (text or a ``{"$secret": name}`` reference), and ``expression``'s value."""
    config = {'message': message, **({'expression': expression} if expression else {})}
    return node(node_id, 'log', name, config=config)


def http(node_id: str, url: Any, **config: Any) -> Node:
    """An http node calling ``url`` (text or a ``{"$secret": name}`` reference); ``config``: method, headers, body."""
    return node(node_id, 'http', config={'url': url, **config})


def delay(node_id: str, seconds: float, name: str | None = None) -> Node:
    return node(node_id, 'delay', name, config={'seconds': seconds})


def fail(node_id: str, message: str, name: str | None = None, *, times: int | None = None, **extra: Any) -> Node:
    """A node that fails (the first ``times`` attempts only, if given) with ``message``."""
    config: dict[str, Any] = {'message': message, **({'times': times} if times is not None else {})}
    return node(node_id, 'fail', name, config=config, **extra)


def condition(node_id: str, expression: str, name: str | None = None) -> Node:
    """A node whose edges with ``when`` (see :func:`workflow`) are taken by the truth of ``expression``."""
    return node(node_id, 'condition', name, config={'expression': expression})


Edge = tuple[str, str] | tuple[str, str, bool]


def edge(source: str, target: str, when: bool | None = None) -> Node:
    return {'source': source, 'target': target, **({} if when is None else {'when': when})}


def workflow(workflow_id: str, name: str, *nodes: Node, edges: Sequence[Edge] = (), **extra: Any) -> Node:
    """A workflow of ``nodes`` joined by ``edges`` (source, target, and ``when`` after a condition node); ``extra``:
    description, trigger, schedule..."""
    return {
        'id': workflow_id,
        'name': name,
        **extra,
        'nodes': list(nodes),
        'edges': [edge(*pair) for pair in edges],
    }


def chain(workflow_id: str, name: str, *nodes: Node, **extra: Any) -> Node:
    """A workflow in which each node feeds the next."""
    pairs = [(a['id'], b['id']) for a, b in itertools.pairwise(nodes)]
    return workflow(workflow_id, name, *nodes, edges=pairs, **extra)


def fan_out(workflow_id: str, shards: int) -> Node:
    """split -> w00, w01, ... (``shards`` log nodes side by side): a run with many nodes, quickly."""
    workers = [log(f'w{i:02d}', f'shard {i}') for i in range(shards)]
    return workflow(workflow_id, 'Fan out', log('split', 'x'), *workers, edges=[('split', w['id']) for w in workers])


def flaky(backoff_seconds: float, last_seconds: float, *, workflow_id: str = 'flaky') -> Node:
    """fetch -> charge (fails once with 'gateway timeout', retried after ``backoff_seconds``) -> ship (a delay)."""
    return chain(
        workflow_id,
        'Flaky pipeline',
        transform('fetch', '{order: `42`}', 'Fetch'),
        fail(
            'charge',
            'gateway timeout',
            'Charge card',
            times=1,
            retry={'max_attempts': 3, 'backoff_seconds': backoff_seconds},
        ),
        delay('ship', last_seconds, 'Ship'),
    )


def upstream_flaky(times: int, max_attempts: int) -> Node:
    """fetch -> parse (fails its first ``times`` attempts with 'upstream 503', retried at once) -> report."""
    parse = fail('parse', 'upstream 503', times=times, retry={'max_attempts': max_attempts, 'backoff_seconds': 0})
    return chain('flaky', 'Flaky pipeline', transform('fetch', '{n: input.n}'), parse, log('report', 'done'))


# prepare -> work -> report, in a few milliseconds
QUICK_CHAIN = chain(
    'quick',
    'Quick chain',
    transform('prepare', '{n: input.n}'),
    delay('work', 0.01),
    log('report', 'done', 'input.n'),
    description='prepare -> work -> report, in a few milliseconds',
)
# first -> wait (30 s: stays running until cancelled or stopped) -> after
SLOW_CHAIN = chain('slow', 'Slow', log('first', 'quick'), delay('wait', 30), log('after', 'late'))
# one delay of 30 s
WAIT_ONLY = workflow('slow', 'Slow', delay('wait', 30))
# load -> parse (always fails)
BROKEN_CHAIN = chain('broken', 'Broken', delay('load', 0), fail('parse', "unexpected column 'x'"))
