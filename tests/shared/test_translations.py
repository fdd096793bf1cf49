"""Chinese first: every text the code shows a user has its Simplified Chinese translation."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "shared" / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "N_": None}


def _messages_in_the_code() -> set[str]:
    with open(ROOT / "babel.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_is_translated_to_chinese():
    """A string added to a page, a mail or an error without its translation would show in
    English to a Chinese reader (the default)."""
    with open(CATALOGUE, "rb") as po:
        catalogue = {
            message.id: message.string
            for message in read_po(po)
            if message.id and isinstance(message.id, str)
        }
    in_code = _messages_in_the_code()
    assert len(in_code) > 300  # the extraction found the code
    untranslated = sorted(msgid for msgid in in_code if not catalogue.get(msgid))
    assert not untranslated, f"add these to {CATALOGUE.relative_to(ROOT)}: {untranslated}"
