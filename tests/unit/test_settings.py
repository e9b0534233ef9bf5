"""Configuration from FLOWMON_* variables: defaults, one-line errors naming the variable, persisted secrets."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from flowmon.settings import DEFAULT_WEBHOOK_RETRY_SCHEDULE, SettingsError, load_settings, resolve_secret


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.host == '127.0.0.1'
    assert settings.port == 8080
    assert settings.data_dir == tmp_path / 'data'
    assert settings.data_dir.is_absolute()
    assert settings.db_url == f'sqlite+aiosqlite:///{tmp_path / "data" / "flowmon.db"}'
    assert settings.workflows_path == tmp_path / 'data' / 'workflows'
    assert settings.token is None
    assert settings.max_concurrent_executions == 8
    assert settings.webhook_retry_schedule == DEFAULT_WEBHOOK_RETRY_SCHEDULE
    assert settings.retry_schedule == [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
    assert settings.log_level == 'INFO'
    assert settings.log_format == 'text' and settings.metrics_public is False
    assert settings.allowed_host_list == ['localhost', '127.0.0.1', '[::1]']
    assert settings.max_body_bytes == 1 << 20
    assert settings.session_hours == 12 and settings.session_seconds == 43_200
    assert settings.trusted_proxy_list == [] and settings.public_url == ''
    assert settings.browse_url == 'http://127.0.0.1:8080'
    assert (settings.retention_days, settings.retention_max_executions, settings.retention_interval) == (30, 0, 3600)


def test_retention_settings(tmp_path: Path) -> None:
    settings = load_settings(
        {'FLOWMON_RETENTION_DAYS': '0', 'FLOWMON_RETENTION_MAX_EXECUTIONS': '500', 'FLOWMON_RETENTION_INTERVAL': '1'}
    )
    assert (settings.retention_days, settings.retention_max_executions, settings.retention_interval) == (0, 500, 1)
    assert load_settings({'FLOWMON_RETENTION_INTERVAL': str(10**12)}).retention_interval == 10**12  # any value from 1


def test_values_are_read_from_the_variables(tmp_path: Path) -> None:
    settings = load_settings(
        {
            'FLOWMON_HOST': '0.0.0.0',
            'FLOWMON_PORT': '9123',
            'FLOWMON_DATA_DIR': str(tmp_path / 'd'),
            'FLOWMON_DATABASE_URL': 'sqlite+aiosqlite:///:memory:',
            'FLOWMON_WORKFLOWS_DIR': str(tmp_path / 'wf'),
            'FLOWMON_TOKEN': 's3cret-of-16-chars',
            'FLOWMON_MAX_CONCURRENT_EXECUTIONS': '3',
            'FLOWMON_WEBHOOK_RETRY_SCHEDULE': '0, 1.5 ,10',
            'FLOWMON_LOG_LEVEL': 'warn',
            'FLOWMON_LOG_FORMAT': ' JSON ',
            'FLOWMON_METRICS_PUBLIC': '1',
        }
    )
    assert (settings.host, settings.port, settings.max_concurrent_executions) == ('0.0.0.0', 9123, 3)
    assert settings.data_dir == tmp_path / 'd'
    assert settings.db_url == 'sqlite+aiosqlite:///:memory:'
    assert settings.workflows_path == tmp_path / 'wf'
    assert settings.token is not None and settings.token.get_secret_value() == 's3cret-of-16-chars'
    assert settings.retry_schedule == [0, 1.5, 10]
    assert settings.log_level == 'WARNING'
    assert settings.log_format == 'json' and settings.metrics_public is True


def test_an_explicit_mapping_replaces_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('FLOWMON_PORT', 'abc')
    assert load_settings({'FLOWMON_PORT': '9000'}).port == 9000
    assert load_settings({}).port == 8080
    with pytest.raises(SettingsError, match='FLOWMON_PORT'):
        load_settings()  # os.environ


def test_payload_budget_and_outbound_ports(tmp_path: Path) -> None:
    defaults = load_settings({})
    assert defaults.max_payload_bytes == 1024 * 1024
    assert defaults.outbound_port_ranges == [(80, 80), (443, 443), (1024, 65535)]
    settings = load_settings({'FLOWMON_MAX_PAYLOAD_BYTES': '65536', 'FLOWMON_OUTBOUND_PORTS': ' 443 , 8000-8100,22'})
    assert settings.max_payload_bytes == 65536
    assert settings.outbound_port_ranges == [(443, 443), (8000, 8100), (22, 22)]


def test_empty_values_count_as_unset() -> None:
    settings = load_settings({'FLOWMON_PORT': '', 'FLOWMON_TOKEN': ''})
    assert (settings.port, settings.token) == (8080, None)


@pytest.mark.parametrize(
    ('variable', 'value'),
    [
        ('FLOWMON_PORT', 'abc'),
        ('FLOWMON_PORT', '0'),
        ('FLOWMON_PORT', '70000'),
        ('FLOWMON_PORT', '80.5'),
        ('FLOWMON_MAX_CONCURRENT_EXECUTIONS', '0'),
        ('FLOWMON_MAX_CONCURRENT_EXECUTIONS', '-2'),
        ('FLOWMON_MAX_CONCURRENT_EXECUTIONS', 'many'),
        ('FLOWMON_WEBHOOK_RETRY_SCHEDULE', 'soon'),
        ('FLOWMON_WEBHOOK_RETRY_SCHEDULE', '0,,5'),
        ('FLOWMON_WEBHOOK_RETRY_SCHEDULE', '0,-5'),
        ('FLOWMON_WEBHOOK_RETRY_SCHEDULE', '0,inf'),
        ('FLOWMON_WEBHOOK_RETRY_SCHEDULE', ' '),
        ('FLOWMON_LOG_LEVEL', 'chatty'),
        ('FLOWMON_LOG_FORMAT', 'xml'),
        ('FLOWMON_METRICS_PUBLIC', 'perhaps'),
        ('FLOWMON_HOST', '   '),
        ('FLOWMON_OUTBOUND_PORTS', 'ssh'),
        ('FLOWMON_OUTBOUND_PORTS', '0'),
        ('FLOWMON_OUTBOUND_PORTS', '443,,80'),
        ('FLOWMON_OUTBOUND_PORTS', '2000-1000'),
        ('FLOWMON_OUTBOUND_PORTS', '1-70000'),
        ('FLOWMON_MAX_PAYLOAD_BYTES', '1000'),
        ('FLOWMON_MAX_PAYLOAD_BYTES', 'a lot'),
        ('FLOWMON_MAX_UNCONNECTED_PAGES', '2'),  # a few tabs loading at once would evict each other's pages
        ('FLOWMON_ANONYMOUS_PAGES_PER_MINUTE', '-1'),
        ('FLOWMON_TOKEN', 'a'),
        ('FLOWMON_TOKEN', '0123456789abcde'),  # 15 characters
        ('FLOWMON_ALLOWED_HOSTS', '*'),
        ('FLOWMON_ALLOWED_HOSTS', 'localhost,http://evil.example'),
        ('FLOWMON_PUBLIC_URL', 'flowmon.example.org'),
        ('FLOWMON_PUBLIC_URL', 'ftp://flowmon.example.org'),
        ('FLOWMON_PUBLIC_URL', 'https://flowmon.example.org/flowmon'),
        ('FLOWMON_PUBLIC_URL', 'https://flowmon.example.org:99999'),
        ('FLOWMON_TRUSTED_PROXIES', 'proxy.local'),
        ('FLOWMON_MAX_BODY_BYTES', '10'),
        ('FLOWMON_SESSION_HOURS', '0'),
        ('FLOWMON_SESSION_HOURS', 'forever'),
        ('FLOWMON_RETENTION_DAYS', '-1'),
        ('FLOWMON_RETENTION_DAYS', 'a month'),
        ('FLOWMON_RETENTION_MAX_EXECUTIONS', '-5'),
        ('FLOWMON_RETENTION_MAX_EXECUTIONS', str(2**63)),
        ('FLOWMON_RETENTION_INTERVAL', '0'),
        ('FLOWMON_RETENTION_INTERVAL', '1.5'),
    ],
)
def test_an_invalid_value_gives_one_line_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({variable: value})
    message = str(raised.value)
    assert '\n' not in message
    assert message.startswith(f'{variable}: ')
    assert len(message) < 300
    assert 'Value error' not in message and 'Assertion failed' not in message  # a check's own words only


def test_a_value_a_check_refuses_is_said_in_the_checks_words_as_the_readme_shows() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({'FLOWMON_LOG_LEVEL': 'chatty'})
    assert str(raised.value) == "FLOWMON_LOG_LEVEL: must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG (got 'chatty')"


def test_a_short_token_is_refused_without_echoing_it() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({'FLOWMON_TOKEN': 'hunter2'})
    assert str(raised.value).startswith('FLOWMON_TOKEN: ') and '16 characters' in str(raised.value)
    assert 'hunter2' not in str(raised.value)


@pytest.mark.parametrize(
    ('env', 'hosts'),
    [
        ({'FLOWMON_HOST': '0.0.0.0'}, ['localhost', '127.0.0.1', '[::1]']),  # a wildcard is no name
        ({'FLOWMON_HOST': '::'}, ['localhost', '127.0.0.1', '[::1]']),
        ({'FLOWMON_HOST': '192.0.2.7'}, ['localhost', '127.0.0.1', '[::1]', '192.0.2.7']),
        ({'FLOWMON_HOST': 'fd00::7'}, ['localhost', '127.0.0.1', '[::1]', '[fd00::7]']),
        ({'FLOWMON_HOST': 'Box.LAN'}, ['localhost', '127.0.0.1', '[::1]', 'box.lan']),
        (
            {'FLOWMON_PUBLIC_URL': 'https://flowmon.example.org'},
            ['localhost', '127.0.0.1', '[::1]', 'flowmon.example.org'],
        ),
        (
            {'FLOWMON_ALLOWED_HOSTS': 'flowmon.lan, 10.0.0.5 ,::1', 'FLOWMON_HOST': '0.0.0.0'},
            ['flowmon.lan', '10.0.0.5', '[::1]'],
        ),
    ],
)
def test_allowed_hosts(env: dict[str, str], hosts: list[str]) -> None:
    assert load_settings(env).allowed_host_list == hosts


def test_browse_url_and_loopback() -> None:
    assert load_settings({'FLOWMON_HOST': '0.0.0.0', 'FLOWMON_PORT': '9000'}).browse_url == 'http://127.0.0.1:9000'
    assert load_settings({'FLOWMON_HOST': '::1'}).browse_url == 'http://[::1]:8080'
    public = load_settings({'FLOWMON_PUBLIC_URL': 'https://Flowmon.Example.org:443/'})
    assert public.browse_url == 'https://flowmon.example.org'
    assert load_settings({'FLOWMON_PUBLIC_URL': 'http://box:8443'}).browse_url == 'http://box:8443'
    for host in ('127.0.0.1', '127.0.0.2', 'localhost', '::1', '[::1]'):
        assert load_settings({'FLOWMON_HOST': host}).host_is_loopback, host
    for host in ('0.0.0.0', '::', '192.0.2.7', 'flowmon.example.org'):
        assert not load_settings({'FLOWMON_HOST': host}).host_is_loopback, host


def test_several_invalid_values_are_all_named_on_one_line() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({'FLOWMON_PORT': 'abc', 'FLOWMON_MAX_CONCURRENT_EXECUTIONS': '0'})
    message = str(raised.value)
    assert '\n' not in message
    assert 'FLOWMON_PORT' in message and 'FLOWMON_MAX_CONCURRENT_EXECUTIONS' in message


def test_resolve_secret_prefers_the_given_value(tmp_path: Path) -> None:
    assert resolve_secret(tmp_path, '.token', 'given') == 'given'
    assert not (tmp_path / '.token').exists()


def test_resolve_secret_generates_a_private_file_and_reuses_it(tmp_path: Path) -> None:
    data_dir = tmp_path / 'not-yet-there'
    first = resolve_secret(data_dir, '.token', None)
    path = data_dir / '.token'
    assert len(first) >= 32
    assert path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_secret(data_dir, '.token', None) == first
    assert resolve_secret(data_dir, '.token', '') == first  # empty means not given
    assert resolve_secret(data_dir, '.other', None) != first


def test_resolve_secret_replaces_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / '.token'
    path.write_text('\n')
    path.chmod(0o644)
    value = resolve_secret(tmp_path, '.token', None)
    assert value
    assert path.read_text().strip() == value
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
