from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import literal_column

from shared.db import Base, UTCDateTime, utcnow
from shared.models.notice import Notice, NoticeItem
from shared.models.office import Office


class Channel:
    WEB = "web"
    API = "api"
    EMAIL = "email"
    PHONE = "phone"
    LETTER = "letter"
    VISIT = "visit"
    ALL = (WEB, API, EMAIL, PHONE, LETTER, VISIT)
    #: The ones staff register by hand.
    STAFF = (PHONE, LETTER, VISIT)


class Category:
    ALL = ("suggestion", "complaint", "report", "inquiry", "praise")


class CaseStatus:
    RECEIVED = "received"
    ASSIGNED = "assigned"
    REPLIED = "replied"
    CLOSED = "closed"
    REJECTED = "rejected"
    SPAM = "spam"
    ALL = (RECEIVED, ASSIGNED, REPLIED, CLOSED, REJECTED, SPAM)
    #: Waiting for triage or with an office: not yet answered.
    OPEN = (RECEIVED, ASSIGNED)
    #: Nothing more will be done with the case (only spam can be taken back). The steps
    #: between the statuses are the life cycle's (operations/lifecycle.py).
    FINISHED = (CLOSED, REJECTED, SPAM)


class CaseCluster(Base):
    """Cases that are the same matter: exact duplicates or a campaign of near-identical texts."""

    __tablename__ = "case_cluster"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # duplicate | campaign
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseFingerprint(Base):
    """One band of a case's MinHash signature; cases sharing a band may be near-duplicates."""

    __tablename__ = "case_fingerprint"
    __table_args__ = (Index("ix_case_fingerprint_band_hash", "band", "hash"),)

    case_id: Mapped[int] = mapped_column(
        ForeignKey("case.id", ondelete="CASCADE"), primary_key=True
    )
    band: Mapped[int] = mapped_column(Integer, primary_key=True)
    hash: Mapped[int] = mapped_column(BigInteger)


#: The text-search configuration of the search index and of every query that uses it.
SEARCH_CONFIG = literal_column("'simple'::regconfig")


class Case(Base):
    """One comment from the public and everything done about it."""

    __tablename__ = "case"
    __table_args__ = (
        # The queue: newest first, by status and by office, keyset on (received_at, id).
        Index("ix_case_received", "received_at", "id"),
        Index("ix_case_status_received", "status", "received_at", "id"),
        Index("ix_case_office_received", "office_id", "received_at", "id"),
        Index("ix_case_reply_due", "reply_due"),
        # The monthly report: cases first answered, and closed, in a month.
        Index("ix_case_first_replied", "first_replied_at"),
        Index("ix_case_closed", "closed_at"),
        # The month's clustered cases, for the report (a few among many).
        Index(
            "ix_case_clustered_received",
            "received_at",
            "cluster_id",
            postgresql_where=text("cluster_id IS NOT NULL"),
            sqlite_where=text("cluster_id IS NOT NULL"),
        ),
        # The page of answered comments: the few published cases, by notice.
        Index(
            "ix_case_published",
            "notice_id",
            sqlite_where=text("published"),
            postgresql_where=text("published"),
        ),
        # The queue's counts per status (and overdue) within an officer's offices: index only.
        Index("ix_case_status_office", "status", "office_id", "reply_due"),
        # Search (PostgreSQL): the character bigrams of subject and text, see shared.search.
        Index(
            "ix_case_search",
            func.to_tsvector(SEARCH_CONFIG, literal_column("search_terms")),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_number: Mapped[str] = mapped_column(String(16), unique=True)
    passcode_hash: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    notice_id: Mapped[int | None] = mapped_column(ForeignKey("notice.id"), index=True)
    notice_item_id: Mapped[int | None] = mapped_column(ForeignKey("notice_item.id"), index=True)
    category: Mapped[str | None] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    #: Words and character bigrams of subject and body, for search (shared.search).
    search_terms: Mapped[str] = mapped_column(Text, default="", server_default="")

    submitter_name: Mapped[str | None] = mapped_column(String(100))
    submitter_phone: Mapped[str | None] = mapped_column(String(32))
    submitter_email: Mapped[str | None] = mapped_column(String(320), index=True)
    submitter_address: Mapped[str | None] = mapped_column(String(300))
    #: The citizen gave no name; nothing identifying is asked of them later.
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The citizen asked that only those who must know see who they are.
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The citizen agreed that the comment and answer may be published (留言选登).
    publish_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The answer as the page of answered comments shows it: the public version of the reply,
    #: cleared again of personal data when staff published it (a reply may greet the citizen
    #: by name, which the tracking page may show but a public page must not).
    published_answer: Mapped[str | None] = mapped_column(Text)
    #: Language of the citizen's mail and pages ("zh" or "en").
    language: Mapped[str] = mapped_column(String(8), default="zh")

    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.RECEIVED)
    office_id: Mapped[int | None] = mapped_column(ForeignKey("office.id"))
    #: Which rule (or the item's default office) decided the office, in words for staff.
    routing_explanation: Mapped[str] = mapped_column(Text, default="")
    routing_rule_id: Mapped[int | None] = mapped_column(
        ForeignKey("routing_rule.id", ondelete="SET NULL")
    )

    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Deadline to tell the citizen whether the matter is accepted.
    acknowledge_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Deadline for the answer, extension included.
    reply_due: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extension_days: Mapped[int] = mapped_column(Integer, default=0)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extension_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    first_replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason: Mapped[str | None] = mapped_column(Text)
    #: Times the case was reopened for re-handling (重办) after an unsatisfied rating.
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)
    cluster_id: Mapped[int | None] = mapped_column(ForeignKey("case_cluster.id"), index=True)

    #: Token of the per-case reply address ``reply+TOKEN@REPLY_DOMAIN``.
    reply_token: Mapped[str] = mapped_column(String(32), unique=True)
    #: SHA-256 of the client's Idempotency-Key, and of the submission it came with.
    idempotency_key_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    submission_digest: Mapped[str | None] = mapped_column(String(64))
    #: Staff member who registered a phone call, letter or visit.
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    #: Free-form extras of the channel (e.g. the caller's line), never shown to the public.
    channel_details: Mapped[dict] = mapped_column(JSON, default=dict)

    notice: Mapped[Notice | None] = relationship()
    notice_item: Mapped[NoticeItem | None] = relationship()
    office: Mapped[Office | None] = relationship()
    duplicate_of: Mapped[Case | None] = relationship(remote_side=[id])
    cluster: Mapped[CaseCluster | None] = relationship()
    messages: Mapped[list[Message]] = relationship(  # noqa: F821
        back_populates="case", order_by="Message.created_at, Message.id"
    )

    @property
    def is_open(self) -> bool:
        return self.status in CaseStatus.OPEN
