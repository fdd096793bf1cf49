"""The ``minyi`` command: database, demo data, staff accounts, and running the services."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click
from sqlalchemy import make_url

from shared.config import ConfigError, load_settings
from shared.db import Database
from shared.models import Role


class Context:
    """Settings and the database, made on first use so ``--help`` needs neither."""

    def __init__(self) -> None:
        self._settings: dict | None = None
        self._database: Database | None = None

    @property
    def settings(self) -> dict:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except ConfigError as error:
                raise click.ClickException(str(error)) from None
        return self._settings

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = Database(self.settings["DATABASE_URL"])
        return self._database


pass_context = click.make_pass_decorator(Context, ensure=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Minyi (民意): public feedback for government notices."""


@main.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(context: Context) -> None:
    """Migrate the database named by DATABASE_URL to the newest schema."""
    from shared import migrate

    url = context.settings["DATABASE_URL"]
    migrate.upgrade(url)
    click.echo(f"database is up to date: {make_url(url).render_as_string(hide_password=True)}")


@main.group()
def seed() -> None:
    """Example data."""


@seed.command("demo")
@pass_context
def seed_demo(context: Context) -> None:
    """Load the demo notice, offices, routing rules and admin account (idempotent)."""
    from shared.demo.seed import seed_demo as load_demo

    with context.database.transaction() as session:
        password = load_demo(session)
    click.echo("demo data loaded")
    if password:
        click.echo(f"admin account created: username admin, password {password}")
        click.echo("(shown this once; change it after logging in)")


@main.group()
def calendar() -> None:
    """The working-day calendar: public holidays and make-up working days (调休)."""


@calendar.command("import")
@click.argument("year", type=click.IntRange(min=1900, max=9999))
@pass_context
def calendar_import(context: Context, year: int) -> None:
    """Store YEAR's official holidays and make-up working days from the chinese-calendar
    package, replacing what the calendar holds for YEAR (including days entered by hand).

    Deadlines counted in working days skip the holidays and count the make-up days. Import
    each new year once the State Council has published its holidays (late in the year
    before) and the package has been updated; until then, enter them by hand.
    """
    from shared.operations.calendar import days_of, import_official_calendar
    from shared.operations.errors import StepRefused

    try:
        with context.database.transaction() as session:
            stored = import_official_calendar(session, year)
            lines = [
                f"{day.day:%Y-%m-%d %a}  "
                f"{'make-up working day' if day.is_workday else 'holiday':<19}  {day.name}"
                for day in days_of(session, year)
            ]
    except StepRefused as error:
        raise click.ClickException(str(error)) from None
    click.echo("\n".join(lines))
    click.echo(f"stored {stored} days for {year}")


@main.group()
def user() -> None:
    """Staff accounts."""


@user.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(Role.ALL), required=True)
@click.option("--office", "offices", multiple=True, metavar="CODE", help="Office code; repeatable.")
@click.option("--name", "display_name", default="", help="Name shown to colleagues.")
@click.option("--email", default=None)
@pass_context
def user_add(context: Context, username, role, offices, display_name, email) -> None:
    """Create a staff account; the password is read from standard input."""
    from shared.operations.errors import StepRefused
    from shared.operations.staff import create_staff

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        with context.database.transaction() as session:
            create_staff(
                session, username, role, password, offices, display_name=display_name, email=email
            )
    except StepRefused as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"user {username} created ({role})")


@user.command("token")
@click.argument("username")
@click.option("--name", default="cli", help="What the token is for.")
@pass_context
def user_token(context: Context, username: str, name: str) -> None:
    """Print a new API token for USERNAME (shown once)."""
    from sqlalchemy import select

    from shared.models import StaffUser
    from shared.operations.accounts import issue_token

    with context.database.transaction() as session:
        staff = session.scalar(select(StaffUser).where(StaffUser.username == username))
        if staff is None or not staff.active:
            raise click.ClickException(f"no active user {username!r}")
        token = issue_token(session, staff, name)
    click.echo(token)


@main.group()
def report() -> None:
    """Reports."""


#: Formats whose file goes to standard output when no --output is given.
_TEXT_FORMATS = ("json", "csv", "html")


