"""The shell around every page: brand, navigation, the saved views drawer, connection state, light/dark toggle and
sign-out.

The shell is on every page, the sign-in page too, so whatever in it loads data (the workflows menu) checks the
session on the server before it does: a visitor who is not signed in can still send events to hidden elements.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nicegui import app, ui
from nicegui.events import GenericEventArguments

from flowmon.application import Application
from flowmon.web.auth import LOGOUT_PATH, is_signed_in
from flowmon.web.teardown import weak_callback
from flowmon.web.widgets.code_editor import follow_dark_mode
from flowmon.web.widgets.connection_indicator import ConnectionIndicator
from flowmon.web.widgets.focus_keeper import FocusKeeper, menu_entry
from flowmon.web.widgets.saved_views import SavedViewsDrawer
from flowmon.web.widgets.shortcuts import Shortcuts
from flowmon.web.widgets.system_mode import SystemMode
from flowmon.web.widgets.workflow_filter import WorkflowFilter

DARK_MODE_KEY = 'dark_mode'
# Sent with a click on the light/dark toggle: the mode the page shows at that moment. Before the browser has said the
# system's mode (Quasar's auto mode shows it from the start) the server does not know which that is
SHOWN_MODE_JS = "() => emit({dark: document.body.classList.contains('body--dark')})"


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    icon: str

    def is_active(self, current_path: str) -> bool:
        path = current_path.split('?', 1)[0].split('#', 1)[0]
        return path == '/' if self.path == '/' else path == self.path or path.startswith(self.path + '/')


# One line per navigation entry; pages added to the routes table that deserve a tab add one here.
NAV_ITEMS: list[NavItem] = [
    NavItem('Dashboard', '/', 'space_dashboard'),
    NavItem('Executions', '/executions', 'format_list_bulleted'),
    NavItem('Webhooks', '/webhooks', 'webhook'),
    NavItem('Secrets', '/secrets', 'key'),
]

WORKFLOWS = NavItem('Workflows', '/workflows', 'account_tree')  # the menu's tab: active on the list and each workflow

# Until the browser has said the system's mode, the toggle's icon is picked in the browser as the page is drawn, from
# the mode the page shows (the system's, prefers-color-scheme): the other mode's icon, from the first frame
SYSTEM_ICON_PROP = ':icon'
SYSTEM_ICON_JS = "matchMedia('(prefers-color-scheme: dark)').matches ? 'light_mode' : 'dark_mode'"


class Shell:
    """The header. Navigation and sign-out appear only once the routed frame reports a signed-in visitor."""

    views: SavedViewsDrawer

    def __init__(self, application: Application) -> None:
        self._application = application
        self._nav_buttons: dict[str, tuple[NavItem, ui.button]] = {}
        self._workflows_button: ui.button | None = None
        self.signed_in = False
        router = ui.context.client.sub_pages_router
        # no choice stored: None, Quasar's "auto", and the browser shows the system's mode (prefers-color-scheme)
        # from the start (a code editor picks its theme there too); the browser says which mode that is once the page
        # is live and whenever the system switches, and the page takes it, the code editors with it (their theme is
        # picked here), until the toggle is used
        self._dark = ui.dark_mode(value=_stored_dark_mode())
        self._system: SystemMode | None = None
        if self._dark.value is None:
            self._system = SystemMode(self._follow_system).mark('system-mode')
        with ui.header().classes('fm-header items-center gap-1 px-4 py-2').props('bordered') as self.header:
            self._views_button = (
                ui.button(icon='bookmarks', on_click=lambda: self.views.toggle())
                .props('flat round dense data-testid=views-toggle aria-label="Bookmarked views"')
                .classes('fm-header-btn')
                .tooltip('Saved views')
                .mark('views-toggle')
            )
            with ui.link(target='/').classes('fm-brand flex items-center gap-2 no-underline mr-4'):
                ui.icon('hub', size='1.6rem').classes('text-primary')
                ui.label('flowmon').classes('text-lg font-semibold tracking-tight')
            self._nav_menu = self._compact_menu()
            with ui.row().classes('items-center gap-1 no-wrap fm-nav-row') as self._nav:
                for item in NAV_ITEMS[:1]:
                    self._nav_button(item)
                self._workflows_menu()
                for item in NAV_ITEMS[1:]:
                    self._nav_button(item)
            ConnectionIndicator().classes('mr-2 ml-auto').tooltip('Live updates')  # ml-auto: the rest sits right
            self._dark_button = (
                ui.button(icon=self._dark_icon())
                .on('click', self._toggle_dark, js_handler=SHOWN_MODE_JS)
                .props('flat round dense data-testid=theme-toggle aria-label="Light or dark mode"')
                .classes('fm-header-btn')
                .tooltip('Light / dark')
                .mark('theme-toggle')
            )
            if self._dark.value is None:  # the system's mode, not known here yet: the browser picks (it wins)
                self._dark_button.props[SYSTEM_ICON_PROP] = SYSTEM_ICON_JS
            # a real form: signing out replaces the session id, which only an HTTP request can do
            with ui.element('form').props(f'method=post action={LOGOUT_PATH}').mark('sign-out-form') as self._sign_out:
                ui.button(icon='logout').props(
                    'type=submit flat round dense data-testid=sign-out aria-label="Sign out"'
                ).classes('fm-header-btn').tooltip('Sign out').mark('sign-out')
        self.views = SavedViewsDrawer(application)
        self.shortcuts = Shortcuts()
        FocusKeeper()  # focus back to the control that was left when a dialog or a redrawn row takes it away
        self._highlight(router.current_path)
        router.on_path_changed(weak_callback(self._highlight))  # the router outlives nothing of ours
        self.set_signed_in(False)

    def set_signed_in(self, signed_in: bool) -> None:
        """Show navigation and sign-out to signed-in visitors only."""
        self.signed_in = signed_in
        self._nav.set_visibility(signed_in)
        self._nav_menu.set_visibility(signed_in)
        self._sign_out.set_visibility(signed_in)
        self._views_button.set_visibility(signed_in)
        self.views.show_for(signed_in)

    # --- navigation ---------------------------------------------------------------------------------

    def _nav_button(self, item: NavItem) -> None:
        button = (
            ui.button(item.label, icon=item.icon, on_click=lambda path=item.path: ui.navigate.to(path))
            .props('flat no-caps dense')
            .classes('fm-nav px-3')
            .mark(f'nav-{item.label.lower()}')
        )
        self._nav_buttons[item.path] = (item, button)

    def _compact_menu(self) -> ui.button:
        """The navigation as one menu button, shown instead of the tabs on a narrow screen (CSS decides which)."""
        with (
            ui.button(icon='menu')
            .props('flat round dense data-testid=nav-menu aria-label="Menu"')
            .classes('fm-header-btn fm-nav-menu')
            .mark('nav-menu') as button
        ):
            # (no auto-close: a click in the workflows' filter box must leave it open; each entry closes it)
            with ui.menu().mark('compact-menu') as menu:
                for item in [*NAV_ITEMS[:1], NavItem('New workflow', '/workflows/new', 'add'), *NAV_ITEMS[1:]]:
                    with menu_entry(ui.menu_item(on_click=_go(item.path))).mark(f'menu-nav-{item.path}'):
                        with ui.item_section().props('avatar'):
                            ui.icon(item.icon)
                        ui.item_section(item.label)
                ui.separator()
                ui.item_label('Workflows').props('header').classes('text-xs')
                # the tabs' Workflows menu, filled the same way each time the menu opens
                workflows = ui.element('div').mark('compact-workflows')
                with workflows:
                    ui.menu_item('Loading…').props('disable')
            menu.on('before-show', lambda: self._fill_workflows_menu(menu, workflows, 'compact-filter'))
        return button

    def _workflows_menu(self) -> None:
        with (
            ui.button('Workflows', icon='account_tree')
            .props('flat no-caps dense data-fm-shortcut=workflows')
            .classes('fm-nav px-3')
            .mark('nav-workflows') as button
        ):
            with ui.menu().props('max-height=70vh').mark('workflows-menu') as menu:
                ui.menu_item('Loading…').props('disable')
            menu.on('before-show', lambda: self._fill_workflows_menu(menu, menu, 'menu-filter'))
        self._workflows_button = button

    async def _fill_workflows_menu(self, menu: ui.menu, into: ui.element, marker: str) -> None:
        """List the workflows in ``into`` (part of ``menu``) under a filter box: a character typed in the menu goes
        into the box (focus_keeper.js) and narrows the list, ↓ goes to its entries, Enter opens the first one shown."""
        if not is_signed_in(self._application.token):
            return  # the menu is hidden then, but a hidden element's events still arrive
        workflows = await self._application.workflows.all()
        into.clear()
        with into:
            if not workflows:
                menu_entry(ui.menu_item('No workflows yet').props('disable'))
                return

            def open_first(workflow_id: str) -> None:
                menu.close()
                ui.navigate.to(f'/workflows/{workflow_id}')

            with ui.element('div').classes('px-2 pt-2'):
                shown = WorkflowFilter(marker, on_enter=open_first)
            for workflow in workflows:
                item = ui.menu_item(workflow.name, on_click=_go(f'/workflows/{workflow.id}'))
                shown.add(workflow, menu_entry(item).mark(f'menu-{workflow.id}'))

    def _highlight(self, current_path: str) -> None:
        for item, button in self._nav_buttons.values():
            _set_active(button, item.is_active(current_path))
        if self._workflows_button is not None:
            _set_active(self._workflows_button, WORKFLOWS.is_active(current_path))

    # --- actions ------------------------------------------------------------------------------------

    def _toggle_dark(self, event: GenericEventArguments) -> None:
        """Switch to the other mode than the page shows: its value, or, while the page follows a system whose mode the
        browser has not said yet, the mode the click says the page shows (SHOWN_MODE_JS; a click that says none is
        taken for one on a light page)."""
        shown = self._dark.value
        if shown is None:
            told = event.args.get('dark') if isinstance(event.args, dict) else None
            shown = told if isinstance(told, bool) else None
        if self._system is not None:  # chosen: the system's mode no longer counts on this page
            self._system.delete()
            self._system = None
        self._set_dark(not shown)
        if is_signed_in(self._application.token):  # nothing is stored for visitors who never signed in
            app.storage.user[DARK_MODE_KEY] = self._dark.value

    def _follow_system(self, dark: bool) -> None:
        """Take the system's mode (the browser says it once the page is live and at each switch) as the page's: the
        code editors follow it, and the toggle offers the other. Nothing is stored (the visitor chose nothing); once
        the toggle is used its choice wins."""
        if self._system is not None:
            self._set_dark(dark)

    def _set_dark(self, dark: bool) -> None:
        self._dark.value = dark
        follow_dark_mode(self._dark.client, dark)
        self._dark_button.props.pop(SYSTEM_ICON_PROP, None)
        self._dark_button.props(f'icon={self._dark_icon()}')

    def _dark_icon(self) -> str:
        return 'light_mode' if self._dark.value else 'dark_mode'


def _set_active(button: ui.button, active: bool) -> None:
    button.classes(remove='fm-nav-active')
    if active:
        button.classes(add='fm-nav-active')


def _go(path: str) -> Callable[[], None]:
    return lambda: ui.navigate.to(path)


def _stored_dark_mode() -> bool | None:
    """The visitor's choice, dark or light; None when there is none (the page follows the system's mode)."""
    try:
        stored = app.storage.user.get(DARK_MODE_KEY)
    except RuntimeError:
        return None
    return stored if isinstance(stored, bool) else None
