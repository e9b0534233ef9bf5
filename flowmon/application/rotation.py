"""How long the old signing secret keeps working after a rotation: one rule for inbound trigger secrets and webhook
endpoint secrets."""

from __future__ import annotations

from datetime import timedelta

from .errors import Invalid

MAX_GRACE_SECONDS = 24 * 3600
"""The longest (and default) grace period: a day, for senders and receivers to switch to the new secret."""


def rotation_grace(grace_seconds: int | None) -> timedelta:
    """The grace period ``grace_seconds`` asks for (None: 24 h; 0: the old secret stops at once); raises Invalid
    naming the range for anything else than a whole number of seconds from 0 to 86400."""
    if grace_seconds is None:
        return timedelta(seconds=MAX_GRACE_SECONDS)
    if isinstance(grace_seconds, bool) or not isinstance(grace_seconds, int):
        raise Invalid(f'grace_seconds must be a whole number of seconds, not {grace_seconds!r}')
    if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        raise Invalid(
            f'grace_seconds must be from 0 (the old secret stops at once) to {MAX_GRACE_SECONDS} (24 h), '
            f'not {grace_seconds}'
        )
    return timedelta(seconds=grace_seconds)
