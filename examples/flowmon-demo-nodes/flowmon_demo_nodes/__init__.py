"""Two node types for flowmon, as a plugin package: ``count_primes`` computes on a worker, ``word_count`` runs on
flowmon's event loop. Registered through the ``flowmon.node_types`` entry points in ``pyproject.toml``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from flowmon.engine.nodes import NodeConfig, NodeContext, NodeError, NodeType


class CountPrimesConfig(NodeConfig):
    below: int = Field(ge=2, le=50_000_000)


class CountPrimes(NodeType):
    """Counts the primes below ``below`` (a sieve in plain Python: about 0.1 s per million on one core).

    CPU-bound, so it runs on a worker: flowmon's local process pool, or a Dask worker.
    """

    type_name = 'count_primes'
    runs_on = 'worker'
    Config = CountPrimesConfig

    async def run(self, config: CountPrimesConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        sieve = bytearray([1]) * config.below
        sieve[0:2] = b'\x00\x00'
        for number in range(2, int(config.below**0.5) + 1):
            if sieve[number]:
                sieve[number * number :: number] = bytes(len(range(number * number, config.below, number)))
        return {'below': config.below, 'primes': sum(sieve)}


class WordCountConfig(NodeConfig):
    field: str = Field(default='text', min_length=1, max_length=100)  # which field of the execution input


class WordCount(NodeType):
    """Counts the words of a text field of the execution input: cheap, so it runs on the event loop."""

    type_name = 'word_count'
    Config = WordCountConfig  # runs_on = 'loop', the default

    async def run(self, config: WordCountConfig, input: Mapping[str, Any], ctx: NodeContext) -> Any:
        execution_input = input.get('input')
        text = execution_input.get(config.field) if isinstance(execution_input, Mapping) else None
        if not isinstance(text, str):
            raise NodeError(f'the execution input has no text field {config.field!r}')
        return {'words': len(text.split())}
