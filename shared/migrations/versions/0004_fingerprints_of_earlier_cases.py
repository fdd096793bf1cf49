"""fingerprints of earlier cases: the cases of a database first made before duplicate
detection existed (migration 0001) get their MinHash bands, so that new comments are
compared with them too

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 17:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Cases read and fingerprints written at a time: a million cases never sit in memory.
CHUNK = 1000


def upgrade() -> None:
    """Every case without fingerprints gets them, as a new case does when it arrives (0002
    made the table but filled it only for cases to come). Derived data only: no case joins a
    cluster here; the next similar comment finds them."""
    from shared.operations.duplicates import fingerprint

    connection = op.get_bind()
    case = sa.table("case", sa.column("id"), sa.column("body"))
    bands = sa.table("case_fingerprint", sa.column("case_id"), sa.column("band"), sa.column("hash"))
    without = (
        sa.select(case.c.id, case.c.body)
        .where(~sa.exists().where(bands.c.case_id == case.c.id))
        .order_by(case.c.id)
    )
    last_id = 0
    while True:
        rows = connection.execute(without.where(case.c.id > last_id).limit(CHUNK)).all()
        if not rows:
            return
        values = []
        for case_id, body in rows:
            printed = fingerprint(body or "")
            if printed is not None:
                values += [
                    {"case_id": case_id, "band": band, "hash": value}
                    for band, value in enumerate(printed[1])
                ]
        if values:
            connection.execute(bands.insert(), values)
        last_id = rows[-1].id


def downgrade() -> None:
    """Nothing to undo: the fingerprints are what 0002's table is for."""
