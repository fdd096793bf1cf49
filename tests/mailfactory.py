"""Test mails as bytes, written the way real clients write them.

Chinese mail clients are inconsistent: Foxmail and old Outlook label GBK text ``gb2312``,
some clients put raw 8-bit bytes in the Subject, Foxmail puts RFC 2047 encoded words inside
a quoted file name, Outlook uses RFC 2231 (``filename*=``), sometimes split in pieces. These
builders put exactly those bytes on the wire, so the tests see what the parser will see.
Every builder returns the whole mail as ``bytes`` with CRLF line ends.
"""

from __future__ import annotations

import base64
import quopri
import struct
import uuid
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from urllib.parse import quote

INTAKE_ADDRESS = "feedback@minyi.test"
SENDER = "zhangsan@example.cn"

#: Text that is in GBK but not in GB2312 (镕 as in 朱镕基, 喆, 堃): a client that labels it
#: gb2312 still sends it, and a strict gb2312 decoder loses it.
GBK_ONLY_TEXT = "我叫王镕，和同事张喆、李堃一起反映：县融媒体中心的网站留言长期无人回复。"
#: Text only GB18030 holds: 䶮 (CJK Extension A, two bytes) and 𠀀 (Extension B, four bytes).
GB18030_ONLY_TEXT = "反映人刘䶮：村名“𠀀头村”在县政府网站上显示成了问号，请更正。"
#: Traditional Chinese, as a Big5 client in Taiwan or Hong Kong writes it.
BIG5_TEXT = "臺灣同胞意見：請改善網路輿情處置，並公開整改結果。"
UTF8_TEXT = "建议县委宣传部在网站上公开巡察整改的进展，并说明每一项问题的完成时间。"


def message_id(domain: str = "mail.example.cn") -> str:
    return f"<{uuid.uuid4().hex}@{domain}>"


def encoded_word(text: str, charset: str = "utf-8", *, codec: str | None = None, q=False) -> str:
    """RFC 2047 ``=?charset?B?...?=`` (or ``?Q?``); ``codec`` encodes the bytes when the
    label is not the truth (GBK text labelled gb2312)."""
    data = text.encode(codec or charset)
    if q:
        encoded = quopri.encodestring(data, header=True).decode("ascii").replace("=\n", "")
        return f"=?{charset}?Q?{encoded}?="
    return f"=?{charset}?B?{base64.b64encode(data).decode('ascii')}?="


def rfc2231_value(text: str, charset: str = "UTF-8") -> str:
    """The value of ``name*=``: charset, empty language, percent-encoded bytes."""
    return f"{charset}''{quote(text.encode(charset.lower()), safe='')}"


# -- parts --------------------------------------------------------------------------------


@dataclass
class Part:
    """One MIME part: its header lines (text, or bytes for raw 8-bit) and its encoded body."""

    headers: list[tuple[str, str | bytes]]
    body: bytes = b""
    children: list[Part] = field(default_factory=list)
    boundary: str | None = None

    def to_bytes(self) -> bytes:
        lines = [_header_line(name, value) for name, value in self.headers]
        head = b"".join(lines)
        if not self.children:
            return head + b"\r\n" + self.body
        out = [head, b"\r\n", b"This is a multi-part message in MIME format.\r\n"]
        for child in self.children:
            out += [f"--{self.boundary}\r\n".encode(), child.to_bytes(), b"\r\n"]
        out.append(f"--{self.boundary}--\r\n".encode())
        return b"".join(out)


def _header_line(name: str, value: str | bytes) -> bytes:
    raw = value if isinstance(value, bytes) else value.encode("ascii")
    return name.encode("ascii") + b": " + raw + b"\r\n"


def _encode_body(data: bytes, transfer: str) -> bytes:
    if transfer == "base64":
        encoded = base64.encodebytes(data)  # 76-character lines
    elif transfer == "quoted-printable":
        encoded = quopri.encodestring(data)
    elif transfer in ("8bit", "7bit", "binary"):
        encoded = data
    else:
        raise ValueError(f"unknown transfer encoding {transfer}")
    text = encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return text if text.endswith(b"\r\n") else text + b"\r\n"


