"""The one palette: status colours and words for the whole app, readable in light and dark mode."""

from __future__ import annotations

# The primary colour (buttons, links, the active tab, checkboxes): a blue that carries a button's white word and
# reads as a link on every light surface (4.5:1; NiceGUI's default, #5898d4, is 3.1:1 with white). On the dark
# surfaces that blue is too dark for text: there, text in the primary colour takes PRIMARY_TEXT_DARK.
PRIMARY = '#1a5fd0'
PRIMARY_TEXT_DARK = '#60a5fa'  # blue 400

# Tailwind-like mid tones for fills and marks (canvas cards, chart segments, icons). Too light for text on white
# (pending's grey is 2.5:1): a status written as a word takes its colour from STATUS_TEXT_COLORS.
STATUS_COLORS: dict[str, str] = {
    'pending': '#9ca3af',  # grey 400
    'queued': '#a78bfa',  # violet 400
    'running': '#3b82f6',  # blue 500
    'retrying': '#f59e0b',  # amber 500
    'succeeded': '#22c55e',  # green 500
    'failed': '#ef4444',  # red 500
    'skipped': '#94a3b8',  # slate 400
    'cancelled': '#f97316',  # orange 500
    'interrupted': '#d946ef',  # fuchsia 500
    # webhook deliveries (pending, retrying, succeeded, failed, cancelled share the colours above)
    'sending': '#0ea5e9',  # sky 500
    'exhausted': '#e11d48',  # rose 600
}

# A status as a word (the node list, the event log, the comparison): (light mode, dark mode), at least 4.5:1 on the
# light surfaces (white, a hovered or selected row) and on the dark ones. Used through CSS variables that follow the
# mode (status_text_css, in the app's CSS; status_text_color names them).
STATUS_TEXT_COLORS: dict[str, tuple[str, str]] = {
    'pending': ('#4b5563', '#9ca3af'),  # grey 600 / 400
    'queued': ('#6d28d9', '#a78bfa'),  # violet 700 / 400
    'running': ('#1d4ed8', '#60a5fa'),  # blue 700 / 400
    'retrying': ('#92400e', '#fbbf24'),  # amber 800 / 400
    'succeeded': ('#166534', '#4ade80'),  # green 800 / 400
    'failed': ('#b91c1c', '#f87171'),  # red 700 / 400
    'skipped': ('#475569', '#94a3b8'),  # slate 600 / 400
    'cancelled': ('#9a3412', '#fb923c'),  # orange 800 / 400
    'interrupted': ('#a21caf', '#e879f9'),  # fuchsia 700 / 400
    'sending': ('#0369a1', '#38bdf8'),  # sky 700 / 400
    'exhausted': ('#be123c', '#fb7185'),  # rose 700 / 400
}

# Quasar colour names for badges and chips (q-badge color=...): fills dark enough for the badge's white word (4.5:1),
# but amber, which no shade makes dark enough: its badge takes a dark word (BADGE_TEXT).
STATUS_QUASAR: dict[str, str] = {
    'pending': 'grey-7',
    'queued': 'deep-purple-5',
    'running': 'blue-8',
    'retrying': 'amber-8',
    'succeeded': 'green-9',
    'failed': 'red-8',
    'skipped': 'blue-grey-7',
    'cancelled': 'deep-orange-10',
    'interrupted': 'purple-5',
    'sending': 'light-blue-9',
    'exhausted': 'pink-9',
}
BADGE_TEXT: dict[str, str] = {'retrying': 'grey-10'}

STATUS_ICONS: dict[str, str] = {
    'pending': 'schedule',
    'queued': 'hourglass_empty',
    'running': 'play_circle',
    'retrying': 'replay',
    'succeeded': 'check_circle',
    'failed': 'error',
    'skipped': 'redo',
    'cancelled': 'cancel',
    'interrupted': 'power_off',
    'sending': 'send',
    'exhausted': 'block',
}

ACTIVE_STATUSES = frozenset({'running', 'retrying', 'queued', 'sending'})


def status_color(status: str) -> str:
    return STATUS_COLORS.get(status, STATUS_COLORS['pending'])


def status_text_color(status: str) -> str:
    """The CSS colour of ``status`` written as a word, in the page's light or dark mode."""
    return f'var(--fm-st-{status if status in STATUS_TEXT_COLORS else "pending"})'


def status_text_css() -> str:
    """The variables behind :func:`status_text_color`, for light mode and for Quasar's dark mode."""
    return _mode_variables('--fm-st-', STATUS_TEXT_COLORS)


def primary_text_css() -> str:
    """``--fm-primary-text``, text in the primary colour for the page's mode, and Quasar's ``text-primary`` (flat
    buttons, checkboxes, toggles) drawn with it. The rule is of one class: the app's own rules after it (the header's
    muted buttons) still win."""
    return (
        f':root {{ --fm-primary-text: {PRIMARY}; }}\n'
        f'body.body--dark {{ --fm-primary-text: {PRIMARY_TEXT_DARK}; }}\n'
        '.text-primary { color: var(--fm-primary-text) !important; }\n'
    )


# The JSON viewer's values by kind (the inspector's input and output trees): (light mode, dark mode), 4.5:1 on every
# surface of their mode, as the status words. Used through the variables json_value_css defines (--fm-json-<kind>).
JSON_VALUE_COLORS: dict[str, tuple[str, str]] = {
    'string': ('#166534', '#4ade80'),  # green 800 / 400
    'number': ('#92400e', '#fbbf24'),  # amber 800 / 400
    'boolean': ('#1d4ed8', '#60a5fa'),  # blue 700 / 400
    'null': ('#7e22ce', '#c084fc'),  # purple 700 / 400
}


def json_value_css() -> str:
    """The variables of :data:`JSON_VALUE_COLORS`, for light mode and for Quasar's dark mode."""
    return _mode_variables('--fm-json-', JSON_VALUE_COLORS)


def _mode_variables(prefix: str, colors: dict[str, tuple[str, str]]) -> str:
    """``prefix<name>`` set to each (light, dark) pair's colour for light mode and for Quasar's dark mode."""
    light = ' '.join(f'{prefix}{name}: {pair[0]};' for name, pair in colors.items())
    dark = ' '.join(f'{prefix}{name}: {pair[1]};' for name, pair in colors.items())
    return f':root {{ {light} }}\nbody.body--dark {{ {dark} }}\n'


def status_quasar(status: str) -> str:
    return STATUS_QUASAR.get(status, 'grey-7')


def badge_text(status: str) -> str:
    """The Quasar colour of the word on ``status``'s badge."""
    return BADGE_TEXT.get(status, 'white')


def status_icon(status: str) -> str:
    return STATUS_ICONS.get(status, 'help')


# How an attempt (or a Gantt marker) ended, as the status whose colour and icon show it.
_OUTCOME_STATUS = {
    'running': 'running',
    'succeeded': 'succeeded',
    'failed': 'failed',
    'retried': 'retrying',
    'cancelled': 'cancelled',
    'reused': 'skipped',
    'skipped': 'skipped',
}


def outcome_status(outcome: str) -> str:
    """The status that colours an attempt outcome (``retried`` shows as ``retrying``, a reuse as ``skipped``)."""
    return _OUTCOME_STATUS.get(outcome, 'pending')
