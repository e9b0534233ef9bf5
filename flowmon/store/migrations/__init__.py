"""The schema's history as Alembic revisions (``versions/``); :mod:`flowmon.store.migrate` runs them.

There is no ``alembic.ini``: start-up and ``python -m flowmon db ...`` build the configuration in code and hand
:mod:`.env` an open connection.
"""
