"""Webhook delivery benchmarks (issue 5): throughput to a loopback receiver, and retry firing lag.

* Deliveries per second (target >= 300/s): the real :class:`DeliveryService` (durable rows in a fresh SQLite file,
  Standard Webhooks signing, the SSRF guard, the per-attempt log, an INFO log line per attempt written to a file)
  delivers ``THROUGHPUT_DELIVERIES`` messages to one loopback receiver. They are queued through ``enqueue`` (each
  call returns once its row is committed, as an API request does) by ``PRODUCERS`` concurrent callers. Timed from
  the first enqueue until the last delivery has succeeded. The default limits apply: at most 4 attempts in flight
  to the one destination.
* Retry firing lag p95 (target < 250 ms): ``LAG_DELIVERIES`` messages are queued at a steady ``LAG_RATE`` per
  second; the receiver fails each message's first attempt (503), so every one is retried by an APScheduler date
  job ``LAG_RETRY_DELAY`` s later. The lag is the time from a retry's due time to the moment its attempt claims
  the row (so it includes any wait for a free slot), as the service records it.

The receiver is a separate process (a minimal asyncio HTTP/1.1 server with keep-alive), so it does not compete
with the service for the interpreter. Run with ``python -m bench webhooks`` (or ``make bench``).
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from flowmon.delivery.notify import Notifier
from flowmon.delivery.policy import RetrySchedule
from flowmon.delivery.service import DeliveryConfig, DeliveryService
from flowmon.engine.runtime.bus import EventBus
from flowmon.infra.outbound import OutboundGuard, guarded_client
from flowmon.infra.secretbox import SecretBox, new_key
from flowmon.infra.timers import Timers
from flowmon.store import Database

from .harness import percentile
from .report import Row

THROUGHPUT_DELIVERIES = 3000
THROUGHPUT_TARGET = 300.0
PRODUCERS = 8  # concurrent callers of enqueue, as API requests would be
LAG_DELIVERIES = 300
LAG_RATE = 50.0
LAG_RETRY_DELAY = 1.0
LAG_TARGET_MS = 250.0
BODY = b'{"type":"execution.completed","timestamp":"2026-01-01T00:00:00+00:00","data":{"execution_id":"x"}}'

RECEIVER = r"""
import asyncio, sys

seen = set()

async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b'\r\n\r\n')
            lines = head.decode('latin-1').split('\r\n')
            path = lines[0].split(' ')[1]
            headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(':') for l in lines[1:] if l)}
            length = int(headers.get('content-length', '0'))
            if length:
                await reader.readexactly(length)
            status = b'204 No Content'
            if path.startswith('/flaky'):
                message = headers.get('webhook-id', '')
                if message not in seen:
                    seen.add(message)
                    status = b'503 Service Unavailable'
            writer.write(b'HTTP/1.1 ' + status + b'\r\nContent-Length: 0\r\n\r\n')
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()

