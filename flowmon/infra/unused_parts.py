"""Optional parts of flowmon's libraries that flowmon never calls, left out of its start.

NiceGUI serves pages over socket.io, whose package also brings its client side: importing it imports aiohttp and
requests (the clients' transports) and Tornado (a server driver NiceGUI does not use), and httpx imports its command
line (click, rich, pygments) when they are installed, as the test tools install them. Together about half a second
of CPU at every start, a sixth of it, for code no flowmon process runs. Each of these libraries imports that part in
a ``try``, and takes an ``ImportError`` to mean the part is missing: while flowmon's modules are imported the parts
are reported missing. Afterwards nothing is blocked: a node-type plugin or Dask that imports aiohttp, requests or
Tornado gets them (the socket.io client and httpx's command line stay without them in a flowmon process).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType

# each imported inside ``try: ... except ImportError`` by the one module that wants it
UNUSED_PARTS = frozenset(
    {
        'aiohttp',  # engineio.async_client: the asyncio socket.io client's transport
        'requests',  # engineio.client: the threaded socket.io client's transport
        'websocket',  # engineio.client: its WebSocket transport
        'engineio.async_drivers.tornado',  # engineio: the Tornado server driver
        'httpx._main',  # httpx: its command line
    }
)


class _ReportedMissing(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in UNUSED_PARTS:
            raise ModuleNotFoundError(f"{fullname} is left out of flowmon's start", name=fullname)
        return None  # the next finder looks for it


@contextmanager
def without_unused_parts() -> Iterator[None]:
    """Import flowmon's modules in this block: the parts in :data:`UNUSED_PARTS` are reported missing inside it."""
    finder = _ReportedMissing()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
