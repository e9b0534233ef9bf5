"""A crontab line as crontab reads it, for APScheduler 3.

APScheduler's ``CronTrigger.from_crontab`` takes the five fields but not all of crontab's meaning: its numeric
day-of-week counts 0 = Monday (crontab: 0 and 7 = Sunday, 1 = Monday), so ``1-5`` ran Tuesday to Saturday; and it
fires only when both the day of the month and the day of the week match, where crontab fires when either does, if
neither starts with ``*`` (``0 0 1,15 * 1``: the 1st, the 15th and every Monday). :func:`crontab_trigger` builds the
trigger with crontab's meaning: the day-of-week field is read here (numbers, names, ranges, steps, lists) and given
to APScheduler as day names, which mean the same in both; the other fields go to APScheduler as they are.

Crontab's shortcuts (``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``) are read as the lines they stand
for. APScheduler is imported when a trigger is built, not with the engine.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

DAYS = ('sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat')  # crontab's numbering: 0 (and 7) = Sunday
FIELDS = 'minute hour day month day-of-week'
# crontab's shortcuts (``@reboot`` is not a schedule)
SHORTCUTS = {
    '@yearly': '0 0 1 1 *',
    '@annually': '0 0 1 1 *',
    '@monthly': '0 0 1 * *',
    '@weekly': '0 0 * * 0',
    '@daily': '0 0 * * *',
    '@midnight': '0 0 * * *',
    '@hourly': '0 * * * *',
}
NEVER_AFTER = datetime(2000, 1, 1, tzinfo=UTC)  # a line that fires at no time after this never fires


def crontab_days(field: str) -> str:
    """The day-of-week ``field`` of a crontab line as APScheduler day names (``'1-5'`` -> ``'mon,tue,wed,thu,fri'``),
    or ``'*'`` for every day; raises ValueError naming what is wrong."""
    if field == '*':
        return '*'
    days: set[int] = set()
    for part in field.split(','):
        days.update(_days_of(part))
    return ','.join(DAYS[day] for day in sorted(days))


def _days_of(part: str) -> range | list[int]:
    span, _, step_text = part.partition('/')
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) < 1:
            raise ValueError(f'day-of-week: the step in {part!r} must be a whole number of 1 or more')
        step = int(step_text)
    if span == '*':
        first, last = 0, 6
    else:
        start, dash, end = span.partition('-')
        first = _day(start, part)
        last = _day(end, part) if dash else (6 if step_text else first)  # 'n/2': from n to the week's end
        if last < first:
            raise ValueError(f'day-of-week: the range {span!r} runs backwards (write it as two, e.g. "5-6,0")')
    return [day % 7 for day in range(first, last + 1, step)]


def _day(text: str, part: str) -> int:
    name = text.strip().lower()
    if name in DAYS:
        return DAYS.index(name)
    if name.isdigit() and int(name) <= 7:
        return int(name)  # 7 is Sunday as well (kept as 7 in a range: 5-7 is Friday to Sunday)
    raise ValueError(f'day-of-week: {text!r} in {part!r} is not a day (0-7, 0 and 7 = Sunday, or sun-sat)')


def crontab_trigger(expression: str, timezone: tzinfo) -> Any:
    """APScheduler's trigger for the crontab line ``expression`` in ``timezone``, with crontab's meaning; raises
    ValueError naming what is wrong."""
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger

    line = SHORTCUTS.get(expression.strip().lower(), expression)
    if line.startswith('@'):
        raise ValueError(f'{line.split()[0]!r} is not a schedule (the shortcuts are {", ".join(SHORTCUTS)})')
    fields = line.split()
    if len(fields) != 5:
        raise ValueError(
            f'a cron expression has 5 fields ({FIELDS}) or is a shortcut such as @daily, not {len(fields)}'
        )
    minute, hour, day, month, weekday = fields
    days = crontab_days(weekday)

    def trigger(day: str, days: str) -> Any:
        return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=days, timezone=timezone)

    if day.startswith('*') or weekday.startswith('*'):  # (crontab's rule: a field starting with * is unrestricted)
        return trigger(day, days)
    # both restricted: crontab fires on either (APScheduler's one trigger would need both)
    return OrTrigger([trigger(day, '*'), trigger('*', days)])


def check_crontab(expression: str) -> None:
    """Raise ValueError when ``expression`` is not a crontab line or never fires (``0 0 30 2 *``: 30 February)."""
    if crontab_trigger(expression, UTC).get_next_fire_time(None, NEVER_AFTER) is None:
        raise ValueError('it never fires (no day matches both its day of the month and its month)')
