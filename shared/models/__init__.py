"""The domain schema. Importing this package registers every table on ``Base.metadata``."""

from shared.db import Base
from shared.models.audit import AuditEvent
from shared.models.blob import StoredBlob
from shared.models.calendar import CalendarDay, DeadlinePolicy
from shared.models.case import (
    Case,
    CaseCluster,
    CaseFingerprint,
    CaseStatus,
    Category,
    Channel,
)
from shared.models.mail import InboundMail, MailboxState, MailOutcome
from shared.models.message import Attachment, Message, MessageKind
from shared.models.notice import Notice, NoticeItem, NoticeStatus
from shared.models.office import Office
from shared.models.outbox import OutboxAttachment, OutboxEmail, OutboxState
from shared.models.rating import Rating, RatingValue
from shared.models.reply import Reply, ReplyKind, ReplyState, ReplyTemplate, Review
from shared.models.report import ReminderDigest, ReportArchive
from shared.models.routing import RoutingRule
from shared.models.staff import ApiToken, Role, StaffInvitation, StaffUser, staff_office

__all__ = [
    "ApiToken",
    "Attachment",
    "AuditEvent",
    "Base",
    "CalendarDay",
    "Case",
    "CaseCluster",
    "CaseFingerprint",
    "CaseStatus",
    "Category",
    "Channel",
    "DeadlinePolicy",
    "InboundMail",
    "MailOutcome",
    "MailboxState",
    "Message",
    "MessageKind",
    "Notice",
    "NoticeItem",
    "NoticeStatus",
    "Office",
    "OutboxAttachment",
    "OutboxEmail",
    "OutboxState",
    "Rating",
    "RatingValue",
    "ReminderDigest",
    "Reply",
    "ReplyKind",
    "ReplyState",
    "ReplyTemplate",
    "ReportArchive",
    "Review",
    "Role",
    "RoutingRule",
    "StaffInvitation",
    "StaffUser",
    "StoredBlob",
    "staff_office",
]
