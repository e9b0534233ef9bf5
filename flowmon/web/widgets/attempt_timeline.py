"""A delivery's attempt log as a timeline: number, time, duration, status code, error, next retry.

Each attempt opens to show what was sent and what came back: the request headers (credentials already masked
when the attempt was logged), the response headers and the first 2 KB of the response body.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from nicegui import ui

from flowmon.application.deliveries import AttemptRecord
from flowmon.web import format as fmt
from flowmon.web import webhook_format as wfmt
from flowmon.web.widgets.empty_state import empty_state, redraw_list
from flowmon.web.widgets.text_block import TextBlock

GOOD, BAD, INTERRUPTED = 'positive', 'negative', 'purple-5'
TRIGGERS = {'first': 'first attempt', 'retry': 'scheduled retry', 'manual': 'manual redeliver',
            'bulk': 'bulk redeliver', 'recovery': 'recovered after restart'}  # fmt: skip


class AttemptTimeline:
    """Rebuilt by :meth:`show` whenever the number of attempts changes (attempts are only ever appended)."""

    def __init__(self) -> None:
        self._shown: int | None = None
        with ui.column().classes('w-full gap-0').mark('attempt-timeline') as self.element:
            pass

    def show(self, attempts: Sequence[AttemptRecord], now: datetime, *, total: int | None = None) -> None:
        """Draw ``attempts`` (oldest first) unless they are drawn already; ``total``: how many the log holds, when
        ``attempts`` are only the latest of them."""
        count = len(attempts) if total is None else total
        if count == self._shown:
            return
        self._shown = count
        redraw_list(self.element, attempts, lambda shown: _timeline(shown, now, count), _no_attempts)


def _no_attempts() -> None:
    empty_state('attempts-empty', 'hourglass_empty', 'No attempt yet', 'The first attempt goes out at once.')


def _timeline(attempts: Sequence[AttemptRecord], now: datetime, total: int) -> None:
    if total > len(attempts):
        ui.label(f'The latest {len(attempts):,} of {total:,} attempts').classes('text-sm text-grey-7').mark(
            'attempts-cut'
        )
    with ui.timeline(side='right').classes('w-full fm-attempts'):
        for attempt in attempts:
            _entry(attempt, now)


def _entry(attempt: AttemptRecord, now: datetime) -> None:
    ok = attempt.status_code is not None and 200 <= attempt.status_code < 300
    color = GOOD if ok else INTERRUPTED if attempt.error_class == 'interrupted' else BAD
    outcome = f'HTTP {attempt.status_code}' if attempt.status_code is not None else (attempt.error_class or 'no answer')
    with ui.timeline_entry(
        title=f'Attempt {attempt.n} · {outcome}',
        subtitle=f'{fmt.full_timestamp(attempt.started_at)} · {TRIGGERS.get(attempt.trigger, attempt.trigger)}',
        icon='check' if ok else 'close',
        color=color,
    ).mark(f'attempt-{attempt.n}'):
        with ui.row().classes('items-center gap-x-5 gap-y-1 text-sm'):
            _fact('Duration', fmt.duration(attempt.duration_ms))
            _fact('Status', str(attempt.status_code) if attempt.status_code is not None else fmt.DASH)
            if attempt.resolved_ip:
                _fact('Address', attempt.resolved_ip)
            if attempt.retry_after_s is not None:
                _fact('Retry-After', f'{attempt.retry_after_s:g} s')
            if attempt.next_attempt_at is not None:
                _fact('Next retry', _next_retry(attempt, now))
        if attempt.error_class:
            message = f'{attempt.error_class}: {attempt.error_message or ""}'.strip().rstrip(':')
            ui.label(message).classes('text-sm fm-bad fm-mono fm-break').mark(f'attempt-{attempt.n}-error')
        with ui.expansion('Request & response', icon='swap_horiz').classes('w-full fm-exchange').props('dense'):
            _headers('Request headers', attempt.request_headers)
            ui.label(f'{attempt.body_size:,} bytes · sha256 {attempt.body_sha256[:16]}…').classes(
                'text-xs text-grey-7 fm-mono'
            )
            if attempt.status_code is not None:
                _headers('Response headers', attempt.response_headers)
                ui.label('Response body (first 2 KB)').classes('fm-subhead')
                if attempt.response_body_prefix:
                    TextBlock(attempt.response_body_prefix).props('data-testid=attempt-response-body').mark(
                        f'attempt-{attempt.n}-response-body'
                    )
                else:
                    ui.label('(empty)').classes('text-xs text-grey-7')


def _next_retry(attempt: AttemptRecord, now: datetime) -> str:
    assert attempt.next_attempt_at is not None
    delay_ms = (attempt.next_attempt_at - (attempt.ended_at or attempt.started_at)).total_seconds() * 1000
    return f'{fmt.timestamp(attempt.next_attempt_at, now=now)} (wait {fmt.duration(max(delay_ms, 0))})'


def _fact(label: str, value: str) -> None:
    with ui.row().classes('items-baseline gap-1 no-wrap'):
        ui.label(label).classes('text-xs text-grey-7')
        ui.label(value).classes('fm-num')


def _headers(title: str, headers: dict[str, str]) -> None:
    ui.label(title).classes('fm-subhead')
    if not headers:
        ui.label('(none recorded)').classes('text-xs text-grey-7')
        return
    with ui.element('div').classes('fm-headers'):
        for name, value in wfmt.masked_headers(headers):
            ui.label(name).classes('fm-mono fm-header-name')
            ui.label(value).classes('fm-mono fm-header-value')
