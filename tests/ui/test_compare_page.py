"""The compare page in the user simulation: the first divergence is named and jumped to, the diff table
marks what differs, a node's outputs open as a JSON diff, the alignment toggles, identical runs say so, runs that
differ only in their input say that instead (both inputs shown, their diff a click away), nodes a rerun reused say so
and get no duration delta, and missing or unknown ids get a message."""

from __future__ import annotations

from typing import Any

from nicegui import ui
from nicegui.testing.user import User
from sample_workflows import chain, condition, delay, fail, log, transform, workflow
from uisim import api, click_when_shown, current_path, sign_in, start, text_of, wait_until_ended
from waiting import until

from flowmon.web.format import duration, short_id
from flowmon.web.widgets.diff_table import delta_text

# Small requests are approved at once; large ones wait for a review first.
REFUND: dict[str, Any] = workflow(
    'refund',
    'Refund',
    transform('load', '{amount: input.amount}', 'Load'),
    condition('big', 'load.amount > `100`', 'Over 100?'),
    log('review', 'reviewed', name='Review'),
    log('auto', 'approved', name='Auto-approve'),
    edges=[('load', 'big'), ('big', 'review', True), ('big', 'auto', False)],
)

# A daily import that fails at parsing whatever the day: a rerun from the parser with another day ends as the first
# run did, node for node, and reuses the fetch (which takes a measurable time when it runs).
DAILY: dict[str, Any] = chain(
    'daily',
    'Daily import',
    delay('fetch', 0.05, 'Fetch export'),
    fail('parse', "unexpected column 'amount_usd'", 'Parse rows'),
    log('load', 'loaded', name='Load'),
)


async def run_refund(user: User, amount: int) -> str:
    execution_id = await start(user, 'refund', {'input': {'amount': amount}})
    await wait_until_ended(user, execution_id)
    return execution_id


async def add_refund(user: User) -> None:
    response = await api(user, 'PUT', '/api/workflows/refund', REFUND)
    assert response.status_code in (200, 201), response.text


def position(user: User) -> str:
    """The position line's text, its non-breaking spaces read as spaces."""
    return text_of(user, 'compare-position').replace('\xa0', ' ')


def divergence_node(user: User) -> str:
    element = next(iter(user.find(marker='first-divergence').elements))
    return str(element.props['data-node'])


async def test_runs_that_differ_name_the_first_divergence_and_show_output_diffs(user: User) -> None:
    await add_refund(user)
    small, large = await run_refund(user, 50), await run_refund(user, 500)
    await sign_in(user, f'/compare?a={small}&b={large}')
    await user.should_see(marker='first-divergence')
    assert divergence_node(user) == 'load'  # the amounts differ: the first node's output already differs
    await user.should_see('First divergence:')
    await user.should_see('outputs differ')
    # At the end the branches differ: review ran only for the large amount, auto only for the small one.
    user.find(marker='compare-jump-end').click()
    await user.should_see(marker='diff-review')
    rows = {marker: next(iter(user.find(marker=marker).elements)) for marker in ('diff-review', 'diff-auto')}
    assert all(row.props['data-differs'] == 'yes' for row in rows.values())
    user.find(marker='diff-load').click()
    await user.should_see('Output of Load')
    diff = next(e for e in user.find(ui.html).elements if e.props.get('data-testid') == 'json-diff')
    assert '- ' in diff.content and '+ ' in diff.content and '50' in diff.content and '500' in diff.content


async def test_a_row_changes_in_place_as_the_position_moves(user: User) -> None:
    """Moving through the runs (playback, a jump) changes each row's cells, not the row: a click on a row made as the
    position moves reaches the row that is shown (a row element replaced meanwhile would lose it)."""
    await add_refund(user)
    small, large = await run_refund(user, 50), await run_refund(user, 500)
    await sign_in(user, f'/compare?a={small}&b={large}')
    await user.should_see(marker='diff-review')
    user.find(marker='compare-jump-start').click()
    row = next(iter(user.find(marker='diff-review').elements))
    await until(lambda: row.props['data-differs'] == 'no', 'review not run yet in either run, at the start')
    user.find(marker='compare-jump-end').click()
    await until(lambda: row.props['data-differs'] == 'yes', 'the same row showing the end')
    assert next(iter(user.find(marker='diff-review').elements)) is row
    user.find(marker='diff-review').click()
    await user.should_see('Output of Review')


async def two_quick_runs(user: User) -> tuple[str, str]:
    """Two runs of 'quick' to their end (alike, input and all), compared on the page."""
    first = await start(user, 'quick')
    await wait_until_ended(user, first)
    second = await start(user, 'quick')
    await wait_until_ended(user, second)
    await sign_in(user, f'/compare?a={first}&b={second}')
    return first, second


async def test_identical_runs_say_there_is_no_divergence(user: User) -> None:
    await two_quick_runs(user)
    await user.should_see('No divergence: every node ended with the same status and output in both runs.')
    assert divergence_node(user) == ''


