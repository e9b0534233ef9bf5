"""The test servers' ports (tests/ports.py): below the kernel's ephemeral range, a block per test process (claimed
across processes, so two runs at once on one machine never share one), never a port something is bound to."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from ports import BLOCK, BLOCKS, FIRST, block_index, claim_block, claimed_block, free_port

TESTS = Path(__file__).resolve().parent.parent


def ephemeral_range() -> tuple[int, int]:
    low, high = Path('/proc/sys/net/ipv4/ip_local_port_range').read_text().split()
    return int(low), int(high)


def test_ports_come_from_the_processs_block_below_the_ephemeral_range() -> None:
    low, _ = ephemeral_range()
    ports = {free_port() for _ in range(20)}
    assert len(ports) == 20  # one after the other, never the same port again
    first = FIRST + claimed_block() * BLOCK
    assert all(first <= port < first + BLOCK for port in ports), (first, sorted(ports))
    assert max(ports) < low
    assert claimed_block() == claimed_block()  # claimed once, for the process's life


def test_each_worker_starts_from_a_block_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    starts = {}
    for worker in ('', 'gw0', 'gw1', 'gw3'):
        monkeypatch.setenv('PYTEST_XDIST_WORKER', worker)
        starts[worker] = block_index()
    assert starts == {'': 0, 'gw0': 1, 'gw1': 2, 'gw3': 4}


def test_a_block_another_process_holds_is_passed_over_until_it_is_given_up(tmp_path: Path) -> None:
    """Two pytest runs at once (two clones) have a worker gw0 each: the second one's gw0 takes the next free block,
    where both drew block 1 and started servers on the same ports."""
    holder = subprocess.Popen(  # another run's worker: claims block 1 and holds it until its stdin closes
        [
            sys.executable,
            '-c',
            'import sys; from pathlib import Path; from ports import claim_block; '
            f'held = claim_block(1, Path({str(tmp_path)!r})); print(held[0], flush=True); sys.stdin.read()',
        ],
        cwd=TESTS,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == '1'  # (read once it holds the lock)
        index, lock = claim_block(1, tmp_path)
        assert index == 2
        again, second = claim_block(1, tmp_path)  # another claim while this one holds block 2: the next again
        assert again == 3
        last, wrapped = claim_block(BLOCKS - 1, tmp_path)  # from the last block on: after it, the first
        assert last == BLOCKS - 1
        assert claim_block(BLOCKS - 1, tmp_path)[0] == 0
        for held in (second, wrapped):
            held.close()
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert claim_block(1, tmp_path)[0] == 1  # given up when its process ended
    lock.close()


def test_a_port_in_use_is_skipped() -> None:
    index, lock = claim_block(BLOCKS - 1)  # a block no other process uses meanwhile
    first = FIRST + index * BLOCK
    held = []
    try:
        for port in range(first, first + BLOCK - 1):  # all but the block's last port
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(sock)
            try:
                sock.bind(('127.0.0.1', port))
            except OSError:
                sock.close()  # (already taken by something else: skipped too)
        assert free_port(index) == first + BLOCK - 1
    finally:
        for sock in held:
            sock.close()
        lock.close()


def test_a_lock_directory_that_is_not_this_users_own_is_refused(tmp_path: Path) -> None:
    """Its name is known: another user making it first could hold every block (or point it elsewhere)."""
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    linked = tmp_path / 'linked'
    linked.symlink_to(elsewhere)
    with pytest.raises(RuntimeError, match='is not a directory of this user'):
        claim_block(0, linked)
    if os.getuid() == 0:  # (root can give a directory to another user)
        theirs = tmp_path / 'theirs'
        theirs.mkdir()
        os.chown(theirs, 4321, 4321)
        with pytest.raises(RuntimeError, match='is not a directory of this user'):
            claim_block(0, theirs)
