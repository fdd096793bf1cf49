"""The monthly report mail: the headline figures in the text, the files attached (by the
operation that writes it: an outbox row holds its attachments). Builders never send."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.mail.outbox import OutgoingMail
from shared.mail.render import render


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def monthly_report(
    report: Mapping[str, Any],
    to_address: str,
    settings: Mapping[str, Any],
    *,
    completed: bool = True,
    language: str = "zh",
) -> OutgoingMail:
    """The report of ``report["month"]`` for one recipient. Only counts and rates: no case's
    text, and nobody's name."""
    month = str(report["month"])
    scope = report.get("scope") or {}
    base = settings["RESPONDER_BASE_URL"].rstrip("/")
    rendered = render(
        "monthly_report",
        language,
        month=month,
        completed=completed,
        scope_names=list(scope.get("names") or []) if scope.get("offices") else [],
        received=report.get("received", 0),
        replied=report.get("replied", 0),
        closed=report.get("closed", 0),
        overdue_open=report.get("overdue_open", 0),
        on_time_rate=_percent(report.get("on_time_rate")),
        satisfaction_rate=_percent(report.get("satisfaction_rate")),
        median_reply_days=report.get("median_reply_days"),
        url=f"{base}/reports/?month={month}",
    )
    return OutgoingMail(to_address=to_address, subject=rendered.subject, body=rendered.body)
