"""The OpenAPI document of the public API: ``GET /api/openapi.json``.

Generated with apispec from the marshmallow schemas the API itself loads and dumps, so the
document cannot drift from the code. It is built once per app, on first request, and cached.
"""

from __future__ import annotations

import json
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Flask, current_app

from shared.extensions import csrf
from shared.schemas.case import (
    FollowUpOutputSchema,
    NoticeItemOutputSchema,
    NoticeOutputSchema,
    PublicCaseOutputSchema,
    PublicReplySchema,
    RatingOutputSchema,
    ReceiptOutputSchema,
)
from shared.schemas.fields import Text, non_blank
from shared.schemas.submission import PHONE_PATTERN, FeedbackInputSchema
from shared.schemas.tracking import FollowUpInputSchema, RatingInputSchema

bp = Blueprint("openapi", __name__, url_prefix="/api")
csrf.exempt(bp)  # a GET of a public document: nothing to forge

TITLE = "Minyi public API"
VERSION = "1.0.0"
DESCRIPTION = """\
民意 · 公众留言接口：对政府公开通报提出意见建议，
凭查询编号和查询码查询办理情况、补充材料、评价答复。

Minyi public API: comment on a published government notice, then follow the case with its
tracking number and passcode, add information to it and rate the answer.

Messages are in Simplified Chinese unless `?lang=en` or `Accept-Language: en` asks for English.
Every error is JSON: `{"error", "message"}`, or `{"errors": {field: [messages]}}` for invalid
input (422).
"""

_CACHE_KEY = "minyi.openapi"

#: What :class:`~shared.schemas.fields.Text` refuses: C0 controls but tab, LF and CR (which is
#: read as a line break), DEL and C1 controls. Lone surrogates are refused too.
_NO_CONTROLS = r"[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]"
_TEXT_PATTERN = rf"^{_NO_CONTROLS}*$"
#: The same, with at least one character that is not white space (the ``non_blank`` rule).
_NON_BLANK_PATTERN = (
    rf"^{_NO_CONTROLS}*[^\s\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]{_NO_CONTROLS}*$"
)
_IDEMPOTENCY_KEY_PATTERN = r"^[!-~]{1,255}$"  # what api._IDEMPOTENCY_KEY accepts


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI document, built on the first request and then served from memory."""
    app = current_app._get_current_object()
    body = app.extensions.get(_CACHE_KEY)
    if body is None:  # two first requests at once build it twice, harmlessly
        body = json.dumps(build_document(app), ensure_ascii=False).encode()
        app.extensions[_CACHE_KEY] = body
    return app.response_class(body, mimetype="application/json")


def _text_rules(self, field, **_kwargs) -> dict[str, Any]:
    """apispec attribute function: the characters a :class:`Text` field refuses, as a pattern."""
    if not isinstance(field, Text):
        return {}
    non_blank_rule = non_blank in field.validators
    return {"pattern": _NON_BLANK_PATTERN if non_blank_rule else _TEXT_PATTERN}


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.0.3 document of the public API as served by ``app``."""
    plugin = MarshmallowPlugin()
    spec = APISpec(
        title=TITLE,
        version=VERSION,
        openapi_version="3.0.3",
        plugins=[plugin],
        info={"description": DESCRIPTION},
        servers=[{"url": "/"}],
        tags=[
            {"name": "feedback", "description": "留言 · Comments and their cases"},
            {"name": "notices", "description": "通报 · Published notices"},
            {"name": "service", "description": "Health and this document"},
        ],
    )
    plugin.converter.add_attribute_function(_text_rules)
    _components(spec, app.config.get("MAX_CONTENT_LENGTH"))
    _paths(spec)
    document = spec.to_dict()
    # A rule checked by a @validates method is invisible to apispec; document it here.
    feedback = document["components"]["schemas"]["FeedbackInput"]
    feedback["properties"]["phone"]["pattern"] = PHONE_PATTERN.pattern
    feedback["description"] = (
        "A comment. With `anonymous: true`, leave `name`, `phone` and `email` empty. "
        "Blank optional fields count as absent. Unknown fields are refused."
    )
    return document


