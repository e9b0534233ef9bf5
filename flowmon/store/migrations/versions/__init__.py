"""One module per schema revision, ``NNNN_name.py``, each an explicit list of Alembic operations."""
