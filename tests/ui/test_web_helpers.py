"""The web layer's pure pieces: URL filters, JSON input checking, formatting, merging live rows, auth helpers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from flowmon.engine.core.events import Event, EventType
from flowmon.engine.core.payload import PayloadBudget
from flowmon.engine.core.state import ExecutionState, NodeState
from flowmon.perimeter.token_gate import token_matches
from flowmon.store.history import ExecutionRecord
from flowmon.web import format as fmt
from flowmon.web.auth import fingerprint, safe_redirect
from flowmon.web.execution_rows import ExecutionSummary, merge_live
from flowmon.web.filters import ExecutionFilter
from flowmon.web.live_rows import LetGo
from flowmon.web.widgets.event_log import line_cells
from flowmon.web.widgets.execution_table import progress_text
from flowmon.web.widgets.json_input_dialog import parse_input

NOW = datetime(2025, 3, 4, 15, 30, tzinfo=UTC)


def test_filter_round_trips_through_the_url() -> None:
    flt, problems = ExecutionFilter.from_query({'status': 'failed', 'since': 'today', 'workflow_id': 'etl'})
    assert problems == []
    assert flt.url('/executions') == '/executions?workflow_id=etl&status=failed&since=today'
    assert (
        flt.with_(page=3).url('/executions', include_workflow=False) == '/executions?status=failed&since=today&page=3'
    )
    assert flt.with_(page=3).with_(status='succeeded').page == 1  # a new filter starts at the first page


def test_filter_windows() -> None:
    today, _ = ExecutionFilter(since='today').window(NOW)
    assert today == datetime(2025, 3, 4, tzinfo=UTC)
    assert ExecutionFilter(since='15m').window(NOW) == (NOW - timedelta(minutes=15), None)
    start, end = ExecutionFilter(since='2025-03-01', until='2025-03-02').window(NOW)
    assert (start, end) == (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 3, tzinfo=UTC))  # until is inclusive


def test_the_list_url_takes_every_form_the_api_takes() -> None:
    """A saved view or an API filter opened as the list's URL: date-times and any relative window, as the API."""
    query = {'since': '2025-03-04T14:00:00+01:00', 'until': '2025-03-04T15:00:00Z'}
    flt, problems = ExecutionFilter.from_query(query)
    assert problems == []
    assert flt.window(NOW) == (datetime(2025, 3, 4, 13, tzinfo=UTC), datetime(2025, 3, 4, 15, tzinfo=UTC))
    assert flt.describe_window() == '2025-03-04 13:00 UTC \N{EN DASH} 2025-03-04 15:00 UTC'  # in UTC, readable
    five, problems = ExecutionFilter.from_query({'since': '5m'})
    assert problems == [] and five.window(NOW) == (NOW - timedelta(minutes=5), None)
    assert five.describe_window() == 'Last 5m'


@pytest.mark.parametrize(
    ('query', 'fragment'),
    [
        ({'status': 'exploded'}, "unknown status 'exploded'"),
        ({'since': 'yesterday'}, '"since" must be a relative window (15m, 1h'),
        ({'since': '2025-02-30'}, "a day YYYY-MM-DD or an ISO 8601 date-time such as 2024-03-02T14:00:00Z; got '2025"),
        ({'until': 'soon'}, '"until" must be a day YYYY-MM-DD or an ISO 8601 date-time'),
        ({'until': '7d'}, '"until" must be a day'),
        ({'page': '-2'}, "page '-2' ignored"),
        ({'trigger': 'cosmic'}, "unknown trigger 'cosmic'"),
        ({'workflow_id': 'no such id'}, "workflow id 'no such id' ignored: an id is 1-64 letters, digits"),
        ({'workflow_id': 'a\x00b'}, "workflow id 'a\\x00b' ignored"),  # said as text
        ({'origin': 'remote'}, '"origin" must be local (run by this instance) or imported'),
        ({'q': 'ab'}, 'search needs at least 3 characters; the list is not searched'),
        ({'q': 'a\nbc'}, 'search cannot hold line breaks, tabs or other control characters'),
        ({'q': 'x' * 201}, 'search takes at most 200 characters'),
    ],
)
def test_bad_filter_values_are_dropped_with_a_message(query: dict[str, str], fragment: str) -> None:
    flt, problems = ExecutionFilter.from_query(query)
    assert flt == ExecutionFilter()
    assert len(problems) == 1 and fragment in problems[0]