def _components(spec: APISpec, max_content_length: int | None) -> None:
    schemas = spec.components.schema
    # Leaves first, so that the nested ones are referred to by these names.
    schemas("PublicReply", schema=PublicReplySchema)
    schemas("NoticeItem", schema=NoticeItemOutputSchema)
    schemas("FeedbackInput", schema=FeedbackInputSchema)
    schemas("Receipt", schema=ReceiptOutputSchema)
    schemas("PublicCase", schema=PublicCaseOutputSchema)
    schemas("RatingInput", schema=RatingInputSchema)
    schemas("Rating", schema=RatingOutputSchema)
    schemas("FollowUpInput", schema=FollowUpInputSchema)
    schemas("FollowUp", schema=FollowUpOutputSchema)
    schemas("Notice", schema=NoticeOutputSchema)
    schemas(
        "Error",
        {
            "type": "object",
            "description": "An error: the HTTP reason phrase and a message for people.",
            "properties": {
                "error": {"type": "string", "example": "Not Found"},
                "message": {"type": "string"},
            },
            "required": ["error", "message"],
        },
    )
    schemas(
        "ValidationErrors",
        {
            "type": "object",
            "description": "Invalid input: messages by field name (`_schema`: the whole body).",
            "properties": {
                "errors": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "array",
                        "items": {"type": "string"},
                        "minItems": 1,
                    },
                    "example": {"body": ["此项为必填项。"]},
                }
            },
            "required": ["errors"],
            "additionalProperties": False,
        },
    )
    schemas(
        "Health",
        {
            "type": "object",
            "properties": {"status": {"type": "string"}, "database": {"type": "string"}},
            "required": ["status"],
        },
    )

    spec.components.parameter(
        "TrackingNumber",
        "path",
        {
            "name": "tracking_number",
            "required": True,
            "description": "查询编号 · Tracking number from the receipt; case and dash optional.",
            "schema": {"type": "string", "example": "7KQM-3WXP"},
        },
    )
    spec.components.parameter(
        "Passcode",
        "header",
        {
            "name": "X-Passcode",
            "required": True,
            "description": "查询码 · Passcode from the receipt (not case-sensitive). "
            "Without it, or when wrong, the answer is 404.",
            "schema": {"type": "string"},
        },
    )
    spec.components.parameter(
        "IdempotencyKey",
        "header",
        {
            "name": "Idempotency-Key",
            "required": False,
            "description": "1–255 visible ASCII characters. The same key with the same body "
            "returns the first receipt again (with `Idempotent-Replayed: true`); "
            "with another body it is a 422.",
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "pattern": _IDEMPOTENCY_KEY_PATTERN,
            },
        },
    )
    spec.components.parameter(
        "Lang",
        "query",
        {
            "name": "lang",
            "required": False,
            "description": "Language of the messages (default: Accept-Language, else Chinese).",
            "schema": {"type": "string", "enum": ["zh", "en"]},
        },
    )

    spec.components.header(
        "IdempotentReplayed",
        {
            "description": "Present when an earlier request with the same Idempotency-Key "
            "created the case: this is its receipt again.",
            "schema": {"type": "string", "enum": ["true"]},
        },
    )
    spec.components.header(
        "RetryAfter",
        {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}},
    )

    limit = f" ({max_content_length} bytes)" if max_content_length else ""
    responses = {
        "BadJSON": _json("Error", "The body is not JSON (bad syntax, bad UTF-8, nested too deep)."),
        "NotFound": _json(
            "Error",
            "No case with this number and passcode: the same answer for an unknown number, "
            "a wrong passcode or none.",
        ),
        "TooLarge": _json("Error", f"The request body is larger than the server accepts{limit}."),
        "Invalid": _json(
            "ValidationErrors",
            "Invalid input, including JSON that is not an object and a bad Idempotency-Key.",
        ),
        "TooManyRequests": _json(
            "Error",
            "Too many requests from this client: wait and try again.",
            headers={"Retry-After": "RetryAfter"},
        ),
        "Unavailable": _json(
            "Error",
            "The database is unavailable: nothing was saved; try again later.",
            headers={"Retry-After": "RetryAfter"},
        ),
    }
    for name, response in responses.items():
        spec.components.response(name, response, lazy=True)


