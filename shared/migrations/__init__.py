"""Alembic migrations of the schema, run by ``minyi db upgrade`` (see :mod:`shared.migrate`)."""