@report.command("monthly")
@click.option("--month", required=True, metavar="YYYY-MM", help="An Asia/Shanghai month.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("json", "csv", "xlsx", "html", "pdf")),
    default="json",
    show_default=True,
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write the file here ('-' for standard output).  [default: standard output for "
    "json, csv and html; ./<report file name> for xlsx and pdf]",
)
@click.option(
    "--send",
    is_flag=True,
    help="Also mail the report, with its XLSX and PDF attached, to REPORT_RECIPIENTS "
    "(or else the active admins) through the outbox.",
)
@click.option(
    "--office",
    "offices",
    multiple=True,
    metavar="CODE",
    help="Only this office's cases; repeatable.  [default: the whole department]",
)
@pass_context
def report_monthly(
    context: Context,
    month: str,
    fmt: str,
    output: str | None,
    send: bool,
    offices: tuple[str, ...],
) -> None:
    """The monthly report of MONTH. A completed month's report is archived the first time it
    is made and the same file is given ever after; the current month is counted so far."""
    from contextlib import ExitStack
    from pathlib import Path

    from shared.operations.errors import StepRefused
    from shared.reports import archive, figures, schedule
    from shared.reports.months import requested_month
    from shared.reports.scope import scope_by_codes

    try:
        wanted = requested_month(month)
    except StepRefused as error:
        raise click.BadParameter(str(error), param_hint="'--month'") from None
    settings = context.settings
    with ExitStack() as stack:
        stack.callback(context.database.dispose)  # no connection is left for the collector
        progress = None
        if sys.stderr.isatty():
            bar = stack.enter_context(
                click.progressbar(
                    length=len(figures.STEPS) + 1,
                    label=f"report {month}",
                    file=sys.stderr,
                    item_show_func=lambda step: step,
                )
            )

            def progress(step: str) -> None:
                bar.update(1 if bar.pos < bar.length - 1 else 0, step)

        with context.database.transaction() as session:
            try:
                scope = scope_by_codes(session, offices)
            except StepRefused as error:
                raise click.BadParameter(str(error), param_hint="'--office'") from None
            try:
                file = archive.report_file(session, wanted, fmt, scope, progress=progress)
            except archive.ReportUnavailable as error:
                raise click.ClickException(f"the report cannot be made: {error}") from None
            recipients: tuple[str, ...] = ()
            if send:
                try:
                    recipients = schedule.report_recipients(session, settings)
                except StepRefused as error:
                    raise click.ClickException(str(error)) from None
                if not recipients:
                    raise click.ClickException(
                        "nobody to send the report to: set REPORT_RECIPIENTS or give an "
                        "active admin an email address"
                    )
                try:
                    schedule.mail_report(
                        session, settings, wanted, scope, recipients=recipients, progress=progress
                    )
                except archive.ReportUnavailable as error:
                    raise click.ClickException(f"the report cannot be mailed: {error}") from None
        if progress is not None:
            bar.update(bar.length - bar.pos, "done")
    if output is None and fmt not in _TEXT_FORMATS:
        output = file.filename
    if output is None or output == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(file.data)
        sys.stdout.buffer.flush()
    else:
        Path(output).write_bytes(file.data)
        click.echo(f"report written to {Path(output).absolute()}", err=True)
    if send:
        click.echo(
            f"report mailed to {', '.join(recipients)} (through the outbox: the worker sends it)",
            err=True,
        )


def _log_to_stderr(settings: dict) -> None:
    """Long-running commands log to standard error (systemd's journal): JSON lines outside
    development, as the web services do (MINYI_LOG_FORMAT)."""
    from shared.observability import init_process_logging

    init_process_logging(settings)


@main.command("worker")
@click.option("--once", is_flag=True, help="One pass over everything due, then exit.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between passes.")
@pass_context
def worker(context: Context, once: bool, interval: float) -> None:
    """Deliver the outbox (and run what else is due), until stopped."""
    from responder import create_app
    from responder.worker import Worker

    _log_to_stderr(context.settings)
    runner = Worker(create_app())
    if once:
        result = runner.run_once()
        click.echo(f"sent {result.sent}, to retry {result.retried}, failed {result.failed}")
    else:
        runner.run_forever(interval)


@main.command("fetch-mail")
@click.option("--once", is_flag=True, help="One pass over the mailbox, then exit.")
@click.option("--interval", default=60.0, show_default=True, help="Seconds between passes.")
@pass_context
def fetch_mail(context: Context, once: bool, interval: float) -> None:
    """Fetch new mail from the IMAP mailbox (IMAP_HOST, IMAP_USER, IMAP_FOLDER ...), until
    stopped. Mail is flagged \\Seen once stored, never deleted. Only one poller runs at a time.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from intake.inbound.imap import (
        MailboxUnavailable,
        check_settings,
        describe_database_error,
        fetch_once,
        run_forever,
    )

    settings = context.settings
    _log_to_stderr(settings)
    try:
        check_settings(settings)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    if not once:
        run_forever(context.database, settings, interval=interval)
        return
    try:
        result = fetch_once(context.database, settings)
    except MailboxUnavailable as error:
        raise click.ClickException(f"cannot fetch mail: {error}") from None
    except SQLAlchemyError as error:  # what was not committed stays unseen on the server
        raise click.ClickException(f"database error: {describe_database_error(error)}") from None
    if result.locked_out:
        click.echo("another poller is running; nothing done")
    else:
        click.echo(
            f"fetched {result.fetched}: {result.stored} new, {result.duplicates} already stored"
            + (f"; {result.flagged_late} flagged seen late" if result.flagged_late else "")
        )


@main.command("import-mail")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=str))
@pass_context
def import_mail(context: Context, paths: tuple[str, ...]) -> None:
    """Import mail from .eml files, Maildir folders, mbox files, or folders holding them.

    Each mail is stored on its own; the same mail imported again is not stored twice.
    Exits 1 if any mail could not be stored, after importing all the others.
    """
    from contextlib import ExitStack

    from intake.inbound.files import import_paths

    with ExitStack() as stack:
        bar = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:  # the length is known once the paths have been searched
                bar = stack.enter_context(
                    click.progressbar(length=total, label="importing mail", file=sys.stderr)
                )
            bar.update(done - bar.pos)

        report = import_paths(context.database, context.settings, paths, progress=progress)
    for where, what in report.errors:
        click.echo(f"not imported: {where}: {what}", err=True)
    click.echo(report.summary())
    sys.exit(0 if report.ok else 1)


@main.command("purge")
@click.option(
    "--older-than",
    "older_than",
    type=click.IntRange(min=1),
    required=True,
    metavar="DAYS",
    help="Purge what is older than this many days.",
)
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@pass_context
def purge(context: Context, older_than: int, dry_run: bool) -> None:
    """Delete raw mail of finished cases (and mail that became no case) and unreferenced
    stored files, older than DAYS, listing each. Case records and their attachments are kept."""
    from shared.operations.retention import purge as purge_old

    with context.database.transaction() as session:
        result = purge_old(session, older_than, dry_run=dry_run)
    prefix = "would delete " if dry_run else "deleted "
    for line in result.lines():
        click.echo(prefix + line)
    click.echo(result.summary())


@main.command("lmtp")
@click.option("--host", default=None, help="Address to listen on.  [default: LMTP_HOST]")
@click.option("--port", type=int, default=None, help="Port to listen on.  [default: LMTP_PORT]")
@pass_context
def lmtp(context: Context, host: str | None, port: int | None) -> None:
    """Receive mail from the mail server over LMTP, until stopped."""
    from intake.inbound.lmtp import ListenError, serve

    settings = context.settings
    _log_to_stderr(settings)
    host = settings["LMTP_HOST"] if host is None else host
    port = settings["LMTP_PORT"] if port is None else port
    try:
        serve(settings, host, port)
    except ListenError as error:
        raise click.ClickException(str(error)) from None


#: What ``minyi run`` starts: name, then the command line after ``python -m``.
def _services(host: str, ports: dict[str, int]) -> list[tuple[str, list[str]]]:
    def web(app: str, port: int) -> list[str]:
        return [
            "gunicorn",
            "--bind",
            f"{host}:{port}",
            "--workers",
            "2",
            "--access-logfile",
            "-",
            "--access-logformat",
            '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms',
            f"{app}:create_app()",
        ]

    return [
        ("intake", web("intake", ports["intake"])),
        ("responder", web("responder", ports["responder"])),
        ("worker", ["shared.cli", "worker"]),
        ("lmtp", ["shared.cli", "lmtp"]),
    ]


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--intake-port", default=8000, show_default=True)
@click.option("--responder-port", default=8001, show_default=True)
@pass_context
def run(context: Context, host: str, intake_port: int, responder_port: int) -> None:
    """Run every service in the foreground until interrupted."""
    settings = context.settings
    children: dict[str, subprocess.Popen] = {}
    ports = {"intake": intake_port, "responder": responder_port}
    for name, argv in _services(host, ports):
        children[name] = subprocess.Popen([sys.executable, "-m", *argv])  # noqa: S603
        click.echo(f"started {name} (pid {children[name].pid})")
    click.echo(f"intake:    http://{host}:{intake_port}/")
    click.echo(f"responder: http://{host}:{responder_port}/")
    if not settings.get("MAIL_SERVER"):
        click.echo(f"outgoing mail is written to {settings['MAIL_DIR']} (MAIL_SERVER is not set)")

    stopping = False

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    exit_code = 0
    try:
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    click.echo(
                        f"{name} exited with {child.returncode}; stopping the others", err=True
                    )
                    exit_code, stopping = child.returncode or 1, True
                    break
            time.sleep(0.5)
    finally:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children.values():
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    sys.exit(exit_code)


if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
