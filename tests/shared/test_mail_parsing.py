"""Reading inbound mail: Chinese charsets, file names, HTML, quotes, machines."""

from __future__ import annotations

import base64
from email.mime.text import MIMEText

from shared.mail.inbound import parse, trim_quoted


def _mail(headers: str, body: bytes) -> bytes:
    return headers.replace("\n", "\r\n").encode("utf-8") + b"\r\n" + body  # raw 8-bit allowed


def test_gb2312_label_with_gbk_only_character():
    """A part labelled gb2312 holding 镕 (GBK only) is read as GB18030, not garbled."""
    raw = _mail(
        "From: a@example.cn\nSubject: x\nMIME-Version: 1.0\n"
        'Content-Type: text/plain; charset="gb2312"\nContent-Transfer-Encoding: base64\n',
        base64.encodebytes("朱镕基同志的讲话".encode("gbk")),
    )
    assert parse(raw).text == "朱镕基同志的讲话"


def test_raw_8bit_headers_in_utf8_gbk_and_big5():
    """Subjects sent as raw bytes: UTF-8, then GB18030; Big5 when the message says Big5."""
    for text, codec in (("关于网络舆情", "utf-8"), ("关于网络舆情", "gbk")):
        raw = b"From: a@example.cn\r\nSubject: " + text.encode(codec) + b"\r\n\r\nbody"
        assert parse(raw).subject == text
    raw = (
        b"From: a@example.cn\r\nSubject: " + "臺灣意見".encode("big5") + b"\r\n"
        b"Content-Type: text/plain; charset=big5\r\n\r\n" + "內容".encode("big5")
    )
    mail = parse(raw)
    assert (mail.subject, mail.text) == ("臺灣意見", "內容")


def test_encoded_words_in_subject_and_name():
    """RFC 2047 in GB2312 and UTF-8, a name with a comma inside its encoded word."""
    subject = "=?gb2312?B?" + base64.b64encode("意见建议".encode("gb2312")).decode() + "?="
    raw = _mail(f"From: =?UTF-8?B?Rm9vLCBCYXI=?= <Foo.Bar@Example.COM>\nSubject: {subject}\n", b"x")
    mail = parse(raw)
    assert mail.subject == "意见建议"
    assert (mail.from_name, mail.from_address) == ("Foo, Bar", "foo.bar@example.com")


def test_foxmail_and_outlook_attachment_names():
    """Encoded words inside filename="…" (Foxmail) and RFC 2231 continuations (Outlook)."""
    foxmail = "=?GB2312?B?" + base64.b64encode("举报材料.doc".encode("gb2312")).decode() + "?="
    raw = _mail(
        "From: a@example.cn\nSubject: x\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n',
        (
            "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n见附件\r\n"
            f'--b\r\nContent-Type: application/msword; name="{foxmail}"\r\n'
            f'Content-Disposition: attachment; filename="{foxmail}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\nAAAA\r\n"
            "--b\r\nContent-Type: application/pdf\r\n"
            "Content-Disposition: attachment;\r\n filename*0*=UTF-8''%E7%8E%B0%E5%9C%BA;\r\n"
            " filename*1*=%E7%85%A7%E7%89%87.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            "JVBERi0=\r\n--b--\r\n"
        ).encode(),
    )
    mail = parse(raw)
    assert [a.filename for a in mail.attachments] == ["举报材料.doc", "现场照片.pdf"]
    assert mail.text == "见附件"


def test_html_only_mail_becomes_text_and_safe_html():
    """HTML-only mail gives readable text; the kept HTML has no script."""
    part = MIMEText("<p>第一段</p><p>第二段<script>alert(1)</script></p>", "html", "utf-8")
    part["From"], part["Subject"] = "a@example.cn", "html"
    mail = parse(part.as_bytes())
    assert mail.text == "第一段\n\n第二段"
    assert "<script" not in mail.html and "第一段" in mail.html


def test_quoted_earlier_mail_is_trimmed():
    """Chinese and English clients' quotation markers cut the reply to what is new."""
    markers = (
        "-----原始邮件-----",
        "在 2026年11月27日 09:00，县委宣传部 写道：",
        "发件人: 县委宣传部",
    )
    for marker in (*markers, "On Fri, 27 Nov 2026 at 09:00, Office wrote:"):
        text = f"补充一下：台账在第三页。\n\n{marker}\n> 已收到您的留言\n"
        assert trim_quoted(text) == "补充一下：台账在第三页。"
    assert trim_quoted("只有引用\n> 已收到") == "只有引用"


def test_machines_are_recognised():
    """Auto-replies, out-of-office in Chinese, list mail and delivery reports are machines."""
    cases = {
        "Auto-Submitted: auto-replied\nSubject: Re: x\n": "auto_reply",
        "X-Autoreply: yes\nSubject: 自动回复：您好\n": "auto_reply",
        "Subject: 自动回复: 我正在休假\n": "auto_reply",
        "Precedence: bulk\nSubject: 周报\n": "auto_reply",
        "List-Id: <news.example.cn>\nSubject: 通讯\n": "auto_reply",
        "Auto-Submitted: no\nSubject: 正常来信\n": "normal",
    }
    for headers, kind in cases.items():
        assert parse(_mail("From: a@example.cn\n" + headers, b"x")).kind == kind, headers
