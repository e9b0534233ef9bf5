"""Runtime configuration, read from ``FLOWMON_*`` environment variables.

``load_settings()`` is the one entry point: it returns a validated :class:`Settings` or raises
:class:`SettingsError` with a single line naming the offending variable, suitable for printing
before exiting. ``resolve_secret()`` fills in secrets (API token, storage secret, the key that encrypts
secrets at rest) that were not given, persisting a generated value under the data directory so it survives
restarts.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from flowmon.infra.secretbox import decode_key

ENV_PREFIX = 'FLOWMON_'
DEFAULT_WEBHOOK_RETRY_SCHEDULE = '0,5,300,1800,7200,18000,36000,36000'
DEFAULT_OUTBOUND_PORTS = '80,443,1024-65535'
MIN_TOKEN_LENGTH = 16
LOOPBACK_HOSTS = ('localhost', '127.0.0.1', '[::1]')
WILDCARD_ADDRESSES = frozenset({'0.0.0.0', '::', '[::]'})
DASK_SCHEMES = ('tcp', 'tls', 'ws', 'wss')
_MODULE_NAME = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$')

# Fields whose values must never be echoed back in error messages (a database URL may hold a password).
_SECRET_FIELDS = frozenset({'token', 'storage_secret', 'secret_key', 'database_url'})
# The databases flowmon runs on, by URL scheme (SQLAlchemy dialect and async driver).
SUPPORTED_DATABASES = ('sqlite+aiosqlite', 'postgresql+asyncpg')

# When set, load_settings() reads from this mapping instead of os.environ.
_env_override: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    'flowmon_env_override', default=None
)


class SettingsError(Exception):
    """Invalid configuration; ``str(error)`` is one line naming the variable(s) at fault."""


class Settings(BaseSettings):
    """Validated flowmon configuration.

    After validation ``data_dir`` is absolute, and ``database_url`` / ``workflows_dir`` hold their
    computed defaults when not given; ``db_url`` and ``workflows_path`` offer them as non-optional.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        env_ignore_empty=True,
        extra='ignore',
    )

    host: str = '127.0.0.1'
    port: int = Field(default=8080, ge=1, le=65535)
    data_dir: Path = Path('data')
    database_url: str | None = None
    workflows_dir: Path | None = None
    token: SecretStr | None = None
    max_concurrent_executions: int = Field(default=8, ge=1)
    max_queued_executions: int = Field(default=1000, ge=1, le=1_000_000)
    storage_secret: SecretStr | None = None
    secret_key: SecretStr | None = None  # encrypts secrets at rest; generated into <data dir>/.secret_key when unset
    outbound_allow: str = ''
    outbound_ports: str = DEFAULT_OUTBOUND_PORTS
    max_payload_bytes: int = Field(default=1024 * 1024, ge=1024, le=1024 * 1024 * 1024)
    webhook_retry_schedule: str = DEFAULT_WEBHOOK_RETRY_SCHEDULE
    webhook_jitter: float = Field(default=0.2, ge=0, le=1)
    webhook_timeout: float = Field(default=15.0, ge=1, le=30)
    webhook_disable_after: float = Field(default=5 * 86_400, ge=0)
    log_level: str = 'INFO'
    log_format: str = 'text'  # text or json (one object a line)
    metrics_public: bool = False  # GET /metrics without the token
    allowed_hosts: str = ''
    public_url: str = ''
    trusted_proxies: str = ''
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=1 << 30)
    session_hours: int = Field(default=12, ge=1, le=24 * 366)
    # pages kept for a browser yet to connect (at least 10: a few tabs loading at once must not evict each other)
    max_unconnected_pages: int = Field(default=500, ge=10, le=1_000_000)
    anonymous_pages_per_minute: int = Field(default=60, ge=0, le=1_000_000)  # per address, not signed in; 0: no limit
    stream_stall_seconds: float = Field(default=60.0, ge=1, le=3600)  # an SSE write waiting longer cuts it off
    # PostgreSQL, several processes: a process whose lease is this old is taken for dead
    lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    python_modules: str = ''  # module prefixes the python node type may call; empty: none
    dask_scheduler: str = ''  # tcp://host:8786: worker nodes run on that Dask cluster; empty: the local pool
    workers: int | None = Field(default=None, ge=1, le=256)  # local pool processes; None: the number of cores
    retention_days: int = Field(default=30, ge=0)  # finished executions older than this are deleted; 0 keeps all
    retention_max_executions: int = Field(default=0, ge=0, le=2**63 - 1)  # keep the newest N finished; 0: no limit
    retention_interval: int = Field(default=3600, ge=1)  # seconds between prunings (and one at start-up)
    # a cron tick missed while flowmon was not running starts at start-up if it fell this recently; 0: never
    schedule_catch_up_seconds: int = Field(default=3600, ge=0, le=31 * 86400)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        override = _env_override.get()
        if override is not None and isinstance(env_settings, EnvSettingsSource):
            # Same normalisation EnvSettingsSource applies to os.environ (case-insensitive, empty = unset).
            env_settings.env_vars = {k.lower(): v for k, v in override.items() if v != ''}
        return init_settings, env_settings

    @field_validator('webhook_retry_schedule', 'outbound_ports')
    @classmethod
    def _check_parsed(cls, value: str, info: ValidationInfo) -> str:
        _PARSERS[_field(info)](value)
        return value

    @field_validator('database_url')
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.split('://', 1)[0] if '://' in value else ''
        if scheme not in SUPPORTED_DATABASES:
            raise ValueError(
                'must be a sqlite+aiosqlite:///<path> or postgresql+asyncpg://user:password@host:port/db URL'
                + (f', not {scheme}://' if scheme else '')
            )
        return value

    @field_validator('secret_key')
    @classmethod
    def _check_secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_key(value.get_secret_value())  # the message never contains the value
        return value

    @field_validator('log_level')
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level == 'WARN':
            level = 'WARNING'
        if level not in {'CRITICAL', 'ERROR', 'WARNING', 'INFO', 'DEBUG'}:
            raise ValueError('must be one of CRITICAL, ERROR, WARNING, INFO, DEBUG')
        return level

    @field_validator('log_format')
    @classmethod
    def _check_log_format(cls, value: str) -> str:
        fmt = value.strip().lower()
        if fmt not in {'text', 'json'}:
            raise ValueError('must be text or json')
        return fmt

    @field_validator('host')
    @classmethod
    def _check_host(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError('must not be empty')
        return value

    @field_validator('token')
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_TOKEN_LENGTH:
            raise ValueError(f'must be at least {MIN_TOKEN_LENGTH} characters long (unset, one is generated)')
        return value

    @field_validator('allowed_hosts', 'trusted_proxies', 'python_modules')
    @classmethod
    def _check_lists(cls, value: str, info: ValidationInfo) -> str:
        """Comma-separated lists: each item must be valid; the error names the first that is not."""
        valid, what = _LIST_ITEMS[_field(info)]
        for item in _split(value):
            if not valid(item):
                raise ValueError(f'{item!r} is not {what}')
        return value

    @field_validator('public_url', 'dask_scheduler')
    @classmethod
    def _check_optional(cls, value: str, info: ValidationInfo) -> str:
        """Settings that are off when empty; a value is checked (stripped)."""
        value = value.strip()
        if value:
            _OPTIONAL_CHECKS[_field(info)](value)
        return value

    @model_validator(mode='after')
    def _fill_defaults(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        if self.workflows_dir is None:
            self.workflows_dir = self.data_dir / 'workflows'
        else:
            self.workflows_dir = self.workflows_dir.expanduser().resolve()
        if self.database_url is None:
            self.database_url = f'sqlite+aiosqlite:///{self.data_dir / "flowmon.db"}'
        return self

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL in use (given, or the SQLite file under ``data_dir``)."""
        return self.database_url or f'sqlite+aiosqlite:///{self.data_dir / "flowmon.db"}'

    @property
    def workflows_path(self) -> Path:
        """The directory example/seed workflows are loaded from."""
        return self.workflows_dir or self.data_dir / 'workflows'

    @property
    def retry_schedule(self) -> list[float]:
        """``webhook_retry_schedule`` as delays in seconds."""
        return parse_retry_schedule(self.webhook_retry_schedule)

    @property
    def outbound_port_ranges(self) -> list[tuple[int, int]]:
        """``outbound_ports`` as inclusive ``(first, last)`` port ranges."""
        return parse_port_ranges(self.outbound_ports)

    @property
    def outbound_allow_list(self) -> list[str]:
        """``outbound_allow`` split into hosts/CIDRs (empty list when unset)."""
        return _split(self.outbound_allow)

    @property
    def allowed_host_list(self) -> list[str]:
        """The ``Host`` values served: ``allowed_hosts`` when set, else the loopback names, ``host`` when it is a
        specific name or address, and the host of ``public_url``."""
        if self.allowed_hosts.strip():
            return [_bracketed(name) for name in _split(self.allowed_hosts)]
        names = list(LOOPBACK_HOSTS)
        if self.host not in WILDCARD_ADDRESSES:
            names.append(_bracketed(self.host))
        if self.public_url:
            names.append(_bracketed(urlsplit(self.public_url).hostname or ''))
        return list(dict.fromkeys(name for name in names if name))

    @property
    def trusted_proxy_list(self) -> list[str]:
        """``trusted_proxies`` split into addresses/networks (empty: forwarded headers are ignored)."""
        return _split(self.trusted_proxies)

    @property
    def python_module_list(self) -> tuple[str, ...]:
        """``python_modules`` split into module prefixes (empty: the python node type may call nothing)."""
        return tuple(_split(self.python_modules))

    @property
    def session_seconds(self) -> int:
        return self.session_hours * 3600

    @property
    def browse_url(self) -> str:
        """Where a browser opens flowmon: ``public_url`` when set, else this host and port (loopback for a
        wildcard address, which is no name a browser can use)."""
        if self.public_url:
            return public_origin(self.public_url)
        host = {'0.0.0.0': '127.0.0.1', '::': '[::1]', '[::]': '[::1]'}.get(self.host, _bracketed(self.host))
        return f'http://{host}:{self.port}'

    @property
    def host_is_loopback(self) -> bool:
        """Whether flowmon listens only on this machine."""
        host = self.host.strip('[]')
        if host == 'localhost':
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def public_origin(url: str) -> str:
    """``scheme://host[:port]`` of a public URL, as browsers send it in ``Origin`` (no default port, no path)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f'not a URL: {exc}') from None
    if parts.scheme not in {'http', 'https'} or not parts.hostname:
        raise ValueError('must be an http:// or https:// URL with a host, like https://flowmon.example.org')
    if parts.path not in {'', '/'} or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError('must be the origin only, without a path, query or credentials')
    host = _bracketed(parts.hostname)
    default = {'http': 80, 'https': 443}[parts.scheme]
    return f'{parts.scheme}://{host}' + (f':{port}' if port not in (None, default) else '')


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(',') if part.strip()]


def _field(info: ValidationInfo) -> str:
    assert info.field_name is not None  # a field validator's
    return info.field_name


def _is_host_name(name: str) -> bool:
    return name != '*' and not any(c in name for c in '/ @')


def _is_network(part: str) -> bool:
    try:
        ipaddress.ip_network(part, strict=False)
    except ValueError:
        return False
    return True


def _check_dask_address(value: str) -> None:
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f'not an address: {exc}') from None
    if parts.scheme not in DASK_SCHEMES or not parts.hostname or port is None or parts.path not in ('', '/'):
        raise ValueError('must be a Dask scheduler address such as tcp://scheduler.example.org:8786')