async def test_a_run_deleted_while_compared_is_named_and_no_longer_linked(user: User) -> None:
    _, second = await two_quick_runs(user)
    await user.should_see(marker='compare-link-b')
    await user.should_not_see(marker='compare-deleted-b')
    assert (await api(user, 'DELETE', f'/api/executions/{second}')).status_code == 204
    await user.should_see(f'Execution B ({short_id(second)}) was deleted', marker='compare-deleted-b')
    await user.should_not_see(marker='compare-link-b')  # its replay is gone: its id stays, as text
    await user.should_see(marker='compare-link-a')
    await user.should_not_see(marker='compare-deleted-a')
    await user.should_see('No divergence: every node ended with the same status and output in both runs.')


async def rerun_with_another_day(user: User) -> tuple[str, str]:
    """A failed daily import for 2026-12-01, and its rerun from the parser for 2026-12-09."""
    response = await api(user, 'PUT', '/api/workflows/daily', DAILY)
    assert response.status_code in (200, 201), response.text
    first = await start(user, 'daily', {'input': {'day': '2026-12-01'}})
    assert (await wait_until_ended(user, first))['status'] == 'failed'
    response = await api(
        user, 'POST', f'/api/executions/{first}/rerun', {'from_node': 'parse', 'input': {'day': '2026-12-09'}}
    )
    assert response.status_code == 202, response.text
    rerun = str(response.json()['id'])
    ended = await wait_until_ended(user, rerun)
    assert ended['status'] == 'failed' and ended['nodes']['fetch']['reused'], ended
    return first, rerun


async def test_the_page_opens_at_the_end_of_both_runs_with_the_first_divergence_outlined(user: User) -> None:
    """A failed import and its rerun from the parser once the parser is fixed: the parser is the first divergence,
    and where it settled in both runs the failed run has not yet skipped the load (its last events come within a
    moment of the failure). The page opens at the end of both runs all the same: every event applied, the load
    skipped in A; the divergence is outlined, and Jump to it still goes where it settled."""
    response = await api(user, 'PUT', '/api/workflows/daily', DAILY)
    assert response.status_code in (200, 201), response.text
    first = await start(user, 'daily', {'input': {'day': '2026-12-01'}})
    assert (await wait_until_ended(user, first))['status'] == 'failed'
    fixed = chain(
        'daily',
        'Daily import',
        delay('fetch', 0.05, 'Fetch export'),
        log('parse', 'parsed', name='Parse rows'),
        log('load', 'loaded', name='Load'),
    )
    response = await api(user, 'PUT', '/api/workflows/daily', fixed)
    assert response.status_code in (200, 201), response.text
    response = await api(user, 'POST', f'/api/executions/{first}/rerun', {'from_node': 'parse'})
    assert response.status_code == 202, response.text
    rerun = str(response.json()['id'])
    assert (await wait_until_ended(user, rerun))['status'] == 'succeeded'
    counts = [len((await api(user, 'GET', f'/api/executions/{run}/events')).json()) for run in (first, rerun)]

    await sign_in(user, f'/compare?a={first}&b={rerun}')
    await user.should_see(marker='diff-status-a-load')
    assert divergence_node(user) == 'parse'
    # (each side's part on one line: non-breaking spaces within it, a narrow screen breaks it at the dots alone)
    ends = f'A\xa0event\xa0{counts[0]}\xa0/\xa0{counts[0]} · B\xa0event\xa0{counts[1]}\xa0/\xa0{counts[1]}'
    assert text_of(user, 'compare-position').endswith(f' · {ends}')
    with user.scope(marker='diff-status-a-load'):
        await user.should_see('skipped')
    with user.scope(marker='diff-status-b-load'):
        await user.should_see('succeeded')
    user.find(marker='jump-to-divergence').click()
    await until(lambda: f'A event {counts[0]} / ' not in position(user), 'where the parser settled')


async def test_runs_alike_but_for_their_input_show_both_inputs_and_do_not_claim_no_divergence(user: User) -> None:
    first, rerun = await rerun_with_another_day(user)
    await sign_in(user, f'/compare?a={first}&b={rerun}')
    await user.should_see(marker='first-divergence')
    assert divergence_node(user) == ''  # every node ended alike...
    await user.should_see('Same status and output for every node; the inputs differ.')  # ... but not the input
    await user.should_not_see('No divergence')
    assert '"day": "2026-12-01"' in text_of(user, 'compare-input-a')
    assert '"day": "2026-12-09"' in text_of(user, 'compare-input-b')
    inputs = next(iter(user.find(marker='compare-inputs').elements))
    assert inputs.props['data-differs'] == 'yes'
    with user.scope(marker='compare-inputs'):
        await user.should_see('Inputs differ')
    user.find(marker='show-input-diff').click()
    await user.should_see(marker='input-diff')
    diff = next(iter(user.find(marker='input-diff').elements))
    blocks = {(e.props.get('data-kind'), getattr(e, 'text', '')) for e in diff.descendants()}
    assert ('removed', '-   "day": "2026-12-01"') in blocks and ('added', '+   "day": "2026-12-09"') in blocks


