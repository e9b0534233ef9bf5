"""A filter box over a list of workflows (the header's menus, the dashboard's and ``/workflows``' lists): it shows the
entries whose name holds what is typed, ignoring case, and says so when none does.

Up to 1,000 workflows are listed, so nothing is rebuilt as the visitor types: the box sends its text once typing
pauses (Quasar's ``debounce``), and only the entries whose state changed are shown or hidden.
"""

from __future__ import annotations

from collections.abc import Callable

from nicegui import ui
from nicegui.events import GenericEventArguments

from flowmon.application.workflows import StoredWorkflow

MAX_FILTER_CHARS = 200  # as long as a name can be
DEBOUNCE_MS = 150


def matches(workflow: StoredWorkflow, text: str) -> bool:
    """Whether ``workflow`` is one the filter ``text`` keeps: its name holds it, ignoring case (any, for no text)."""
    return text.casefold() in workflow.name.casefold()


class WorkflowFilter:
    """The box, then the "no workflow matches" line; :meth:`add` each entry after. ``on_enter(workflow_id)``, when
    given, is what Enter in the box does with the first entry shown."""

    def __init__(self, marker: str, *, on_enter: Callable[[str], None] | None = None) -> None:
        self._entries: list[tuple[StoredWorkflow, ui.element]] = []
        self._shown: list[bool] = []
        self._on_enter = on_enter
        self.box = (
            ui.input(placeholder='Filter workflows')
            .props(f'dense outlined clearable debounce={DEBOUNCE_MS} maxlength={MAX_FILTER_CHARS} type=search')
            .props(f'aria-label="Filter workflows by name" data-testid={marker}')
            .classes('w-full fm-workflow-filter')
            .mark(marker)
        )
        with self.box.add_slot('prepend'):
            ui.icon('search').props('aria-hidden=true')
        self.box.on_value_change(self._apply)
        if on_enter is not None:
            # with what the box holds as Enter is pressed: the debounced text may not have come yet
            self.box.on('keydown.enter', self._enter, js_handler='(e) => emit(e.target.value)')
        self.none = ui.label('No workflow matches').classes('text-sm text-grey-7 px-2 py-2').mark(f'{marker}-none')
        self.none.props('role=status')
        self.none.set_visibility(False)

    def add(self, workflow: StoredWorkflow, entry: ui.element) -> None:
        self._entries.append((workflow, entry))
        self._shown.append(True)

    def _apply(self) -> None:
        text = str(self.box.value or '')[:MAX_FILTER_CHARS]
        for index, (workflow, entry) in enumerate(self._entries):
            shown = matches(workflow, text)
            if shown != self._shown[index]:  # the entries that change only: one update each
                self._shown[index] = shown
                entry.set_visibility(shown)
        self.none.set_visibility(bool(self._entries) and not any(self._shown))

    def _enter(self, event: GenericEventArguments) -> None:
        if isinstance(event.args, str):
            self.box.set_value(event.args[:MAX_FILTER_CHARS])  # filters at once (a change of value applies it)
        first = next((workflow for (workflow, _), shown in zip(self._entries, self._shown, strict=True) if shown), None)
        if first is not None and self._on_enter is not None:
            self._on_enter(first.id)