def _bracketed(host: str) -> str:
    """An IPv6 address as it appears in a ``Host`` header (``[::1]``); other names unchanged."""
    host = host.strip().lower()
    return f'[{host}]' if ':' in host and not host.startswith('[') else host


def parse_retry_schedule(value: str) -> list[float]:
    """Parse a comma-separated list of non-negative delays in seconds; at least one is required."""
    parts = [part.strip() for part in value.split(',')]
    if not value.strip() or any(not part for part in parts):
        raise ValueError('must be a comma-separated list of non-negative numbers of seconds, e.g. "0,5,300"')
    delays: list[float] = []
    for part in parts:
        try:
            delay = float(part)
        except ValueError:
            raise ValueError(f'{part!r} is not a number of seconds') from None
        if delay != delay or delay < 0 or delay == float('inf'):
            raise ValueError(f'{part!r} must be a finite, non-negative number of seconds')
        delays.append(delay)
    return delays


def parse_port_ranges(value: str) -> list[tuple[int, int]]:
    """Parse ``80,443,1024-65535``: comma-separated ports and inclusive ranges, each within 1-65535."""
    parts = [part.strip() for part in value.split(',')]
    if not value.strip() or any(not part for part in parts):
        raise ValueError('must be a comma-separated list of ports and ranges, e.g. "80,443,1024-65535"')
    ranges: list[tuple[int, int]] = []
    for part in parts:
        first, dash, last = part.partition('-')
        try:
            low, high = int(first), int(last if dash else first)
        except ValueError:
            raise ValueError(f'{part!r} is not a port or a range of ports such as 1024-65535') from None
        if not 1 <= low <= high <= 65535:
            raise ValueError(f'{part!r} must be ports between 1 and 65535, the lower one first')
        ranges.append((low, high))
    return ranges


