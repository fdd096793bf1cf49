"""What the outside world is shown of cases and notices."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from marshmallow import Schema, fields

SHANGHAI = ZoneInfo("Asia/Shanghai")


class ShanghaiDateTime(fields.DateTime):
    """ISO 8601 with the +08:00 offset: unambiguous, and what a reader in China expects."""

    def _serialize(self, value: datetime | None, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(SHANGHAI).isoformat(timespec="seconds")


class RatingOutputSchema(Schema):
    rating = fields.String(attribute="value")
    comment = fields.String()
    created_at = ShanghaiDateTime()


class FollowUpOutputSchema(Schema):
    body = fields.String()
    created_at = ShanghaiDateTime()


class ReceiptOutputSchema(Schema):
    tracking_number = fields.String(attribute="case.tracking_number")
    passcode = fields.String()
    status = fields.String(attribute="case.status")
    received_at = ShanghaiDateTime(attribute="case.received_at")
    acknowledge_by = ShanghaiDateTime(attribute="case.acknowledge_by")
    reply_due = ShanghaiDateTime(attribute="case.reply_due")


class PublicReplySchema(Schema):
    body = fields.String()
    sent_at = ShanghaiDateTime(attribute="created_at")


class PublicCaseOutputSchema(Schema):
    """The tracking view: what the citizen who holds the passcode may see."""

    tracking_number = fields.String()
    status = fields.String()
    subject = fields.String()
    received_at = ShanghaiDateTime()
    acknowledge_by = ShanghaiDateTime()
    reply_due = ShanghaiDateTime()
    closed_at = ShanghaiDateTime()
    replies = fields.List(fields.Nested(PublicReplySchema))


class NoticeItemOutputSchema(Schema):
    code = fields.String()
    title = fields.String()
    area = fields.String()
    office = fields.Function(lambda item: item.default_office.code if item.default_office else None)


class NoticeOutputSchema(Schema):
    id = fields.Integer()
    slug = fields.String()
    title = fields.String()
    issuer = fields.String()
    summary = fields.String()
    opens_at = ShanghaiDateTime()
    closes_at = ShanghaiDateTime()
    items = fields.Function(
        lambda notice: NoticeItemOutputSchema(many=True).dump(
            [item for item in notice.items if not item.retired]
        )
    )


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


class CaseDetailOutputSchema(CaseOutputSchema):
    messages = fields.List(fields.Nested(MessageOutputSchema))


receipt_output = ReceiptOutputSchema()
rating_output = RatingOutputSchema()
follow_up_output = FollowUpOutputSchema()
public_case_output = PublicCaseOutputSchema()
notices_output = NoticeOutputSchema(many=True)
case_output = CaseOutputSchema()
cases_output = CaseOutputSchema(many=True)
case_detail_output = CaseDetailOutputSchema()
submitter_output = SubmitterOutputSchema()
