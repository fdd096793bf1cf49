"""``minyi worker``: writes the day's deadline reminders (催办), closes answered cases nobody
rated in time, and delivers the outbox (and, as it arrives, the scheduled monthly report).
Any number of workers may run against one PostgreSQL database."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime

from flask import Flask
from sqlalchemy.orm import Session

from shared.mail.delivery import DeliveryPolicy, OutboxDelivery, PassResult, transport_for
from shared.operations import tracking
from shared.operations.reminders import send_reminders
from shared.reports import schedule
from shared.web import current_db

log = logging.getLogger("minyi.worker")


class Worker:
    def __init__(self, app: Flask, *, policy: DeliveryPolicy | None = None) -> None:
        self.app = app
        self.stopping = threading.Event()
        with app.app_context():
            self.delivery = OutboxDelivery(
                current_db(), transport_for(app), app.config, policy=policy
            )

    def run_once(self, now: datetime | None = None) -> PassResult:
        """One pass over everything due: reminders are written first, so that they go out
        with the rest of the outbox in the same pass."""
        with self.app.app_context():
            self.write_reminders(now)
            self._step(
                "answered cases closed without a rating",
                lambda session: tracking.close_unrated(session, now=now),
            )
            self.write_monthly_report(now)
            result = self.delivery.deliver_due(now)
        if result.sent or result.retried or result.failed:
            log.info(
                "outbox: %s sent, %s to retry, %s failed",
                result.sent,
                result.retried,
                result.failed,
            )
        return result

    def write_reminders(self, now: datetime | None = None) -> int:
        """The day's reminder digests (催办)."""
        return self._step(
            "reminder digest mail(s) written",
            lambda session: send_reminders(session, self.app.config, now),
        )

    def write_monthly_report(self, now: datetime | None = None) -> int:
        """On the 1st from 08:00, last month's report: archived, and mailed once."""
        return self._step(
            "monthly report mail(s) written",
            lambda session: schedule.send_scheduled_report(session, self.app.config, now),
        )

    def _step(self, done: str, work: Callable[[Session], int]) -> int:
        """One kind of due work in a transaction of its own. A failure is logged and does not
        keep the rest, above all the outbox, from running; the next pass tries again."""
        try:
            with current_db().transaction() as session:
                count = work(session)
        except Exception:
            log.exception("worker step failed (%s); trying again next pass", done)
            return 0
        if count:
            log.info("%s: %s", done, count)
        return count

    def run_forever(self, poll_interval: float = 5.0) -> None:
        """Pass after pass until SIGTERM or SIGINT; the current pass is finished first."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: self.stopping.set())
        while not self.stopping.is_set():
            try:
                self.run_once()
            except Exception:  # the database may be down: log, wait, try again
                log.exception("worker pass failed")
            self.stopping.wait(poll_interval)
