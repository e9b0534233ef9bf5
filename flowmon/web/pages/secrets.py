"""``/secrets``: the named secrets that node configs refer to with ``{"$secret": "<name>"}``.

Values are write-only: the page lists names and times, takes a new value in a password field (cleared as soon as
it is saved) and never shows one back; the server does not even hold a value for the page to send. Delete asks
first, and is refused (with the workflows named) while a workflow uses the secret. The list is pulled: a timer
compares the store's version with what it last showed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from nicegui import ui

from flowmon.application import Application
from flowmon.application.secrets import MAX_SECRET_CHARS, SecretInfo
from flowmon.web import format as fmt
from flowmon.web import secret_actions as actions
from flowmon.web.a11y import named
from flowmon.web.actions import one_at_a_time
from flowmon.web.widgets.confirm_dialog import confirm
from flowmon.web.widgets.empty_state import empty_state, redraw_list
from flowmon.web.widgets.panel_title import panel_title

SecretAction = Callable[[SecretInfo], Awaitable[None]]
LIVE_INTERVAL = 1.0
REF_EXAMPLE = '{"$secret": "api_key"}'


async def create(application: Application) -> None:
    """Build the page: the add form and the list."""
    with ui.column().classes('w-full gap-6 fm-page').mark('secrets-page'):
        with ui.column().classes('gap-0'):
            ui.label('Secrets').classes('fm-title')
            ui.label(
                f'Named values for node configs: write {REF_EXAMPLE} where a string goes. A value is stored '
                'encrypted and never shown again; runs, logs and the ledger show *** in its place.'
            ).classes('text-sm text-grey-7')
        with ui.card().classes('fm-panel w-full').props('flat bordered'):
            ui.label('Add or replace').classes('fm-panel-title')
            with ui.row().classes('w-full items-start gap-3'):
                name = (
                    ui.input('Name', placeholder='api_key')
                    .props('outlined dense maxlength=64 spellcheck=false')
                    .classes('w-64')
                    .mark('secret-name')
                )
                value = _value_input('Value').classes('grow').mark('secret-value')
                save = ui.button('Save', icon='save').props('unelevated no-caps').mark('secret-save')
        with ui.card().classes('fm-panel w-full').props('flat bordered'):
            summary = panel_title('Stored secrets').mark('secrets-total')
            dialogs = ui.element('div')  # questions outlive redraws of the list

            async def replace(info: SecretInfo) -> None:
                await _replace_dialog(application, info, dialogs)
                pull()

            async def remove(info: SecretInfo) -> None:
                await _confirm_delete(application, info, dialogs)
                pull()

            listing = SecretList(on_replace=replace, on_delete=remove)

    @one_at_a_time
    async def add() -> None:
        if await actions.save_secret(application, (name.value or '').strip(), value.value or ''):
            name.set_value('')
        value.set_value('')  # saved or refused: the value does not stay in the page
        pull()

    save.on_click(add)

    shown = -1

    def pull() -> None:
        nonlocal shown
        if application.secrets.version != shown:
            shown = application.secrets.version
            items = application.secrets.all()
            summary.set_text(f'{fmt.count(len(items))} secret{"" if len(items) == 1 else "s"}, by name')
            listing.show(items)

    pull()
    ui.timer(LIVE_INTERVAL, pull)


class SecretList:
    """One row per secret: name, last change, Replace and Delete."""

    def __init__(self, *, on_replace: SecretAction, on_delete: SecretAction) -> None:
        self.on_replace = on_replace
        self.on_delete = on_delete
        self.element = ui.column().classes('w-full gap-0').mark('secret-list')

    def show(self, items: list[SecretInfo]) -> None:
        redraw_list(self.element, items, self._rows, _no_secrets)

    def _rows(self, items: Sequence[SecretInfo]) -> None:
        for info in items:
            with (
                ui.row()
                .classes('w-full items-center gap-3 no-wrap py-2 fm-secret-item')
                .props(f'data-testid=secret-row data-secret-name={info.name}')
                .mark(f'secret-row-{info.name}')
            ):
                ui.icon('key', size='1.1rem').classes('text-grey-6')
                ui.label(info.name).classes('fm-mono font-medium grow fm-ellipsis fm-secret-name').mark(
                    f'secret-{info.name}'
                )
                ui.label(f'updated {fmt.timestamp(info.updated_at)}').classes('text-xs text-grey-7').tooltip(
                    f'created {fmt.full_timestamp(info.created_at)}, updated {fmt.full_timestamp(info.updated_at)}'
                ).mark(f'secret-updated-{info.name}')
                named(
                    ui.button('Replace', icon='edit', on_click=lambda i=info: self.on_replace(i)),
                    f'Replace secret {info.name}',
                ).props('flat dense no-caps no-wrap').mark(f'secret-replace-{info.name}')
                named(
                    ui.button('Delete', icon='delete', on_click=lambda i=info: self.on_delete(i)),
                    f'Delete secret {info.name}',
                ).props('flat dense no-caps no-wrap color=negative').mark(f'secret-delete-{info.name}')


def _no_secrets() -> None:
    empty_state('secrets-empty', 'key_off', 'No secrets yet', 'Add one above, or with PUT /api/secrets/<name>.')


def _value_input(label: str) -> ui.input:
    """A write-only field: masked, no reveal button, nothing for the browser to remember."""
    return ui.input(label, password=True, password_toggle_button=False).props(
        f'outlined dense autocomplete=new-password spellcheck=false maxlength={MAX_SECRET_CHARS}'
    )


async def _replace_dialog(application: Application, info: SecretInfo, host: ui.element) -> None:
    with host, ui.dialog() as dialog, ui.card().classes('w-full max-w-md gap-3').mark('secret-replace-dialog'):
        ui.label(f'Replace {info.name}').classes('text-lg font-semibold fm-break')
        ui.label('Workflows that name it use the new value from their next node run.').classes('text-sm text-grey-7')
        value = _value_input('New value').classes('w-full').props('autofocus').mark('secret-replace-value')
        with ui.row().classes('w-full justify-end gap-2'):
            ui.button('Cancel', on_click=lambda: dialog.submit(False)).props('flat no-caps').mark(
                'secret-replace-cancel'
            )
            ui.button('Replace', on_click=lambda: dialog.submit(True)).props('unelevated no-caps').mark(
                'secret-replace-ok'
            )
    try:
        if await dialog:
            await actions.save_secret(application, info.name, value.value or '')
    finally:
        value.set_value('')
        if not dialog.is_deleted:
            dialog.delete()


async def _confirm_delete(application: Application, info: SecretInfo, host: ui.element) -> None:
    question = f'Delete the secret {info.name!r}? Workflows cannot name it any more.'
    if await confirm(
        'Delete this secret?', question, ok_label='Delete', ok_color='negative', marker='confirm-delete', host=host
    ):
        await actions.delete_secret(application, info.name)
