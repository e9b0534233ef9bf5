"""The ``origin`` of execution lists, as every route, saved view and page takes it.

One parser for the list's URL, saved views, ``GET /api/executions`` and ``POST /api/executions/bulk``:

- ``local``: executions this instance ran (started here, by any trigger);
- ``imported``: executions imported from an export file (``imported_from`` is set; read-only history).

Imported executions are history of another run, not this instance's: the dashboard's counts, success rate, durations
and throughput, and the node baselines behind "slower than usual", leave them out whatever the filter.
"""

from __future__ import annotations

from typing import Literal, get_args

from .errors import Invalid

Origin = Literal['local', 'imported']
ORIGINS: tuple[Origin, ...] = get_args(Origin)
ACCEPTED = 'local (run by this instance) or imported (from an export file)'
LABELS: dict[str, str] = {'local': 'Run here', 'imported': 'Imported'}


def origin(value: object, *, label: str = 'origin') -> Origin | None:
    """``value`` as an origin (None when it is None or empty); raises Invalid naming ``label`` and the forms taken."""
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else None
    if text == '':
        return None
    for known in ORIGINS:
        if text == known:
            return known
    shown = text[:40] if text is not None else repr(value)[:40]
    raise Invalid(f'{label} must be {ACCEPTED}; got {shown!r}', at='origin')


__all__ = ['ACCEPTED', 'LABELS', 'ORIGINS', 'Origin', 'origin']
