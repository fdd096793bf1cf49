"""One spelling for the many ways people write digits and signs, keeping every offset.

A phone number reaches us as 13893241234, １３８９３２４１２３４, 一三八九三二四一二三四 or
壹叁捌…; an address as 三组 or 3组; an e-mail with ＠ or a full stop 。. The patterns are
written once, for ASCII digits and signs, and run over the folded text. Folding maps one
character to one character, so a span found in the folded text is the same span in the
original: nothing has to be mapped back (which is why cn2an, which turns 十二 into 12, is not
used here)."""

from __future__ import annotations

import functools
import unicodedata

#: Chinese digits as read one by one (幺 is how 1 is said in phone numbers), and their
#: banker's forms. 十, 百 and 两 are not digits of a number read out digit by digit.
CHINESE_DIGITS = {
    **dict(zip("〇零一二三四五六七八九", "00123456789", strict=True)),
    "幺": "1",
    **dict(zip("壹贰叁肆伍陆柒捌玖", "123456789", strict=True)),
}
#: Dashes people put between digit groups; NFKC leaves these as they are.
DASHES = dict.fromkeys("‐‑‒–—―−－", "-")
#: The middle dots of licence plates (甘J·12345).
DOTS = dict.fromkeys("·•・‧", "·")


@functools.lru_cache(maxsize=4096)
def _fold_character(character: str) -> str:
    folded = CHINESE_DIGITS.get(character) or DASHES.get(character) or DOTS.get(character)
    if folded is not None:
        return folded
    normal = unicodedata.normalize("NFKC", character)  # full width → ASCII, 　 → space
    return normal if len(normal) == 1 else character


def fold(text: str) -> str:
    """``text`` with full-width letters, digits and signs made ASCII, Chinese digits made
    Arabic and dashes made ``-``; the result has exactly the length of ``text``."""
    return "".join(map(_fold_character, text))