async def main():
    server = await asyncio.start_server(handle, '127.0.0.1', 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


class LoopbackReceiver:
    def __enter__(self) -> LoopbackReceiver:
        self.process = subprocess.Popen([sys.executable, '-c', RECEIVER], stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def url(self, path: str) -> str:
        return f'http://127.0.0.1:{self.port}{path}'


async def _service(tmp: Path, schedule: tuple[float, ...]) -> tuple[DeliveryService, Timers, Database, Settled]:
    db = Database(f'sqlite+aiosqlite:///{tmp / "bench.db"}')
    await db.start()
    timers = Timers()
    timers.start()
    guard = OutboundGuard(['127.0.0.1'])
    config = DeliveryConfig(schedule=RetrySchedule.of(schedule, jitter=0), timeout_s=15.0)
    client = guarded_client(guard, timeout=httpx.Timeout(15.0, connect=5.0), max_connections=config.max_in_flight)
    box = SecretBox(new_key())
    service = DeliveryService(db=db, bus=EventBus(), timers=timers, guard=guard, client=client, config=config, box=box)
    settled = Settled(service.notifier)
    await service.start()
    return service, timers, db, settled


async def _close(service: DeliveryService, timers: Timers, db: Database) -> None:
    await service.stop()
    timers.shutdown()
    await db.stop()


class Settled:
    """Counts deliveries as they finish, from the service's ``webhook.*`` events (as the webhook node sees them)."""

    def __init__(self, notifier: Notifier) -> None:
        self.done: set[str] = set()
        self.failed: list[str] = []
        self._changed = asyncio.Event()
        notifier.subscribe(self._on_event, types=['webhook.succeeded', 'webhook.failed', 'webhook.exhausted'])

    def _on_event(self, event: Any) -> None:
        if event.type != 'webhook.succeeded':
            self.failed.append(f'{event.data["delivery_id"]}: {event.type}')
        self.done.add(event.data['delivery_id'])
        self._changed.set()

    async def wait(self, ids: list[str], timeout: float = 120) -> None:
        remaining = set(ids) - self.done
        async with asyncio.timeout(timeout):
            while remaining:
                self._changed.clear()
                await self._changed.wait()
                remaining -= self.done
        if self.failed:
            raise RuntimeError(f'{len(self.failed)} deliveries did not succeed, e.g. {self.failed[0]}')


async def measure_throughput(receiver: LoopbackReceiver) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix='flowmon-bench-webhooks-') as tmp:
        service, timers, db, settled = await _service(Path(tmp), (0, 5))
        try:
            url = receiver.url('/ok')
            warm = [(await service.enqueue(url=url, body=BODY)).id for _ in range(50)]
            await settled.wait(warm)
            cpu, started = time.process_time(), time.perf_counter()
            ids: list[str] = []

            async def producer(count: int) -> None:
                for _ in range(count):
                    ids.append((await service.enqueue(url=url, body=BODY)).id)

            share = THROUGHPUT_DELIVERIES // PRODUCERS
            await asyncio.gather(*(producer(share) for _ in range(PRODUCERS)))
            queued = time.perf_counter() - started
            await settled.wait(ids)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
        finally:
            await _close(service, timers, db)
    return {
        'rate': THROUGHPUT_DELIVERIES / elapsed,
        'elapsed_s': elapsed,
        'enqueue_s': queued,
        'cpu_ms': cpu * 1000 / THROUGHPUT_DELIVERIES,
    }


async def measure_lag(receiver: LoopbackReceiver) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix='flowmon-bench-webhooks-') as tmp:
        service, timers, db, settled = await _service(Path(tmp), (0, LAG_RETRY_DELAY))
        try:
            url = receiver.url('/flaky')
            ids: list[str] = []
            started = time.perf_counter()
            for index in range(LAG_DELIVERIES):
                ids.append((await service.enqueue(url=url, body=BODY)).id)
                pause = started + (index + 1) / LAG_RATE - time.perf_counter()
                if pause > 0:
                    await asyncio.sleep(pause)
            await settled.wait(ids)
            lags = sorted(lag * 1000 for lag in service.fire_lags)
        finally:
            await _close(service, timers, db)
    if len(lags) < LAG_DELIVERIES:
        raise RuntimeError(f'only {len(lags)} of {LAG_DELIVERIES} retries were measured')
    return {
        'p50_ms': statistics.median(lags),
        'p95_ms': percentile(lags, 95),
        'max_ms': lags[-1],
        'count': float(len(lags)),
    }


async def measure() -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix='flowmon-bench-log-') as logdir:
        handler = logging.FileHandler(Path(logdir) / 'webhooks.log')
        handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(name)s: %(message)s'))
        logger = logging.getLogger('flowmon.delivery')
        previous_level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)  # one line per attempt, as the app logs at its default level
        try:
            with LoopbackReceiver() as receiver:
                throughput = await measure_throughput(receiver)
                lag = await measure_lag(receiver)
        finally:
            logger.removeHandler(handler)
            logger.setLevel(previous_level)
            handler.close()
    return {'throughput': throughput, 'lag': lag}


def rows(figures: dict[str, dict[str, Any]]) -> list[Row]:
    throughput, lag = figures['throughput'], figures['lag']
    return [
        Row(
            measurement='Webhooks: deliveries per second to a loopback receiver',
            figure=f'{throughput["rate"]:.0f}/s',
            target=f'>= {THROUGHPUT_TARGET:g}/s',
            met=throughput['rate'] >= THROUGHPUT_TARGET,
            note=(
                f'{THROUGHPUT_DELIVERIES} deliveries queued by {PRODUCERS} concurrent callers '
                f'({throughput["enqueue_s"]:.1f} s) and all delivered in {throughput["elapsed_s"]:.1f} s; '
                f'{throughput["cpu_ms"]:.2f} ms CPU per delivery; signing, SSRF guard, attempt log and INFO log on; '
                'at most 4 in flight to the destination.'
            ),
        ),
        Row(
            measurement='Webhooks: retry firing lag p95',
            figure=f'{lag["p95_ms"]:.1f} ms',
            target=f'< {LAG_TARGET_MS:g} ms',
            met=lag['p95_ms'] < LAG_TARGET_MS,
            note=(
                f'{int(lag["count"])} retries (first attempt 503, retry {LAG_RETRY_DELAY:g} s later) while queueing '
                f'{LAG_RATE:g} deliveries/s; due time to claim: p50 {lag["p50_ms"]:.1f} ms, max {lag["max_ms"]:.1f} ms.'
            ),
        ),
    ]


def run() -> list[Row]:
    return rows(asyncio.run(measure()))


if __name__ == '__main__':
    from .report import table

    print(table(run()))
