"""Secret key rotation: every sealed value re-encrypted under a new key in one transaction (see :mod:`.keys`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flowmon.infra.secretbox import SecretBox, decode_key, key_id, new_key
from flowmon.settings import Settings

from .database import Database
from .keys import (
    KEY_FILE,
    PENDING_KEY_FILE,
    SecretKeyError,
    hold_data_dir,
    install_pending_key,
    leftover_keys,
    pending_key,
    read_key_file,
    write_key_file,
)
from .sealed import reseal_all


@dataclass(frozen=True, slots=True)
class Rotation:
    old_key_id: str
    new_key: bytes
    resealed: int
    from_environment: bool  # the key is FLOWMON_SECRET_KEY: the operator must set it to ``new_key``

    @property
    def new_key_id(self) -> str:
        return key_id(self.new_key)


async def rotate_secret_key(
    settings: Settings, *, new: bytes | None = None, announce: Callable[[bytes], None] = lambda _: None
) -> Rotation:
    """Rotate to ``new`` (or a generated key). Needs flowmon stopped: it takes the data directory's lock.

    ``announce`` gets the new key before the database changes, so an operator who keeps the key in
    ``FLOWMON_SECRET_KEY`` has it even if the command is interrupted after the commit.
    """
    data_dir = settings.data_dir
    hold_data_dir(data_dir)
    created_pending = False
    if settings.secret_key is not None:
        current = decode_key(settings.secret_key.get_secret_value())
        ring = [current]
        target = new or new_key()
    else:
        key_path = data_dir / KEY_FILE
        if not key_path.exists():
            raise SecretKeyError(f'{key_path} does not exist: there is no key to rotate (start flowmon once first)')
        current = read_key_file(key_path)
        leftover = pending_key(data_dir)
        if leftover is not None:  # an interrupted rotation: finish it with the key it was moving to
            if new is not None and new != leftover:
                raise SecretKeyError(
                    f'{data_dir / PENDING_KEY_FILE} is left from an interrupted rotation; '
                    'run the command without --new-key to finish that rotation first'
                )
            target = leftover
        else:
            target = new or new_key()
        ring = [current, *leftover_keys(data_dir)]
    if target == current:
        raise SecretKeyError('the new key is the current key')
    announce(target)
    if settings.secret_key is None and pending_key(data_dir) is None:
        write_key_file(data_dir / PENDING_KEY_FILE, target, exclusive=True)
        created_pending = True
    db = Database(settings.db_url)
    try:
        await db.start()
        resealed = await reseal_all(db, SecretBox(target, *ring))
    except BaseException:
        if created_pending:  # the transaction rolled back: nothing uses the new key
            (data_dir / PENDING_KEY_FILE).unlink(missing_ok=True)
        raise
    finally:
        await db.stop()
    if settings.secret_key is None:
        install_pending_key(data_dir)
    return Rotation(key_id(current), target, resealed, settings.secret_key is not None)
