"""The labelled corpus of personal data (``corpus.txt``) and how a detector is scored on it.

Shared by the corpus test and by ``benchmarks/personal_data_libraries.py``, so that the
README's table and the benchmark's figures are computed the same way."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).with_name("corpus.txt")
KINDS = ("name", "phone", "id", "email", "address", "qq", "wechat", "plate", "bank", "tracking")
_LABEL = re.compile(r"\[\[(\w+):(.+?)\]\]")


@dataclass(frozen=True)
class Sentence:
    line: int
    text: str
    #: (kind, start, end) of each labelled span in ``text``.
    spans: tuple[tuple[str, int, int], ...]


def load(path: Path = CORPUS) -> list[Sentence]:
    """Every sentence of the corpus, its labels turned into spans."""
    sentences = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip() or raw.startswith("#"):
            continue
        text, spans, last = [], [], 0
        length = 0
        for match in _LABEL.finditer(raw):
            kind, value = match[1], match[2]
            if kind not in KINDS:
                raise ValueError(f"{path.name}:{number}: unknown kind {kind!r}")
            text.append(raw[last : match.start()])
            length += match.start() - last
            spans.append((kind, length, length + len(value)))
            text.append(value)
            length += len(value)
            last = match.end()
        text.append(raw[last:])
        joined = "".join(text)
        if "[[" in joined or "]]" in joined:
            raise ValueError(f"{path.name}:{number}: a label is not closed")
        sentences.append(Sentence(number, joined, tuple(spans)))
    return sentences


@dataclass
class KindScore:
    spans: int = 0  # labelled spans of this kind
    removed: int = 0  # of them, wholly covered by what the detector found
    found_chars: int = 0  # characters the detector gave this kind
    right_chars: int = 0  # of them, inside a labelled span (of any kind)

    @property
    def recall(self) -> float:
        return self.removed / self.spans if self.spans else 1.0

    @property
    def precision(self) -> float:
        return self.right_chars / self.found_chars if self.found_chars else 1.0


@dataclass
class Score:
    kinds: dict[str, KindScore]
    #: Characters outside every labelled span (spaces left out), and how many of them stayed.
    ordinary_chars: int
    ordinary_kept: int
    #: (line, kind, text) of each labelled span not wholly removed.
    missed: list[tuple[int, str, str]]
    #: (line, kind, text) of each found span that is mostly ordinary text.
    wrong: list[tuple[int, str, str]]

    @property
    def kept(self) -> float:
        return self.ordinary_kept / self.ordinary_chars if self.ordinary_chars else 1.0

    @property
    def precision(self) -> float:
        found = sum(score.found_chars for score in self.kinds.values())
        right = sum(score.right_chars for score in self.kinds.values())
        return right / found if found else 1.0

    def table(self) -> str:
        """The table the README shows, in Markdown."""
        rows = [
            "| kind | spans | removed | recall | precision |",
            "|---|---:|---:|---:|---:|",
        ]
        for kind, score in self.kinds.items():
            rows.append(
                f"| {kind} | {score.spans} | {score.removed} | {score.recall:.1%} "
                f"| {score.precision:.1%} |"
            )
        spans = sum(score.spans for score in self.kinds.values())
        removed = sum(score.removed for score in self.kinds.values())
        rows.append(f"| all | {spans} | {removed} | {removed / spans:.1%} | {self.precision:.1%} |")
        rows.append(
            f"\nOrdinary text kept: {self.ordinary_kept} of {self.ordinary_chars} characters "
            f"({self.kept:.2%})."
        )
        return "\n".join(rows)


Detector = Callable[[str], Iterable[tuple[str, int, int]]]


def score(sentences: Iterable[Sentence], detect: Detector, kinds=KINDS) -> Score:
    """How ``detect`` (text → (kind, start, end) of each span found) does on the corpus.

    Recall counts a labelled span as removed only when every character of it but spaces
    is inside something found (of whatever kind: it is gone either way); precision is per
    character: of what the detector took for a kind, the share that was personal data."""
    result = Score({kind: KindScore() for kind in kinds}, 0, 0, [], [])
    for sentence in sentences:
        found = [(kind, start, end) for kind, start, end in detect(sentence.text)]
        covered = [False] * len(sentence.text)
        for _kind, start, end in found:
            for index in range(start, end):
                covered[index] = True
        personal = [False] * len(sentence.text)
        for kind, start, end in sentence.spans:
            for index in range(start, end):
                personal[index] = True
            whole = all(
                covered[index] for index in range(start, end) if not sentence.text[index].isspace()
            )
            result.kinds.setdefault(kind, KindScore())
            result.kinds[kind].spans += 1
            result.kinds[kind].removed += whole
            if not whole:
                result.missed.append((sentence.line, kind, sentence.text[start:end]))
        for kind, start, end in found:
            right = sum(personal[start:end])
            result.kinds.setdefault(kind, KindScore())
            result.kinds[kind].found_chars += end - start
            result.kinds[kind].right_chars += right
            if right * 2 < end - start:
                result.wrong.append((sentence.line, kind, sentence.text[start:end]))
        for index, character in enumerate(sentence.text):
            if not personal[index] and not character.isspace():
                result.ordinary_chars += 1
                result.ordinary_kept += not covered[index]
    return result


def counts(sentences: Iterable[Sentence]) -> Counter:
    """Labelled spans per kind, and sentences with none (``"none"``)."""
    tally: Counter = Counter()
    for sentence in sentences:
        tally.update(kind for kind, _start, _end in sentence.spans)
        if not sentence.spans:
            tally["none"] += 1
    return tally
