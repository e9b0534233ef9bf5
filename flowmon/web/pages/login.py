"""``/login``: sign in with the access token (the one printed at start-up, or ``FLOWMON_TOKEN``)."""

from __future__ import annotations

from nicegui import ui

from flowmon.services import Services
from flowmon.web.auth import is_signed_in, safe_redirect, sign_in

ERRORS = {'token': 'That token was not accepted. Check the URL printed at start-up.'}


def create(services: Services, redirect_to: str = '/', error: str = '') -> None:
    """The sign-in page; a browser that is already signed in goes straight on to ``redirect_to``."""
    if is_signed_in(services.token):
        ui.navigate.to(safe_redirect(redirect_to))
        return
    render_form(services.token, redirect_to=redirect_to, error=ERRORS.get(error))


def render_form(token: str, *, redirect_to: str, error: str | None = None) -> None:
    """The sign-in card; also shown in place of any protected page opened without a session."""
    target = safe_redirect(redirect_to)
    with ui.column().classes('w-full items-center py-16'):
        with ui.card().classes('w-full max-w-sm p-6 gap-4').props('flat bordered').mark('sign-in'):
            with ui.row().classes('items-center gap-2'):
                ui.icon('lock', size='1.6rem').classes('text-primary')
                ui.label('Sign in to flowmon').classes('text-xl font-semibold')
            ui.label('Enter the access token printed when flowmon started, or open the link it printed.').classes(
                'text-sm text-grey-7'
            )
            token_input = (
                ui.input('Access token', password=True, password_toggle_button=True)
                .props('outlined dense autofocus autocomplete=current-password')
                .classes('w-full')
                .mark('token-input')
            )
            message = ui.label(error or '').classes('text-sm text-negative').mark('sign-in-error')
            message.set_visibility(bool(error))

            def submit() -> None:
                if sign_in(token_input.value, token):
                    ui.navigate.to(target)
                    return
                message.text = 'That token is not valid.' if token_input.value else 'Enter the access token.'
                message.set_visibility(True)
                token_input.value = ''

            token_input.on('keydown.enter', submit)
            ui.button('Sign in', icon='login', on_click=submit).props('unelevated no-caps').classes('w-full').mark(
                'sign-in-button'
            )
