"""A crontab line fires when crontab would fire it (flowmon/engine/cron.py): day-of-week 0 and 7 are Sunday, 1 is
Monday (APScheduler's own reading starts the week at Monday = 0), and a line that restricts both the day of the
month and the day of the week fires on either."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from flowmon.engine.cron import crontab_days, crontab_trigger, never_fires
from flowmon.engine.model import WorkflowError, parse_workflow
from flowmon.engine.nodes import default_registry

SATURDAY = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def fires(expression: str, count: int = 5, start: datetime = SATURDAY) -> list[str]:
    """The next ``count`` fire times after ``start``, as ``'Mon 07 09:00'``."""
    trigger, at, found = crontab_trigger(expression, start.tzinfo or UTC), start, []
    for _ in range(count):
        at = trigger.get_next_fire_time(None, at + timedelta(seconds=1))
        found.append(at.strftime('%a %d %H:%M'))
    return found


@pytest.mark.parametrize(
    ('expression', 'expected'),
    [
        ('0 2 * * 1-5', ['Mon 07 02:00', 'Tue 08 02:00', 'Wed 09 02:00', 'Thu 10 02:00', 'Fri 11 02:00']),
        ('0 9 * * 1', ['Mon 07 09:00', 'Mon 14 09:00', 'Mon 21 09:00', 'Mon 28 09:00', 'Mon 04 09:00']),
        ('0 9 * * 0', ['Sun 06 09:00', 'Sun 13 09:00', 'Sun 20 09:00', 'Sun 27 09:00', 'Sun 03 09:00']),
        ('0 9 * * 7', ['Sun 06 09:00', 'Sun 13 09:00', 'Sun 20 09:00', 'Sun 27 09:00', 'Sun 03 09:00']),
        ('0 9 * * 5-7', ['Sun 06 09:00', 'Fri 11 09:00', 'Sat 12 09:00', 'Sun 13 09:00', 'Fri 18 09:00']),
        ('0 9 * * */2', ['Sun 06 09:00', 'Tue 08 09:00', 'Thu 10 09:00', 'Sat 12 09:00', 'Sun 13 09:00']),
        ('0 9 * * 1,3,5', ['Mon 07 09:00', 'Wed 09 09:00', 'Fri 11 09:00', 'Mon 14 09:00', 'Wed 16 09:00']),
        ('0 9 * * MON-FRI', ['Mon 07 09:00', 'Tue 08 09:00', 'Wed 09 09:00', 'Thu 10 09:00', 'Fri 11 09:00']),
        ('0 9 * * sat,0', ['Sun 06 09:00', 'Sat 12 09:00', 'Sun 13 09:00', 'Sat 19 09:00', 'Sun 20 09:00']),
        # both restricted: the 1st and the 15th, and every Monday (crontab fires on either)
        ('0 0 1,15 * 1', ['Mon 07 00:00', 'Mon 14 00:00', 'Tue 15 00:00', 'Mon 21 00:00', 'Mon 28 00:00']),
        ('0 0 1,15 * *', ['Tue 15 00:00', 'Fri 01 00:00', 'Fri 15 00:00', 'Mon 01 00:00', 'Mon 15 00:00']),
        ('*/20 * * * *', ['Sat 05 12:20', 'Sat 05 12:40', 'Sat 05 13:00', 'Sat 05 13:20', 'Sat 05 13:40']),
        # crontab's shortcuts
        ('@hourly', ['Sat 05 13:00', 'Sat 05 14:00', 'Sat 05 15:00', 'Sat 05 16:00', 'Sat 05 17:00']),
        ('@daily', ['Sun 06 00:00', 'Mon 07 00:00', 'Tue 08 00:00', 'Wed 09 00:00', 'Thu 10 00:00']),
        ('@weekly', ['Sun 06 00:00', 'Sun 13 00:00', 'Sun 20 00:00', 'Sun 27 00:00', 'Sun 03 00:00']),
        ('@Monthly', ['Fri 01 00:00', 'Mon 01 00:00', 'Mon 01 00:00', 'Thu 01 00:00', 'Sat 01 00:00']),
        ('0 0 29 2 *', ['Tue 29 00:00', 'Sun 29 00:00', 'Fri 29 00:00', 'Wed 29 00:00', 'Mon 29 00:00']),
    ],
)
def test_a_crontab_line_fires_when_crontab_fires_it(expression: str, expected: list[str]) -> None:
    assert fires(expression) == expected


def test_days_are_read_in_the_schedules_time_zone() -> None:
    berlin = ZoneInfo('Europe/Berlin')
    assert fires('30 0 * * 1', 2, SATURDAY.astimezone(berlin)) == ['Mon 07 00:30', 'Mon 14 00:30']


def test_the_day_of_week_field_becomes_day_names() -> None:
    assert crontab_days('1-5') == 'mon,tue,wed,thu,fri'
    assert crontab_days('0') == crontab_days('7') == crontab_days('SUN') == 'sun'
    assert crontab_days('*') == '*'
    assert crontab_days('2/2') == 'tue,thu,sat'
    assert crontab_days('1/2') == 'sun,mon,wed,fri'  # from 1 to 7, as cronie reads it
    assert crontab_days('sat-sun') == crontab_days('6-0') == crontab_days('6-7') == 'sun,sat'  # (APScheduler took it)


@pytest.mark.parametrize(
    ('expression', 'words'),
    [
        ('0 9 * * 8', "'8' in '8' is not a day"),
        ('0 9 * * 5-1', "the range '5-1' runs backwards"),
        ('0 9 * * 1/0', 'the step in'),
        ('0 9 * * funday', 'is not a day'),
        ('0 9 * *', 'has 5 fields'),
        ('61 9 * * 1', '61'),
        ('@reboot', "'@reboot' is not a schedule"),
    ],
)
def test_a_line_crontab_would_not_read_is_refused_naming_the_problem(expression: str, words: str) -> None:
    raw = {'id': 'w', 'name': 'W', 'schedule': {'cron': expression}, 'nodes': [{'id': 'a', 'type': 'log'}]}
    with pytest.raises(WorkflowError, match=r'schedule\.cron') as refused:
        parse_workflow(raw, default_registry())
    assert words in str(refused.value)


@pytest.mark.parametrize(
    ('expression', 'never'),
    [
        ('0 0 30 2 *', True),
        ('0 0 31 4,6,9,11 *', True),
        ('0 0 31 apr-jun/2 *', True),
        ('0 0 29 2 *', False),
        ('0 0 31 2,3 *', False),
        ('0 0 30 2 mon', False),  # its Mondays fire
        ('0 0 last 2 *', False),  # a form of APScheduler's that is not counted: taken to fire
        ('@monthly', False),
    ],
)
def test_a_line_that_never_fires_is_told_from_its_fields(expression: str, never: bool) -> None:
    assert never_fires(expression) is never


def test_a_line_whose_days_of_the_month_never_come_fires_on_its_days_of_the_week_at_once() -> None:
    """No search to the year 9999 for a 31st of February (0.4 s a next time before): its Mondays in February."""
    assert fires('0 9 31 2 1', 2) == ['Mon 01 09:00', 'Mon 08 09:00']
    assert type(crontab_trigger('0 9 31 2 1', UTC)).__name__ == 'CronTrigger'