def test_filter_matches_like_the_sql_query() -> None:
    state = ExecutionState(id='e1', workflow_id='etl', status='failed', created_at=NOW - timedelta(minutes=5))
    assert ExecutionFilter(status='failed', since='15m').matches(state, NOW)
    assert not ExecutionFilter(status='failed', since='1h', workflow_id='other').matches(state, NOW)
    assert not ExecutionFilter(until='2025-03-03').matches(state, NOW)


def test_origin_travels_in_the_url_and_a_live_execution_is_one_run_here() -> None:
    flt, problems = ExecutionFilter.from_query({'origin': ' imported ', 'status': 'failed'})
    assert problems == [] and flt.origin == 'imported' and not flt.is_empty
    assert flt.url('/executions') == '/executions?status=failed&origin=imported'
    assert flt.view_filter() == {'status': 'failed', 'origin': 'imported'}
    assert flt.filters(NOW)['origin'] == 'imported'
    running = ExecutionState(id='e1', workflow_id='etl', status='failed', created_at=NOW)
    assert not flt.matches(running, NOW) and ExecutionFilter(origin='local').matches(running, NOW)


def test_search_and_trigger_travel_in_the_url_and_match_live_executions_like_the_index() -> None:
    flt, problems = ExecutionFilter.from_query({'q': '  A-1001 ', 'trigger': 'api', 'status': 'failed', 'page': '2'})
    assert problems == [] and (flt.q, flt.trigger) == ('A-1001', 'api')
    assert flt.url('/executions') == '/executions?status=failed&trigger=api&q=A-1001&page=2'
    assert flt.view_filter() == {'status': 'failed', 'trigger': 'api', 'q': 'A-1001'}  # a saved view has no page
    assert not flt.is_empty and ExecutionFilter(q='A-1001').history_query(NOW, 25)['q'] == 'A-1001'

    running = ExecutionState(
        id='run-1', workflow_id='etl', status='running', created_at=NOW, input={'order': 'a-1001'},
        trigger={'type': 'api'}, nodes={'n': NodeState(id='n', output={'note': 'B-2002'})},
    )  # fmt: skip
    assert ExecutionFilter(q='A-1001', trigger='api').matches(running, NOW)  # its input, case-insensitive
    assert not ExecutionFilter(q='A-1001', trigger='schedule').matches(running, NOW)
    assert not ExecutionFilter(q='B-2002').matches(running, NOW)  # outputs count once it has ended
    ended = replace(running, id='run-2', status='succeeded')
    assert ExecutionFilter(q='B-2002').matches(ended, NOW)


@pytest.mark.parametrize(
    ('text', 'value', 'problem'),
    [
        ('', {}, None),
        ('  ', {}, None),
        ('{"a": 1}', {'a': 1}, None),
        ('{"a": ', None, 'Not valid JSON'),
        ("{'a': 1}", None, 'Not valid JSON'),
        ('[1]', None, 'must be a JSON object'),
        ('null', None, 'not null'),
        ('"text"', None, 'not str'),
        ('[' * 100_000, None, 'the execution input is nested more than 64 levels deep'),  # refused before parsing
        ('{"n": ' + '1' * 5000 + '}', None, 'Not valid JSON'),
        ('{"n": 100000000000000000000000}', None, 'holds an integer outside the 64-bit range'),
        ('{"n": NaN}', None, 'the execution input at n: NaN and Infinity are not JSON numbers'),
        ('{"a": [1, -Infinity]}', None, 'the execution input at a[1]: NaN and Infinity are not JSON numbers'),
        ('{"n": 1e999}', None, 'the execution input at n: 1e999 is out of range: JSON numbers must be finite'),
        ('{"n": 1' + '0' * 400 + '.5}', None, 'at n: 1' + '0' * 38 + '… is out of range'),  # a long one: cut
        ('{"order": {"n": 1, "n": 2}}', None, 'the execution input names the key "n" twice in one object (in order)'),
    ],
)
def test_run_input_must_be_a_json_object(text: str, value: object, problem: str | None) -> None:
    parsed, message = parse_input(text)
    assert parsed == value
    if problem is None:
        assert message is None
    else:
        assert message is not None and problem in message


@pytest.mark.parametrize(
    ('text', 'value', 'problem'),
    [
        ('{"text": "' + 'x' * 1100 + '"}', None, 'is 1.1 KiB, over FLOWMON_MAX_PAYLOAD_BYTES (1 KiB)'),
        ('{"text":\n\n' + ' ' * 3000 + '"short"}', {'text': 'short'}, None),  # whitespace is not the size
        (' ' * 5000, {}, None),
        ('x' * 5000, None, 'far over the payload budget'),  # not even parsed
    ],
)
def test_run_input_must_be_within_the_payload_budget(text: str, value: object, problem: str | None) -> None:
    parsed, message = parse_input(text, PayloadBudget(max_bytes=1024))
    assert parsed == value
    if problem is None:
        assert message is None
    else:
        assert message is not None and problem in message


