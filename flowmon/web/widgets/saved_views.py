"""Saved views in the page: the left drawer that lists them on every page (click one to open ``/executions`` with it
applied, or delete it), and the "Save view" button of ``/executions`` that names the current filter and search.

Names are untrusted text: they reach the page as button labels and label text, never as markup. The drawer re-reads
the list when the use case's version moves (checked once a second), so a view saved in another tab shows up.
"""

from __future__ import annotations

from nicegui import ui

from flowmon.application import Application
from flowmon.application.saved_views import MAX_NAME_CHARS, SavedView
from flowmon.web.actions import act, guarded, one_at_a_time
from flowmon.web.auth import is_signed_in
from flowmon.web.filters import ExecutionFilter
from flowmon.web.teardown import weak_callback
from flowmon.web.widgets.confirm_dialog import confirm

EXECUTIONS_PATH = '/executions'
REFRESH_SECONDS = 1.0


def view_url(view: SavedView) -> str:
    """Where a view opens: ``/executions`` with its filter (values the list no longer accepts are left out)."""
    flt, _ = ExecutionFilter.from_query(view.filter)
    return flt.url(EXECUTIONS_PATH)


class SavedViewsDrawer:
    """The left drawer: open beside the page on a wide screen, closed on a narrow one (where it lies over the page
    when opened, and closes when a view is opened); :meth:`toggle` is the header's button."""

    def __init__(self, application: Application) -> None:
        self._application = application
        self._seen = -1
        with (
            ui.left_drawer(value=False, elevated=False, fixed=False)  # as tall as the page: style.py keeps its list
            .props('bordered width=260 data-testid=views-drawer')
            .classes('fm-drawer')
            .mark('views-drawer') as self.drawer
        ):
            ui.label('Saved views').classes('fm-panel-title')
            self._list = ui.column().classes('w-full gap-0').mark('views-list')
        ui.timer(REFRESH_SECONDS, weak_callback(self.refresh))  # the shell keeps this alive as long as the page

    def show_for(self, signed_in: bool) -> None:
        """Closed on the sign-in page. For a signed-in visitor Quasar's ``show-if-above`` opens it beside the page on
        a wide screen when the page is drawn (the routed frame asks before that), and leaves it closed on a narrow
        one; after that it stays as the header's button leaves it."""
        if signed_in:
            self.drawer.props('show-if-above')
        else:
            self.drawer.props(remove='show-if-above')
            self.drawer.set_value(False)

    def toggle(self) -> None:
        self.drawer.toggle()

    @property
    def _close_if_over_the_page(self) -> str:
        """Browser code for a view's click: on a narrow screen the drawer lies over the page (Quasar's mobile mode),
        so it closes to show the list the view opens."""
        return f'() => {{ if (document.querySelector(".q-drawer--mobile")) getElement({self.drawer.id}).hide(); }}'

    async def refresh(self) -> None:
        """Re-read the views when they changed (and only for a signed-in visitor)."""
        views = self._application.saved_views
        if views.version == self._seen or not is_signed_in(self._application.token):
            return
        version = views.version  # taken before the read, kept once it succeeded (a failed read is tried again)
        shown = await views.all()
        self._seen = version
        self._list.clear()
        with self._list:
            if not shown:
                ui.label('None yet: filter or search the executions, then "Save view".').classes(
                    'text-xs text-grey-7 py-2'
                ).mark('views-empty')
            for view in shown:
                self._item(view)

    def _item(self, view: SavedView) -> None:
        target = view_url(view)
        with ui.row().classes('w-full items-center no-wrap gap-0 fm-view-item'):
            ui.button(view.name, icon='bookmark', on_click=lambda: ui.navigate.to(target)).props(
                'flat dense no-caps no-wrap align=left data-testid=saved-view'
            ).classes('grow min-w-0 fm-ellipsis fm-view-name').tooltip(f'{view.name}: {target}').mark('saved-view').on(
                'click', js_handler=self._close_if_over_the_page
            )
            delete = ui.button(icon='close', on_click=lambda: self._delete(view.name))
            delete.props('flat round dense size=sm data-testid=delete-view').mark('delete-view')
            delete.props['aria-label'] = f'Delete view {view.name}'  # set, not parsed: the name is untrusted text

    async def _delete(self, name: str) -> None:
        if not await confirm(
            'Delete this saved view?', name, ok_label='Delete', ok_color='negative', marker='confirm-delete-view',
            host=self.drawer,
        ):  # fmt: skip
            return
        await act(self._application, 'delete the view', lambda: self._application.saved_views.delete(name), 'Deleted')
        await self.refresh()


def save_view_button(application: Application, flt: ExecutionFilter) -> None:
    """The "Save view" button and its dialog: the name of the current filter and search."""
    with ui.dialog() as dialog, ui.card().classes('w-full max-w-md gap-3').mark('save-view-dialog'):
        ui.label('Save this view').classes('text-lg font-semibold')
        described = ', '.join(f'{key}={value}' for key, value in flt.view_filter().items()) or 'every execution'
        ui.label(f'Filter: {described}').classes('text-sm text-grey-7 fm-clamp-3').mark('save-view-filter')
        name = (
            ui.input('Name', validation={f'At most {MAX_NAME_CHARS} characters': lambda v: len(v) <= MAX_NAME_CHARS})
            .props(f'outlined dense autofocus maxlength={MAX_NAME_CHARS} counter')
            .classes('w-full')
            .mark('save-view-name')
        )

        @one_at_a_time
        async def save() -> None:
            saved = await guarded(
                application, 'save the view', lambda: application.saved_views.save(name.value or '', flt.view_filter())
            )
            if saved is None:
                return
            view, created = saved
            ui.notify(f'Saved view “{view.name}”' if created else f'Replaced view “{view.name}”', type='positive')
            dialog.close()

        name.on('keydown.enter', save)
        with ui.row().classes('w-full justify-end gap-2'):
            ui.button('Cancel', on_click=dialog.close).props('flat no-caps')
            ui.button('Save', on_click=save).props('unelevated no-caps data-testid=save-view-ok').mark('save-view-ok')
    ui.button('Save view', icon='bookmark_add', on_click=dialog.open).props(
        'outline no-caps data-testid=save-view'
    ).mark('save-view')
