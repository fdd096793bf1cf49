"""Monthly report dicts shaped exactly as ``shared.reports.figures.monthly_report`` returns
them, for testing the renderers without a database: a busy October 2026 for the county
propaganda department, and a month in which nothing happened."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

#: (code, name, received, replied, on time, overdue open, on-time rate, satisfaction rate, rank)
OFFICES = (
    ("office", "办公室", 23, 20, 18, 6, 0.9, 0.8571, 5),
    ("theory", "理论教育股", 12, 11, 11, 2, 1.0, 1.0, 1),
    ("news", "新闻外宣股", 15, 13, 12, 4, 0.9231, 0.75, 4),
    ("cyber", "县委网信办", 41, 35, 29, 13, 0.8286, 0.6667, 7),
    ("civil", "县文明办", 14, 12, 12, 3, 1.0, 0.9, 3),
    ("media", "县融媒体中心", 18, 15, 13, 5, 0.8667, 0.8, 6),
    ("finance", "财务室", 9, 7, 5, 5, 0.7143, None, 8),
    ("party", "机关党支部", 5, 4, 4, 2, 1.0, 1.0, 2),
)

NOTICE = "县委宣传部关于市委第七提级交叉巡察组巡察反馈意见整改情况的通报"
AREA_1 = "学习贯彻落实党的路线方针政策和党中央重大决策部署方面"
AREA_2 = "落实管党治党政治责任和整治作风问题方面"
AREA_3 = "党组织建设、党内政治生活和单位管理方面"

#: (item code, title, area, cases received)
ITEMS = (
    ("XC21-01", "关于党中央重大决策部署学习贯彻不到位的问题", AREA_1, 9),
    ("XC21-02", "领导班子还未真正将党的领导贯穿到履行职责的全过程", AREA_1, 7),
    ("XC21-03", "对县委理论学习中心组学习的重要性认识不足", AREA_1, 8),
    ("XC21-04", "对网络舆情转办情况跟踪问效不到位", AREA_1, 31),
    ("XC21-05", "领导班子对意识形态工作重要性认识不足", AREA_1, 11),
    ("XC21-06", "《中国通渭网》发布信息未执行三审三校制度", AREA_1, 16),
    ("XC21-07", "关于履行管党治党政治责任不到位的问题", AREA_2, 6),
    ("XC21-08", "财务支出审核把关不严，违规报销差旅费问题依然存在", AREA_2, 5),
    ("XC21-09", "执行财经纪律不严", AREA_2, 3),
    ("XC21-10", "领导班子对开好组织生活会的作用和意义认识不足", AREA_3, 4),
    ("XC21-11", "“三会一课”制度落实不严格", AREA_3, 2),
    ("XC21-12", "领导班子用制度管人管事意识不强，管理制度更新不及时", AREA_3, 14),
)

#: Received and replied on the ten days of October that saw any (the national holiday none).
DAILY = {
    8: (12, 5),
    9: (18, 10),
    10: (9, 8),
    13: (21, 14),
    14: (15, 12),
    15: (11, 13),
    20: (16, 15),
    22: (13, 11),
    27: (10, 14),
    29: (12, 15),
}

TOP_WORDS = (
    ("网络舆情", 31),
    ("整改", 28),
    ("意识形态", 24),
    ("学习", 22),
    ("通渭网", 19),
    ("报销", 17),
    ("差旅费", 15),
    ("志愿服务", 14),
    ("文明城市", 13),
    ("信息发布", 12),
    ("三审三校", 11),
    ("党支部", 10),
    ("组织生活", 10),
    ("理论学习", 9),
    ("中心组", 9),
    ("财务", 8),
    ("监督", 8),
    ("宣传", 7),
    ("新闻稿", 7),
    ("融媒体", 7),
    ("回复", 6),
    ("投诉", 6),
    ("办事", 5),
    ("效率", 5),
    ("公开", 5),
    ("制度", 4),
    ("审核", 4),
    ("培训", 4),
    ("县城", 3),
    ("道路", 3),
)

DEFINITIONS = {
    "received": "Cases received in the month (Asia/Shanghai), spam excluded.",
    "replied": "Cases whose first reply was sent in the month.",
    "on_time": "Replied cases whose first reply was sent on or before the reply due date.",
    "on_time_rate": "Of the cases replied in the month, the share sent on or before their due "
    "date, extension included.",
    "median_reply_days": "Median calendar days from receipt to first reply.",
    "mean_reply_days": "Mean calendar days from receipt to first reply.",
    "overdue_open": "Cases open at the end of the month and past their reply due date.",
    "satisfaction_rate": "Of the ratings given in the month, the share that are satisfied or "
    "basically satisfied.",
    "closed": "Cases closed in the month.",
    "completed_on_time_rate": "Of the cases closed in the month, the share closed on or before "
    "their due date.",
    "backlog": "Cases received before the month end and not answered or closed by then.",
    "spam": "Cases received in the month and marked as spam.",
    "duplicates": "Cases received in the month and marked as duplicates of another.",
    "reopened": "Cases reopened for re-handling in the month.",
    "extended": "Extensions granted in the month.",
}

TRACKING_LETTERS = "ACDEFGHJKMNPQRTUVWXY34679"


def _tracking_number(index: int) -> str:
    letters = []
    value = 104729 * (index + 1)
    for _ in range(8):
        value, digit = divmod(value * 31 + 7, len(TRACKING_LETTERS))
        letters.append(TRACKING_LETTERS[digit])
    return "".join(letters[:4]) + "-" + "".join(letters[4:])


def _overdue_cases(count: int) -> list[dict[str, Any]]:
    """``count`` open, past-due cases, most overdue first, spread over the offices as
    ``by_office`` counts them (every 13th not yet routed to any)."""
    owners = [code for code, *_rest, overdue, _rate, _sat, _rank in _office_overdue()]
    cases = []
    for index in range(count):
        days_overdue = max(1, 75 - index * 75 // max(count, 1))
        reply_due = date(2026, 10, 31) - timedelta(days=days_overdue)
        received = reply_due - timedelta(days=15)
        office = owners[index % len(owners)] if index % 13 != 12 else None
        cases.append(
            {
                "tracking_number": _tracking_number(index),
                "office": office,
                "item": ITEMS[index % len(ITEMS)][0] if index % 7 else None,
                "received_at": f"{received.isoformat()}T09:{index % 60:02d}:00+08:00",
                "reply_due": f"{reply_due.isoformat()}T23:59:59+08:00",
                "days_overdue": days_overdue,
                "status": "in_progress" if office else "waiting",
            }
        )
    return cases


def _office_overdue():
    """Offices repeated by their overdue count, so the list matches ``by_office``."""
    for office in OFFICES:
        for _ in range(office[5]):
            yield office


def sample_report() -> dict[str, Any]:
    """A complete, realistic report for October 2026 with every key of the interface."""
    by_office = {
        code: {
            "name": name,
            "received": received,
            "replied": replied,
            "on_time": on_time,
            "overdue_open": overdue,
            "on_time_rate": rate,
            "satisfaction_rate": satisfaction,
            "rank": rank,
        }
        for code, name, received, replied, on_time, overdue, rate, satisfaction, rank in OFFICES
    }
    daily = []
    for day in range(1, 32):
        received, replied = DAILY.get(day, (0, 0))
        daily.append({"date": f"2026-10-{day:02d}", "received": received, "replied": replied})
    return {
        "month": "2026-10",
        "received": 137,
        "by_channel": {"web": 78, "email": 31, "phone": 17, "post": 6, "visit": 5},
        "by_office": by_office,
        "by_item": {code: count for code, _title, _area, count in ITEMS},
        "replied": 117,
        "on_time_rate": 0.8889,
        "median_reply_days": 6.5,
        "overdue_open": 40,
        "satisfaction_rate": 0.8875,
        "scope": {"offices": None, "names": [office[1] for office in OFFICES]},
        "generated_at": "2026-11-01T08:00:03+08:00",
        "period": {"start": "2026-10-01T00:00:00+08:00", "end": "2026-11-01T00:00:00+08:00"},
        "spam": 11,
        "duplicates": 8,
        "by_category": {
            "suggestion": 41,
            "complaint": 36,
            "report": 9,
            "inquiry": 38,
            "praise": 6,
            "none": 7,
        },
        "items": {
            code: {"title": title, "area": area, "notice": NOTICE}
            for code, title, area, _count in ITEMS
        },
        "status_at_month_end": {"waiting": 12, "in_progress": 46, "answered": 27, "closed": 96},
        "backlog": 58,
        "on_time": 104,
        "mean_reply_days": 7.8,
        "median_close_days": 11.0,
        "mean_close_days": 13.4,
        "closed": 96,
        "completed_on_time_rate": 0.875,
        "ratings": {"satisfied": 52, "basically_satisfied": 19, "unsatisfied": 9},
        "reopened": 3,
        "extended": 4,
        "ranking": [code for code, *_rest in sorted(OFFICES, key=lambda office: office[8])],
        "change": {
            "received": _change(137, 112, 0.2232, 98, 0.398),
            "replied": _change(117, 109, 0.0734, 90, 0.3),
            "on_time_rate": _change(0.8889, 0.8532, 0.0357, 0.8012, 0.0877),
            "satisfaction_rate": _change(0.8875, 0.9011, -0.0136, None, None),
            "overdue_open": _change(40, 35, 0.1429, 22, 0.8182),
        },
        "daily": daily,
        "top_words": [{"word": word, "count": count} for word, count in TOP_WORDS],
        "words_from": {"cases": 130, "of": 137},
        "clusters": [
            {"id": 17, "kind": "campaign", "label": "关于县城文明养犬的联名建议", "cases": 23},
            {"id": 14, "kind": "duplicate", "label": "通渭网信息发布未执行三审三校", "cases": 6},
            {"id": 21, "kind": "duplicate", "label": "差旅费报销审核", "cases": 3},
        ],
        "overdue_cases": _overdue_cases(40),
        "definitions": dict(DEFINITIONS),
    }


def _change(value, previous, month_over_month, previous_year, year_over_year) -> dict[str, Any]:
    return {
        "value": value,
        "previous_month": previous,
        "month_over_month": month_over_month,
        "previous_year": previous_year,
        "year_over_year": year_over_year,
    }


def empty_report() -> dict[str, Any]:
    """February 2026 in one office that heard nothing: zeros, rates None, empty lists."""
    daily = [{"date": f"2026-02-{day:02d}", "received": 0, "replied": 0} for day in range(1, 29)]
    metrics = ("received", "replied", "on_time_rate", "satisfaction_rate", "overdue_open")
    counts = ("received", "replied", "overdue_open")
    return {
        "month": "2026-02",
        "received": 0,
        "by_channel": {"web": 0, "email": 0, "phone": 0, "post": 0, "visit": 0},
        "by_office": {
            "party": {
                "name": "机关党支部",
                "received": 0,
                "replied": 0,
                "on_time": 0,
                "overdue_open": 0,
                "on_time_rate": None,
                "satisfaction_rate": None,
                "rank": 1,
            }
        },
        "by_item": {},
        "replied": 0,
        "on_time_rate": None,
        "median_reply_days": None,
        "overdue_open": 0,
        "satisfaction_rate": None,
        "scope": {"offices": ["party"], "names": ["机关党支部"]},
        "generated_at": "2026-03-01T08:00:00+08:00",
        "period": {"start": "2026-02-01T00:00:00+08:00", "end": "2026-03-01T00:00:00+08:00"},
        "spam": 0,
        "duplicates": 0,
        "by_category": dict.fromkeys(
            ("suggestion", "complaint", "report", "inquiry", "praise", "none"), 0
        ),
        "items": {},
        "status_at_month_end": {"waiting": 0, "in_progress": 0, "answered": 0, "closed": 0},
        "backlog": 0,
        "on_time": 0,
        "mean_reply_days": None,
        "median_close_days": None,
        "mean_close_days": None,
        "closed": 0,
        "completed_on_time_rate": None,
        "ratings": {"satisfied": 0, "basically_satisfied": 0, "unsatisfied": 0},
        "reopened": 0,
        "extended": 0,
        "ranking": ["party"],
        "change": {
            metric: _change(
                0 if metric in counts else None,
                0 if metric in counts else None,
                None,
                None,
                None,
            )
            for metric in metrics
        },
        "daily": daily,
        "top_words": [],
        "words_from": {"cases": 0, "of": 0},
        "clusters": [],
        "overdue_cases": [],
        "definitions": dict(DEFINITIONS),
    }


def scaled_report(overdue: int) -> dict[str, Any]:
    """The sample with ``overdue`` overdue cases: a city-sized month for timing the renderers."""
    report = copy.deepcopy(sample_report())
    report["overdue_cases"] = _overdue_cases(overdue)
    report["overdue_open"] = overdue
    return report
