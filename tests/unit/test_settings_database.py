"""FLOWMON_DATABASE_URL names a database flowmon runs on (never echoing a password); FLOWMON_LEASE_SECONDS."""

from __future__ import annotations

import pytest

from flowmon.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    'url', ['sqlite+aiosqlite:////var/lib/flowmon/flowmon.db', 'postgresql+asyncpg://flowmon:pw@db:5432/flowmon']
)
def test_sqlite_and_postgresql_through_their_async_drivers_are_accepted(url: str) -> None:
    assert load_settings({'FLOWMON_DATABASE_URL': url}).db_url == url


@pytest.mark.parametrize(
    ('url', 'named'),
    [
        ('postgresql://flowmon:hunter2-secret@db/flowmon', 'not postgresql://'),
        ('postgresql+psycopg://flowmon:hunter2-secret@db/flowmon', 'not postgresql+psycopg://'),
        ('mysql+aiomysql://flowmon:hunter2-secret@db/flowmon', 'not mysql+aiomysql://'),
        ('hunter2-secret', 'postgresql+asyncpg://user:password@host:port/db'),
    ],
)
def test_other_urls_are_refused_naming_the_variable_and_never_the_password(url: str, named: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({'FLOWMON_DATABASE_URL': url})
    message = str(refused.value)
    assert message.startswith('FLOWMON_DATABASE_URL: ') and named in message
    assert 'hunter2' not in message and '\n' not in message


def test_the_lease_is_thirty_seconds_unless_set_within_bounds() -> None:
    assert load_settings({}).lease_seconds == 30
    assert load_settings({'FLOWMON_LEASE_SECONDS': '2.5'}).lease_seconds == 2.5
    for bad in ('0.5', '3601', 'soon'):
        with pytest.raises(SettingsError, match='FLOWMON_LEASE_SECONDS'):
            load_settings({'FLOWMON_LEASE_SECONDS': bad})
