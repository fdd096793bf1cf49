"""Files on a form (the comment form, a scanned letter): checked one by one, kept across an error.

A browser cannot fill a file input again, so when the form comes back with an error, the
files that were fine are stored (by content hash) and listed as kept, each with a signed token
in a hidden field; the citizen does not have to choose them again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, request
from flask_babel import gettext
from itsdangerous import BadSignature, URLSafeTimedSerializer

from shared.attachments import Upload, clean_filename, detect_type, store_blob
from shared.models import StoredBlob
from shared.web import current_db

KEPT_MAX_AGE = 24 * 3600


@dataclass
class FormFiles:
    uploads: list[Upload] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def kept(self) -> list[dict]:
        """Store the accepted files and describe them for the form shown again."""
        with current_db().transaction() as session:
            for upload in self.uploads:
                store_blob(session, upload.data)
        serializer = _serializer()
        return [
            {
                "filename": upload.filename,
                "size": len(upload.data),
                "token": serializer.dumps([upload.sha256, upload.filename, upload.content_type]),
            }
            for upload in self.uploads
        ]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="kept-attachment")


def form_files() -> FormFiles:
    """The files of this request: those kept from an earlier try, then the newly chosen ones."""
    config = current_app.config
    limit, count = int(config["MAX_ATTACHMENT_BYTES"]), int(config["MAX_ATTACHMENTS"])
    result = FormFiles()
    result.uploads.extend(_kept_uploads(request.form.getlist("kept_attachment")))
    for storage in request.files.getlist("attachments"):
        if not storage.filename:
            continue  # the empty part a browser sends when no file was chosen
        name = clean_filename(storage.filename)
        data = storage.stream.read(limit + 1)
        if len(data) > limit:
            result.errors.append(
                gettext("“%(name)s” is larger than %(size)s.", name=name, size=human_size(limit))
            )
            continue
        content_type = detect_type(data, name)
        if content_type is None:
            result.errors.append(
                gettext("“%(name)s” is not an image, a PDF or an office document.", name=name)
            )
            continue
        result.uploads.append(Upload(name, content_type, data))
    if len(result.uploads) > count:
        result.errors.append(gettext("Attach at most %(count)s files.", count=count))
        result.uploads = result.uploads[:count]
    return result


def human_size(size: int) -> str:
    if size >= 2**20:
        return f"{size / 2**20:.0f} MB"
    return f"{size / 1024:.0f} KB" if size >= 1024 else f"{size} B"


def _kept_uploads(tokens: list[str]) -> list[Upload]:
    serializer, uploads = _serializer(), []
    with current_db().session() as session:
        for token in tokens:
            try:
                sha256, filename, content_type = serializer.loads(token, max_age=KEPT_MAX_AGE)
            except (BadSignature, ValueError, TypeError):
                continue  # forged or expired: as if it had not been sent
            blob = session.get(StoredBlob, sha256)
            if blob is not None:
                uploads.append(Upload(filename, content_type, blob.data))
    return uploads
