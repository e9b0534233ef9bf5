"""The report of a stop that takes too long: the step it is at and where each task on the loop waits."""

from __future__ import annotations

import asyncio
import logging

import pytest

from flowmon.infra.stop_watch import StopWatch


async def test_a_late_stop_names_its_step_and_what_each_task_waits_for(caplog: pytest.LogCaptureFixture) -> None:
    held = asyncio.Event()

    async def write_that_never_ends() -> None:
        await held.wait()

    stuck = asyncio.get_running_loop().create_task(write_that_never_ends(), name='event recorder')
    caplog.set_level(logging.WARNING, logger='flowmon.infra.stop_watch')
    with StopWatch(report_after=0.05) as watch:
        watch.step = 'recorder'
        await asyncio.sleep(0.2)
    held.set()
    await stuck
    report, stopped = (record.getMessage() for record in caplog.records)
    assert 'still at: recorder' in report
    assert 'event recorder: write_that_never_ends (unit/test_stop_watch.py:' in report
    assert '> wait (asyncio/locks.py:' in report  # the chain of awaits down to what it waits for
    assert stopped.startswith('stopped after ')


async def test_a_prompt_stop_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger='flowmon.infra.stop_watch')
    with StopWatch(report_after=5) as watch:
        watch.step = 'engine'
        await asyncio.sleep(0)
    assert caplog.records == []
