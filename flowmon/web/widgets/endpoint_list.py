"""Webhook endpoints: create and edit, health (24 h success rate, latency), enable/disable, secret reveal and rotate,
a test event with its outcome, bulk redeliver, delete.

An endpoint that flowmon disabled itself (deliveries kept ending exhausted, or it answered 410 Gone) shows the
reason and a one-click Re-enable. The secret stays hidden until asked for; a revealed secret is kept on this page
only (it survives the list being redrawn, not a reload) and read again every :data:`RECHECK_SECONDS`, so a rotation
made elsewhere (another tab, the API, another process) replaces it rather than leaving a stale one to copy. Under
the secret, hidden or not, a line says until when the previous one still signs after a rotation; it goes once that
time has passed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from nicegui import ui

from flowmon.application import Application
from flowmon.application.deliveries import Endpoint
from flowmon.application.errors import AppError
from flowmon.web import format as fmt
from flowmon.web import webhook_actions as actions
from flowmon.web import webhook_format as wfmt
from flowmon.web.a11y import named
from flowmon.web.actions import one_at_a_time

from .confirm_dialog import confirm
from .empty_state import empty_state, redraw_list
from .endpoint_dialog import EndpointDialog
from .rotate_dialog import ask_rotation, grace_cut_short

USER_DISABLED = 'disabled by a user'
HIDDEN_SECRET = 'whsec_' + '•' * 24
RECHECK_SECONDS = 5.0
"""How often a revealed secret is read again (only while one is revealed)."""


class EndpointList:
    """Redrawn by :meth:`show` when the endpoints or their health change."""

    def __init__(self, application: Application, *, on_bulk_redeliver: Callable[[str], Any]) -> None:
        self._application = application
        self._on_bulk = on_bulk_redeliver
        self._revealed: dict[str, dict[str, Any]] = {}
        self._checked = 0.0  # (monotonic) when the revealed secrets were last read
        # The endpoints this page is rotating the secret of: a re-read landing between the write and its answer would
        # take the new secret for a rotation made elsewhere.
        self._rotating: Counter[str] = Counter()  # (a second may be asked for while the first is under way)
        self._graces: dict[str, tuple[ui.label, datetime]] = {}  # the grace lines shown, with when they end
        self._shown: Any = None
        self._health: Mapping[str, Mapping[str, Any]] = {}
        self._tests: dict[str, actions.TestOutcome] = {}  # the last test event of each endpoint, on this page
        self.element = ui.column().classes('w-full gap-0').mark('endpoint-list')
        self._dialogs = ui.element('div')  # questions outlive redraws of the list
        with self._dialogs:
            self._editor = EndpointDialog(application, on_saved=lambda _: self._redraw())
            ui.timer(1.0, self._tick)

    def create(self) -> None:
        """Open the dialog for a new endpoint."""
        self._editor.open()

    def show(self, endpoints: Sequence[Endpoint], health: Mapping[str, Mapping[str, Any]]) -> None:
        key = (tuple(endpoints), tuple(sorted((k, tuple(sorted(v.items()))) for k, v in health.items())))
        if key == self._shown:
            return
        self._shown = key
        self._health = health
        self._graces = {}
        redraw_list(self.element, endpoints, self._rows, self._empty)

    def forget(self) -> None:
        """Force the next :meth:`show` to redraw (after an action changed what is shown)."""
        self._shown = None

    def _empty(self) -> None:
        hint = 'An endpoint receives every event it subscribes to, signed with its own secret.'
        empty_state('endpoints-empty', 'cable', 'No endpoints yet', hint)
        with ui.row().classes('w-full justify-center pb-6'):
            ui.button('Create endpoint', icon='add', on_click=self.create).props(
                'unelevated no-caps color=primary'
            ).mark('endpoints-empty-create')

    def _rows(self, endpoints: Sequence[Endpoint]) -> None:
        for endpoint in endpoints:
            self._row(endpoint, self._health.get(endpoint.id, {}))

    # --- one endpoint ---------------------------------------------------------------------------------

    def _row(self, endpoint: Endpoint, health: Mapping[str, Any]) -> None:
        auto_disabled = not endpoint.enabled and (endpoint.disabled_reason or '') != USER_DISABLED
        with (
            ui.element('div')
            .classes('fm-endpoint w-full' + (' fm-endpoint-off' if not endpoint.enabled else ''))
            .props(f'data-testid=endpoint-row data-endpoint-id={endpoint.id}')
            .mark(f'endpoint-{endpoint.id}')
        ):
            name = wfmt.endpoint_name(endpoint)
            with ui.row().classes('w-full items-start gap-3 no-wrap fm-endpoint-head'):
                named(
                    ui.switch(
                        value=endpoint.enabled,
                        on_change=lambda e, eid=endpoint.id: self._toggle(eid, bool(e.value), e.sender),
                    ).props(f'dense color=positive data-testid=endpoint-enabled-{endpoint.id}'),
                    f'Enabled: endpoint {name}',
                ).mark(f'endpoint-enabled-{endpoint.id}').tooltip('Enabled: receives events')
                with ui.column().classes('gap-1 fm-endpoint-main'):
                    with ui.row().classes('w-full items-center gap-2 no-wrap'):
                        ui.label(name).classes('font-medium fm-ellipsis').tooltip(name).mark(
                            f'endpoint-name-{endpoint.id}'
                        )
                        if not endpoint.enabled:
                            ui.badge('disabled', color='grey-7').classes('fm-status shrink-0').mark(
                                f'endpoint-disabled-{endpoint.id}'
                            )
                    ui.label(endpoint.url).classes('fm-mono text-grey-7 fm-ellipsis fm-url').props(
                        'data-testid=endpoint-url'
                    ).tooltip(endpoint.url).mark(f'endpoint-url-{endpoint.id}')
                    with ui.row().classes('gap-1'):
                        for event_type in endpoint.event_types:
                            ui.label(event_type).classes('fm-chip fm-mono')
                _health(endpoint.id, health)
            if auto_disabled:
                with (
                    ui.row()
                    .classes('fm-callout w-full items-center gap-2 no-wrap')
                    .mark(f'endpoint-reason-{endpoint.id}')
                ):
                    ui.icon('report', size='1.2rem').classes('text-negative')
                    ui.label(f'Disabled automatically: {endpoint.disabled_reason}').classes(
                        'text-sm grow min-w-0 fm-break'
                    )
                    named(
                        ui.button(
                            'Re-enable', icon='power_settings_new', on_click=lambda eid=endpoint.id: self._enable(eid)
                        ).props('unelevated dense no-caps color=positive'),
                        f'Re-enable endpoint {name}',
                    ).mark(f'endpoint-reenable-{endpoint.id}')
            self._secret_row(endpoint)
            self._test_row(endpoint)

    def _secret_row(self, endpoint: Endpoint) -> None:
        revealed = self._revealed.get(endpoint.id)
        name = wfmt.endpoint_name(endpoint)
        with ui.row().classes('w-full items-center gap-2 fm-secret-row'):
            with ui.row().classes('items-center gap-2 no-wrap fm-secret-main'):
                self._secret(endpoint, revealed)
            with ui.row().classes('items-center gap-2 no-wrap ml-auto fm-secret-actions'):
                named(
                    ui.link('Deliveries', f'/webhooks?endpoint={endpoint.id}').classes('fm-link text-sm font-medium'),
                    f'Deliveries to endpoint {name}',
                ).mark(f'endpoint-deliveries-{endpoint.id}')
                named(
                    ui.button('Edit', icon='edit', on_click=lambda e=endpoint: self._editor.open(e)),
                    f'Edit endpoint {name}',
                ).props('flat dense no-caps no-wrap').mark(f'endpoint-edit-{endpoint.id}')
                rotate = one_at_a_time(lambda eid=endpoint.id: self._rotate(eid))  # (one dialog on a double-click)
                named(
                    ui.button('Rotate secret…', icon='autorenew', on_click=rotate),
                    f'Rotate secret of endpoint {name}',
                ).props('flat dense no-caps no-wrap').mark(f'endpoint-rotate-{endpoint.id}')
                named(
                    ui.button('Redeliver…', icon='replay', on_click=lambda eid=endpoint.id: self._on_bulk(eid)),
                    f'Redeliver deliveries to endpoint {name}',
                ).props('flat dense no-caps no-wrap').mark(f'endpoint-redeliver-{endpoint.id}')
            self._grace(endpoint)

    def _grace(self, endpoint: Endpoint) -> None:
        """Until when the previous secret still signs, on a line of its own under the secret (never the secret)."""
        until = endpoint.previous_secret_expires_at
        if until is not None and until > datetime.now(UTC):
            text = f'The previous secret also signs until {fmt.full_timestamp(until, tz=fmt.viewer_timezone())}.'
            line = (
                ui.label(text).classes('text-xs text-grey-7 fm-secret-grace').mark(f'endpoint-previous-{endpoint.id}')
            )
            self._graces[endpoint.id] = (line, until)

    def _secret(self, endpoint: Endpoint, revealed: Mapping[str, Any] | None) -> None:
        """The key icon, the secret (hidden or revealed) and its buttons."""
        ui.icon('key', size='1.1rem').classes('text-grey-6')
        text = revealed['secret'] if revealed else HIDDEN_SECRET
        name = wfmt.endpoint_name(endpoint)
        ui.label(text).classes('fm-mono fm-ellipsis fm-secret').mark(f'endpoint-secret-{endpoint.id}')
        if revealed:
            named(
                ui.button(icon='content_copy', on_click=lambda s=revealed['secret']: _copy(s)),
                f'Copy secret of endpoint {name}',
            ).props('flat round dense size=sm').tooltip('Copy').mark(f'endpoint-copy-{endpoint.id}')
            named(
                ui.button(icon='visibility_off', on_click=lambda eid=endpoint.id: self._hide(eid)),
                f'Hide secret of endpoint {name}',
            ).props('flat round dense size=sm').tooltip('Hide').mark(f'endpoint-hide-{endpoint.id}')
        else:
            named(
                ui.button('Reveal', icon='visibility', on_click=lambda eid=endpoint.id: self._reveal(eid)),
                f'Reveal secret of endpoint {name}',
            ).props('flat dense no-caps').mark(f'endpoint-reveal-{endpoint.id}')

    def _test_row(self, endpoint: Endpoint) -> None:
        outcome = self._tests.get(endpoint.id)
        with ui.row().classes('w-full items-center gap-2 no-wrap fm-test-row'):
            named(
                ui.button('Send test event', icon='send', on_click=lambda eid=endpoint.id: self._send_test(eid)),
                f'Send test event to endpoint {wfmt.endpoint_name(endpoint)}',
            ).classes('shrink-0').props('flat dense no-caps no-wrap' + ('' if endpoint.enabled else ' disable')).mark(
                f'endpoint-test-{endpoint.id}'
            )
            if outcome is not None:
                with ui.row().classes('items-center gap-2 no-wrap fm-test-result'):
                    color = 'text-grey-7' if outcome.ok is None else 'text-positive' if outcome.ok else 'text-negative'
                    result = ui.label(outcome.text).classes(f'text-sm fm-ellipsis {color}').tooltip(outcome.text)
                    result.mark(f'endpoint-test-result-{endpoint.id}')
                    if outcome.delivery_id:
                        ui.link('Delivery', f'/webhooks/deliveries/{outcome.delivery_id}').classes(
                            'fm-link text-sm shrink-0'
                        ).mark(f'endpoint-test-delivery-{endpoint.id}')
            ui.space()
            named(
                ui.button('Delete', icon='delete', on_click=lambda eid=endpoint.id: self._delete(eid)),
                f'Delete endpoint {wfmt.endpoint_name(endpoint)}',
            ).classes('shrink-0').props('flat dense no-caps no-wrap color=negative').mark(
                f'endpoint-delete-{endpoint.id}'
            )

    # --- actions --------------------------------------------------------------------------------------

    async def _send_test(self, endpoint_id: str) -> None:
        self._tests[endpoint_id] = actions.TestOutcome('Sending a test event…')
        self._redraw()  # (deletes the button that was clicked: what follows runs in the dialogs' slot, which stays)
        with self._dialogs:
            outcome = await actions.send_test_event(self._application, endpoint_id)
        if outcome is None:
            self._tests.pop(endpoint_id, None)
        else:
            self._tests[endpoint_id] = outcome
        self._redraw()

    async def _delete(self, endpoint_id: str) -> None:
        endpoint = self._application.endpoints.cached(endpoint_id)
        name = wfmt.endpoint_name(endpoint) if endpoint else endpoint_id
        question = f'{name} stops receiving events. Its deliveries stay in the ledger; its secret is gone for good.'
        if not await confirm(
            'Delete the endpoint?', question, ok_label='Delete', ok_color='negative', marker='confirm-delete-endpoint',
            host=self._dialogs,
        ):  # fmt: skip
            return
        with self._dialogs:  # the list may be redrawn meanwhile, the row's button with it
            deleted = await actions.delete_endpoint(self._application, endpoint_id)
        if deleted:
            self._tests.pop(endpoint_id, None)
            self._revealed.pop(endpoint_id, None)
            self._redraw()

    async def _toggle(self, endpoint_id: str, enabled: bool, switch: Any) -> None:
        current = self._application.endpoints.cached(endpoint_id)
        if current is not None and current.enabled == enabled:
            return  # the list was redrawn with the value it already has
        if await actions.set_endpoint_enabled(self._application, endpoint_id, enabled) is None and current is not None:
            if not switch.is_deleted:
                switch.set_value(current.enabled)  # refused: show the truth again
        self.forget()

    async def _enable(self, endpoint_id: str) -> None:
        await actions.set_endpoint_enabled(self._application, endpoint_id, True)
        self.forget()

    async def _reveal(self, endpoint_id: str) -> None:
        secret = await actions.reveal_secret(self._application, endpoint_id)
        if secret is not None:
            self._revealed[endpoint_id] = secret
            self._redraw()

    async def _tick(self) -> None:
        """A grace that has run out is no longer said to run; while a secret is revealed, read it again every
        :data:`RECHECK_SECONDS`: one rotated elsewhere is shown."""
        now = datetime.now(UTC)
        for endpoint_id, (line, until) in list(self._graces.items()):
            if until <= now:
                line.set_visibility(False)
                del self._graces[endpoint_id]
        if not self._revealed or time.monotonic() - self._checked < RECHECK_SECONDS:
            return
        self._checked = time.monotonic()
        rotated = False
        for endpoint_id, shown in list(self._revealed.items()):
            if endpoint_id in self._rotating:
                continue
            try:
                revealed = await self._application.endpoints.reveal_secret(endpoint_id)
            except AppError:
                revealed = None  # (deleted meanwhile: the list drops its row)
            if self._revealed.get(endpoint_id) is not shown or endpoint_id in self._rotating:  # hidden, shown anew,
                continue  # or being rotated here, meanwhile
            if revealed is None:
                del self._revealed[endpoint_id]
            elif revealed['secret'] != shown['secret']:
                self._revealed[endpoint_id] = revealed
                rotated = True
                endpoint = self._application.endpoints.cached(endpoint_id)
                name = wfmt.endpoint_name(endpoint) if endpoint else endpoint_id
                ui.notify(f'The secret of {name} was rotated elsewhere: the new one is shown.', type='warning')
        if rotated:
            self._redraw()

    def _hide(self, endpoint_id: str) -> None:
        self._revealed.pop(endpoint_id, None)
        self._redraw()

    async def _rotate(self, endpoint_id: str) -> None:
        endpoint = self._application.endpoints.cached(endpoint_id)
        name = wfmt.endpoint_name(endpoint) if endpoint else endpoint_id
        try:  # as it is now (another tab may have rotated since this page showed it)
            current: dict[str, Any] | None = await self._application.endpoints.reveal_secret(endpoint_id)
        except AppError:
            current = None
        grace = await ask_rotation(
            'Rotate the signing secret?',
            f'A new secret signs deliveries to {name} from now on.',
            keep='Keep signing with it alongside the new one for 24 h, so the receiver has time to switch',
            stop='Stop it now (after a leak): deliveries are signed with the new secret alone from this moment',
            replacing=grace_cut_short(current, 'signing'),
            host=self._dialogs,
        )
        if grace is None:
            return
        self._rotating[endpoint_id] += 1
        try:
            with self._dialogs:  # the list may be redrawn meanwhile, the row's button with it
                secret = await actions.rotate_secret(self._application, endpoint_id, grace)
        finally:
            self._rotating[endpoint_id] -= 1
            if not self._rotating[endpoint_id]:
                del self._rotating[endpoint_id]
        if secret is not None:
            self._revealed[endpoint_id] = secret
            self._redraw()

    def _redraw(self) -> None:
        self.forget()
        self.show(self._application.endpoints.cached_all(), self._health)


def _health(endpoint_id: str, health: Mapping[str, Any]) -> None:
    finished = int(health.get('finished_24h') or 0)
    with (
        ui.row()
        .classes('gap-5 shrink-0 no-wrap items-start fm-endpoint-health')
        .props('data-testid=endpoint-health')
        .mark(f'endpoint-health-{endpoint_id}')
    ):
        _figure('Success (24 h)', fmt.percent(_pct(health.get('success_rate_24h'))), f'rate-{endpoint_id}')
        _figure('Latency', fmt.duration(health.get('mean_latency_ms')), f'latency-{endpoint_id}')
        _figure('Finished', fmt.count(finished), f'finished-{endpoint_id}')


def _pct(rate: float | None) -> float | None:
    return None if rate is None else rate * 100


def _figure(label: str, value: str, marker: str) -> None:
    with ui.column().classes('gap-0 items-end'):
        ui.label(label).classes('fm-metric-label text-[0.68rem]')
        ui.label(value).classes('text-base font-semibold fm-num').mark(f'endpoint-{marker}')


def _copy(text: str) -> None:
    ui.clipboard.write(text)
    ui.notify('Copied to the clipboard.', type='positive')
