"""The most frequent words of the month's comments (``top_words`` of the report): a bounded,
evenly spread sample of the month's texts, segmented with jieba, common words left out."""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter

import jieba
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from shared.models import Case, NoticeItem, Office
from shared.reports.months import Period

#: At most this many of the month's texts are segmented for the top words, spread over the
#: month: on the benchmark's month of 57,113 cases, 2,000 gave 29 of the top 30 that 20,000
#: gave (jieba takes about 1 s a thousand distinct texts on one core).
MAX_WORD_TEXTS = 2_000
#: Only the beginning of a long text is segmented.
MAX_WORD_CHARS = 500
TOP_WORDS = 30
#: Texts fetched per round trip for the words.
WORD_BATCH = 1_000

#: Common Chinese function words and the filler of comments to a government office.
_STOP_WORD_TEXT = """
    我们 你们 他们 她们 它们 我的 你的 他的 自己 大家 咱们 这个 那个 这些 那些 这样 那样
    这里 那里 这种 那种 一个 一些 一下 一直 一定 一样 一起 一般 已经 还是 还有 就是 只是
    但是 可是 而且 并且 或者 因为 所以 如果 虽然 然后 而是 不是 没有 不能 不会 可以 能够
    应该 需要 必须 是否 什么 怎么 怎样 为什么 如何 哪里 多少 为了 对于 关于 通过 由于 根据
    按照 以及 以上 以下 之后 之前 其中 其他 其它 这么 那么 非常 特别 比较 现在 目前 今天
    时候 时间 之间 方面 有关 相关 情况 问题 希望 反映 进行 工作 部门 单位 领导 同志 您好
    你好 谢谢 感谢 请问 尽快 及时 认真 加强 解决 处理 落实 有效 一次 几个 很多 许多 所有
    每个 各位 各种 还要 也是 都是 就要 就会 可能 已经 目前 另外 同时 此外 再次 我们的
    具体 实际 相应 有些 本人 本次 此事 此次 该项 上述 如下 以来 起来 出来 过来 下来 看到
    知道 觉得 认为 表示 提出 要求 建议 意见 留言 答复 回复 县里 我县 当地 有关部门
    以后 以前 应当 一件 一些 有人 不要 不到 不了 没人 可否 能否 是不是
"""
STOP_WORDS = frozenset(_STOP_WORD_TEXT.split())

#: Words made only of digits, punctuation, symbols or spaces are no topic.
_NO_LETTER = re.compile(r"[\W\d_]+")

#: A short label worth keeping whole in the segmentation (an office's name, an item's area).
_MAX_DICTIONARY_WORD = 12

_tokenizer = None
_tokenizer_lock = threading.Lock()


def _jieba():
    """One quiet jieba tokenizer per process, built on first use (it loads a dictionary)."""
    global _tokenizer
    with _tokenizer_lock:
        if _tokenizer is None:
            jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict" on stderr
            tokenizer = jieba.Tokenizer()
            tokenizer.initialize()
            _tokenizer = tokenizer
        return _tokenizer


def _dictionary_words(session: Session) -> set[str]:
    """Office names and the short labels of the notice items, kept whole by the segmenter."""
    words = set(session.scalars(select(Office.name)))
    for area, title in session.execute(select(NoticeItem.area, NoticeItem.title)):
        words.update(text for text in (area, title) if text)
    return {w.strip() for w in words if w and 2 <= len(w.strip()) <= _MAX_DICTIONARY_WORD}


def words_of(text: str, tokenizer=None) -> list[str]:
    """The words of a text that may be topics: two characters or more, not stop words, not
    digits or punctuation alone."""
    tokenizer = tokenizer or _jieba()
    return [
        word
        for word in (w.strip() for w in tokenizer.lcut(text[:MAX_WORD_CHARS], HMM=False))
        if len(word) >= 2 and word not in STOP_WORDS and not _NO_LETTER.fullmatch(word)
    ]


def top_words(
    session: Session, period: Period, scope: ColumnElement[bool]
) -> tuple[list[dict], dict[str, int]]:
    ids = session.scalars(
        select(Case.id)
        .where(period.contains(Case.received_at), scope)
        .order_by(Case.id)
        .execution_options(yield_per=20_000)
    ).all()
    chosen = ids
    if len(ids) > MAX_WORD_TEXTS:  # evenly spread by id over the month
        chosen = [ids[i * len(ids) // MAX_WORD_TEXTS] for i in range(MAX_WORD_TEXTS)]
    tokenizer = _jieba() if chosen else None
    if tokenizer is not None:
        for word in _dictionary_words(session):
            tokenizer.add_word(word)
    # Repeats and campaigns share their text: each distinct text is segmented once.
    texts: Counter[str] = Counter()
    for start in range(0, len(chosen), WORD_BATCH):
        batch = chosen[start : start + WORD_BATCH]
        for subject, body in session.execute(
            select(Case.subject, Case.body).where(Case.id.in_(batch))
        ):
            texts[f"{subject or ''}\n{(body or '')[:MAX_WORD_CHARS]}"] += 1
    counts: Counter[str] = Counter()
    for written, repeats in texts.items():
        for word in words_of(written, tokenizer):
            counts[word] += repeats
    top = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:TOP_WORDS]
    return (
        [{"word": word, "count": count} for word, count in top],
        {"cases": len(chosen), "of": len(ids)},
    )