def text_part(
    text: str,
    *,
    subtype: str = "plain",
    charset: str = "utf-8",
    codec: str | None = None,
    transfer: str = "base64",
) -> Part:
    """A text part labelled ``charset`` whose bytes are ``text`` encoded with ``codec``
    (the label, unless the client lies about it)."""
    data = text.replace("\r\n", "\n").replace("\n", "\r\n").encode(codec or charset)
    return Part(
        [
            ("Content-Type", f'text/{subtype}; charset="{charset}"'),
            ("Content-Transfer-Encoding", transfer),
        ],
        _encode_body(data, transfer),
    )


def attachment_part(
    data: bytes, filename: str, *, content_type: str = "application/octet-stream", style="plain"
) -> Part:
    """An attached file whose name is written as a client of ``style`` writes it:

    - ``plain``: ``filename="report.pdf"`` (ASCII names only)
    - ``foxmail``: an RFC 2047 GB2312 encoded word inside the quotes, in both ``name=`` and
      ``filename=`` (Foxmail, NetEase and QQ web mail; not a standard, but everywhere)
    - ``outlook``: RFC 2231 ``filename*=UTF-8''%E4%B8%BE...``
    - ``outlook-split``: RFC 2231 continuations ``filename*0*=...; filename*1*=...``
    - ``raw-gbk``: the name as raw GBK bytes inside the quotes, no encoding at all (old
      Chinese clients and scripts)
    """
    if style == "plain":
        type_param = f'name="{filename}"'
        disposition = f'attachment; filename="{filename}"'
    elif style == "foxmail":
        word = encoded_word(filename, "GB2312", codec="gbk")
        type_param = f'name="{word}"'
        disposition = f'attachment; filename="{word}"'
    elif style == "outlook":
        value = rfc2231_value(filename)
        type_param = f"name*={value}"
        disposition = f"attachment; filename*={value}"
    elif style == "outlook-split":
        encoded = rfc2231_value(filename)
        # Split between percent-escapes, never inside one.
        cut = encoded.index("%", len(encoded) // 2)
        pieces = f"filename*0*={encoded[:cut]};\r\n filename*1*={encoded[cut:]}"
        type_param = f"name*0*={encoded[:cut]};\r\n name*1*={encoded[cut:]}"
        disposition = f"attachment;\r\n {pieces}"
    elif style == "raw-gbk":
        raw_name = b'"' + filename.encode("gbk") + b'"'
        return Part(
            [
                ("Content-Type", content_type.encode() + b";\r\n name=" + raw_name),
                ("Content-Transfer-Encoding", "base64"),
                ("Content-Disposition", b"attachment; filename=" + raw_name),
            ],
            _encode_body(data, "base64"),
        )
    else:
        raise ValueError(f"unknown style {style}")
    return Part(
        [
            ("Content-Type", f"{content_type};\r\n {type_param}"),
            ("Content-Transfer-Encoding", "base64"),
            ("Content-Disposition", disposition),
        ],
        _encode_body(data, "base64"),
    )


def multipart(subtype: str, children: Sequence[Part], extra_params: str = "") -> Part:
    boundary = f"----=_Part_{uuid.uuid4().hex}"
    params = f'; boundary="{boundary}"{extra_params}'
    content_type = ("Content-Type", f"multipart/{subtype}{params}")
    return Part([content_type], children=list(children), boundary=boundary)


# -- whole mails --------------------------------------------------------------------------


def mail(
    content: Part,
    *,
    subject: str | bytes = "关于巡察整改通报的意见",
    sender: str = SENDER,
    sender_name: str | bytes | None = "张三",
    to: str = INTAKE_ADDRESS,
    headers: Iterable[tuple[str, str | bytes]] = (),
    msgid: str | None = None,
    date: datetime | None = None,
) -> bytes:
    """A whole mail around ``content``. A ``str`` subject or name that is not ASCII becomes a
    UTF-8 encoded word; ``bytes`` go on the wire as they are (raw 8-bit headers)."""
    top = [
        ("Return-Path", f"<{sender}>"),
        (
            "Received",
            "from mx.example.cn (mx.example.cn [192.0.2.25]) by mail.minyi.test "
            "with ESMTPS; Tue, 3 Mar 2026 09:15:02 +0800",
        ),
        ("Date", format_datetime(date or datetime(2026, 3, 3, 1, 15, tzinfo=UTC))),
        ("From", _from_value(sender_name, sender)),
        ("To", to),
        ("Subject", _maybe_encoded(subject)),
        ("Message-ID", msgid or message_id()),
        ("MIME-Version", "1.0"),
        *headers,
    ]
    return Part(top + content.headers, content.body, content.children, content.boundary).to_bytes()


def _maybe_encoded(value: str | bytes) -> str | bytes:
    if isinstance(value, bytes) or value.isascii():
        return value
    return encoded_word(value)


def _from_value(name: str | bytes | None, address: str) -> str | bytes:
    if name is None:
        return address
    if isinstance(name, bytes):
        return b'"' + name + b'" <' + address.encode("ascii") + b">"
    return f"{_maybe_encoded(name)} <{address}>"


def plain_mail(text: str = UTF8_TEXT, **options) -> bytes:
    """UTF-8 text/plain, base64 unless ``transfer`` says otherwise."""
    transfer = options.pop("transfer", "base64")
    charset = options.pop("charset", "utf-8")
    codec = options.pop("codec", None)
    return mail(text_part(text, charset=charset, codec=codec, transfer=transfer), **options)


def ascii_mail(text: str = "Please publish the inspection report in English too.", **options):
    options.setdefault("subject", "Inspection report")
    options.setdefault("sender_name", "John Smith")
    return mail(text_part(text, charset="us-ascii", transfer="7bit"), **options)


def gb2312_labelled_gbk_mail(text: str = GBK_ONLY_TEXT, transfer="base64", **options) -> bytes:
    """Foxmail's habit: GBK bytes (镕, 喆, 堃 included) under a ``gb2312`` label, with the
    subject and the sender's name also GB2312-labelled encoded words holding GBK text."""
    options.setdefault("subject", encoded_word("王镕反映网站留言无人回复", "gb2312", codec="gbk"))
    options.setdefault("sender_name", encoded_word("王镕", "gb2312", codec="gbk"))
    return plain_mail(text, charset="gb2312", codec="gbk", transfer=transfer, **options)


def gbk_mail(text: str = GBK_ONLY_TEXT, transfer="quoted-printable", **options) -> bytes:
    options.setdefault("subject", encoded_word("张喆的意见", "GBK", q=True))
    return plain_mail(text, charset="GBK", transfer=transfer, **options)


def gb18030_mail(text: str = GB18030_ONLY_TEXT, transfer="base64", **options) -> bytes:
    options.setdefault("subject", encoded_word("刘䶮：村名显示错误", "GB18030"))
    options.setdefault("sender_name", encoded_word("刘䶮", "gb18030"))
    return plain_mail(text, charset="GB18030", transfer=transfer, **options)


def big5_mail(text: str = BIG5_TEXT, transfer="8bit", **options) -> bytes:
    options.setdefault("subject", encoded_word("臺灣 意見", "big5"))
    options.setdefault("sender_name", encoded_word("陳大文", "big5"))
    return plain_mail(text, charset="big5", transfer=transfer, **options)


def raw_8bit_subject_mail(subject: str, codec: str, text: str = UTF8_TEXT, **options) -> bytes:
    """The Subject (and the sender's name) as raw bytes in ``codec``, no encoded word: what
    some phone clients and scripts send."""
    options.setdefault("sender_name", "李四".encode(codec))
    body_charset = "utf-8" if codec == "utf-8" else "gbk"
    options.update(subject=subject.encode(codec), charset=body_charset, transfer="8bit")
    return plain_mail(text, **options)


def html_only_mail(paragraphs: Sequence[str] = (UTF8_TEXT,), charset="utf-8", **options):
    """HTML and nothing else, with a style block and a script that must not reach the text."""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    html = (
        "<html><head><title>邮件</title><style>p{color:red}</style></head>"
        f"<body><div>{body}</div><script>alert('x')</script></body></html>"
    )
    transfer = options.pop("transfer", "quoted-printable")
    return mail(text_part(html, subtype="html", charset=charset, transfer=transfer), **options)


def alternative_mail(text: str = UTF8_TEXT, **options) -> bytes:
    """text/plain and text/html of the same words, as every web mail sends."""
    parts = [text_part(text), text_part(f"<div>{text}</div>", subtype="html")]
    return mail(multipart("alternative", parts), **options)


def mail_with_attachments(
    text: str,
    files: Sequence[tuple[str, bytes]],
    *,
    style: str = "plain",
    charset: str = "utf-8",
    codec: str | None = None,
    transfer: str = "base64",
    **options,
) -> bytes:
    """multipart/mixed: the text, then each (file name, bytes) named in ``style``."""
    parts = [text_part(text, charset=charset, codec=codec, transfer=transfer)]
    for filename, data in files:
        parts.append(attachment_part(data, filename, content_type=_type_of(filename), style=style))
    return mail(multipart("mixed", parts), **options)


def _type_of(filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower()
    return {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg"}.get(
        suffix, "application/octet-stream"
    )


# -- machines -----------------------------------------------------------------------------


def auto_reply_mail(**options) -> bytes:
    """An RFC 3834 auto-reply (``Auto-Submitted: auto-replied``), as Exchange sends one."""
    options.setdefault("subject", "Automatic reply: 已收到您的留言")
    options.setdefault("sender", "wangwu@example.gov.cn")
    headers = [("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")]
    return plain_mail("I am out of the office until Monday.", headers=headers, **options)


def out_of_office_mail(**options) -> bytes:
    """A Chinese 自动回复 with ``X-Autoreply: yes`` and no Auto-Submitted, as some Chinese
    web mail services send it."""
    options.setdefault("subject", encoded_word("自动回复：您的来信已收到", "gb2312", codec="gbk"))
    options.setdefault("sender", "liuliu@example.com.cn")
    headers = [("X-Autoreply", "yes")]
    text = "您好，我正在休假，2026年3月10日返回，届时再回复您的邮件。"
    return plain_mail(text, charset="gb2312", codec="gbk", headers=headers, **options)


def dsn_bounce(
    original_message_id: str | None = None,
    recipient: str = "nobody@example.cn",
    *,
    original_subject: str = "已收到您的留言",
    **options,
) -> bytes:
    """A Postfix-style delivery status notification (multipart/report;
    report-type=delivery-status) for a mail we sent to ``recipient``."""
    original_message_id = original_message_id or message_id("minyi.test")
    human = text_part(
        "This is the mail system at host mail.minyi.test.\n\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients.\n\n"
        f"<{recipient}>: host mx.example.cn[192.0.2.30] said: 550 5.1.1\n"
        "    User unknown in virtual mailbox table\n",
        charset="us-ascii",
        transfer="7bit",
    )
    status = Part(
        [("Content-Type", "message/delivery-status")],
        (
            "Reporting-MTA: dns; mail.minyi.test\r\n"
            "Arrival-Date: Tue, 3 Mar 2026 09:15:00 +0800\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\n"
            "Action: failed\r\nStatus: 5.1.1\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        ).encode("ascii"),
    )
    original = Part(
        [("Content-Type", "text/rfc822-headers")],
        (
            f"From: noreply@minyi.test\r\nTo: {recipient}\r\n"
            f"Subject: {encoded_word(original_subject)}\r\n"
            f"Message-ID: {original_message_id}\r\nAuto-Submitted: auto-replied\r\n"
        ).encode("ascii"),
    )
    report = multipart("report", [human, status, original], "; report-type=delivery-status")
    options.setdefault("subject", "Undelivered Mail Returned to Sender")
    options.setdefault("sender", "MAILER-DAEMON@mail.minyi.test")
    options.setdefault("sender_name", "Mail Delivery System")
    headers = [("Auto-Submitted", "auto-replied")]
    return mail(report, headers=headers, **options).replace(
        b"Return-Path: <MAILER-DAEMON@mail.minyi.test>", b"Return-Path: <>", 1
    )


# -- files to attach ----------------------------------------------------------------------


def pdf_bytes(text: str = "report") -> bytes:
    """A small, valid one-page PDF."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def png_bytes(width: int = 4, height: int = 3, seed: int = 0) -> bytes:
    """A small, valid PNG (grey pixels varying with ``seed``, so contents differ)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(
        b"\x00" + bytes((seed + x + y) % 256 for x in range(width)) for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def citizen_mail(number: int) -> bytes:
    """A plain comment from a citizen, as it arrives in the office mailbox."""
    message = EmailMessage()
    message["From"] = f"市民{number} <citizen{number}@example.com>"
    message["To"] = "feedback@minyi.localhost"
    message["Subject"] = f"关于整改报告的意见（第{number}封）"
    message["Message-ID"] = make_msgid(domain="example.com")
    message["Date"] = "Thu, 26 Nov 2026 10:00:00 +0800"
    message.set_content(f"县委宣传部：第{number}封来信，建议把整改台账按月公开。")
    return message.as_bytes(policy=SMTP)
