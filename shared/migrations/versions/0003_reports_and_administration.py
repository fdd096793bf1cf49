"""reports and administration: indexes for the monthly report, its archive (one department
report per month and format, when it was mailed), the answer as the public page shows it

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 10:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # -- the monthly report: indexes for its queries --
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.create_index("ix_case_first_replied", ["first_replied_at"], unique=False)
        batch_op.create_index("ix_case_closed", ["closed_at"], unique=False)
        batch_op.create_index(
            "ix_case_clustered_received",
            ["received_at", "cluster_id"],
            unique=False,
            sqlite_where=sa.text("cluster_id IS NOT NULL"),
            postgresql_where=sa.text("cluster_id IS NOT NULL"),
        )
    # -- the monthly report: the archive --
    with op.batch_alter_table("report_archive", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mailed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "uq_report_archive_department_month_format",
            ["month", "format"],
            unique=True,
            sqlite_where=sa.text("office_id IS NULL"),
            postgresql_where=sa.text("office_id IS NULL"),
        )
    # -- the public page of answered comments --
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.add_column(sa.Column("published_answer", sa.Text(), nullable=True))
        batch_op.create_index(
            "ix_case_published",
            ["notice_id"],
            unique=False,
            sqlite_where=sa.text("published"),
            postgresql_where=sa.text("published"),
        )


def downgrade() -> None:
    # -- the public page of answered comments --
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index("ix_case_published")
        batch_op.drop_column("published_answer")
    # -- the monthly report: the archive --
    with op.batch_alter_table("report_archive", schema=None) as batch_op:
        batch_op.drop_index("uq_report_archive_department_month_format")
        batch_op.drop_column("mailed_at")
    # -- the monthly report: indexes for its queries --
    with op.batch_alter_table("case", schema=None) as batch_op:
        batch_op.drop_index("ix_case_clustered_received")
        batch_op.drop_index("ix_case_closed")
        batch_op.drop_index("ix_case_first_replied")
