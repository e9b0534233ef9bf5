"""The one palette: status colours and words for the whole app, readable in light and dark mode."""

from __future__ import annotations

# Tailwind-like mid tones: enough contrast on white and on the dark page background (#121212).
STATUS_COLORS: dict[str, str] = {
    'pending': '#9ca3af',  # grey 400
    'queued': '#a78bfa',  # violet 400
    'running': '#3b82f6',  # blue 500
    'retrying': '#f59e0b',  # amber 500
    'succeeded': '#22c55e',  # green 500
    'failed': '#ef4444',  # red 500
    'skipped': '#94a3b8',  # slate 400 (readable on white and on dark)
    'cancelled': '#f97316',  # orange 500
    'interrupted': '#d946ef',  # fuchsia 500
    # webhook deliveries (pending, retrying, succeeded, failed, cancelled share the colours above)
    'sending': '#0ea5e9',  # sky 500
    'exhausted': '#e11d48',  # rose 600
}

# Quasar colour names for badges and chips (q-badge color=...).
STATUS_QUASAR: dict[str, str] = {
    'pending': 'grey-6',
    'queued': 'deep-purple-4',
    'running': 'blue-6',
    'retrying': 'amber-8',
    'succeeded': 'green-6',
    'failed': 'red-6',
    'skipped': 'blue-grey-3',
    'cancelled': 'orange-7',
    'interrupted': 'purple-5',
    'sending': 'light-blue-6',
    'exhausted': 'pink-9',
}

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


def status_quasar(status: str) -> str:
    return STATUS_QUASAR.get(status, 'grey-6')


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
