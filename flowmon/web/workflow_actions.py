"""Delete a workflow from its page or its editor: the dialog says what goes with it and what stays, and the deletion
applies to the version the page shows only (someone saving it since is said instead)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nicegui import ui

from flowmon.application import Application
from flowmon.application.errors import AppError
from flowmon.application.workflows import StoredWorkflow, WorkflowChanged

from .actions import signed_in
from .format import count, timestamp
from .widgets.confirm_dialog import confirm


async def delete_workflow(
    application: Application,
    stored: StoredWorkflow,
    *,
    also: Sequence[str] = (),
    leaving: Callable[[], object] = lambda: None,
) -> bool:
    """Ask, then delete ``stored`` if it is still the stored version: go to the dashboard saying so (``leaving`` is
    called just before). ``also``: more the dialog says goes with it. Whether it was deleted (here, or by someone else
    meanwhile)."""
    details = [*await deletion_details(application, stored), *also]
    if application.workflows.provisioning_file(stored.id) is None:
        lasting = 'This cannot be undone.'
    else:  # (the details say which file brings it back)
        lasting = 'Until the next start of flowmon, which loads it again from its file.'
    if not await confirm(
        f'Delete the workflow “{stored.name}”?',
        f'{stored.id} goes from the workflows, the dashboard and the menu. {lasting}',
        ok_label='Delete workflow',
        ok_color='negative',
        marker='confirm-delete-workflow',
        details=details,
    ):
        return False
    if not signed_in(application):
        return False
    try:
        await application.workflows.delete(stored.id, expected=stored.version)
    except WorkflowChanged as exc:
        if exc.current is None:
            ui.notify(f'The workflow “{stored.name}” was deleted meanwhile.', type='info')
            leaving()
            ui.navigate.to('/')
            return True
        ui.notify(
            f'Not deleted: “{stored.name}” was saved at {timestamp(exc.current.updated_at)}, after this page showed '
            'it. Reload the page to see that version, and delete it then if it should still go.',
            type='warning',
            multi_line=True,
        )
        return False
    except AppError as exc:
        ui.notify(f'Could not delete the workflow: {exc}', type='negative', multi_line=True)
        return False
    ui.notify(f'Workflow “{stored.name}” deleted.', type='positive')
    leaving()
    ui.navigate.to('/')
    return True


async def deletion_details(application: Application, stored: StoredWorkflow) -> list[str]:
    """What deleting ``stored`` does to its executions, schedule and trigger, and whether a workflow file brings it
    back (what ``DELETE /api/workflows/{id}`` does)."""
    _, total = await application.history.page(workflow_id=stored.id, limit=1, offset=0)
    if total:
        if total == 1:
            runs = 'Its one execution stays in the history: it can still be opened, replayed and rerun (with the '
            runs += 'definition it ran with); a run queued or in progress goes on.'
        else:
            runs = f'Its {count(total)} executions stay in the history: they can still be opened, replayed and rerun '
            runs += '(with the definition they ran with); a run queued or in progress goes on.'
        details = [runs]
    else:
        details = ['It has no executions.']
    definition = stored.definition
    schedule = definition.get('schedule')
    scheduled = isinstance(schedule, dict)
    if isinstance(schedule, dict):
        details.append(f'Its schedule ({schedule.get("cron")}) stops: no run starts on it any more.')
    trigger = definition.get('trigger')
    triggered = isinstance(trigger, dict) and bool(trigger.get('enabled'))
    if triggered:
        details.append(
            f'Its trigger URL /hooks/{stored.id} stops starting runs (calls get 404), and its trigger secret is '
            'deleted: a workflow saved under this id again gets a new one.'
        )
    file_name = application.workflows.provisioning_file(stored.id)
    if file_name is not None:
        anew = ' and '.join(
            what for what, has in (('its schedule active', scheduled), ('a new trigger secret', triggered)) if has
        )
        details.append(
            f'It comes back at the next start of flowmon: the workflow file {file_name} loads it again'
            f'{f" (with {anew})" if anew else ""}. Remove the file from the workflows directory to delete it for good.'
        )
    return details