def test_formatting() -> None:
    assert fmt.duration(None) == '—'
    assert fmt.duration(340.4) == '340 ms'
    assert fmt.duration(4210) == '4.2 s'
    assert fmt.duration(185_000) == '3m 05s'
    assert fmt.duration(7_440_000) == '2h 04m'
    assert fmt.percent(None) == '—'
    assert fmt.percent(97.53) == '97.5 %'
    assert fmt.count(12345) == '12,345'
    assert [fmt.plural(n, 'node') for n in (0, 1, 2, 1200)] == ['0 nodes', '1 node', '2 nodes', '1,200 nodes']
    assert (fmt.plural(1, 'delivery'), fmt.plural(3, 'delivery')) == ('1 delivery', '3 deliveries')
    assert fmt.short_id('19a2b3c4d5e6f7a8b9c0d1') == 'a8b9c0d1'  # the random tail, not the shared time prefix
    assert fmt.timestamp(NOW - timedelta(hours=1), now=NOW, tz=UTC) == '14:30:00'
    assert fmt.timestamp(NOW - timedelta(days=3), now=NOW, tz=UTC) == 'Mar 01 15:30'
    assert fmt.timestamp(NOW - timedelta(days=400), now=NOW, tz=UTC) == '2024-01-29 15:30'
    first, last = datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    assert fmt.timestamp(first, now=NOW, tz=UTC) == '0001-01-01 00:00'  # four digits, as an ISO date has
    # a zone that would take a time past the calendar's ends: the time in UTC, which says so
    assert fmt.full_timestamp(last, tz=ZoneInfo('Asia/Tokyo')) == '9999-12-31 23:59:00 UTC'
    assert fmt.full_timestamp(first, tz=ZoneInfo('Etc/GMT+12')) == '0001-01-01 00:00:00 UTC'
    assert fmt.full_timestamp(NOW, tz=ZoneInfo('Asia/Tokyo')).endswith(' JST')
    assert fmt.timestamp(last, now=NOW, tz=ZoneInfo('Asia/Tokyo')) == '9999-12-31 23:59 UTC'
    assert fmt.timestamp(NOW - timedelta(days=400), now=NOW, tz=ZoneInfo('Asia/Tokyo')) == '2024-01-30 00:30'


def test_the_event_logs_first_line_counts_the_nodes_in_words_that_agree_with_the_number() -> None:
    def queued(nodes: list[str]) -> str:
        data = {'workflow_id': 'quick', 'nodes': nodes}
        event = Event(execution_id='e1', seq=1, ts=NOW, type=EventType.EXECUTION_QUEUED, data=data)
        return line_cells(event, NOW)[5]

    assert (queued(['only']), queued(['a', 'b'])) == ('quick · 1 node', 'quick · 2 nodes')


def _row(execution_id: str, minutes_ago: int, status: str = 'succeeded') -> ExecutionSummary:
    return ExecutionSummary(
        id=execution_id,
        workflow_id='w',
        status=status,
        created_at=NOW - timedelta(minutes=minutes_ago),
        started_at=None,
        finished_at=None,
        duration_ms=None,
        done=0,
        total=1,
    )


def test_rows_read_again_replace_those_let_go_of_and_a_row_no_longer_stored_goes() -> None:
    held = {'held'}
    live = SimpleNamespace(holds=lambda execution_id: execution_id in held)
    let_go = LetGo(live, records=None, show=None, context=None)  # type: ignore[arg-type]  # (merge reads nothing)
    rows = [_row('held', 1, 'running'), _row('ended', 2, 'running'), _row('deleted', 3, 'running'), _row('old', 4)]
    read = {'ended': _row('ended', 2, 'cancelled'), 'deleted': None, 'held': _row('held', 1, 'succeeded')}
    merged = let_go.merge(rows, read)
    assert [(row.id, row.status) for row in merged] == [
        ('held', 'running'),
        ('ended', 'cancelled'),
        ('old', 'succeeded'),
    ]


