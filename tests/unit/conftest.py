"""Unit test fixtures: the schema scripts of flowmon before migrations, as the migration tests load them."""

from __future__ import annotations

from collections.abc import Iterator

import migration_support
import pytest
from pre_alembic_scripts import write_schemas


@pytest.fixture(scope='session', autouse=True)
def pre_alembic_scripts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``pre_alembic_database`` reads the schemas from a directory that also holds ``last_release.sql``, which
    :mod:`pre_alembic_scripts` puts together from ``first_release.sql`` and the statements the last version added."""
    directory = tmp_path_factory.mktemp('pre_alembic')
    write_schemas(directory)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(migration_support, 'PRE_ALEMBIC', directory)
        yield
