"""Header values from user input cannot start new headers, however they are encoded."""

import pytest

from shared.mail.headers import clean_header_value, format_address


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=?UTF-8?Q?=0A?=Bcc: x@y", "Bcc: x@y"),
        ("=?UTF-8?B?Cg==?=Bcc: x@y", "Bcc: x@y"),  # base64 line feed
        ("line one\r\nBcc: x@y", "line one Bcc: x@y"),
        ("=?UTF-8?Q?=3D=3FUTF-8=3FQ=3F=3D0A=3F=3D?=Bcc: y", "Bcc: y"),  # nested encoded words
        ("关于网络舆情的意见", "关于网络舆情的意见"),
        ("a\u2028b", "a b"),  # Unicode line separator
        ("=?no-such-charset?Q?x?=", "= ?no-such-charset?Q?x?="),  # left inert, not decoded
    ],
)
def test_clean_header_value(value, expected):
    """Encoded or raw line breaks become spaces; undecodable encoded words are made inert."""
    cleaned = clean_header_value(value)
    assert cleaned == expected
    assert "\n" not in cleaned and "\r" not in cleaned


def test_format_address_quotes_and_keeps_name_readable():
    """A name with quotes or an injection attempt stays one quoted display name."""
    assert format_address("王小明", "w@example.cn") == '"王小明" <w@example.cn>'
    assert format_address('a"b', "w@example.cn") == '"a\\"b" <w@example.cn>'
    assert format_address("=?UTF-8?Q?=0A?=Bcc: x@y", "w@example.cn") == '"Bcc: x@y" <w@example.cn>'
    assert format_address(None, "w@example.cn") == "w@example.cn"
