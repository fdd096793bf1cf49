from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base, UTCDateTime, utcnow


class ReportArchive(Base):
    """A generated monthly report, kept unchanged for download."""

    __tablename__ = "report_archive"
    __table_args__ = (
        UniqueConstraint("month", "format", "office_id"),
        # NULLs differ in a unique constraint: the whole department's report needs its own.
        Index(
            "uq_report_archive_department_month_format",
            "month",
            "format",
            unique=True,
            sqlite_where=text("office_id IS NULL"),
            postgresql_where=text("office_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: First day of the Asia/Shanghai month the report covers.
    month: Mapped[date] = mapped_column(Date)
    format: Mapped[str] = mapped_column(String(8))
    #: Null for the whole department's report.
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"))
    blob_sha256: Mapped[str] = mapped_column(ForeignKey("stored_blob.sha256"))
    generated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: When the scheduled monthly mail carrying this file was written to the outbox (set on
    #: the whole department's XLSX and PDF), so that mail goes out once.
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReminderDigest(Base):
    """One reminder digest per office and day (催办), so the worker never sends two."""

    __tablename__ = "reminder_digest"
    __table_args__ = (
        UniqueConstraint("office_id", "day"),
        # NULLs differ in a unique constraint: the admins' digest (no office) needs its own.
        Index(
            "uq_reminder_digest_admins_day",
            "day",
            unique=True,
            sqlite_where=text("office_id IS NULL"),
            postgresql_where=text("office_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"))
    day: Mapped[date] = mapped_column(Date)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_email.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