def _json(schema: Any, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        **extra,
    }


def _paths(spec: APISpec) -> None:
    body_errors = {
        "400": "BadJSON",
        "413": "TooLarge",
        "422": "Invalid",
        "429": "TooManyRequests",
        "503": "Unavailable",
    }
    by_number = ["TrackingNumber", "Passcode", "Lang"]
    by_number_errors = dict(sorted({**body_errors, "404": "NotFound"}.items()))
    spec.path(
        path="/api/v1/feedback",
        operations={
            "post": {
                "operationId": "createFeedback",
                "tags": ["feedback"],
                "summary": "提交留言 · Send a comment",
                "parameters": ["IdempotencyKey", "Lang"],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "FeedbackInput"}},
                },
                "responses": {
                    "201": _json(
                        "Receipt",
                        "Received: keep the tracking number and the passcode.",
                        headers={"Idempotent-Replayed": "IdempotentReplayed"},
                        links={
                            "ShowFeedback": {
                                "operationId": "showFeedback",
                                "parameters": {
                                    "tracking_number": "$response.body#/tracking_number",
                                    "X-Passcode": "$response.body#/passcode",
                                },
                            },
                            "AddToFeedback": {
                                "operationId": "addToFeedback",
                                "parameters": {
                                    "tracking_number": "$response.body#/tracking_number",
                                    "X-Passcode": "$response.body#/passcode",
                                },
                            },
                        },
                    ),
                    **body_errors,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/feedback/{tracking_number}",
        operations={
            "get": {
                "operationId": "showFeedback",
                "tags": ["feedback"],
                "summary": "查询办理情况 · The status of a case and its public replies",
                "parameters": by_number,
                "responses": {
                    "200": _json("PublicCase", "The case."),
                    "404": "NotFound",
                    "429": "TooManyRequests",
                    "503": "Unavailable",
                },
            }
        },
    )
    spec.path(
        path="/api/v1/feedback/{tracking_number}/rating",
        operations={
            "post": {
                "operationId": "rateFeedback",
                "tags": ["feedback"],
                "summary": "评价答复 · Rate the answer (once it was sent, once per answer)",
                "parameters": by_number,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "RatingInput"}},
                },
                "responses": {
                    "201": _json("Rating", "The rating was recorded."),
                    **by_number_errors,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/feedback/{tracking_number}/messages",
        operations={
            "post": {
                "operationId": "addToFeedback",
                "tags": ["feedback"],
                "summary": "补充材料 · Add information to the case",
                "parameters": by_number,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "FollowUpInput"}},
                },
                "responses": {
                    "201": _json("FollowUp", "The information was added to the case."),
                    **by_number_errors,
                },
            }
        },
    )
    spec.path(
        path="/api/v1/notices",
        operations={
            "get": {
                "operationId": "listNotices",
                "tags": ["notices"],
                "summary": "已发布的通报 · Published notices and the items open to comment",
                "parameters": ["Lang"],
                "responses": {
                    "200": _json({"type": "array", "items": "Notice"}, "Published notices."),
                    "429": "TooManyRequests",
                    "503": "Unavailable",
                },
            }
        },
    )
    spec.path(
        path="/api/openapi.json",
        operations={
            "get": {
                "operationId": "openapiDocument",
                "tags": ["service"],
                "summary": "This document",
                "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
            }
        },
    )
    spec.path(
        path="/healthz",
        operations={
            "get": {
                "operationId": "healthz",
                "tags": ["service"],
                "summary": "The process is up",
                "responses": {"200": _json("Health", "Up.")},
            }
        },
    )
    spec.path(
        path="/readyz",
        operations={
            "get": {
                "operationId": "readyz",
                "tags": ["service"],
                "summary": "The process can serve: its database answers",
                "responses": {
                    "200": _json("Health", "Ready."),
                    "503": _json("Health", "The database does not answer."),
                },
            }
        },
    )
