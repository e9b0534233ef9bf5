"""The dialog that creates or edits a webhook endpoint: URL, description, event types and auth.

It builds the same request bodies as ``POST /api/webhooks/endpoints`` and ``PATCH /api/webhooks/endpoints/{id}``
(:class:`EndpointSpec`, :class:`EndpointPatch`) and hands them to the same use cases. Each message of a refusal shows
once, in the dialog, which stays open with what was typed: under the field it is about (the models' messages name
their field; the use case's refusal of a URL, by the outbound guard say, names the URL), otherwise under the fields.
Credentials are write-only: editing shows the auth type, never the stored token or password, and leaving the
credential fields empty keeps what is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui
from pydantic import ValidationError

from flowmon.application import Application
from flowmon.application.deliveries import Endpoint
from flowmon.application.endpoints import SUBSCRIBABLE_EVENT_TYPES, EndpointPatch, EndpointSpec
from flowmon.application.errors import AppError
from flowmon.engine.core.payload_values import LONE_SURROGATE
from flowmon.web.actions import one_at_a_time, signed_in

NO_AUTH = 'none'
AUTH_TYPES = {NO_AUTH: 'No auth (signature only)', 'bearer': 'Bearer token', 'basic': 'Basic (user and password)',
              'api_key': 'API key header'}  # fmt: skip
CREDENTIALS = {'bearer': ('token',), 'basic': ('username', 'password'), 'api_key': ('header', 'value')}
LABELS = {'token': 'Token', 'username': 'User name', 'password': 'Password', 'header': 'Header', 'value': 'Key'}
MAX_ERRORS = 5
# Plainer words for what is simply missing (the models' own messages otherwise)
MISSING = {('url', 'string_too_short'): 'enter the URL the events are sent to',
           ('event_types', 'too_short'): 'choose at least one event type'}  # fmt: skip


class EndpointDialog:
    """One dialog per page; :meth:`open` fills it for a new endpoint or for ``endpoint``."""

    def __init__(self, application: Application, *, on_saved: Callable[[Endpoint], Any]) -> None:
        self._application = application
        self._on_saved = on_saved
        self._editing: Endpoint | None = None
        with ui.dialog() as self.dialog, ui.card().classes('w-full max-w-xl gap-3').mark('endpoint-dialog'):
            self.title = ui.label('').classes('text-lg font-semibold').mark('endpoint-dialog-title')
            self.url = (
                ui.input('URL', placeholder='https://receiver.example.org/hooks/flowmon')
                .props('outlined dense')
                .classes('w-full')
                .mark('endpoint-url')
            )
            self.description = (
                ui.input('Name (optional)')
                .props('outlined dense maxlength=500')
                .classes('w-full')
                .mark('endpoint-description')
            )
            self.event_types = (
                ui.select(
                    list(SUBSCRIBABLE_EVENT_TYPES), multiple=True, label='Event types', value=['execution.failed']
                )
                .props('outlined dense use-chips options-dense')
                .classes('w-full')
                .mark('endpoint-event-types')
            )
            self.auth_type = (
                ui.select(AUTH_TYPES, value=NO_AUTH, label='Auth', on_change=self._show_auth)
                .props('outlined dense options-dense')
                .classes('w-full')
                .mark('endpoint-auth-type')
            )
            self.auth_hint = ui.label('').classes('text-xs text-grey-7').mark('endpoint-auth-hint')
            self.credentials = {
                name: ui.input(LABELS[name], password=name in {'token', 'password', 'value'})
                .props('outlined dense autocomplete=off')
                .classes('w-full')
                .mark(f'endpoint-auth-{name}')
                for name in ('token', 'username', 'password', 'header', 'value')
            }
            self.problems = ui.label('').classes('text-sm text-negative whitespace-pre-wrap').mark('endpoint-problems')
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button('Cancel', on_click=self.dialog.close).props('flat no-caps').mark('endpoint-cancel')
                self.save_button = (
                    ui.button('Save', on_click=one_at_a_time(self.save))
                    .props('unelevated no-caps color=primary')
                    .mark('endpoint-save')
                )

    def open(self, endpoint: Endpoint | None = None) -> None:
        """Empty for a new endpoint; filled with ``endpoint``'s settings (not its credentials) to edit it."""
        self._editing = endpoint
        self.title.set_text('Edit endpoint' if endpoint else 'New endpoint')
        self.save_button.set_text('Save' if endpoint else 'Create')
        self.url.set_value(endpoint.url if endpoint else '')
        self.description.set_value(endpoint.description if endpoint else '')
        self.event_types.set_value(list(endpoint.event_types) if endpoint else ['execution.failed'])
        auth_type = str((endpoint.auth or {}).get('type', NO_AUTH)) if endpoint else NO_AUTH
        for field in self.credentials.values():
            field.set_value('')
        self.credentials['header'].set_value(str((endpoint.auth or {}).get('header', '')) if endpoint else '')
        self.auth_type.set_value(auth_type)
        self._clear_errors()
        self._show_auth()
        self.dialog.open()

    def _show_auth(self, *_: Any) -> None:
        wanted = CREDENTIALS.get(str(self.auth_type.value), ())
        for name, field in self.credentials.items():
            field.set_visibility(name in wanted)
        keeping = self._editing is not None and (self._editing.auth or {}).get('type') == self.auth_type.value
        self.auth_hint.set_text(
            'Stored credentials are not shown: leave the fields empty to keep them.' if keeping and wanted else ''
        )

    def _clear_errors(self) -> None:
        for field in (self.url, self.description, self.event_types, self.auth_type, *self.credentials.values()):
            field.error = None
        self._show_problems('')

    def _auth_body(self) -> tuple[bool, dict[str, Any] | None]:
        """Whether the auth changes, and to what (None: no auth). The same type with no credential typed keeps
        what is stored."""
        auth_type = str(self.auth_type.value)
        current = (self._editing.auth or {}) if self._editing else {}
        if auth_type == NO_AUTH:
            return bool(current), None
        given = {name: str(self.credentials[name].value or '') for name in CREDENTIALS[auth_type]}
        typed = any(value for name, value in given.items() if name != 'header')
        same_header = auth_type != 'api_key' or given['header'] == current.get('header')
        if current.get('type') == auth_type and not typed and same_header:
            return False, None  # (a new API-key header needs its key again: the stored one is not shown)
        body: dict[str, Any] = {'type': auth_type}
        body.update({name: value for name, value in given.items() if value or auth_type == 'basic'})
        return True, body

    def _body(self) -> dict[str, Any]:
        changes, auth = self._auth_body()
        body: dict[str, Any] = {
            'url': str(self.url.value or '').strip(),
            'description': str(self.description.value or '').strip(),
            'event_types': list(self.event_types.value or []),
        }
        if changes or self._editing is None:
            body['auth'] = auth
        return body

    async def save(self) -> None:
        """Check the body against the API's models, then create or update through the use case."""
        self._clear_errors()
        body = self._body()
        editing = self._editing
        try:
            if editing is None:
                spec = EndpointSpec.model_validate(body)
            else:
                patch = EndpointPatch.model_validate(body)
        except ValidationError as exc:
            self._show_validation(exc)
            return
        if not signed_in(self._application):
            return
        endpoints = self._application.endpoints
        try:
            saved = (await endpoints.create(spec))[0] if editing is None else await endpoints.update(editing.id, patch)
        except AppError as exc:
            message = str(exc)
            if message.startswith('url: '):
                self.url.error = message.removeprefix('url: ')
            else:
                self._show_problems(message)
            return
        ui.notify(
            'Endpoint saved.' if editing else 'Endpoint created: reveal its secret to set up the receiver.',
            type='positive',
        )
        self.dialog.close()
        self._on_saved(saved)

    def _show_validation(self, exc: ValidationError) -> None:
        """Each message under its field; those about no field (or a second one about a field) under the fields."""
        lines = []
        for error in exc.errors()[:MAX_ERRORS]:
            location = [str(part) for part in error.get('loc', ())]
            kind = str(error.get('type'))
            message = MISSING.get((location[0] if location else '', kind))
            if kind == 'string_unicode':  # (pydantic's words: "unable to parse raw data as a unicode string")
                message = f'{LONE_SURROGATE} cannot be stored'
            message = message or str(error.get('msg', 'invalid')).removeprefix('Value error, ')
            field = self._field_for(location, message)
            if field is not None and field.error is None:
                field.error = message
            else:
                lines.append(f'{".".join(location)}: {message}' if location else message)
        self._show_problems('\n'.join(lines))

    def _show_problems(self, text: str) -> None:
        """The messages about no field, under the fields (no room taken while there are none)."""
        self.problems.set_text(text)
        self.problems.set_visibility(bool(text))

    def _field_for(self, location: list[str], message: str) -> Any:
        """The input an error is about: by its location, and for the auth as a whole by the credential it names."""
        if not location:
            return None
        head = location[0]
        if head == 'url':
            return self.url
        if head == 'description':
            return self.description
        if head == 'event_types':
            return self.event_types
        if head != 'auth':
            return None
        names = CREDENTIALS.get(str(self.auth_type.value), ())
        named = next((part for part in location[1:] if part in names), None)
        named = named or next((name for name in names if f'"{name}"' in message), None)
        return self.credentials[named] if named else self.auth_type
