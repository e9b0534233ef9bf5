"""How an execution was started, as an icon and a word (API, UI, Schedule, Webhook, Rerun; Imported for one imported
from an export file): in the execution lists and on the execution page. The word is the text a reader (and a screen
reader) gets; the icon is a cue."""

from __future__ import annotations

from nicegui import ui

# trigger type -> (Material icon, word, what it means)
TRIGGERS: dict[str, tuple[str, str, str]] = {
    'api': ('api', 'API', 'started through the REST API'),
    'ui': ('touch_app', 'UI', 'started with a Run button'),
    'schedule': ('schedule', 'Schedule', 'started by its cron schedule'),
    'hook': ('webhook', 'Webhook', 'started by a signed inbound webhook'),
    'rerun': ('replay', 'Rerun', 'a rerun of an earlier execution'),
}
UNKNOWN = ('remove', 'Unknown', 'not recorded: it ran before flowmon recorded how executions start')
IMPORTED = (
    'move_to_inbox',
    'Imported',
    'imported from an export file: read-only, left out of the dashboard and baselines',
)


def describe(trigger_type: str | None) -> tuple[str, str, str]:
    """(icon, word, meaning) of a trigger type."""
    return TRIGGERS.get(trigger_type or '', UNKNOWN)


class TriggerLabel(ui.row):
    """An icon and a word; ``detail`` (a cron expression, a webhook-id) joins the tooltip."""

    def __init__(self, trigger_type: str | None, *, detail: str | None = None, imported: bool = False) -> None:
        super().__init__(wrap=False)
        self.classes('items-center gap-1 no-wrap fm-trigger')
        with self:
            self._icon = ui.icon('', size='16px').classes('text-grey-7').props('aria-hidden=true')
            self._word = ui.label('').classes('fm-ellipsis')
            self._tip = ui.tooltip('')
        self._type: tuple[str | None, bool] = ('?', False)
        self._detail = detail
        self.set_type(trigger_type, imported=imported)

    @property
    def word(self) -> str:
        """What it says (API, UI, Schedule, Webhook, Rerun, Unknown, Imported)."""
        return str(self._word.text)

    def set_type(self, trigger_type: str | None, *, imported: bool = False) -> None:
        """Show ``trigger_type``; an ``imported`` execution says Imported, and the tooltip how it was started."""
        if (trigger_type, imported) == self._type:
            return
        self._type = (trigger_type, imported)
        icon, word, meaning = IMPORTED if imported else describe(trigger_type)
        if imported and trigger_type in TRIGGERS:
            meaning = f'{meaning} (started there by {TRIGGERS[trigger_type][1]})'
        self._icon.name = icon
        self._icon.update()
        self._word.set_text(word)
        self.props(f'data-trigger={"imported" if imported else trigger_type or "unknown"}')
        self._tip.set_text(f'{meaning}: {self._detail}' if self._detail else meaning)
