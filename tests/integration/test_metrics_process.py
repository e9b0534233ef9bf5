"""``GET /metrics`` on the real app (``python app.py``): real executions and a real delivery move the counters, read
with prometheus_client's own parser; the bearer token guards the route (and wrong tokens count with the API's)
unless ``FLOWMON_METRICS_PUBLIC=1``."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from flowmon_process import FlowmonProcess
from prometheus_client.parser import text_string_to_metric_families
from sample_workflows import chain, fail, log, transform, workflow
from waiting import wait_until
from webhook_receiver import Receiver

Launch = Callable[..., FlowmonProcess]
Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]
WORKFLOWS = [
    chain('tidy', 'Tidy', transform('shape', '{n: input.n}'), log('note', 'tidied')),
    workflow('doomed', 'Doomed', fail('boom', 'no')),
]


def scrape(flowmon: FlowmonProcess, *, token: str | None = None) -> tuple[httpx.Response, Samples]:
    headers = {'Authorization': f'Bearer {token}'} if token else {}
    response = httpx.get(f'{flowmon.base_url}/metrics', headers=headers, timeout=10.0)
    samples: Samples = {}
    if response.status_code == 200:
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return response, samples


def scrape_until(flowmon: FlowmonProcess, done: Callable[[Samples], bool]) -> Samples:
    last: list[str] = ['']

    def scraped() -> Samples | None:
        response, samples = scrape(flowmon, token=flowmon.token)
        assert response.status_code == 200, response.text
        last[0] = response.text
        return samples if done(samples) else None

    return wait_until(scraped, 'the metrics to get there', seen=lambda: last[0])


def labels(**values: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(values.items()))


def test_metrics_follow_real_runs_behind_the_token(launch: Launch, receiver: Receiver) -> None:
    flowmon = launch(FLOWMON_OUTBOUND_ALLOW='127.0.0.1')
    flowmon.wait_started()
    for definition in WORKFLOWS:
        assert flowmon.api('PUT', f'/api/workflows/{definition["id"]}', json=definition).status_code == 201

    response, before = scrape(flowmon, token=flowmon.token)
    assert response.status_code == 200
    assert response.headers['content-type'].startswith('text/plain; version=0.0.4')
    assert 'set-cookie' not in response.headers  # a scraper gets no browser session
    assert before['flowmon_build_info'] == {labels(version='0.1.0'): 1}
    assert before['flowmon_webhook_deliveries_total'][labels(outcome='succeeded')] == 0
    assert 'flowmon_executions_total' not in before

    assert [flowmon.run_to_end('tidy', {'n': 1})['status'] for _ in range(2)] == ['succeeded', 'succeeded']
    assert flowmon.run_to_end('doomed', {'n': 1})['status'] == 'failed'
    delivery = flowmon.api('POST', '/api/webhooks/deliveries', json={'url': receiver.url, 'body': {'a': 1}})
    assert delivery.status_code == 202, delivery.text
    flowmon.poll(f'/api/webhooks/deliveries/{delivery.json()["id"]}', lambda body: body['status'] == 'succeeded')

    after = scrape_until(flowmon, lambda samples: samples['flowmon_events_recorded_total'][()] > 0)
    assert after['flowmon_executions_total'] == {
        labels(workflow='tidy', status='succeeded'): 2,
        labels(workflow='doomed', status='failed'): 1,
    }
    assert after['flowmon_execution_duration_seconds_count'] == {
        labels(workflow='tidy'): 2,
        labels(workflow='doomed'): 1,
    }
    assert after['flowmon_node_duration_seconds_count'] == {
        labels(workflow='tidy', node_type='transform'): 2,
        labels(workflow='tidy', node_type='log'): 2,
        labels(workflow='doomed', node_type='fail'): 1,
    }
    assert after['flowmon_webhook_deliveries_total'][labels(outcome='succeeded')] == 1
    assert after['flowmon_executions_active'][()] == 0 and after['flowmon_executions_queued'][()] == 0
    assert after['flowmon_webhook_pending'][()] == 0
    assert after['flowmon_connected_clients'][()] == 0
    assert after['flowmon_event_loop_lag_seconds'][()] >= 0
    assert after['flowmon_recorder_backlog_events'][()] >= 0

    assert flowmon.api('DELETE', '/api/workflows/doomed').status_code == 204
    _, deleted = scrape(flowmon, token=flowmon.token)
    assert all(dict(key).get('workflow') != 'doomed' for key in deleted['flowmon_executions_total'])
    assert labels(workflow='tidy', status='succeeded') in deleted['flowmon_executions_total']

    missing, _ = scrape(flowmon)
    assert missing.status_code == 401 and missing.headers['www-authenticate'] == 'Bearer'
    for _ in range(20):  # wrong tokens on /metrics count with every other way in
        assert scrape(flowmon, token='wrong-token-0000')[0].status_code == 401
    limited = httpx.get(f'{flowmon.base_url}/api/workflows', headers={'Authorization': 'Bearer wrong-token-0000'})
    assert limited.status_code == 429 and 'retry-after' in limited.headers
    assert scrape(flowmon, token=flowmon.token)[0].status_code == 429  # locked out, even with the right token
    assert flowmon.stop() in (0, -15)  # every log line is written by now
    assert (
        'wrong-token-0000' not in flowmon.stderr and 'failed token check from 127.0.0.1 on /metrics' in flowmon.stderr
    )


def test_metrics_can_be_public(launch: Launch) -> None:
    flowmon = launch(FLOWMON_METRICS_PUBLIC='1')
    flowmon.wait_started()
    response, samples = scrape(flowmon)
    assert response.status_code == 200 and samples['flowmon_build_info']
    assert httpx.get(f'{flowmon.base_url}/api/workflows').status_code == 401  # the API still needs the token
