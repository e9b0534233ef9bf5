"""The test servers' ports (tests/ports.py): below the kernel's ephemeral range, a block per pytest-xdist worker,
never a port something is bound to."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from ports import BLOCK, FIRST, block_index, free_port


def ephemeral_range() -> tuple[int, int]:
    low, high = Path('/proc/sys/net/ipv4/ip_local_port_range').read_text().split()
    return int(low), int(high)


def test_ports_come_from_the_workers_own_block_below_the_ephemeral_range(monkeypatch: pytest.MonkeyPatch) -> None:
    low, _ = ephemeral_range()
    blocks = {}
    for worker in ('', 'gw0', 'gw1', 'gw3'):
        monkeypatch.setenv('PYTEST_XDIST_WORKER', worker)
        ports = {free_port() for _ in range(20)}
        assert len(ports) == 20  # one after the other, never the same port again
        first = FIRST + block_index() * BLOCK
        assert all(first <= port < first + BLOCK for port in ports), (worker, sorted(ports))
        assert max(ports) < low
        blocks[worker] = block_index()
    assert len(set(blocks.values())) == 4, blocks


def test_a_port_in_use_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PYTEST_XDIST_WORKER', 'gw27')  # (no run has that many workers: a block nothing else uses)
    first = FIRST + block_index() * BLOCK
    held = []
    try:
        for port in range(first, first + BLOCK - 1):  # all but the block's last port
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(sock)
            try:
                sock.bind(('127.0.0.1', port))
            except OSError:
                sock.close()  # (already taken by something else: skipped too)
        assert free_port() == first + BLOCK - 1
    finally:
        for sock in held:
            sock.close()
