"""Alembic environment: the engine comes from the caller (``shared.migrate``), never from an ini."""

from alembic import context

import shared.models  # noqa: F401  (registers every table)
from shared.db import Base, UTCDateTime, make_engine


def render_item(type_, obj, autogen_context):
    """Write our UTC type as the plain column type it is, so migrations need no project import."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations() -> None:
    config = context.config
    connection = config.attributes.get("connection")
    if connection is None:
        engine = make_engine(config.get_main_option("sqlalchemy.url"))
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        render_item=render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
