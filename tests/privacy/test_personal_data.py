"""The personal-data detector's promises beyond the corpus: the leaks of issue 17, known and
public values, placeholders, and any text at all (no crash, well-formed findings, bounded
work on long adversarial texts)."""

from __future__ import annotations

import signal
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.personal_data import (
    PLACEHOLDERS,
    Kind,
    Known,
    find_personal_data,
    names,
    redact,
)


def test_the_published_leaks_of_issue_17_are_redacted():
    """What /answered/ showed: a titled name, an address without a house number, a staff
    name and direct line, a phone split by commas, an ID, the template's tracking number."""
    answer = (
        "张先生您好：您于2024年3月5日提出的意见建议（查询编号 XF97-SN9C）收悉。"
        "您家住平襄镇东大街，经办人王五，电话 138，1234，5678，身份证 62042219850312456X。"
    )
    assert redact(answer) == (
        "［姓名］您好：您于2024年3月5日提出的意见建议（查询编号 ［查询编号］）收悉。"
        "您家住［地址］，经办人［姓名］，电话 ［电话］，身份证 ［身份证号］。"
    )


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("我的手机号是一三八九三二四一二三四。", Kind.PHONE, "一三八九三二四一二三四"),
        ("号码 １８９ ０９３２ ５５６６ 白天打", Kind.PHONE, "１８９ ０９３２ ５５６６"),
        (
            "身份证号 ６２０４２２１９９００１０１２３４５",
            Kind.ID,
            "６２０４２２１９９００１０１２３４５",
        ),
        ("邮箱 chenyq2023＠163.com", Kind.EMAIL, "chenyq2023＠163.com"),
        ("我是马营镇华川村五组的村民", Kind.ADDRESS, "马营镇华川村五组"),
        ("QQ：2859103746", Kind.QQ, "2859103746"),
        ("加我微信zzg19780512", Kind.WECHAT, "zzg19780512"),
        ("车牌甘J·12345的车", Kind.PLATE, "甘J·12345"),
        ("卡号6217 0009 3000 1234 567。", Kind.BANK, "6217 0009 3000 1234 567"),
        ("编号 k7qm-2xhp", Kind.TRACKING, "k7qm-2xhp"),
    ],
)
def test_each_kind_is_found_with_its_placeholder(text, kind, value):
    [finding] = find_personal_data(text)
    assert (finding.kind, finding.text) == (kind, value)
    assert redact(text) == text.replace(value, PLACEHOLDERS[kind])


def test_known_values_are_always_removed():
    """A name or address the system knows goes even where nothing else would find it: an
    address without street or number, a name that is also a word (高明, "clever")."""
    text = "这个办法很高明，我住老车站对面第三家。"
    assert redact(text) == text
    known = [Known(Kind.NAME, "高明"), Known(Kind.ADDRESS, "老车站对面第三家")]
    assert redact(text, known=known) == "这个办法很［姓名］，我住［地址］。"
    found = find_personal_data("经办人王五，这个办法很高明。", known=known)
    assert [(finding.text, finding.known) for finding in found] == [("王五", False), ("高明", True)]


def test_public_strings_and_public_figures_are_kept():
    """The office's published contacts and the names of public figures are not personal."""
    text = "认真学习习近平总书记重要讲话精神，如有意见请拨打0932-5552740。"
    assert redact(text, public=["0932-5552740"]) == text
    assert redact(text) == text.replace("0932-5552740", "［电话］")


def test_ordinary_numbers_stay():
    """Dates, amounts, document numbers, counts, times and hotlines are no personal data."""
    text = (
        "2021年4月26日至6月25日巡察，追缴12,580元，通宣发〔2021〕12号，"
        "332个行政村，上午9:30开会，拨打12345热线，邮编743300，《民法典》第1034条。"
    )
    assert find_personal_data(text) == []


# -- any text ----------------------------------------------------------------------------------

#: The characters the patterns care about, so that generated texts come close to matching.
_RISKY = (
    "0123456789０１２３４５６７８９一二三四五六七八九〇幺 -—－.,，、()（）+@＠。:：·"
    "XxQqABCDJKMNPabcdz_甘京J村组社号楼栋单元室街路小区住在家是我叫本人签名张王李先生主任某"
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.one_of(st.text(max_size=300), st.text(alphabet=_RISKY, max_size=300)))
def test_any_text_gives_well_formed_findings(text):
    """No crash; findings in order, apart, inside the text, each its own slice; the
    placeholders themselves are never taken for personal data."""
    findings = find_personal_data(text)
    last_end = 0
    for finding in findings:
        assert last_end <= finding.start < finding.end <= len(text)
        assert finding.text == text[finding.start : finding.end]
        last_end = finding.end
    assert find_personal_data("".join(PLACEHOLDERS.values())) == []


@contextmanager
def _hang_guard(seconds: int):
    """Fail instead of hanging: a pattern that backtracks catastrophically on these inputs
    would run for hours, a linear one takes a few seconds; this is no timing of the code."""

    def stop(_signum, _frame):
        raise AssertionError(f"still running after {seconds} s: super-linear work")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(
    "unit",
    ["1 ", "1-", "a.", "a@", "1号-", "村1组", "东大街1", "甘J1", "微信a", "QQ1", "ABCD-", "我是张"],
)
def test_long_adversarial_texts_take_bounded_work(unit, monkeypatch):
    """A 20,000-character repetition of what each pattern starts with finishes, and the
    tagger (the costly part) reads it in pieces of at most 200 characters that add up to
    the text once: its work grows with the length, not faster."""
    text = unit * (20_000 // len(unit))
    pieces = []
    tag = names._Tagger.tag

    def recording(piece):
        pieces.append(len(piece))
        return tag(piece)

    monkeypatch.setattr(names._Tagger, "tag", recording)
    with _hang_guard(120):
        findings = find_personal_data(text)
    assert len(findings) <= len(text)
    assert max(pieces) <= 200
    assert sum(pieces) == len(text)
