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

from datetime import UTC, tzinfo
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
        last = _day(end, part) if dash else (7 if step_text else first)  # 'n/2': from n to the week's end (7)
        if dash and last == 0 and first > 0:  # a range that ends on Sunday: sat-sun, 6-0 (APScheduler read them so)
            last = 7
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
    if not days_fit(day, month):  # its days of the month never come: the days of the week alone (no endless search)
        return trigger('*', days)
    # both restricted: crontab fires on either (APScheduler's one trigger would need both)
    return OrTrigger([trigger(day, '*'), trigger('*', days)])


def never_fires(expression: str) -> bool:
    """Whether the crontab line ``expression`` (valid) fires at no time: it names days of the month that none of its
    months has (``0 0 30 2 *``: 30 February) and no day of the week. Decided from the fields, without a search
    (APScheduler would look for a next time up to the year 9999)."""
    fields = SHORTCUTS.get(expression.strip().lower(), expression).split()
    return len(fields) == 5 and fields[4] == '*' and not days_fit(fields[2], fields[3])


MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # the longest each month can be
MONTHS = ('jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec')


def days_fit(day: str, month: str) -> bool:
    """Whether some day the ``day`` field names exists in some month the ``month`` field names (True whenever either
    field has a form other than numbers, ranges, steps and month names: APScheduler's ``last``, ``2nd fri``...)."""
    days, months = _numbers(day, 1, 31, ()), _numbers(month, 1, 12, MONTHS)
    if days is None or months is None:
        return True
    return any(number <= MONTH_DAYS[month_number - 1] for number in days for month_number in months)


def _numbers(field: str, low: int, high: int, names: tuple[str, ...]) -> set[int] | None:
    found: set[int] = set()
    for part in field.lower().split(','):
        span, _, step_text = part.partition('/')
        start, dash, end = span.partition('-')
        bounds = [low, high] if span == '*' else [_number(start, names), _number(end, names) if dash else None]
        if bounds[0] is None or (dash and bounds[1] is None) or (step_text and not step_text.isdigit()):
            return None
        first = bounds[0]
        last = bounds[1] if bounds[1] is not None else (high if step_text else first)
        found.update(range(first, last + 1, int(step_text) if step_text else 1))
    return found


def _number(text: str, names: tuple[str, ...]) -> int | None:
    if text in names:
        return names.index(text) + 1
    return int(text) if text.isdigit() else None


def check_crontab(expression: str) -> None:
    """Raise ValueError when ``expression`` is not a crontab line."""
    crontab_trigger(expression, UTC)
