"""Files citizens send: what they really are (from the bytes, never the name), and storing
them once by content hash.

Accepted: images (JPEG, PNG, GIF, WebP, HEIC from phones, TIFF from scanners), PDF, and office
documents (Word, Excel, PowerPoint, OpenDocument, and WPS Office's own formats).
"""

from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath

from sqlalchemy.orm import Session

from shared.models import Attachment, Message, StoredBlob

_IMAGES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"%PDF-", "application/pdf"),
)
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"}
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: Legacy binary office files share one container; the name says which application made it.
_OLE2_TYPES = {
    ".doc": "application/msword",
    ".wps": "application/vnd.ms-works",  # WPS 文字
    ".xls": "application/vnd.ms-excel",
    ".et": "application/vnd.ms-excel",  # WPS 表格
    ".ppt": "application/vnd.ms-powerpoint",
    ".dps": "application/vnd.ms-powerpoint",  # WPS 演示
}
_OOXML = {
    "word/": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_ODF = {
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
}


def detect_type(data: bytes, filename: str = "") -> str | None:
    """The content type of an accepted file, judged from its bytes; None if not accepted."""
    for magic, content_type in _IMAGES:
        if data.startswith(magic):
            return content_type
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "image/heic"
    if data.startswith(_OLE2):
        return _OLE2_TYPES.get(PurePosixPath(filename.lower()).suffix)
    if data.startswith(b"PK\x03\x04"):
        return _zip_office_type(data)
    return None


def _zip_office_type(data: bytes) -> str | None:
    """Office Open XML and OpenDocument are ZIP files; only their directory is read."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                declared = archive.read("mimetype")[:100].decode("ascii", "replace").strip()
                return declared if declared in _ODF else None
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError):
        return None
    if "[Content_Types].xml" in names:
        for prefix, content_type in _OOXML.items():
            if any(name.startswith(prefix) for name in names):
                return content_type
    return None


_UNSAFE = re.compile(r"[\x00-\x1f\x7f\"*:<>?\\|/]")


def clean_filename(filename: str, fallback: str = "attachment") -> str:
    """The last part of the name a browser sent, without control or path characters."""
    name = PureWindowsPath(PurePosixPath(filename or "").name).name  # "C:\\x\\y.pdf" → y.pdf
    name = _UNSAFE.sub("_", unicodedata.normalize("NFC", name)).strip(" .")
    if len(name.encode()) > 200:
        stem, dot, suffix = name.rpartition(".")
        if not dot or len(suffix) > 10:
            stem, suffix = name, ""
        name = stem.encode()[:180].decode("utf-8", "ignore") + (f".{suffix}" if suffix else "")
    return name or fallback


@dataclass(frozen=True)
class Upload:
    """A checked file on its way into a case."""

    filename: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def store_blob(session: Session, data: bytes) -> str:
    """Store content once (by SHA-256); the same file sent twice is kept once."""
    digest = hashlib.sha256(data).hexdigest()
    if session.get(StoredBlob, digest) is None:
        session.add(StoredBlob(sha256=digest, size=len(data), data=data))
        session.flush()
    return digest


def attach_uploads(session: Session, message: Message, uploads: list[Upload]) -> None:
    """Attach checked files to a thread message, each file's content stored once."""
    for upload in uploads:
        session.add(
            Attachment(
                message=message,
                filename=upload.filename,
                content_type=upload.content_type,
                size=len(upload.data),
                blob_sha256=store_blob(session, upload.data),
            )
        )
