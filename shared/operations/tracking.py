"""What the citizen sees of their own case."""

from __future__ import annotations

from shared.models import Case, Message, MessageKind


def public_replies(case: Case) -> list[Message]:
    return [m for m in case.messages if m.kind == MessageKind.REPLY and m.public]
