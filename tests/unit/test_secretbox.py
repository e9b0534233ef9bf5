"""Sealing secrets at rest: the box, the key files, sealing an older database's plain values and key rotation."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from flowmon.infra.secretbox import (
    SecretBox,
    UnsealError,
    aad,
    decode_key,
    encode_key,
    is_sealed,
    key_id,
    kid_of,
    new_key,
)
from flowmon.settings import Settings, SettingsError, load_settings
from flowmon.store import Database
from flowmon.store.keys import (
    KEY_FILE,
    PENDING_KEY_FILE,
    RETIRED_KEY_FILE,
    DataDirBusy,
    SecretKeyError,
    hold_data_dir,
    load_secret_box,
    release_data_dir,
    write_key_file,
)
from flowmon.store.rotation import rotate_secret_key
from flowmon.store.sealed import UnknownSecretKey, prepare_sealed, reseal_all, sealed_columns
from flowmon.store.secrets import SecretStore
from flowmon.store.webhook_tables import automation, endpoints

NOW = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
WHERE = aad('webhook_endpoints', 'ep_1', 'secret')


def test_a_sealed_value_opens_with_its_key_and_place() -> None:
    box = SecretBox(new_key())
    sealed = box.seal('whsec_abc', WHERE)
    assert is_sealed(sealed) and kid_of(sealed) == box.current_id
    assert 'whsec_abc' not in sealed
    assert box.open(sealed, WHERE) == 'whsec_abc'
    assert box.seal('whsec_abc', WHERE) != sealed  # a fresh nonce every time


def test_a_value_moved_to_another_row_or_column_does_not_open() -> None:
    box = SecretBox(new_key())
    sealed = box.seal('whsec_abc', WHERE)
    with pytest.raises(UnsealError, match='moved'):
        box.open(sealed, aad('webhook_endpoints', 'ep_2', 'secret'))
    with pytest.raises(UnsealError, match='moved'):
        box.open(sealed, aad('webhook_endpoints', 'ep_1', 'previous_secret'))


def test_a_value_sealed_with_a_key_not_in_the_ring_does_not_open() -> None:
    sealed = SecretBox(new_key()).seal('whsec_abc', WHERE)
    with pytest.raises(UnsealError, match='not in the key ring'):
        SecretBox(new_key()).open(sealed, WHERE)


def test_an_altered_value_does_not_open() -> None:
    box = SecretBox(new_key())
    sealed = box.seal('whsec_abc', WHERE)
    body = sealed[-10:]
    tampered = sealed[:-10] + ('A' if body[0] != 'A' else 'B') + body[1:]
    with pytest.raises(UnsealError):
        box.open(tampered, WHERE)
    with pytest.raises(UnsealError, match='not sealed'):
        box.open('whsec_plain', WHERE)


def test_a_ring_opens_old_values_and_seals_with_the_current_key() -> None:
    old, new = new_key(), new_key()
    before = SecretBox(old).seal('token', WHERE)
    ring = SecretBox(new, old)
    assert ring.open(before, WHERE) == 'token'
    assert kid_of(ring.seal('token', WHERE)) == key_id(new) != key_id(old)


def test_keys_are_32_bytes_of_urlsafe_base64() -> None:
    key = new_key()
    assert decode_key(encode_key(key)) == key
    assert decode_key(encode_key(key).rstrip('=')) == key  # padding optional
    with pytest.raises(ValueError, match='decodes to 16 bytes'):
        decode_key(encode_key(key[:16]))
    with pytest.raises(ValueError, match='not base64'):
        decode_key('not base64 !!')


def test_an_invalid_secret_key_variable_stops_with_one_line_naming_it(tmp_path: Path) -> None:
    given = 'short-but-secret'
    with pytest.raises(SettingsError) as caught:
        load_settings({'FLOWMON_DATA_DIR': str(tmp_path), 'FLOWMON_SECRET_KEY': given})
    message = str(caught.value)
    assert message.startswith('FLOWMON_SECRET_KEY:') and '\n' not in message
    assert given not in message  # never echoed
    key = encode_key(new_key())
    settings = load_settings({'FLOWMON_DATA_DIR': str(tmp_path), 'FLOWMON_SECRET_KEY': key})
    assert load_secret_box(settings).current_id == key_id(decode_key(key))
    assert not (tmp_path / KEY_FILE).exists()  # a given key is never written


def test_a_generated_key_is_private_and_reused(settings: Settings) -> None:
    box = load_secret_box(settings)
    path = settings.data_dir / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret_box(settings).current_id == box.current_id
    path.write_text('garbage\n', encoding='utf-8')
    with pytest.raises(SecretKeyError, match=str(path)):
        load_secret_box(settings)


def test_the_keys_of_an_interrupted_rotation_join_the_ring(settings: Settings) -> None:
    box = load_secret_box(settings)
    pending, retired = new_key(), new_key()
    write_key_file(settings.data_dir / PENDING_KEY_FILE, pending, exclusive=True)
    write_key_file(settings.data_dir / RETIRED_KEY_FILE, retired, exclusive=True)
    ring = load_secret_box(settings)
    assert ring.current_id == box.current_id
    assert ring.key_ids == {box.current_id, key_id(pending), key_id(retired)}


def test_the_data_dir_lock_refuses_a_second_holder(tmp_path: Path) -> None:
    data_dir = tmp_path / 'data'
    hold_data_dir(data_dir)
    hold_data_dir(data_dir)  # the same process again: fine
    # another open file description is another holder (as another process would be)
    import fcntl

    with (data_dir / '.lock').open('a') as other:
        with pytest.raises(BlockingIOError):
            fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    release_data_dir(data_dir)
    with (data_dir / '.lock').open('a') as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(DataDirBusy, match='in use'):
            hold_data_dir(data_dir)


def test_every_secret_column_is_sealed() -> None:
    names = {spec.name for spec in sealed_columns()}
    assert names == {
        'webhook_endpoints.headers',
        'webhook_endpoints.auth',
        'webhook_endpoints.secret',
        'webhook_endpoints.previous_secret',
        'webhook_deliveries.secret_url',
        'webhook_deliveries.headers',
        'webhook_deliveries.auth',
        'webhook_deliveries.secret',
        'workflow_automation.trigger_secret',
        'workflow_automation.previous_trigger_secret',
        'secrets.value',
    }


async def _plain_endpoint(database: Database, endpoint_id: str, secret: str, token: str) -> None:
    async with database.engine.begin() as conn:
        await conn.execute(
            endpoints.insert().values(
                id=endpoint_id, url='https://example.com/in', description='', event_types='["execution.failed"]',
                headers='{}', auth=f'{{"type":"bearer","token":"{token}"}}', secret=secret, enabled=True,
                created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip


async def test_start_up_seals_the_plain_values_of_an_older_database(database: Database, settings: Settings) -> None:
    await _plain_endpoint(database, 'ep_old', 'whsec_plainplainplainplainplainplain', 'plain-token-123')
    async with database.engine.begin() as conn:
        await conn.execute(automation.insert().values(workflow_id='wf', trigger_secret='whsec_trigger', updated_at=NOW))
    box = SecretBox(new_key())

    assert await prepare_sealed(database, box) == 4  # the endpoint's secret, auth and headers; the trigger secret
    assert await prepare_sealed(database, box) == 0

    async with database.engine.connect() as conn:
        row = (await conn.execute(select(endpoints).where(endpoints.c.id == 'ep_old'))).one()
        trigger = (await conn.execute(select(automation.c.trigger_secret))).scalar_one()
    assert all(is_sealed(value) for value in (row.secret, row.auth, row.headers, trigger))
    assert box.open(row.secret, aad('webhook_endpoints', 'ep_old', 'secret')) == 'whsec_plainplainplainplainplainplain'
    assert 'plain-token-123' in box.open(row.auth, aad('webhook_endpoints', 'ep_old', 'auth'))
    await database.stop()
    raw = b''.join(path.read_bytes() for path in settings.data_dir.glob('flowmon.db*'))
    assert b'plain-token-123' not in raw and b'whsec_plainplain' not in raw and b'whsec_trigger' not in raw


async def test_start_up_refuses_a_database_sealed_with_another_key(database: Database) -> None:
    store = SecretStore(database, SecretBox(new_key()), clock=lambda: NOW)
    await store.put('api_key', 'value-1')
    stranger = SecretBox(new_key())
    with pytest.raises(UnknownSecretKey, match='FLOWMON_SECRET_KEY') as caught:
        await prepare_sealed(database, stranger)
    assert 'secrets.value' in str(caught.value) and '\n' not in str(caught.value)


async def test_reseal_all_moves_every_value_to_the_current_key(database: Database) -> None:
    old, new = new_key(), new_key()
    store = SecretStore(database, SecretBox(old), clock=lambda: NOW)
    await store.put('api_key', 'value-1')
    await store.put('other', 'value-2')
    await _plain_endpoint(database, 'ep_1', 'whsec_plainplainplainplainplainplain', 'tok')

    assert await reseal_all(database, SecretBox(new, old)) == 5
    assert await reseal_all(database, SecretBox(new, old)) == 0  # nothing left under the old key

    reopened = SecretStore(database, SecretBox(new))
    await reopened.load()
    assert await reopened.resolve(['api_key', 'other']) == {'api_key': 'value-1', 'other': 'value-2'}
    with pytest.raises(UnsealError):
        await SecretStore(database, SecretBox(old)).load()


async def test_rotation_with_key_files_replaces_the_key_and_removes_the_old_one(settings: Settings) -> None:
    old = load_secret_box(settings)
    database = Database(settings.db_url)
    await database.start()
    store = SecretStore(database, old)
    await store.put('api_key', 'value-1')
    await database.stop()

    rotation = await rotate_secret_key(settings)
    release_data_dir(settings.data_dir)

    assert rotation.resealed == 1 and not rotation.from_environment
    assert rotation.old_key_id == old.current_id != rotation.new_key_id
    files = sorted(path.name for path in settings.data_dir.iterdir() if path.name.startswith('.secret_key'))
    assert files == [KEY_FILE]
    assert load_secret_box(settings).current_id == rotation.new_key_id
    database = Database(settings.db_url)
    await database.start()
    try:
        reopened = SecretStore(database, load_secret_box(settings))
        await reopened.load()
        assert await reopened.resolve(['api_key']) == {'api_key': 'value-1'}
    finally:
        await database.stop()


async def test_an_interrupted_rotation_is_finished_with_the_key_it_was_moving_to(settings: Settings) -> None:
    old = load_secret_box(settings)
    pending = new_key()
    database = Database(settings.db_url)
    await database.start()
    await SecretStore(database, old).put('api_key', 'value-1')
    # the crash came after the commit: the database is sealed with the pending key, the key file is still the old one
    await reseal_all(database, SecretBox(pending, decode_key((settings.data_dir / KEY_FILE).read_text())))
    await database.stop()
    write_key_file(settings.data_dir / PENDING_KEY_FILE, pending, exclusive=True)

    assert load_secret_box(settings).key_ids >= {key_id(pending)}  # flowmon still starts meanwhile
    with pytest.raises(SecretKeyError, match='interrupted rotation'):
        await rotate_secret_key(settings, new=new_key())
    rotation = await rotate_secret_key(settings)
    release_data_dir(settings.data_dir)
    assert rotation.new_key == pending
    assert not (settings.data_dir / PENDING_KEY_FILE).exists()
    assert load_secret_box(settings).key_ids == {key_id(pending)}


def test_any_text_round_trips_and_a_truncated_value_is_refused() -> None:
    box = SecretBox(new_key())
    for text in ('', 'ü€𝄞', '\ud800 lone surrogate', 'x' * 20_000):
        assert box.open(box.seal(text, WHERE), WHERE) == text
    sealed = box.seal('whsec_abc', WHERE)
    for cut in (sealed[:12], sealed[:16], sealed[:-3]):
        with pytest.raises(UnsealError):
            box.open(cut, WHERE)
