"""The migrations build exactly the schema the models describe."""

from shared import migrate


def test_migrations_match_the_models(db, database_url):
    """Autogenerate finds nothing left to migrate after upgrading to head."""
    assert migrate.pending_changes(database_url) == []


def test_migrations_go_down_to_empty_and_up_again(db, database_url):
    """The whole chain can be undone and redone, so a failed release can roll back."""
    migrate.downgrade(database_url, "base")
    try:
        assert migrate.pending_changes(database_url) != []  # the tables are gone
    finally:
        migrate.upgrade(database_url)
    assert migrate.pending_changes(database_url) == []
