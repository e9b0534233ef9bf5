"""Free TCP ports for the servers the tests start, out of reach of the kernel's own choices.

A port asked of the kernel (a bind to port 0) comes from its ephemeral range, the range it also hands to every
outgoing connection: between the probe socket closing and the server binding that port, a connection made anywhere
on the machine (the browser's, a health poll's, another worker's) could take it, and the server then failed to start
with "address already in use" (seen once in a full run). These ports come from below that range, where the kernel
puts nothing by itself, from a block of their own for each test process; a port in use (an earlier test's server, a
connection in TIME_WAIT) is skipped.

A process claims its block for as long as it lives: it holds a lock (``fcntl.flock``) on the block's file in a
directory of the system's temporary one, and takes the next block nobody holds when another process has its own
(a second pytest run on the machine at the same time, from another clone, whose worker gw0 would have drawn the
same block: their servers then took each other's ports). Each worker starts from a block of its own (gwN: 1 + N,
a single pytest 0), so the workers of one run never need to look further.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import random
import socket
import tempfile
from pathlib import Path
from typing import BinaryIO

FIRST = 20000  # well below Linux's default ephemeral range (32768-60999)
BLOCK = 400
BLOCKS = 30  # 20000-31999
LOCKS = Path(tempfile.gettempdir()) / f'flowmon-test-ports-{os.getuid()}'  # (a user's own: no one else's file modes)
# Where each process starts in its block: a process that starts servers one after the other moves on to the next
# port each time (the last one's connections may still be in TIME_WAIT).
_turn = itertools.count(random.randrange(BLOCK))
# The block this process holds: (the process id, the block, its lock file, open while the process lives)
_claimed: tuple[int, int, BinaryIO] | None = None


def block_index() -> int:
    """The block a process starts looking from: 0 outside pytest-xdist (a single pytest, tests/fuzz/run.sh), 1 + N in
    worker gwN."""
    worker = os.environ.get('PYTEST_XDIST_WORKER', '')
    return 1 + int(worker[2:]) % (BLOCKS - 1) if worker[2:].isdigit() else 0


def claim_block(first: int, locks: Path = LOCKS) -> tuple[int, BinaryIO]:
    """The first block from ``first`` on (after the last, the first again) that no other process holds, and its lock
    file: the block is held while that file is open (closing it, or the process ending, gives it up)."""
    locks.mkdir(mode=0o700, parents=True, exist_ok=True)
    if locks.lstat().st_uid != os.getuid() or not locks.is_dir() or locks.is_symlink():
        raise RuntimeError(f'{locks} is not a directory of this user: remove it (another user could hold every block)')
    for step in range(BLOCKS):
        index = (first + step) % BLOCKS
        lock = (locks / f'block-{index:02d}.lock').open('ab')
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # held by another process (or another claim of this one)
            lock.close()
            continue
        return index, lock
    raise RuntimeError(f'all {BLOCKS} blocks of test ports are held by other processes (their locks: {locks})')


def claimed_block() -> int:
    """The block of this process, claimed on the first call (a forked child claims one of its own)."""
    global _claimed
    if _claimed is None or _claimed[0] != os.getpid():
        index, lock = claim_block(block_index())
        _claimed = (os.getpid(), index, lock)
    return _claimed[1]


def free_port(block: int | None = None) -> int:
    """A port of this process's block (or of ``block``) on 127.0.0.1 that nothing is bound to."""
    first = FIRST + (claimed_block() if block is None else block) * BLOCK
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
