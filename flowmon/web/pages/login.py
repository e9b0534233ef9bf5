"""``/login``: sign in with the access token (the one printed at start-up, or ``FLOWMON_TOKEN``).

The form is a real HTML form that posts to ``/login``: signing in must replace the session id, which only
HTTP code can do (see :mod:`flowmon.web.sign_in`). The token travels in the request body, never in a URL.
"""

from __future__ import annotations

from nicegui import ui

from flowmon.application import Application
from flowmon.web.auth import LOGIN_PATH, is_signed_in, safe_redirect

ERRORS = {
    'token': 'That token was not accepted. Check the URL printed at start-up.',
    'missing': 'Enter the access token.',
}


def create(application: Application, redirect_to: str = '/', error: str = '') -> None:
    """The sign-in page; a browser that is already signed in goes straight on to ``redirect_to``."""
    if is_signed_in(application.token):
        ui.navigate.to(safe_redirect(redirect_to))
        return
    render_form(redirect_to=redirect_to, error=ERRORS.get(error))


def render_form(*, redirect_to: str, error: str | None = None) -> None:
    """The sign-in card; also shown in place of any protected page opened without a session."""
    with ui.column().classes('w-full items-center py-16'):
        with ui.card().classes('w-full max-w-sm p-6 gap-4').props('flat bordered').mark('sign-in'):
            with ui.row().classes('items-center gap-2'):
                ui.icon('lock', size='1.6rem').classes('text-primary')
                ui.label('Sign in to flowmon').classes('text-xl font-semibold')
            ui.label('Enter the access token printed when flowmon started, or open the link it printed.').classes(
                'text-sm text-grey-7'
            )
            form = ui.element('form').props(f'method=post action={LOGIN_PATH}').classes('w-full flex flex-col gap-3')
            with form.mark('sign-in-form'):
                ui.input('Access token', password=True, password_toggle_button=True).props(
                    'name=token outlined dense autofocus autocomplete=current-password'
                ).classes('w-full').mark('token-input')
                target = ui.element('input').props('type=hidden name=redirect_to').mark('sign-in-target')
                target.props['value'] = safe_redirect(redirect_to)
                message = ui.label(error or '').classes('text-sm text-negative').mark('sign-in-error')
                message.set_visibility(bool(error))
                ui.button('Sign in', icon='login').props('type=submit unelevated no-caps').classes('w-full').mark(
                    'sign-in-button'
                )
