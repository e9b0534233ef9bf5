"""The outbound webhook routes through the real app (``python app.py``, every middleware of the stack): a delivery
cancelled while it waits for its retry, redelivered alone and in bulk, the ledger's statistics, an endpoint
disabled and enabled again, and a workflow's node statistics. (What each route decides is tested in-process, on
the API alone: tests/integration/test_webhooks_api.py.)"""

from __future__ import annotations

from collections.abc import Callable

import httpx
from flowmon_process import FlowmonProcess, ok
from sample_workflows import QUICK_CHAIN
from webhook_receiver import Receiver, Reply

LOOPBACK_SLOW_RETRY = {  # a failed first attempt waits a minute for its next one: long enough to cancel it
    'FLOWMON_OUTBOUND_ALLOW': '127.0.0.1',
    'FLOWMON_WEBHOOK_RETRY_SCHEDULE': '0,60',
    'FLOWMON_WEBHOOK_JITTER': '0',
}


def test_delivery_routes_through_the_whole_app(
    launch: Callable[..., FlowmonProcess], receivers: Callable[..., Receiver]
) -> None:
    receiver = receivers([Reply(503)])  # the first attempt fails; every later one is answered 200
    flowmon = launch(**LOOPBACK_SLOW_RETRY)
    flowmon.wait_started()
    delivery_id = ok(
        flowmon.api('POST', '/api/webhooks/deliveries', json={'url': receiver.url, 'body': {'n': 1}}), 202
    )['id']
    flowmon.wait_delivery(delivery_id, 'retrying')  # the 503 came back: the next attempt is a minute away

    for path in (f'/api/webhooks/deliveries/{delivery_id}/cancel', f'/api/webhooks/deliveries/{delivery_id}/redeliver'):
        assert httpx.post(f'{flowmon.base_url}{path}').status_code == 401  # the token is asked for, as everywhere
    assert ok(flowmon.api('POST', f'/api/webhooks/deliveries/{delivery_id}/cancel'), 202) == {
        'id': delivery_id,
        'status': 'cancelled',
    }
    flowmon.wait_delivery(delivery_id, 'cancelled')
    refused = flowmon.api('POST', f'/api/webhooks/deliveries/{delivery_id}/cancel')
    assert refused.status_code == 409, refused.text  # nothing waits any more
    assert ok(flowmon.api('GET', '/api/webhooks/stats'))['cancelled_24h'] == 1

    redelivered = ok(flowmon.api('POST', f'/api/webhooks/deliveries/{delivery_id}/redeliver'), 202)
    assert redelivered['id'] == delivery_id
    flowmon.wait_delivery(delivery_id, 'succeeded')
    stats = ok(flowmon.api('GET', '/api/webhooks/stats'))
    assert (stats['succeeded_24h'], stats['cancelled_24h'], stats['success_rate_24h']) == (1, 0, 1.0)

    bulk = ok(flowmon.api('POST', '/api/webhooks/deliveries/redeliver', json={'status': ['succeeded']}), 202)
    assert bulk == {'count': 1, 'ids': [delivery_id]}
    detail = flowmon.poll(
        f'/api/webhooks/deliveries/{delivery_id}',
        lambda detail: detail['status'] == 'succeeded' and len(detail['attempts']) == 3,
    )
    assert [attempt['status_code'] for attempt in detail['attempts']] == [503, 200, 200]
    assert detail['attempts_total'] == 3
    assert len({hit.headers['webhook-id'] for hit in receiver.hits}) == 1  # one delivery, sent three times


def test_endpoint_switches_and_workflow_stats_through_the_whole_app(launch: Callable[..., FlowmonProcess]) -> None:
    flowmon = launch()
    flowmon.wait_started()
    endpoint = ok(
        flowmon.api(
            'POST', '/api/webhooks/endpoints', json={'url': 'https://example.com/in', 'event_types': ['node.failed']}
        ),
        201,
    )
    path = f'/api/webhooks/endpoints/{endpoint["id"]}'
    odd_port = {'url': 'https://example.com:+443/in', 'event_types': ['node.failed']}  # httpx would read 443
    refused = flowmon.api('POST', '/api/webhooks/endpoints', json=odd_port)
    assert refused.status_code == 422 and 'the port in the URL is not a number' in refused.text, refused.text
    assert endpoint['enabled'] is True
    assert httpx.post(f'{flowmon.base_url}{path}/disable').status_code == 401
    assert ok(flowmon.api('POST', f'{path}/disable'))['enabled'] is False
    assert ok(flowmon.api('GET', path))['enabled'] is False
    assert ok(flowmon.api('POST', f'{path}/enable'))['enabled'] is True
    assert ok(flowmon.api('GET', path))['enabled'] is True

    flowmon.put(QUICK_CHAIN)
    assert flowmon.run_to_end('quick', {'n': 3})['status'] == 'succeeded'
    nodes = ok(flowmon.api('GET', '/api/workflows/quick/stats'))['nodes']
    assert {node_id: usual['count'] for node_id, usual in nodes.items()} == {'prepare': 1, 'work': 1, 'report': 1}
    assert flowmon.api('GET', '/api/workflows/no-such-workflow/stats').status_code == 404
