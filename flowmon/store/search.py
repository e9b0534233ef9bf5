"""Which executions contain a text: the dialect handling of execution search.

``execution_search`` holds one row per execution with its searchable text (see
:mod:`flowmon.engine.core.search_text`); the recorder writes it, deleting an execution deletes it. A query matches as
a case-insensitive substring of one line of that text, through the substring index revision 0004 made:

* SQLite: the FTS5 table ``execution_search_fts`` (trigram tokenizer). The query goes in as one FTS5 string (in
  double quotes, a quote doubled), so nothing in it is query syntax: ``*``, ``"``, ``NEAR``, ``AND`` are text.
* PostgreSQL: ``ILIKE`` with ``%``, ``_`` and ``\\`` escaped, which the ``pg_trgm`` GIN index serves.

Queries are at least three characters long (:func:`flowmon.engine.core.search_text.normalise_query`): a trigram index
cannot serve shorter ones.
"""

from __future__ import annotations

from sqlalchemy import Select, column, select, text

from .database import Database
from .tables import ExecutionSearchRow

_search = ExecutionSearchRow.__table__  # type: ignore[attr-defined]

SEARCH_COLUMNS = ('execution_id', 'text')


def matching_executions(db: Database, query: str) -> Select[tuple[str]]:
    """The ids of the executions whose searchable text contains ``query`` (a normalised query)."""
    if db.is_sqlite:
        fts = text('SELECT rowid FROM execution_search_fts WHERE execution_search_fts MATCH :search_phrase')
        rows = fts.bindparams(search_phrase=fts5_phrase(query)).columns(column('rowid'))
        return select(_search.c.execution_id).where(_search.c.id.in_(rows))
    return select(_search.c.execution_id).where(_search.c.text.ilike(f'%{like_escaped(query)}%', escape='\\'))


def fts5_phrase(query: str) -> str:
    """``query`` as one FTS5 string: the whole text is matched literally (as a substring, with trigrams)."""
    return '"' + query.replace('"', '""') + '"'


def like_escaped(query: str) -> str:
    """``query`` with the LIKE wildcards and the escape character escaped (``ESCAPE '\\'``)."""
    return query.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_')
