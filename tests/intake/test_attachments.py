"""Files on the comment form: judged by their bytes, limited in size and number, never lost."""

from __future__ import annotations

import io
import re
import zipfile

from sqlalchemy import func, select

from shared.attachments import clean_filename, detect_type
from shared.models import Attachment, Case, StoredBlob
from tests.conftest import csrf_token

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"1 0 obj <<>> endobj\n" * 4
EXE = b"MZ\x90\x00" + b"\x00" * 64


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def _post(client, files, **fields):
    data = {"csrf_token": csrf_token(client, "/"), "form_token": fields.pop("form_token", "t")}
    data.update({"body": "附件见后", **fields})
    data["attachments"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post("/feedback", data=data, content_type="multipart/form-data")


def _stored(db):
    with db.session() as session:
        rows = session.execute(
            select(Attachment.filename, Attachment.content_type, Attachment.size).order_by(
                Attachment.id
            )
        ).all()
        return [tuple(row) for row in rows]


def test_type_is_judged_from_the_bytes():
    """The name does not decide: a PNG called .pdf is a PNG, a program called .jpg is refused."""
    assert detect_type(PNG, "scan.pdf") == "image/png"
    assert detect_type(PDF, "photo.jpg") == "application/pdf"
    assert detect_type(_docx(), "x.bin").endswith("wordprocessingml.document")
    assert detect_type(EXE, "photo.jpg") is None
    assert detect_type(b"PK\x03\x04not really a zip", "a.docx") is None
    assert detect_type(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 8, "报告.wps") is not None


def test_file_names_lose_paths_and_control_characters():
    """Only the last part of a name is kept, without characters a file system or header fears."""
    assert clean_filename("C:\\Users\\张三\\举报材料.pdf") == "举报材料.pdf"
    assert clean_filename("../../etc/passwd") == "passwd"
    assert clean_filename("a\r\nb.png") == "a__b.png"
    assert clean_filename("") == "attachment"


def test_files_arrive_with_the_comment(db, demo, intake_client):
    """An image and a document are attached to the comment with their real types."""
    response = _post(intake_client, [("现场照片.png", PNG), ("材料.docx", _docx())])
    assert response.status_code == 200
    stored = _stored(db)
    assert [name for name, _type, _size in stored] == ["现场照片.png", "材料.docx"]
    assert stored[0][1:] == ("image/png", len(PNG))


def test_refused_file_is_named_and_the_rest_kept(db, demo, intake_client):
    """A program disguised as a photo is refused by name; the good file and the text stay."""
    response = _post(intake_client, [("photo.jpg", EXE), ("材料.pdf", PDF)], body="我的意见全文")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "“photo.jpg”不是图片、PDF或办公文档" in html
    assert "已保留：材料.pdf" in html and "我的意见全文" in html
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Case)) == 0


def test_kept_file_is_sent_with_the_corrected_form(db, demo, intake_client):
    """After an error the kept file needs no second upload: it arrives with the comment."""
    first = _post(intake_client, [("材料.pdf", PDF)], body="  ", form_token="a")
    assert first.status_code == 422
    token = re.search(
        r'name="kept_attachment" value="([^"]+)"', first.get_data(as_text=True)
    ).group(1)
    data = {"csrf_token": csrf_token(intake_client, "/"), "form_token": "a", "body": "现在写好了",
            "kept_attachment": token}  # fmt: skip
    assert intake_client.post("/feedback", data=data).status_code == 200
    assert _stored(db) == [("材料.pdf", "application/pdf", len(PDF))]


def test_forged_kept_token_is_ignored(db, demo, intake_client):
    """A made-up token attaches nothing (and cannot fetch someone else's file)."""
    data = {"csrf_token": csrf_token(intake_client, "/"), "form_token": "f", "body": "意见",
            "kept_attachment": "eyJmb3JnZWQiOjF9.sig"}  # fmt: skip
    assert intake_client.post("/feedback", data=data).status_code == 200
    assert _stored(db) == []


def test_too_large_and_too_many_files_are_refused(db, demo, settings):
    """Over the size of one file or the number of files: a message, nothing stored."""
    from intake import create_app

    client = create_app(
        {**settings, "MAX_ATTACHMENT_BYTES": 50, "MAX_ATTACHMENTS": 2}
    ).test_client()
    response = _post(client, [("big.png", PNG)])
    assert response.status_code == 422
    assert "文件“big.png”超过50 B。" in response.get_data(as_text=True)
    client = create_app({**settings, "MAX_ATTACHMENTS": 2}).test_client()
    response = _post(client, [("a.png", PNG), ("b.png", PNG + b"1"), ("c.png", PNG + b"2")])
    assert response.status_code == 422
    assert "最多可上传2个文件" in response.get_data(as_text=True)
    assert _stored(db) == []


def test_same_file_twice_is_stored_once(db, demo, intake_client):
    """Content is stored by its hash: two comments with one photo keep one copy."""
    _post(intake_client, [("a.png", PNG)], form_token="1")
    _post(intake_client, [("b.png", PNG)], form_token="2", body="另一条")
    assert len(_stored(db)) == 2
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(StoredBlob)) == 1


def test_oversized_request_gets_a_friendly_page(db, demo, settings):
    """Beyond the request limit: a 413 page explaining the limits, in Chinese; JSON for the API."""
    from intake import create_app

    client = create_app({**settings, "MAX_MESSAGE_BYTES": 2000}).test_client()
    response = _post(client, [("big.pdf", PDF * 100)])
    assert response.status_code == 413
    assert "文件太大" in response.get_data(as_text=True)
    api = client.post(
        "/api/v1/feedback", data=b"{" + b" " * 5000 + b"}", content_type="application/json"
    )
    assert api.status_code == 413 and api.json["message"] == "请求内容过大。"


def test_staff_api_lists_attachments(db, demo, intake_client, responder_client):
    """Staff see each file's name, type and size on the case."""
    from tests.factories import make_token

    _post(intake_client, [("现场照片.png", PNG)], notice_item="XC21-01")
    token = make_token(db, "tri", "triager")
    with db.session() as session:
        number = session.scalar(select(Case.tracking_number))
    case = responder_client.get(
        f"/api/v1/cases/{number}", headers={"Authorization": f"Bearer {token}"}
    ).json
    assert case["messages"][0]["attachments"] == [
        {"filename": "现场照片.png", "content_type": "image/png", "size": len(PNG)}
    ]