async def test_nodes_a_rerun_reused_say_so_and_have_no_duration_delta(user: User) -> None:
    first, rerun = await rerun_with_another_day(user)
    await sign_in(user, f'/compare?a={first}&b={rerun}')
    await user.should_see(marker='diff-fetch')
    user.find(marker='compare-jump-end').click()
    with user.scope(marker='diff-status-b-fetch'):
        await user.should_see(f'reused from {first[-8:]}')
    assert text_of(user, 'diff-attempts-fetch') == '1 / reused'
    assert (
        text_of(user, 'diff-delta-fetch') == '—'
    )  # not a negative delta: the fetch did not run faster, it did not run
    with user.scope(marker='diff-status-a-fetch'):
        await user.should_not_see('reused')
    # the nodes that ran in both runs still compare their durations and attempts
    assert text_of(user, 'diff-attempts-parse') == '1 / 1'
    assert text_of(user, 'diff-delta-parse') != '—'


# A call that times out once and goes through at its second try, 0.3 s later (the backoff, ±20 %).
FLAKY: dict[str, Any] = chain(
    'flaky',
    'Flaky call',
    fail('call', 'gateway timeout', 'Call', times=1, retry={'max_attempts': 2, 'backoff_seconds': 0.3}),
    log('after', 'done', name='After'),
)


async def test_durations_compare_the_time_the_tries_ran_and_give_the_span_beside_it(user: User) -> None:
    """Two runs of a node tried again after a backoff: each duration is the time its tries ran, as its card says (it
    was the span, backoff included, so the delta compared the two backoffs' jitter), with the span under it."""
    response = await api(user, 'PUT', '/api/workflows/flaky', FLAKY)
    assert response.status_code in (200, 201), response.text
    runs = []
    for _ in range(2):
        execution_id = await start(user, 'flaky', {'input': {}})
        ended = await wait_until_ended(user, execution_id)
        assert ended['status'] == 'succeeded' and ended['nodes']['call']['attempts'] == 2, ended
        runs.append((execution_id, ended['nodes']['call']))
    (a, call_a), (b, call_b) = runs
    await sign_in(user, f'/compare?a={a}&b={b}')
    await user.should_see(marker='diff-call')
    user.find(marker='compare-jump-end').click()
    await user.should_see(marker='diff-duration-b-call')
    for side, call in (('a', call_a), ('b', call_b)):
        assert call['duration_ms'] >= 240 and call['ran_ms'] < call['duration_ms']
        assert texts_in(user, f'diff-duration-{side}-call') == [
            duration(call['ran_ms']),
            f'span {duration(call["duration_ms"])}',
        ]
    assert text_of(user, 'diff-delta-call') == delta_text(round(call_b['ran_ms'] - call_a['ran_ms'], 3))
    assert len(texts_in(user, 'diff-duration-a-after')) == 1  # tried once: its span is its duration, not repeated


def texts_in(user: User, marker: str) -> list[str]:
    """The texts of the labels inside the one element marked ``marker``."""
    (element,) = user.find(marker=marker).elements
    return [label.text for label in element.descendants() if isinstance(label, ui.label)]


async def test_the_alignment_toggles_between_time_and_event_index(user: User) -> None:
    await add_refund(user)
    small, large = await run_refund(user, 50), await run_refund(user, 500)
    await sign_in(user, f'/compare?a={small}&b={large}')
    await user.should_see(marker='compare-align')
    toggle = user.find(marker='compare-align').elements.pop()
    assert isinstance(toggle, ui.toggle)
    toggle.set_value('index')
    slider = user.find(marker='compare-slider').elements.pop()
    assert isinstance(slider, ui.slider)
    slider.set_value(3)
    await until(lambda: position(user).startswith('event 3 · A event 3 / '), 'the position by event index')


async def test_unknown_and_missing_ids_get_a_message(user: User) -> None:
    quick = await start(user, 'quick')
    await wait_until_ended(user, quick)
    await sign_in(user, f'/compare?a={quick}&b=nope')
    await user.should_see(marker='compare-problem')
    await user.should_see("Execution B ('nope') not found.")
    await user.open('/compare')
    await user.should_see('Choose two executions: /compare?a=<execution id>&b=<execution id>.')


async def test_the_picker_refuses_an_id_no_execution_can_have_where_it_is_typed(user: User) -> None:
    """A lone surrogate could not go into the address at all (the browser got no page); a space names nothing."""
    quick = await start(user, 'quick')
    await wait_until_ended(user, quick)
    await sign_in(user, f'/executions/{quick}')
    await click_when_shown(user, 'compare-pick')
    await user.should_see(marker='compare-pick-id')
    for typed in ('abc\ud800d', 'two words'):
        user.find(marker='compare-pick-id').clear().type(typed)
        user.find(marker='compare-pick-go').click()
        await user.should_see(f'No execution has the id {typed!r} (at most 40 letters, digits, _ . -).')
    await user.should_see(marker='compare-pick-id')  # the picker stays open to take another
    assert current_path(user) == f'/executions/{quick}'
