"""Encryption of secrets at rest: AES-GCM with a key id and associated data that names where a value is stored.

A sealed value is text, ``v1:<key id>:<urlsafe base64 of nonce(12) | ciphertext | tag(16)>``. The key id is
derived from the key (so a ring of keys can tell which one sealed a value without trying them all), and the
associated data is ``<table>/<row key>/<column>``: a sealed value copied into another row or column does not
open. A :class:`SecretBox` holds the current key (which seals) and, during a rotation, older keys (which only
open).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, Table, Text

KEY_BYTES = 32
NONCE_BYTES = 12
PREFIX = 'v1'
_SEALED = re.compile(r'^v1:[0-9a-f]{8}:[A-Za-z0-9_\-]+=*$')


class UnsealError(ValueError):
    """A sealed value that cannot be opened: its key is not in the ring, or it was altered or moved."""


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


def encode_key(key: bytes) -> str:
    """A key as it is written to the key file or ``FLOWMON_SECRET_KEY``: urlsafe base64 (44 characters)."""
    return base64.urlsafe_b64encode(key).decode('ascii')


def decode_key(text: str) -> bytes:
    """Parse an encoded key; raises ``ValueError`` (without echoing the text) unless it is 32 bytes."""
    cleaned = text.strip()
    try:
        key = base64.urlsafe_b64decode(cleaned + '=' * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f'must be {KEY_BYTES} bytes in urlsafe base64 (44 characters); it is not base64') from None
    if len(key) != KEY_BYTES:
        raise ValueError(f'must be {KEY_BYTES} bytes in urlsafe base64 (44 characters); it decodes to {len(key)} bytes')
    return key


def key_id(key: bytes) -> str:
    """Eight hex digits naming a key (a hash: it reveals nothing about the key)."""
    return hashlib.sha256(b'flowmon key id' + key).hexdigest()[:8]


def aad(table: str, row_key: str, column: str) -> str:
    """Where a value is stored, bound into its seal: ``table/row key/column``."""
    return f'{table}/{row_key}/{column}'


def is_sealed(value: str) -> bool:
    return bool(_SEALED.fullmatch(value))


def kid_of(value: str) -> str | None:
    """The key id of a sealed value (None for plain text)."""
    return value.split(':', 2)[1] if is_sealed(value) else None


class SecretBox:
    """Seals with the current key; opens with any key of the ring (the current one and older ones)."""

    def __init__(self, current: bytes, *older: bytes) -> None:
        for key in (current, *older):
            if len(key) != KEY_BYTES:
                raise ValueError(f'a key must be {KEY_BYTES} bytes')
        self.current_id = key_id(current)
        self._keys = {key_id(key): AESGCM(key) for key in (*older, current)}

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def seal(self, text: str, where: str) -> str:
        """Encrypt ``text`` for the place ``where`` (see :func:`aad`)."""
        nonce = os.urandom(NONCE_BYTES)
        plain, associated = text.encode('utf-8', 'surrogatepass'), where.encode('utf-8', 'surrogatepass')
        data = nonce + self._keys[self.current_id].encrypt(nonce, plain, associated)
        return f'{PREFIX}:{self.current_id}:{base64.urlsafe_b64encode(data).decode("ascii")}'

    def open(self, value: str, where: str) -> str:
        """Decrypt a value sealed for ``where``; raises :class:`UnsealError` naming why it cannot."""
        if not is_sealed(value):
            raise UnsealError(f'{where}: the value is not sealed')
        _, kid, data = value.split(':', 2)
        cipher = self._keys.get(kid)
        if cipher is None:
            raise UnsealError(f'{where}: sealed with key id {kid}, which is not in the key ring')
        try:
            raw = base64.urlsafe_b64decode(data)
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], where.encode('utf-8', 'surrogatepass'))
        except (InvalidTag, ValueError):  # ValueError: truncated (bad padding, a short nonce)
            raise UnsealError(f'{where}: the sealed value does not open (altered, or moved from elsewhere)') from None
        return plain.decode('utf-8', 'surrogatepass')  # any str round-trips, even one with a lone surrogate

    def seal_field(self, table: str, row_key: str, column: str, value: str | None) -> str | None:
        """``seal`` for a column value; None stays None."""
        return None if value is None else self.seal(value, aad(table, row_key, column))

    def open_field(self, table: str, row_key: str, column: str, value: str | None) -> str | None:
        """``open`` for a column value; None stays None."""
        return None if value is None else self.open(value, aad(table, row_key, column))

    def seal_row(self, table: Table, row_key: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``values`` (column name -> value, for a row of ``table``) with the sealed columns sealed."""
        names = sealed_names(table)
        return {
            name: self.seal_field(table.name, row_key, name, value) if name in names else value
            for name, value in values.items()
        }

    def open_row(self, table: Table, row_key: str, values: Mapping[Any, Any]) -> dict[str, Any]:
        """A copy of ``values`` read from a row of ``table`` with the sealed columns opened."""
        names = sealed_names(table)
        return {
            name: self.open_field(table.name, row_key, name, value) if name in names else value
            for name, value in values.items()
        }


SEALED_INFO = 'flowmon_sealed'


def sealed_names(table: Table) -> frozenset[str]:
    """The names of the sealed columns of ``table``."""
    return frozenset(column.name for column in table.columns if column.info.get(SEALED_INFO))


def sealed_column(*, nullable: bool = True) -> Column[str]:
    """A text column whose values are sealed. The mark lets start-up (plain values left by an older flowmon are
    sealed in place) and key rotation (every sealed value is sealed again) find every such column."""
    return Column(Text, nullable=nullable, info={SEALED_INFO: True})
