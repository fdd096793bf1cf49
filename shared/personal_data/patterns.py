"""Personal data with a shape: numbers, e-mail addresses, ids, plates, tracking numbers and
addresses, found in the folded text (see :mod:`.folding`).

Each pattern either starts at a boundary (a look-behind that fails inside a run of the
characters it starts with) or has a bounded prefix, and each unbounded repetition is over
characters the next part cannot match: no text makes one backtrack or rescan, so each costs
time linear in the text (``tests/privacy/test_personal_data.py`` feeds them long runs of
what they start with)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from shared.security import UNAMBIGUOUS

from .kinds import Kind

Span = tuple[Kind, int, int]

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"

# -- e-mail, tracking numbers, plates, WeChat ------------------------------------------------

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*"
    r" {0,2}@ {0,2}[A-Za-z0-9-]+(?: {0,2}[.。] {0,2}[A-Za-z0-9-]+)+"
)
#: Ours (shared.security): two groups of four from the unambiguous alphabet, in any case,
#: with a dash, a space or nothing between; without a dash a digit must be in it, so that
#: English words ("STRENGTH", "MAKE THAT") are left alone.
_TRACKING = re.compile(
    rf"(?<![A-Za-z0-9])([{UNAMBIGUOUS}]{{4}})( ?- ?| )?([{UNAMBIGUOUS}]{{4}})(?![A-Za-z0-9])",
    re.IGNORECASE,
)
#: Province, letter, then five characters (six for new-energy plates), a dot or dash
#: anywhere after the letter: 甘J·12345, 甘JD12345, 甘JF·66789, 甘A·8K926.
_PLATE = re.compile(
    r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼]"
    r"[A-HJ-NP-Z](?: ?[·.-] ?| )?[A-HJ-NP-Z0-9](?: ?[·.-] ?)?[A-HJ-NP-Z0-9]{4,5}"
    r"(?![A-Za-z0-9])"
)
#: A WeChat id is 6-20 letters, digits, _ or -, starting with a letter; it is told from a
#: word only by what comes before it ("微信号：", "加我微信"), or by the wxid_ prefix.
_WECHAT = re.compile(
    r"(?:(wxid_[A-Za-z0-9_-]{4,30})|(?:微信|薇信|v信|wechat|weixin|vx|wx)(?:号码|号|id)?"
    r"[ :,是为吧]{0,3}([A-Za-z][A-Za-z0-9_-]{5,19}))(?![A-Za-z0-9_-])",
    re.IGNORECASE,
)

# -- numbers ---------------------------------------------------------------------------------

#: A run of digit groups with separators people type between them ("138 9324 5678",
#: "138，1234，5678" folds to "138,1234,5678", "(0932)6123456", "+86-150-…"), an ID's X last.
_DIGIT_RUN = re.compile(r"(?<![\d])[+(]?\d+(?:[ \-.,、()/]{1,3}\d+)*(?:[Xx](?![A-Za-z]))?")
_GROUP = re.compile(r"\d+(?:[Xx](?![A-Za-z]))?")
#: The longest number we look for (a bank card: 19 digits; +86 and a landline: 14).
_MAX_DIGITS = 19
_ID_18 = re.compile(
    r"[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dX]"
)
_ID_15 = re.compile(r"[1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}")
_MOBILE = re.compile(r"(?:0{0,2}86)?1[3-9]\d{9}")
_LANDLINE = re.compile(r"0[1-9]\d{1,2}[2-9]\d{6,7}")
#: Words that say a number nearby is a phone number, QQ number or card (within a few
#: characters before it).
_PHONE_CUE = re.compile(r"电话|手机|座机|直线|号码|打|拨|致电|来电|回电|联系|短信|热线|tel", re.I)
_QQ_CUE = re.compile(r"q ?q|扣扣|企鹅", re.I)
_CARD_CUE = re.compile(r"卡|账号|账户|帐号|户名")
_CUE_WINDOW = 12
#: A unit after a number makes it an amount, a count or a date, not a phone number.
_UNIT_AFTER = re.compile(
    r" ?(?:元|万|亿|人|个|次|年|月|日|号|份|册|户|条|件|名|期|场|届|%|米|公里|亩|吨|岁|天|折)"
)
#: An extension after a phone number belongs to it: "0932-6123456转8001".
_EXTENSION = re.compile(r" ?(?:转|分机|ext\.?) ?\d{1,6}", re.I)
#: A letter typed for a digit between digits ("15I93241234"); read as the digit for numbers.
_LETTER_FOR_DIGIT = re.compile(r"(?<=\d)[IlOo](?=\d)")


def _classify(digits: str, before: str, after: str) -> Kind | None:
    """The kind of a number of ``digits`` (an ID's X included) found between ``before`` and
    ``after``, or None when it is no personal data."""
    size = len(digits)
    if (size == 18 and _ID_18.fullmatch(digits)) or (size == 15 and _ID_15.fullmatch(digits)):
        return Kind.ID
    if not digits.isdigit():
        return None
    if _QQ_CUE.search(before) and 5 <= size <= 11 and digits[0] != "0":
        return Kind.QQ
    if 16 <= size <= 19 or (12 <= size <= 15 and _CARD_CUE.search(before)):
        return Kind.BANK
    if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits):
        return Kind.PHONE
    if 7 <= size <= 12 and _PHONE_CUE.search(before) and not _UNIT_AFTER.match(after):
        return Kind.PHONE
    return None


def _numbers(folded: str) -> Iterator[Span]:
    """Phone, ID, QQ and bank card numbers. A run of digit groups may hold several numbers
    ("13893240001，0932-5121212"): from each group on, the most groups that make one number
    are taken, then the search goes on after them."""
    folded = _LETTER_FOR_DIGIT.sub(lambda match: "1" if match[0] in "Il" else "0", folded)
    for run in _DIGIT_RUN.finditer(folded):
        groups = [
            (run.start() + group.start(), run.start() + group.end())
            for group in _GROUP.finditer(run[0])
        ]
        first = 0
        while first < len(groups):
            number = _longest_number(folded, groups, first)
            if number is None:
                first += 1
                continue
            kind, last, end = number
            yield kind, _with_prefix(folded, groups[first][0], run.start()), end
            first = last + 1


def _longest_number(
    folded: str, groups: list[tuple[int, int]], first: int
) -> tuple[Kind, int, int] | None:
    """(kind, index of its last group, end) of the longest number made of ``groups`` from
    ``first`` on, or None. At most 23 digits are looked at, so each group costs a bounded
    number of tries."""
    numbers = []  # (index of the last group, its digits so far)
    digits = ""
    for last in range(first, len(groups)):
        if len(digits) > _MAX_DIGITS + 4:
            break
        start, end = groups[last]
        digits += folded[start:end].upper()
        numbers.append((last, digits))
    start = groups[first][0]
    before = folded[max(0, start - _CUE_WINDOW) : start]
    for last, digits in reversed(numbers):
        end = groups[last][1]
        kind = _classify(digits, before, folded[end : end + 3])
        if kind is not None:
            if kind == Kind.PHONE and (extension := _EXTENSION.match(folded, end)):
                end = extension.end()
            return kind, last, end
    return None


def _with_prefix(folded: str, start: int, run_start: int) -> int:
    """Start a number at the "+" or "(" typed before it ("+86 …", "(0932)…")."""
    while start > run_start and folded[start - 1] in "+(":
        start -= 1
    return start


# -- addresses -------------------------------------------------------------------------------

#: Characters that end the words before a place name ("住在东大街", "我是马营镇…").
_NOT_PLACE = "在住于是的到和与及从向我你他她们给对把被就有也都请寄离近"
_PLACE_CHAR = rf"(?:(?![{_NOT_PLACE}])[{HAN}\d])"
_PLACE_END = (
    r"(?:小区|花园|家园|公寓|家属院|家属楼|社区|大街|街道|胡同|大道|巷子"
    r"|路|街|巷|弄|村|苑|院|组|社)"
)
_NUMBER = r"[\d十百]+(?:-\d+)*"
_UNIT = r"(?:号楼|号院|号(?![线文令码公召])|栋|幢|单元|层|楼|室|户)"
_HOME_UNIT = r"(?:号楼|栋|幢|单元|室|户)"
#: After a street or estate: a house number or a home, not only a floor ("县医院3楼").
_HOUSE_NUMBER = re.compile(rf"号|{_HOME_UNIT}|\d-\d")
#: A house: the street, estate or village (with the township before it), then numbers and
#: units ("东大街58号", "温泉小区6号楼2单元301室") or the short form building-unit-flat
#: ("锦绣家园7-2-501"), but not a floor alone ("县医院3楼"); without a street, only two units
#: or more of which one is a home's ("4号楼1单元201"), so that "三楼", "2楼5号窗口" or "第3号"
#: is no address.
_HOUSE = re.compile(
    rf"{_PLACE_CHAR}{{1,10}}?{_PLACE_END}"
    rf"(?:(?:{_NUMBER}{_UNIT} ?)+(?:{_NUMBER})?|\d{{1,4}}(?:-\d{{1,4}}){{1,3}}(?![\d.]))"
)
_BARE_HOUSE = re.compile(
    rf"(?<![\d月第〕)\]年期号-]){_NUMBER}{_UNIT}(?:{_NUMBER}{_UNIT} ?)+(?:{_NUMBER})?"
)
#: A village group, the address of most of the county's households: "文丰村三组", "西关村二社".
_VILLAGE = re.compile(rf"{_PLACE_CHAR}{{1,10}}?村[\d十]+(?:组|社|队)")
#: A village someone belongs to: "我是石坪村村民", "榜罗村的人".
_VILLAGER = re.compile(rf"{_PLACE_CHAR}{{1,10}}?村(?=的?(?:村民|人|群众))")
#: Where someone lives, said without a number: "我住东大街", "家住书画小区".
_RESIDENCE = re.compile(
    rf"(?:住址|地址|住在|家住|家在|家就在|住的|现住|居住|住)(?: ?(?:是|为|:) ?)?"
    rf"({_PLACE_CHAR}{{1,12}}?{_PLACE_END}(?:{_PLACE_CHAR}{{0,6}}?{_PLACE_END})?)"
)


def _addresses(folded: str) -> Iterator[Span]:
    for match in _HOUSE.finditer(folded):
        if _HOUSE_NUMBER.search(match[0]):
            yield Kind.ADDRESS, match.start(), match.end()
    for match in _BARE_HOUSE.finditer(folded):
        if re.search(_HOME_UNIT, match[0]):
            yield Kind.ADDRESS, match.start(), match.end()
    for pattern in (_VILLAGE, _VILLAGER):
        for match in pattern.finditer(folded):
            yield Kind.ADDRESS, match.start(), match.end()
    for match in _RESIDENCE.finditer(folded):
        yield Kind.ADDRESS, match.start(1), match.end(1)


def find_shaped(folded: str) -> Iterator[Span]:
    """Every span of personal data with a shape in ``folded`` (overlaps are possible; the
    caller resolves them)."""
    for match in _EMAIL.finditer(folded):
        yield Kind.EMAIL, match.start(), match.end()
    for match in _TRACKING.finditer(folded):
        if "-" in (match[2] or "") or any(character.isdigit() for character in match[0]):
            yield Kind.TRACKING, match.start(), match.end()
    for match in _PLATE.finditer(folded):
        if any(character.isdigit() for character in match[0][2:]):
            yield Kind.PLATE, match.start(), match.end()
    for match in _WECHAT.finditer(folded):
        group = 1 if match[1] else 2  # wxid_… or the id after its cue
        yield Kind.WECHAT, match.start(group), match.end(group)
    yield from _numbers(folded)
    yield from _addresses(folded)