# What the grouped validators of Settings check, by field. Each check raises ValueError, or (lists) says whether an
# item is valid and what it should be.
_PARSERS: dict[str, Callable[[str], object]] = {
    'webhook_retry_schedule': parse_retry_schedule,
    'outbound_ports': parse_port_ranges,
}
_OPTIONAL_CHECKS: dict[str, Callable[[str], object]] = {
    'public_url': public_origin,
    'dask_scheduler': _check_dask_address,
}
_LIST_ITEMS: dict[str, tuple[Callable[[str], object], str]] = {
    'allowed_hosts': (_is_host_name, 'a host name or address (list each name; "*" would accept any Host)'),
    'trusted_proxies': (_is_network, 'an IP address or network'),
    'python_modules': (_MODULE_NAME.fullmatch, 'a module name (dotted Python identifiers, e.g. "reports,acme.jobs")'),
}


@contextmanager
def _use_env(env: Mapping[str, str] | None) -> Iterator[None]:
    token = _env_override.set(dict(env) if env is not None else None)
    try:
        yield
    finally:
        _env_override.reset(token)


# pydantic's error types for what a validator raised, with the words pydantic puts before the validator's message
_VALIDATOR_ERRORS = {'value_error': 'Value error, ', 'assertion_error': 'Assertion failed, '}