def test_a_stored_run_that_ended_short_shows_the_nodes_that_succeeded() -> None:
    """The list row of a stored execution (the dashboard's rows all are): a cancelled run of nine with two nodes
    succeeded is 2/9, not its 9 done; a running or succeeded one shows done/total, as does one whose count is
    not known."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    record = ExecutionRecord(
        id='e1', workflow_id='w', status='cancelled', created_at=now, started_at=now, finished_at=now,
        duration_ms=5.0, retry_of=None, error=None, nodes_done=9, nodes_total=9, nodes_succeeded=2,
    )  # fmt: skip
    assert progress_text(ExecutionSummary.from_record(record)) == '2/9'
    assert progress_text(ExecutionSummary.from_record(replace(record, status='interrupted'))) == '2/9'
    assert progress_text(ExecutionSummary.from_record(replace(record, nodes_succeeded=None))) == '9/9'
    succeeded = replace(record, status='succeeded', nodes_succeeded=7)  # two skipped: done, not succeeded
    assert progress_text(ExecutionSummary.from_record(succeeded)) == '9/9'
    assert progress_text(ExecutionSummary.from_record(replace(record, nodes_total=0))) == fmt.DASH


def test_merge_live_updates_rows_and_adds_new_matching_executions_on_the_first_page() -> None:
    rows = [_row('b', 5, 'running'), _row('a', 10)]
    live = [
        ExecutionState(id='b', workflow_id='w', status='succeeded', created_at=NOW - timedelta(minutes=5)),
        ExecutionState(id='c', workflow_id='w', status='queued', created_at=NOW),
        ExecutionState(id='x', workflow_id='other', status='queued', created_at=NOW),
    ]
    merged, added = merge_live(rows, live, ExecutionFilter(workflow_id='w'), NOW, limit=2, add_new=True)
    assert [row.id for row in merged] == ['c', 'b']
    assert merged[1].status == 'succeeded'
    assert added == 1
    later_page, added = merge_live(rows, live, ExecutionFilter(workflow_id='w'), NOW, limit=2, add_new=False)
    assert [row.id for row in later_page] == ['b', 'a'] and added == 0


def test_auth_helpers() -> None:
    assert token_matches('secret', 'secret')
    assert not token_matches('', 'secret')
    assert not token_matches(None, 'secret')
    assert not token_matches('secreT', 'secret')
    assert fingerprint('a') != fingerprint('b')
    assert 'secret' not in fingerprint('secret') and len(fingerprint('secret')) == 32
    assert safe_redirect('/executions?status=failed') == '/executions?status=failed'
    for unsafe in ('https://evil.example/', '//evil.example/x', '/login?redirect_to=/', 'executions', None, '/\\evil'):
        assert safe_redirect(unsafe) == '/'


@pytest.mark.parametrize(
    'target',
    [
        '/\t/evil.example/x',  # browsers drop the tab: //evil.example
        '/\n/evil.example',
        '/\r\n/evil.example',
        '/\x00/evil.example',
        '/\\/evil.example',  # browsers read a backslash as a slash
        '/\\evil.example',
        '\\\\evil.example',
        '//evil.example',
        '///evil.example',
        '/%2F/evil.example',  # encoded forms of the same
        '/%2f%2fevil.example',
        '/%09/evil.example',
        '/%5C/evil.example',
        '/%5cevil.example',
        '/./evil.example',
        '/.//evil.example',
        '/%2e%2e//evil.example',
        'javascript:alert(1)',
        'https://evil.example',
        'HTTPS://evil.example',
        ' /executions',
        '/executions ',
        '/exec utions',
        '/logout',
        '/login',
        '/' + 'a' * 2001,
    ],
)
def test_safe_redirect_refuses_everything_a_browser_could_send_elsewhere(target: str) -> None:
    assert safe_redirect(target) == '/'


@pytest.mark.parametrize(
    'target',
    ['/', '/executions?status=failed&since=today', '/executions/0192-ab/replay?at=3', '/workflows/%C3%A9t%C3%A9'],
)
def test_safe_redirect_keeps_local_paths(target: str) -> None:
    assert safe_redirect(target) == target


def test_a_schedules_next_run_is_said_in_its_own_zone_too_when_that_reads_otherwise() -> None:
    from zoneinfo import ZoneInfo

    from flowmon.web.widgets.automation_panel import next_run_text

    moment, now = datetime(2027, 10, 30, 23, 30, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC)
    berlin = ZoneInfo('Europe/Berlin')
    assert next_run_text(moment, berlin, UTC, now) == (
        '2027-10-30 23:30:00 UTC · 2027-10-31 01:30:00 CEST in Europe/Berlin (in 330 d)'
    )
    assert next_run_text(moment, ZoneInfo('UTC'), UTC, now) == '2027-10-30 23:30:00 UTC (in 330 d)'
    assert next_run_text(moment, berlin, berlin, now) == '2027-10-31 01:30:00 CEST (in 330 d)'
    assert next_run_text(now + timedelta(days=1, hours=12), berlin, berlin, now).endswith('(in 1.5 d)')
    assert next_run_text(None, berlin, UTC, now) == fmt.DASH
