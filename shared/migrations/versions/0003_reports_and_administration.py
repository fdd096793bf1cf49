"""reports and administration

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # -- the monthly report --
    # -- administration and the public page of answered comments --
    pass


def downgrade() -> None:
    # -- administration and the public page of answered comments --
    # -- the monthly report --
    pass