def _describe(error: Mapping[str, Any]) -> str:
    """One setting's problem on one line, naming the variable: ``FLOWMON_PYTHON_MODULES: 'os.path;rm' is not a
    module name ...`` (a check's own words, without pydantic's ``Value error, `` before them), with the value given
    unless it is a secret."""
    loc = error.get('loc') or ()
    field = str(loc[0]) if loc else ''
    name = f'{ENV_PREFIX}{field.upper()}' if field else ENV_PREFIX.rstrip('_')
    msg = ' '.join(str(error.get('msg', 'invalid value')).split())
    msg = msg.removeprefix(_VALIDATOR_ERRORS.get(str(error.get('type')), ''))
    if field not in _SECRET_FIELDS and 'input' in error and error['input'] is not None:
        msg += f' (got {error["input"]!r})'
    return f'{name}: {msg}'


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: ``os.environ``).

    Raises :class:`SettingsError` whose message is one line such as
    ``FLOWMON_PORT: Input should be a valid integer, unable to parse string as an integer (got 'abc')``.
    """
    try:
        with _use_env(env):
            return Settings()
    except ValidationError as exc:
        raise SettingsError('; '.join(_describe(err) for err in exc.errors())) from None


def resolve_secret(
    data_dir: Path, filename: str, given: str | None, *, generate: Callable[[], str] = lambda: secrets.token_urlsafe(32)
) -> str:
    """Return ``given`` if set; else the secret stored in ``data_dir/filename``; else create one with ``generate``.

    A generated secret is written with mode 0600 (``data_dir`` is created if missing; the file is created
    with ``O_EXCL``, so two processes starting at once agree on one value) and used again on the next start.
    """
    if given:
        return given
    path = Path(data_dir) / filename
    existing = _read_secret(path)
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    value = generate()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process won the race, or the file exists but is empty: prefer a non-empty one.
        existing = _read_secret(path)
        if existing:
            return existing
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        handle.write(value + '\n')
    os.chmod(path, 0o600)
    return value


def _read_secret(path: Path) -> str | None:
    try:
        return path.read_text(encoding='utf-8').strip() or None
    except FileNotFoundError:
        return None
