"""``/workflows/new`` and ``/workflows/{id}/edit``: a workflow definition in a code editor, checked as it is typed.

The text is JSON or YAML (switchable: the document is converted when it parses). Whenever typing pauses the text
goes through the same validation as ``PUT /api/workflows/{id}`` (the workflows use case's ``check``: the size and
nesting limits, the YAML rules in a worker thread, every node's config, the graph), and its message is shown under
the editor; a valid definition is drawn beside it with the canvas the workflow page uses, which keeps the view the
visitor zoomed, panned or fitted it to from one edit to the next (see ``DagViewport``'s ``keep``). Save first shows what
changes against the stored version (a line diff of the definitions, as text), then stores it with the same use case
as the ``PUT`` (created or replaced), says so and opens the workflow's page. A workflow loaded from a workflow file says
that the file wins at the next start. Delete… deletes the version the text started from, as on the workflow page.

Save stores only over the version the text started from (:mod:`~flowmon.web.opened_version`, which also watches
whether that version is still the stored one); when someone saved or deleted it since, nothing is stored and a note
above the editor offers the choices (:mod:`~flowmon.web.widgets.editor_conflict`).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import yaml
from nicegui import ui

from flowmon.application import Application
from flowmon.application.errors import AppError
from flowmon.application.workflows import MAX_YAML_BYTES, NO_VERSION, Checked, StoredWorkflow, WorkflowChanged
from flowmon.web.actions import found, signed_in
from flowmon.web.comparison import same_json
from flowmon.web.format import plural, timestamp
from flowmon.web.opened_version import OpenedVersion
from flowmon.web.teardown import weak_callback
from flowmon.web.widgets.changes_dialog import changes_dialog
from flowmon.web.widgets.code_editor import SENDABLE, CodeEditor, Language
from flowmon.web.widgets.dag_view import HALF_WIDTH_BUDGET_PX, DagView
from flowmon.web.widgets.editor_conflict import EditorConflict
from flowmon.web.widgets.empty_state import not_found
from flowmon.web.widgets.leave_guard import LeaveGuard, confirm_leave
from flowmon.web.widgets.provisioned_note import provisioned_note
from flowmon.web.workflow_actions import delete_workflow

log = logging.getLogger(__name__)

PAUSE_SECONDS = 0.4  # a check starts once typing has paused this long
LOST = (
    f'This text did not reach flowmon: an edit of more than {SENDABLE} at once is more than the page can send '
    '(a definition that large is stored with PUT /api/workflows/{id}). Reload the page to start over.'
)
TICK_SECONDS = 0.15
TEMPLATE = {
    'id': 'my-workflow',
    'name': 'My workflow',
    'description': 'What it does, in a sentence.',
    'nodes': [
        {'id': 'start', 'type': 'transform', 'config': {'expression': 'input'}},
        {'id': 'report', 'type': 'log', 'config': {'message': 'done'}},
    ],
    'edges': [{'source': 'start', 'target': 'report'}],
}


async def create_new(application: Application) -> None:
    """``/workflows/new``: a template to start from."""
    with ui.column().classes('w-full gap-4 fm-page').mark('workflow-editor'):
        WorkflowEditor(application, None)


async def create(application: Application, workflow_id: str) -> None:
    """``/workflows/{workflow_id}/edit``: the stored definition."""
    stored = await found(application.workflows.get(workflow_id))
    with ui.column().classes('w-full gap-4 fm-page').mark('workflow-editor'):
        if stored is None:
            reason = f'There is no workflow with the id “{workflow_id}”.'
            not_found(
                'workflow-not-found', 'account_tree', 'Workflow not found', [reason], ('New workflow', '/workflows/new')
            )
            return
        WorkflowEditor(application, stored)


class WorkflowEditor:
    """The editor, its check, the preview and Save."""

    def __init__(self, application: Application, stored: StoredWorkflow | None) -> None:
        self._application = application
        self._stored = stored
        self._version = OpenedVersion(application.workflows, stored)  # Save stores only over the version it opened
        self._language: Language = 'JSON'
        self._changed_at: float | None = None  # when the text last changed without being checked since
        self._checking = False
        self._lost = False  # an edit too large for the page's connection never reached the server
        self._checked: Checked | None = None  # the last valid definition (what the preview shows)
        self._checked_text: str | None = None  # the text the status line is about
        self._unchanged = False  # the last check found the stored version the text started from: Save is disabled
        self._preview_of: dict[str, Any] | None = None
        self._header()
        self._conflict = EditorConflict(
            review=weak_callback(self._review_theirs),
            overwrite=weak_callback(self._overwrite),
            load=weak_callback(self._load_theirs),
        )
        with ui.element('div').classes('fm-editor-grid w-full'):
            with ui.card().classes('fm-panel min-w-0 gap-2').props('flat bordered'):
                self._toolbar()
                self._opened = stored.definition if stored else TEMPLATE
                text = _dump(self._opened, 'JSON')
                self.editor = (
                    CodeEditor(text, language='JSON', on_change=weak_callback(self._edited))
                    .classes('w-full')
                    .style('height: 62vh; min-height: 320px')
                    .props('data-testid=workflow-source')
                    .mark('workflow-source')
                )
                self.status = ui.label('').classes('text-sm fm-editor-status').props('data-testid=editor-status')
                self.status.mark('editor-status')
            with ui.card().classes('fm-panel min-w-0 gap-2').props('flat bordered'):
                with ui.row().classes('w-full items-center justify-between'):
                    ui.label('Preview').classes('fm-panel-title')
                    self.preview_note = ui.label('').classes('text-xs text-grey-7').mark('preview-note')
                self.preview = (
                    ui.column().classes('w-full gap-0').props('data-testid=editor-preview').mark('editor-preview')
                )
        self._diff_host = ui.element('div')
        # the browser asks before the page goes away (tab closed, reload, sign-out) while there are edits not saved
        self.leave_guard = LeaveGuard().mark('leave-guard')
        ui.timer(TICK_SECONDS, self._tick)
        self._changed_at = 0.0  # check the initial text at once

    # --- layout ---------------------------------------------------------------------------------------

    def _header(self) -> None:
        stored = self._stored
        with ui.row().classes('w-full items-end justify-between gap-3 fm-page-head'):
            with ui.column().classes('gap-0 min-w-0'):
                with ui.row().classes('items-center gap-2 text-sm text-grey-7'):
                    ui.link('Dashboard', '/').classes('fm-link')
                    ui.label('/')
                    if stored is not None:
                        ui.link(stored.name, f'/workflows/{stored.id}').classes('fm-link')
                        ui.label('/')
                    ui.label('Edit' if stored else 'New workflow')
                title = f'Edit “{stored.name}”' if stored else 'New workflow'
                self._title = ui.label(title).classes('fm-title').mark('editor-title')
            if stored is not None:
                ui.button('Delete…', icon='delete', on_click=self._delete).props(
                    'flat no-caps color=negative data-testid=editor-delete'
                ).mark('editor-delete')
        provisioned_note(self._application.workflows.provisioning_file(stored.id) if stored else None)

    def _toolbar(self) -> None:
        with ui.row().classes('w-full items-center gap-2'):
            self.format = (
                ui.toggle(['JSON', 'YAML'], value='JSON', on_change=lambda e: self._switch(e.value))
                .props('dense no-caps unelevated toggle-color=primary data-testid=editor-format')
                .mark('editor-format')
            )
            ui.space()
            ui.button('Cancel', on_click=self._cancel).props('flat no-caps data-testid=editor-cancel').mark(
                'editor-cancel'
            )
            ui.button('Changes', icon='difference', on_click=lambda: self._review(save=False)).props(
                'outline no-caps data-testid=editor-diff'
            ).mark('editor-diff')
            self.save_button = (
                ui.button('Save…', icon='save', on_click=lambda: self._review(save=True))
                .props('unelevated no-caps data-testid=editor-save')
                .mark('editor-save')
            )

    async def _cancel(self) -> None:
        """Back to where the editor was opened from; edits not saved are dropped only once the visitor says so."""
        back = f'/workflows/{self._stored.id}' if self._stored else '/'
        if await self._edited_since_opened() and not await confirm_leave():
            return
        self.leave_guard.disarm()
        ui.navigate.to(back)

    async def _delete(self) -> None:
        """Delete the version the text started from (someone saving it since is said instead), edits and all."""
        if self._version.base is None:
            return
        edits = ['Your edits in the editor, not saved, go too.'] if await self._edited_since_opened() else []
        await delete_workflow(self._application, self._version.base, also=edits, leaving=self.leave_guard.disarm)

    async def _edited_since_opened(self) -> bool:
        """Whether the text says anything else than the definition the editor opened with (JSON turned into YAML,
        or indented otherwise, says the same)."""
        if self._lost:
            return True
        try:
            text, yaml_text = self.editor.value or '', self._language == 'YAML'
            document = await self._application.workflows.document(text, yaml=yaml_text)
        except AppError:  # not a document (yet): an edit
            return True
        return not same_json(document, self._opened)

    async def _guard_edits(self) -> bool:
        """Ask before the page goes away while the text says something else than what the editor opened with;
        whether it does."""
        edited = await self._edited_since_opened()
        if edited or self._changed_at is None:  # (an edit made meanwhile keeps the guard until it is checked)
            self.leave_guard.set_armed(edited)
        return edited

    # --- checking as it is typed ----------------------------------------------------------------------

    def _edited(self, _: object = None) -> None:
        self._changed_at = asyncio.get_running_loop().time()
        self.leave_guard.arm()  # at once: the check that may find the text unchanged after all comes after a pause
        if self._unchanged:  # Save too (it checks the text first)
            self._unchanged = False
            self.save_button.enable()

    async def _tick(self) -> None:
        changed = self._changed_at
        if self._checking:
            return
        if changed is None:
            if self._unchanged:
                await self._watch_base()
            return
        if asyncio.get_running_loop().time() - changed < PAUSE_SECONDS and changed != 0.0:
            return
        self._changed_at = None
        self._checking = True
        try:
            await self._check()
        finally:
            self._checking = False

    async def _watch_base(self) -> None:
        """While Save… is disabled because the text says the stored version the editor opened: enable it once that
        version is gone (deleted, or saved over elsewhere), so that Save… says so and offers the choices."""
        self._checking = True  # (no check meanwhile: it would set Save from what it found before the watch's read)
        try:
            gone = await self._version.look()
        finally:
            self._checking = False
        if gone and self._unchanged:
            self._unchanged = False
            self.save_button.enable()

    async def _check(self) -> Checked | None:
        """Check the editor's text now (and that it is the one the browser shows); show the outcome and, when valid,
        the preview."""
        text = self.editor.value or ''
        checked, problem = await self._validate(text)
        if self.editor.is_deleted:
            return None
        in_sync = False if self._lost else await self.editor.in_sync()
        if in_sync is False:
            self._lost = True  # for good: every later edit applies to the text the server has, not the one shown
            checked, problem = None, LOST
        elif in_sync is None and checked is not None:  # (not known: nothing is saved until it is)
            checked, problem = None, 'The page did not answer in time; the text is checked again as soon as it does.'
            self._changed_at = 0.0
        self._checked_text = text
        edited = await self._guard_edits()
        self._unchanged = False
        if checked is None:
            self.status.set_text(problem or 'Not a valid workflow.')
            self.status.classes(add='text-negative', remove='fm-good')
            self.save_button.disable()
            if self._checked is not None:
                self.preview_note.set_text('the last valid version')
            return None
        nodes, edges = len(checked.definition.get('nodes') or ()), len(checked.definition.get('edges') or ())
        summary = f'Valid: {checked.id}, {plural(nodes, "node")}, {plural(edges, "edge")}'
        if self._stored is None and await self._version.stored(checked.id) is not None:
            summary += f'. A workflow with the id “{checked.id}” exists: saving replaces it (Changes shows how).'
        self.status.set_text(summary)
        self.status.classes(add='fm-good', remove='text-negative')
        # (nothing to save while the text says the stored version it started from: Save's dialog said "No changes";
        # an edit made while this check ran has enabled Save and is checked next)
        base, gone = self._version.base, self._version.gone
        self._unchanged = base is not None and not edited and not gone and self._changed_at is None
        self.save_button.set_enabled(not self._unchanged)
        self._checked = checked
        self.preview_note.set_text('')
        self._draw_preview(checked.definition)
        return checked

    async def _validate(self, text: str) -> tuple[Checked | None, str | None]:
        workflow_id = self._stored.id if self._stored else None
        try:
            checked = await self._application.workflows.check(
                text, yaml=self._language == 'YAML', workflow_id=workflow_id
            )
        except AppError as exc:
            return None, str(exc)
        except Exception as exc:  # whatever the text, the page stays up and says something
            log.exception('could not check a workflow definition')
            return None, f'The definition could not be checked: {type(exc).__name__}.'
        return checked, None

    def _draw_preview(self, definition: dict[str, Any]) -> None:
        if definition == self._preview_of:
            return
        self._preview_of = definition
        self.preview.clear()
        with self.preview:
            DagView(
                definition,
                height='auto',
                definition_only=True,
                width_budget=HALF_WIDTH_BUDGET_PX,
                start_named=True,
                keep_view=f'preview-{self.preview.id}',  # the view the visitor moved to, kept across edits
            )

    # --- JSON or YAML ---------------------------------------------------------------------------------

    async def _switch(self, language: Language) -> None:
        if language == self._language:
            return
        before, self._language = self._language, language
        self.editor.set_language(language)
        text = self.editor.value or ''
        try:
            document = await self._application.workflows.document(text, yaml=before == 'YAML')
            converted = await asyncio.to_thread(_dump, document, language)
        except AppError as exc:
            ui.notify(f'The text is not a {before} document yet ({exc}): only the editor switched.', type='info')
            self._changed_at = 0.0
            return
        if language == 'YAML' and len(converted.encode()) > MAX_YAML_BYTES:
            ui.notify(f'Over {MAX_YAML_BYTES // 1024} KiB as YAML: it stays JSON (larger workflows are sent as JSON).')
            self._language = before
            self.editor.set_language(before)
            self.format.set_value(before)
            return
        self.editor.set_value(converted)
        self._changed_at = 0.0

    # --- saving -----------------------------------------------------------------------------------------

    async def _review(self, *, save: bool) -> None:
        """The line diff against the stored version; with ``save``, a Save button that stores it."""
        checked = await self._check()
        if checked is None:
            ui.notify('Fix the definition first: the message under the editor says what is wrong.', type='warning')
            return
        stored = await self._version.stored(checked.id)
        if self._version.moved_on(checked.id, stored):  # someone saved it since the editor opened it: theirs stays
            self._show_conflict(checked.id, stored)
            if save:
                return
        current = stored.definition if stored else None
        text, language = self._checked_text or '', self._language  # (what was checked, whatever came since)
        expected = self._version.expected(checked.id, stored)

        async def store(dialog: ui.dialog) -> None:
            await self._save(checked.id, text, language, expected, dialog)

        self._diff_host.clear()
        with self._diff_host:
            file_name = self._application.workflows.provisioning_file(checked.id)
            dialog = changes_dialog(
                checked.id, current, checked.definition, file_name=file_name, on_save=store if save else None
            )
        dialog.open()

    async def _save(
        self, workflow_id: str, text: str, language: Language, expected: str, dialog: ui.dialog | None = None
    ) -> None:
        if not signed_in(self._application):
            return
        try:
            saved = await self._application.workflows.put(
                workflow_id, text.encode('utf-8', errors='surrogatepass'), yaml=language == 'YAML', expected=expected
            )
        except WorkflowChanged as exc:  # nothing stored: the text stays, and the visitor chooses
            if dialog is not None:
                dialog.close()
            self._show_conflict(workflow_id, exc.current)
            return
        except AppError as exc:
            ui.notify(f'Not saved: {exc}', type='negative', multi_line=True)
            return
        if dialog is not None:
            dialog.close()
        self.leave_guard.disarm()
        ui.notify(f'Workflow “{workflow_id}” {"created" if saved.created else "saved"}.', type='positive')
        ui.navigate.to(f'/workflows/{workflow_id}')

    # --- someone else saved it ----------------------------------------------------------------------------

    def _show_conflict(self, workflow_id: str, theirs: StoredWorkflow | None) -> None:
        """Say above the editor that ``workflow_id`` was saved (``theirs``) or deleted (None) since the text started
        from it, with the choices; the text stays as it is."""
        base = self._version.base
        since_opened = base is not None and base.id == workflow_id
        self._conflict.show(workflow_id, theirs, since_opened=since_opened)

    async def _review_theirs(self, workflow_id: str, theirs: StoredWorkflow | None) -> None:
        """Their version against the text (or, when the text is not valid now, against the last valid one)."""
        checked = await self._check() or self._checked
        yours = checked.definition if checked is not None else {}
        self._diff_host.clear()
        with self._diff_host:
            saved_at = f', saved at {timestamp(theirs.updated_at)}' if theirs else ''
            dialog = changes_dialog(
                workflow_id,
                theirs.definition if theirs else None,
                yours,
                file_name=None,
                on_save=None,
                current_label=f'theirs{saved_at}',
            )
        dialog.open()

    async def _overwrite(self, workflow_id: str, theirs: StoredWorkflow | None) -> None:
        """Store the text over their version (only over theirs: someone saving again meanwhile is said again)."""
        checked = await self._check()
        if checked is None:
            ui.notify('Fix the definition first: the message under the editor says what is wrong.', type='warning')
            return
        if checked.id != workflow_id:  # (a new workflow's text now names another id)
            self._conflict.clear()
            await self._review(save=True)
            return
        expected = theirs.version if theirs else NO_VERSION
        await self._save(workflow_id, self._checked_text or '', self._language, expected)

    async def _load_theirs(self, theirs: StoredWorkflow) -> None:
        """Drop the text for their version, which the editor then edits (and Save stores over)."""
        self._version.reopen(theirs)
        self._opened = theirs.definition
        if self._stored is not None:
            self._title.set_text(f'Edit “{theirs.name}”')
        self._conflict.clear()
        self.editor.set_value(await asyncio.to_thread(_dump, theirs.definition, self._language))
        self._changed_at = 0.0
        self.leave_guard.disarm()
        ui.notify(f'Their version, saved at {timestamp(theirs.updated_at)}, is in the editor.', type='info')


def _dump(document: Any, language: Language) -> str:
    """A document as the editor shows it: indented JSON, or block-style YAML in the document's key order."""
    if language == 'YAML':
        return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100))
    return json.dumps(document, indent=2, ensure_ascii=False)
