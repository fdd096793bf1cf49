"""Reading inbound mail, however it was written: one parser for LMTP, IMAP and files.

Chinese mail is often mislabelled: a part labelled gb2312 may hold GBK-only characters (镕), so
gb2312, gbk, x-gbk, euc-cn and cp936 are all decoded as GB18030, their superset. Headers sent
as raw 8-bit bytes are tried as UTF-8, then GB18030, then Big5. :func:`parse` never raises for
what a mail contains; what it could not read is listed in ``problems``.
"""

from __future__ import annotations

import codecs
import email
import email.header
import email.message
import email.utils
import re
import unicodedata
from dataclasses import dataclass, field
from email.header import decode_header
from html.parser import HTMLParser
from typing import ClassVar

import nh3

#: Labels whose real content is GB18030 (or a subset of it).
_GB_LABELS = {"gb2312", "gbk", "x-gbk", "euc-cn", "cp936", "gb_2312-80", "csgb2312", "x-euc-cn"}
_BIG5_LABELS = {"big5", "big5-hkscs", "x-big5", "cp950"}
#: Guesses for text that says nothing of its charset, most likely first.
_GUESSES = ("utf-8", "gb18030", "big5")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class ParsedAttachment:
    filename: str
    data: bytes


@dataclass
class ParsedMail:
    message_id: str | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    from_name: str | None = None
    from_address: str | None = None
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    #: The text of the mail (from text/plain, or converted from HTML).
    text: str = ""
    #: The HTML of the mail, sanitised, for staff; None for plain-text mail.
    html: str | None = None
    attachments: list[ParsedAttachment] = field(default_factory=list)
    #: normal | auto_reply | bounce, and why.
    kind: str = "normal"
    kind_reason: str = ""
    #: For a bounce: Message-IDs of the mail it reports on.
    bounced_message_ids: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# -- decoding -----------------------------------------------------------------------------


