"""Importing mail files, beside the standard library only parsing the same files.

    .venv/bin/python -m benchmarks.mail_import [--mails 1000] [--rounds 3]

The mails are a mix of what the county receives (ASCII, UTF-8, 8-bit GB2312-labelled GBK,
with and without attachments), built by tests/mailfactory.py into a folder of .eml files.
In the same run, interleaved over the rounds: ``import_paths`` into a fresh, migrated SQLite
database with the demo notice (each mail stored raw, parsed, numbered, routed, acknowledged
and committed on its own), and the standard library parsing each file and getting the text
of every part, which is the floor of what any importer must do. Best round of each.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import tempfile
import time
from pathlib import Path

from intake.inbound.files import import_paths
from shared import migrate
from shared.config import load_settings
from shared.db import Database
from shared.demo.seed import seed_demo
from tests import mailfactory as mf

TEXTS = [
    "建议县委宣传部在网站上公开巡察整改的进展，并说明每一项问题的完成时间。",
    "县融媒体中心的网站留言长期无人回复，希望尽快处理。我叫王镕，电话13800000000。",
    "新闻外宣股发布的稿件审签单没有签字，请说明整改情况。",
]


def write_mails(folder: Path, count: int) -> list[Path]:
    """``count`` different mails, a quarter of each kind."""
    pdf, png = mf.pdf_bytes(), mf.png_bytes()
    paths = []
    for number in range(count):
        text = f"{TEXTS[number % len(TEXTS)]}\n（第 {number} 封）"
        sender = f"citizen{number}@example.cn"
        kind = number % 4
        if kind == 0:
            raw = mf.ascii_mail(f"Mail number {number}: please publish the report.", sender=sender)
        elif kind == 1:
            raw = mf.plain_mail(text, sender=sender, transfer="8bit")
        elif kind == 2:
            raw = mf.gb2312_labelled_gbk_mail(text, transfer="8bit", sender=sender)
        else:
            files = [("举报材料.pdf", pdf), ("现场照片.png", png)][: 1 + number % 2]
            style = ("foxmail", "outlook")[number % 2]
            raw = mf.mail_with_attachments(text, files, style=style, sender=sender)
        path = folder / f"{number:05d}.eml"
        path.write_bytes(raw)
        paths.append(path)
    return paths


def run_import(folder: Path, work: Path, round_number: int) -> float:
    url = f"sqlite:///{work / f'import-{round_number}.db'}"
    migrate.upgrade(url)
    database = Database(url)
    try:
        with database.transaction() as session:
            seed_demo(session)
        settings = load_settings(
            {"DATABASE_URL": url, "SECRET_KEY": "bench", "VAR_DIR": str(work),
             "INTAKE_ADDRESS": mf.INTAKE_ADDRESS, "REPLY_DOMAIN": "minyi.test"}
        )  # fmt: skip
        started = time.perf_counter()
        report = import_paths(database, settings, [folder])
        elapsed = time.perf_counter() - started
    finally:
        database.dispose()
    assert report.ok and report.duplicates == 0, report.summary()
    return elapsed


def run_parse_only(paths: list[Path]) -> float:
    """Read each file, parse it with the modern policy, walk its parts and get the content of
    every text part (the decoded subject too)."""
    started = time.perf_counter()
    characters = 0
    for path in paths:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        characters += len(str(message["subject"]))
        for part in message.walk():
            if part.get_content_maintype() == "text":
                characters += len(part.get_content())
    elapsed = time.perf_counter() - started
    assert characters > 0
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        folder = work / "mail"
        folder.mkdir()
        paths = write_mails(folder, args.mails)
        parses, imports = [], []
        for round_number in range(args.rounds):
            parses.append(run_parse_only(paths))
            imports.append(run_import(folder, work, round_number))
    parse_only, imported = min(parses), min(imports)
    print(f"mails: {args.mails} (.eml files), database: sqlite, best of {args.rounds} rounds")
    print(f"stdlib parse only: {args.mails / parse_only:8.1f} mails/s ({parse_only:.2f} s)")
    print(f"import_paths:      {args.mails / imported:8.1f} mails/s ({imported:.2f} s)")
    print(f"ratio import / parse-only: {parse_only / imported:.2f} (aim: at least 0.25)")


if __name__ == "__main__":
    main()
