"""``minyi worker``: delivers the outbox (and, as they arrive, deadline reminders and the
scheduled monthly report). Any number of workers may run against one PostgreSQL database."""

from __future__ import annotations

import logging
import signal
import threading
from datetime import datetime

from flask import Flask

from shared.mail.delivery import DeliveryPolicy, OutboxDelivery, PassResult, transport_for
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
        """One pass over everything due."""
        with self.app.app_context():
            result = self.delivery.deliver_due(now)
        if result.sent or result.retried or result.failed:
            log.info(
                "outbox: %s sent, %s to retry, %s failed",
                result.sent,
                result.retried,
                result.failed,
            )
        return result

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
