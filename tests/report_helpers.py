"""Helpers of the monthly report's delivery tests: cases placed in a month and an office."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from shared.models import Case, Office
from tests.factories import make_case

SHANGHAI = ZoneInfo("Asia/Shanghai")
#: In the finance office's case only: it must reach nobody who may not see finance's numbers.
MARKER = "XYZZYREPORT"
FINANCE_BODY = f"财务室小金库{MARKER}问题反映，账外资金长期由个人保管，请组织核查小金库。"
CYBER_BODY = "网络谣言需要澄清，网信办请尽快处理网络谣言。"


def shanghai(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def office_case(
    db, office_code: str, received_at: datetime, body: str, *, overdue: bool = True
) -> str:
    """A case received at ``received_at``, handled by ``office_code``; with ``overdue`` its
    answer was due three days later and never came. Returns its tracking number."""
    receipt = make_case(db, body=body, received_at=received_at)
    with db.transaction() as session:
        case = session.scalar(
            select(Case).where(Case.tracking_number == receipt.case.tracking_number)
        )
        case.office_id = session.scalar(select(Office.id).where(Office.code == office_code))
        case.status = "assigned"
        if overdue:
            case.reply_due = received_at + timedelta(days=3)
    return receipt.case.tracking_number


def october_cases(db) -> dict[str, str]:
    """Two finance cases (with the marker) and one cyber case in October 2026, all overdue."""
    return {
        "finance": office_case(db, "finance", shanghai(2026, 10, 5, 9, 0), FINANCE_BODY),
        "finance2": office_case(db, "finance", shanghai(2026, 10, 6, 9, 0), FINANCE_BODY),
        "cyber": office_case(db, "cyber", shanghai(2026, 10, 7, 9, 0), CYBER_BODY),
    }
