"""Importing mail from files: ``minyi import-mail PATH...``.

For a mailbox exported from another system, or mail kept on disk while the service was down.
Each PATH is a single mail (``.eml``, or any file that is not an mbox), an mbox file, a
Maildir folder (``cur/``, ``new/``, ``tmp/``), or a plain folder searched for all of these.
Every mail goes through :func:`shared.operations.mail_intake.receive_mail` in its own
transaction, as it would from the LMTP receiver, so importing the same files again stores
nothing twice, and one mail that fails never stops the others.
"""

from __future__ import annotations

import logging
import mailbox
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.db import Database, run_with_retry
from shared.operations.mail_intake import MailResult, receive_mail

log = logging.getLogger(__name__)

#: Files picked up when searching a folder; a file named on the command line is always read.
MAIL_SUFFIXES = (".eml", ".mbox")
_MAILDIR_PARTS = ("cur", "new", "tmp")
#: How an mbox file begins (RFC 4155): the separator line of its first message.
_MBOX_START = b"From "

#: Called with (mails done, mails in all) once before the first mail and after each one.
Progress = Callable[[int, int], None]


@dataclass
class ImportReport:
    """What became of the mails found under the paths."""

    #: New mails stored, by outcome (case, follow_up, auto_reply, bounce, quarantined).
    outcomes: Counter[str] = field(default_factory=Counter)
    #: Mails that were stored before (same bytes): nothing new was written for them.
    duplicates: int = 0
    #: (where, what went wrong) for each mail or path that could not be imported.
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(self.outcomes.values())

    @property
    def total(self) -> int:
        return self.stored + self.duplicates + len(self.errors)

    @property
    def ok(self) -> bool:
        """Every mail found is in the database now (duplicates included)."""
        return not self.errors

    def summary(self) -> str:
        """One line of counts; the errors are in :attr:`errors`."""
        counts = ", ".join(f"{outcome} {count}" for outcome, count in sorted(self.outcomes.items()))
        return (
            f"{self.total} mails: {self.stored} stored ({counts or 'none'}), "
            f"{self.duplicates} already stored, {len(self.errors)} errors"
        )


@dataclass(frozen=True)
class _Mail:
    """One mail found on disk, not read yet: ``read`` gives its bytes."""

    where: str
    read: Callable[[], bytes]


def import_paths(
    database: Database,
    settings: Mapping[str, Any],
    paths: Iterable[str | os.PathLike[str]],
    progress: Progress | None = None,
) -> ImportReport:
    """Import every mail under ``paths``; each mail is committed on its own."""
    report = ImportReport()
    with ExitStack() as open_mailboxes:
        mails: list[_Mail] = []
        for path in paths:
            try:
                mails.extend(_find(Path(path), open_mailboxes))
            except (OSError, mailbox.Error) as error:
                report.errors.append((str(path), _describe(error)))
        if progress is not None:
            progress(0, len(mails))
        for done, mail in enumerate(mails, start=1):
            _import_one(database, settings, mail, report)
            if progress is not None:
                progress(done, len(mails))
    return report


def _import_one(
    database: Database, settings: Mapping[str, Any], mail: _Mail, report: ImportReport
) -> None:
    try:
        raw = mail.read()
    except (OSError, KeyError, mailbox.Error) as error:  # KeyError: a Maildir file went away
        report.errors.append((mail.where, f"cannot read: {_describe(error)}"))
        return

    def receive(session) -> MailResult:
        return receive_mail(session, raw, settings=settings, source="file")

    try:
        # Another process (the LMTP receiver) may store the same mail at the same moment:
        # run_with_retry then answers from the winner's row.
        result = run_with_retry(database, receive)
    except Exception as error:
        # receive_mail raises only when the database fails (or on a bug); either way this
        # mail is not stored, the others may still be, and the report names this one.
        log.exception("importing %s failed", mail.where)
        report.errors.append((mail.where, _describe(error)))
        return
    if result.duplicate:
        report.duplicates += 1
    else:
        report.outcomes[result.outcome] += 1


def _describe(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return f"{type(error).__name__}: {error}".rstrip(": ")


def _find(path: Path, open_mailboxes: ExitStack) -> list[_Mail]:
    """The mails at ``path``, in a stable order (sorted names, mbox order)."""
    if path.is_dir():
        return list(_in_folder(path, open_mailboxes))
    if not path.exists():
        raise FileNotFoundError(2, "no such file or folder", str(path))
    # An .eml file is one mail, even when it begins with an mbox "From " line (saved from
    # an mbox by many tools): it is stored exactly as it is on disk.
    if path.suffix.lower() != ".eml" and (_is_mbox(path) or _is_empty(path)):
        return _in_mbox(path, open_mailboxes)  # an empty mbox holds no mail
    return [_Mail(str(path), path.read_bytes)]


def _in_folder(folder: Path, open_mailboxes: ExitStack) -> Iterator[_Mail]:
    maildir = _is_maildir(folder)
    if maildir:
        yield from _in_maildir(folder)
    for entry in sorted(folder.iterdir()):
        if maildir and entry.name in _MAILDIR_PARTS:
            continue
        try:
            if entry.is_dir():
                # A Maildir++ tree keeps its sub-folders (".Sent") inside the Maildir.
                found = list(_in_folder(entry, open_mailboxes))
            elif entry.suffix.lower() == ".mbox" and (_is_mbox(entry) or _is_empty(entry)):
                found = _in_mbox(entry, open_mailboxes)  # an empty mbox holds no mail
            elif entry.suffix.lower() in MAIL_SUFFIXES:
                # Also a broken symbolic link: reading it fails and is reported by name.
                found = [_Mail(str(entry), entry.read_bytes)]
            else:
                found = []
        except (OSError, mailbox.Error) as error:
            # One unreadable entry is reported; the rest of the folder is still imported.
            found = [_Mail(str(entry), _raiser(error))]
        yield from found


def _raiser(error: Exception) -> Callable[[], bytes]:
    def read() -> bytes:
        raise error

    return read


def _is_maildir(folder: Path) -> bool:
    return all((folder / part).is_dir() for part in _MAILDIR_PARTS)


def _in_maildir(folder: Path) -> list[_Mail]:
    # factory=None: messages as raw bytes, never parsed by the stdlib on the way.
    box = mailbox.Maildir(folder, factory=None, create=False)
    return [
        _Mail(f"{folder}:{key}", lambda key=key: box.get_bytes(key)) for key in sorted(box.keys())
    ]


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(_MBOX_START)) == _MBOX_START


def _is_empty(path: Path) -> bool:
    return path.stat().st_size == 0


def _in_mbox(path: Path, open_mailboxes: ExitStack) -> list[_Mail]:
    box = mailbox.mbox(path, factory=None, create=False)
    open_mailboxes.callback(box.close)
    return [
        _Mail(f"{path}#{number}", lambda key=key: box.get_bytes(key))
        for number, key in enumerate(box.keys(), start=1)
    ]