def codec_for(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip('"').lower()
    if label in _GB_LABELS:
        return "gb18030"
    if label in _BIG5_LABELS:
        return "big5hkscs"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def decode_bytes(data: bytes, label: str | None = None) -> str:
    """Bytes as text: the declared charset if it decodes cleanly, else the likely ones, else
    the declared (or UTF-8) one with replacement characters."""
    declared = codec_for(label)
    for codec in ([declared] if declared else []) + [c for c in _GUESSES if c != declared]:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            if codec == "utf-8" and declared in (None, "ascii", "utf-8"):
                # Valid UTF-8 but for a damaged character or two (a header cut mid-character)
                # is UTF-8: GB18030 would "succeed" on it and produce nonsense.
                text = data.decode("utf-8", errors="replace")
                if text.count("\ufffd") <= max(1, len(text) // 50):
                    return text
            continue
    return data.decode(declared or "utf-8", errors="replace")


def decode_header_value(value: str | email.header.Header | None, hint: str | None = None) -> str:
    """A header as text: RFC 2047 encoded words and raw 8-bit bytes both understood. Raw bytes
    are tried in ``hint`` (the charset the message declares for its text) first."""
    if value is None:
        return ""
    if not isinstance(value, email.header.Header):
        value = str(value)
        if any("\udc80" <= ch <= "\udcff" for ch in value):  # raw 8-bit bytes as surrogates
            value = decode_bytes(value.encode("ascii", "surrogateescape"), hint)
    # For a Header holding raw 8-bit bytes (compat32 makes one), decode_header gives back the
    # original bytes labelled unknown-8bit, which decode_bytes then reads by guessing.
    try:
        parts = decode_header(value)
    except (email.errors.HeaderParseError, ValueError, LookupError):
        return clean_text(str(value))
    text = ""
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            text += decode_bytes(chunk, hint if charset in (None, "unknown-8bit") else charset)
        else:
            text += chunk
    return " ".join(clean_text(text).split())


def clean_text(text: str) -> str:
    """No NUL or other control characters (PostgreSQL refuses NUL), NFC, LF line ends."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return unicodedata.normalize("NFC", _CONTROL.sub("", text))


def _message_ids(value) -> list[str]:
    return re.findall(r"<[^<>\s]+>", decode_header_value(value))


def _header(message: email.message.Message, name: str) -> str:
    """A header as text, whether it came as ASCII, encoded words or raw 8-bit bytes."""
    return decode_header_value(message.get(name))


def _is_raw_8bit(value) -> bool:
    if isinstance(value, email.header.Header):
        return any(charset == "unknown-8bit" for _chunk, charset in decode_header(value))
    return any("\udc80" <= ch <= "\udcff" for ch in str(value))


def _addresses(values, hint: str | None = None) -> list[tuple[str, str]]:
    """(name, address) pairs. Addresses are split before names are decoded: an encoded name
    may hold a comma ("=?UTF-8?B?Rm9vLCBCYXI=?=" is "Foo, Bar")."""
    found = []
    raw = [
        # Raw 8-bit bytes (compat32 wraps them in a Header): decode first, they hold no words.
        decode_header_value(value, hint) if _is_raw_8bit(value) else str(value)
        for value in values
    ]
    for name, address in email.utils.getaddresses(raw):
        if "@" in address:
            found.append((decode_header_value(name).strip(), address.strip().lower()))
    return found


# -- HTML ---------------------------------------------------------------------------------


class _TextFromHTML(HTMLParser):
    """Just enough HTML → text for mail: blocks become lines, scripts and styles vanish."""

    _BLOCKS: ClassVar[set[str]] = {
        *("p", "div", "br", "tr", "li", "blockquote", "table", "ul", "ol", "pre", "hr"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "section", "article"),
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head", "title"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head", "title"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    converter = _TextFromHTML()
    try:
        converter.feed(html)
        converter.close()
    except (AssertionError, ValueError):  # hopeless markup: what was read so far
        pass
    lines = (" ".join(line.split()) for line in "".join(converter.parts).split("\n"))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def sanitise_html(html: str) -> str:
    return nh3.clean(html)


# -- quoted text --------------------------------------------------------------------------

#: Where a reply's quotation of earlier mail starts, in the clients Chinese citizens use.
_QUOTE_MARKERS = re.compile(
    r"^(?:-{2,}\s*(?:原始邮件|Original Message|原邮件|转发邮件)\s*-{2,}"
    r"|在\s.{1,80}写道[:：]"
    r"|On\s.{1,120}wrote:"
    r"|(?:发件人|From)\s*[:：].+"
    r"|_{10,})\s*$",
    re.MULTILINE,
)


def trim_quoted(text: str) -> str:
    """The new part of a reply: earlier mail quoted below it, trailing '>' lines and the
    signature removed. Never returns nothing when there was something."""
    trimmed = text
    match = _QUOTE_MARKERS.search(trimmed)
    if match and match.start() > 0:
        trimmed = trimmed[: match.start()]
    lines = trimmed.rstrip().split("\n")
    while lines and lines[-1].lstrip().startswith(">"):
        lines.pop()
    trimmed = "\n".join(lines)
    if "\n-- \n" in trimmed + "\n":
        trimmed = (trimmed + "\n").split("\n-- \n")[0]
    trimmed = trimmed.strip()
    return trimmed or text.strip()


# -- machines -----------------------------------------------------------------------------

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:自动回复|自動回覆|自动答复|休假|不在办公室"
    r"|Auto(?:matic)?[\s_-]*(?:reply|response)|Out of (?:the )?office)",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"(?:Undeliver|Delivery Status Notification|Mail delivery failed|Returned mail|退信"
    r"|Delivery Failure|failure notice|系统退信)",
    re.IGNORECASE,
)


def _classify(message: email.message.Message, subject: str, sender: str | None) -> tuple[str, str]:
    content_type = message.get_content_type()
    report_type = (
        (message.get_param("report-type") or "").lower()
        if content_type == "multipart/report"
        else ""
    )
    if report_type in ("delivery-status", "feedback-report"):
        return "bounce", f"multipart/report; report-type={report_type}"
    if report_type == "disposition-notification":
        return "auto_reply", "read receipt"
    if any(part.get_content_type() == "message/delivery-status" for part in message.walk()):
        return "bounce", "delivery status report"
    auto = _header(message, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return "auto_reply", f"Auto-Submitted: {auto[:40]}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Reply"):
        if _header(message, name):
            return "auto_reply", name
    precedence = _header(message, "Precedence").strip().lower()
    if precedence in ("bulk", "list", "junk", "auto_reply"):
        return "auto_reply", f"Precedence: {precedence}"
    if message.get("List-Id") or message.get("List-Unsubscribe"):
        return "auto_reply", "mailing-list mail"
    local = (sender or "").split("@")[0].lower()
    if local in ("mailer-daemon", "postmaster") and _BOUNCE_SUBJECT.search(subject):
        return "bounce", f"from {local}"
    if _AUTO_SUBJECT.search(subject):
        return "auto_reply", "subject says it is an automatic reply"
    return "normal", ""


def _bounced_ids(message: email.message.Message) -> list[str]:
    """Message-IDs of the original mail inside a bounce or report."""
    found: list[str] = []
    for part in message.walk():
        if part.get_content_type() in (
            "message/rfc822",
            "text/rfc822-headers",
            "message/rfc822-headers",
        ):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, email.message.Message) and inner.get("Message-ID"):
                found += _message_ids(inner.get("Message-ID"))
            elif isinstance(payload, str):
                match = re.search(
                    r"^Message-ID:\s*(<[^>]+>)", payload, re.IGNORECASE | re.MULTILINE
                )
                if match:
                    found.append(match.group(1))
    return found


# -- the whole mail -----------------------------------------------------------------------


_RAW_NAME = re.compile(
    r'(?:file)?name\s*=\s*"([^"]*)"|(?:file)?name\s*=\s*([^;\s]+)', re.IGNORECASE
)


def _filename(part: email.message.Message, hint: str | None = None) -> str | None:
    """RFC 2231 (Outlook: filename*=UTF-8''…), RFC 2047 inside quotes (Foxmail), raw 8-bit
    bytes (old Chinese clients), or plain."""
    for name, value in part.raw_items():  # raw bytes survive only here, as surrogates
        if name.lower() in ("content-disposition", "content-type") and _is_raw_8bit(value):
            match = _RAW_NAME.search(value)
            if match:
                raw = (match.group(1) or match.group(2)).encode("ascii", "surrogateescape")
                return decode_bytes(raw, hint)
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        value = part.get_param(param, None, header)
        if value is None:
            continue
        if isinstance(value, tuple):  # RFC 2231: (charset, language, text-as-latin-1)
            charset, _language, text = value
            raw = text.encode("latin-1", "surrogateescape") if isinstance(text, str) else b""
            return decode_bytes(raw, charset or "utf-8")
        return decode_header_value(email.utils.unquote(value))
    return None


def _own_parts(message: email.message.Message):
    """The leaf parts and forwarded mails of a message, not the parts inside those mails."""
    stack = [message]
    while stack:
        part = stack.pop(0)
        if part.get_content_type() == "message/rfc822" and part is not message:
            yield part
        elif part.is_multipart():
            payload = part.get_payload()
            stack[0:0] = [p for p in payload if isinstance(p, email.message.Message)]
        else:
            yield part


def _as_bytes(message: email.message.Message) -> bytes:
    try:
        return message.as_bytes()
    except (UnicodeError, LookupError, ValueError, TypeError, AttributeError):
        return str(message).encode("utf-8", "surrogateescape")


def _part_bytes(part: email.message.Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except (ValueError, TypeError, LookupError, AssertionError):
        payload = None
    if payload is None:
        raw = part.get_payload()
        payload = raw.encode("ascii", "surrogateescape") if isinstance(raw, str) else b""
    return payload


def parse(raw: bytes) -> ParsedMail:
    """Everything Minyi needs from a mail. Never raises for the mail's content."""
    parsed = ParsedMail()
    message = email.message_from_bytes(raw)
    for defect in message.defects:
        parsed.problems.append(type(defect).__name__)

    hint = next((c for c in message.get_charsets() if c and codec_for(c)), None)
    parsed.subject = decode_header_value(message.get("Subject"), hint)[:500]
    senders = _addresses(message.get_all("From", []), hint)
    if senders:
        name, address = senders[0]
        parsed.from_name = name or None
        parsed.from_address = address
    parsed.message_id = next(iter(_message_ids(message.get("Message-ID") or "")), None)
    parsed.in_reply_to = _message_ids(message.get("In-Reply-To") or "")
    parsed.references = _message_ids(message.get("References") or "")
    for header in ("To", "Cc", "Delivered-To", "X-Original-To"):
        recipients = _addresses(message.get_all(header, []), hint)
        parsed.recipients += [address for _name, address in recipients]

    plain: list[str] = []
    html: list[str] = []
    for part in _own_parts(message):
        content_type = part.get_content_type()
        filename = _filename(part, hint)
        disposition = _header(part, "Content-Disposition").split(";")[0].strip().lower()
        if content_type == "message/rfc822":
            # A forwarded mail: kept whole as an attachment, not mixed into the sender's words.
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(inner, email.message.Message):
                subject = decode_header_value(inner.get("Subject"), hint) or "forwarded"
                parsed.attachments.append(ParsedAttachment(f"{subject[:80]}.eml", _as_bytes(inner)))
            continue
        if content_type.startswith("message/") or content_type == "text/rfc822-headers":
            continue  # delivery reports and the like: not the sender's own words
        if filename or disposition == "attachment" or not content_type.startswith("text/"):
            data = _part_bytes(part)
            if data:
                parsed.attachments.append(ParsedAttachment(filename or "attachment", data))
            continue
        text = decode_bytes(_part_bytes(part), part.get_content_charset())
        if content_type == "text/html":
            html.append(text)
        else:
            plain.append(text)

    if plain:
        parsed.text = clean_text("\n\n".join(t.strip() for t in plain)).strip()
    elif html:
        parsed.text = clean_text(html_to_text("\n".join(html)))
    if html:
        parsed.html = sanitise_html("\n".join(html))
    parsed.kind, parsed.kind_reason = _classify(message, parsed.subject, parsed.from_address)
    if parsed.kind == "bounce":
        parsed.bounced_message_ids = _bounced_ids(message) + parsed.in_reply_to
    return parsed
