"""Free TCP ports for the servers the tests start, out of reach of the kernel's own choices.

A port asked of the kernel (a bind to port 0) comes from its ephemeral range, the range it also hands to every
outgoing connection: between the probe socket closing and the server binding that port, a connection made anywhere
on the machine (the browser's, a health poll's, another worker's) could take it, and the server then failed to start
with "address already in use" (seen once in a full run). These ports come from below that range, where the kernel
puts nothing by itself, from a block of their own for each pytest-xdist worker, so two workers of a run never offer
the same port; a port in use (an earlier test's server, a connection in TIME_WAIT) is skipped.
"""

from __future__ import annotations

import itertools
import os
import random
import socket

FIRST = 20000  # well below Linux's default ephemeral range (32768-60999)
BLOCK = 400
BLOCKS = 30  # 20000-31999
# Where each process starts in its block: a process that starts servers one after the other moves on to the next
# port each time (the last one's connections may still be in TIME_WAIT).
_turn = itertools.count(random.randrange(BLOCK))


def block_index() -> int:
    """0 outside pytest-xdist (a single pytest, tests/fuzz/run.sh), 1 + N in worker gwN."""
    worker = os.environ.get('PYTEST_XDIST_WORKER', '')
    return 1 + int(worker[2:]) % (BLOCKS - 1) if worker[2:].isdigit() else 0


def free_port() -> int:
    """A port of this process's block on 127.0.0.1 that nothing is bound to."""
    first = FIRST + block_index() * BLOCK
    for _ in range(BLOCK):
        port = first + next(_turn) % BLOCK
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(('127.0.0.1', port))
            except OSError:
                continue
        return port
    raise RuntimeError(f'no free port in 127.0.0.1:{first}-{first + BLOCK - 1}')


if __name__ == '__main__':  # tests/fuzz/run.sh
    print(free_port())
