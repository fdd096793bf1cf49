"""What the outside world is shown of cases and notices."""

from __future__ import annotations

from datetime import datetime

from marshmallow import Schema, fields

from shared.db import SHANGHAI, utcnow
from shared.models import CaseStatus, RatingValue

# ``required`` and ``allow_none`` below only document these dump-only schemas (OpenAPI
# ``required`` and ``nullable``): marshmallow does not consult them when dumping.
_STATUS = {"description": "Case status.", "enum": list(CaseStatus.ALL)}
_SHANGHAI_TIME = {"description": "ISO 8601 with the +08:00 offset (Asia/Shanghai)."}


class ShanghaiDateTime(fields.DateTime):
    """ISO 8601 with the +08:00 offset: unambiguous, and what a reader in China expects."""

    def _serialize(self, value: datetime | None, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


class CodeOf(fields.String):
    """The ``code`` of the related object the attribute names (e.g. an office), or null."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else super()._serialize(value.code, attr, obj, **kwargs)


class CurrentItems(fields.List):
    """A notice's items that are still offered: the retired ones are left out."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        current = [item for item in value if not item.retired]
        return super()._serialize(current, attr, obj, **kwargs)


class RatingOutputSchema(Schema):
    rating = fields.String(
        attribute="value", required=True, metadata={"enum": list(RatingValue.ALL)}
    )
    comment = fields.String(required=True)
    created_at = ShanghaiDateTime(required=True, metadata=_SHANGHAI_TIME)


class FollowUpOutputSchema(Schema):
    body = fields.String(required=True)
    created_at = ShanghaiDateTime(required=True, metadata=_SHANGHAI_TIME)


class ReceiptOutputSchema(Schema):
    tracking_number = fields.String(
        attribute="case.tracking_number",
        required=True,
        metadata={"description": "Tracking number (查询编号).", "example": "7KQM-3WXP"},
    )
    passcode = fields.String(
        required=True,
        metadata={"description": "Passcode (查询码), shown only here; send it as X-Passcode."},
    )
    status = fields.String(attribute="case.status", required=True, metadata=_STATUS)
    received_at = ShanghaiDateTime(
        attribute="case.received_at", required=True, metadata=_SHANGHAI_TIME
    )
    acknowledge_by = ShanghaiDateTime(
        attribute="case.acknowledge_by", allow_none=True, metadata=_SHANGHAI_TIME
    )
    reply_due = ShanghaiDateTime(
        attribute="case.reply_due", allow_none=True, metadata=_SHANGHAI_TIME
    )


class PublicReplySchema(Schema):
    body = fields.Function(
        lambda message: message.public_body if message.public_body is not None else message.body,
        required=True,
        metadata={"type": "string", "description": "The reply, personal data removed."},
    )
    sent_at = ShanghaiDateTime(attribute="created_at", required=True, metadata=_SHANGHAI_TIME)


class PublicCaseOutputSchema(Schema):
    """The tracking view: what the citizen who holds the passcode may see."""

    tracking_number = fields.String(required=True)
    status = fields.String(required=True, metadata=_STATUS)
    subject = fields.String()
    received_at = ShanghaiDateTime(required=True, metadata=_SHANGHAI_TIME)
    acknowledge_by = ShanghaiDateTime(allow_none=True, metadata=_SHANGHAI_TIME)
    reply_due = ShanghaiDateTime(allow_none=True, metadata=_SHANGHAI_TIME)
    closed_at = ShanghaiDateTime(allow_none=True, metadata=_SHANGHAI_TIME)
    replies = fields.List(fields.Nested(PublicReplySchema), required=True)


class NoticeItemOutputSchema(Schema):
    code = fields.String(required=True, metadata={"description": "Item code, e.g. XC21-04."})
    title = fields.String(required=True)
    area = fields.String(required=True)
    office = CodeOf(
        attribute="default_office",
        required=True,
        allow_none=True,
        metadata={"description": "Code of the item's default office."},
    )


class NoticeOutputSchema(Schema):
    id = fields.Integer(required=True)
    slug = fields.String()
    title = fields.String(required=True)
    issuer = fields.String()
    summary = fields.String()
    opens_at = ShanghaiDateTime(allow_none=True, metadata=_SHANGHAI_TIME)
    closes_at = ShanghaiDateTime(allow_none=True, metadata=_SHANGHAI_TIME)
    #: Taking comments now: published and inside its comment period.
    open = fields.Function(
        lambda notice: notice.is_open(utcnow()),
        metadata={"type": "boolean", "description": "Taking comments now."},
    )
    items = CurrentItems(fields.Nested(NoticeItemOutputSchema), required=True)


class AttachmentOutputSchema(Schema):
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()


class MessageOutputSchema(Schema):
    kind = fields.String()
    body = fields.String()
    public = fields.Boolean()
    created_at = ShanghaiDateTime()
    attachments = fields.List(fields.Nested(AttachmentOutputSchema))


class SubmitterOutputSchema(Schema):
    name = fields.String(attribute="submitter_name")
    phone = fields.String(attribute="submitter_phone")
    email = fields.String(attribute="submitter_email")
    address = fields.String(attribute="submitter_address")


class CaseOutputSchema(Schema):
    """A case for staff. ``submitter`` is filled by the caller, who knows who may see it."""

    tracking_number = fields.String()
    status = fields.String()
    office = fields.Function(lambda case: case.office.code if case.office else None)
    channel = fields.String()
    category = fields.String()
    notice_item = fields.Function(lambda case: case.notice_item.code if case.notice_item else None)
    subject = fields.String()
    body = fields.String()
    anonymous = fields.Boolean()
    confidential = fields.Boolean()
    received_at = ShanghaiDateTime()
    acknowledge_by = ShanghaiDateTime()
    reply_due = ShanghaiDateTime()
    closed_at = ShanghaiDateTime()
    routing_explanation = fields.String()
    duplicate_of = fields.Function(
        lambda case: case.duplicate_of.tracking_number if case.duplicate_of else None
    )


class EventOutputSchema(Schema):
    """A step on the case: ``action`` (assigned, transferred, returned, marked_spam...),
    its facts (office codes, the original of a repeat), the reason, who and when."""

    action = fields.Function(lambda message: message.event["action"])
    facts = fields.Function(
        lambda message: {k: v for k, v in message.event.items() if k != "action"}
    )
    reason = fields.String(attribute="body")
    by = fields.Function(lambda message: message.author.username if message.author else None)
    created_at = ShanghaiDateTime()


class CaseDetailOutputSchema(CaseOutputSchema):
    #: The conversation (inbound, reply, note); the steps taken are in ``events``.
    messages = fields.Function(
        lambda case: MessageOutputSchema(many=True).dump(
            [message for message in case.messages if message.kind != "event"]
        )
    )
    events = fields.Function(
        lambda case: EventOutputSchema(many=True).dump(
            [message for message in case.messages if message.kind == "event"]
        )
    )


receipt_output = ReceiptOutputSchema()
rating_output = RatingOutputSchema()
follow_up_output = FollowUpOutputSchema()
public_case_output = PublicCaseOutputSchema()
notices_output = NoticeOutputSchema(many=True)
case_output = CaseOutputSchema()
cases_output = CaseOutputSchema(many=True)
case_detail_output = CaseDetailOutputSchema()
submitter_output = SubmitterOutputSchema()
