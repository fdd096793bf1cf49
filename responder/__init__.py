"""The staff side: login, the case queue, the staff API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import nh3
from flask import Flask
from markupsafe import Markup

from shared.extensions import login_manager, mail
from shared.web import configure_app, json_http_errors


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    from responder.views import (
        account,
        api,
        audit,
        auth,
        calendar,
        cases,
        clusters,
        notices,
        offices,
        outbox,
        queue,
        replies,
        reply_templates,
        reports,
        rules,
        staff,
    )

    app = Flask(__name__)
    configure_app(app, config)  # settings, database, language, CSRF, health: first
    mail.init_app(app)  # used by the worker, which runs in this app's context
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.user_loader(auth.load_user)
    app.register_blueprint(auth.bp)
    app.register_blueprint(queue.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(replies.bp)
    app.register_blueprint(clusters.bp)
    app.register_blueprint(rules.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(outbox.bp)
    app.register_blueprint(notices.bp)
    app.register_blueprint(offices.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(reply_templates.bp)
    app.register_blueprint(calendar.bp)
    app.register_blueprint(audit.bp)
    app.add_template_filter(sanitised_html)
    json_http_errors(app)
    return app


def sanitised_html(html: str | None) -> Markup:
    """HTML of a citizen's mail, cleaned again as it is shown (it was cleaned when stored)."""
    return Markup(nh3.clean(html or "", tags=_MAIL_TAGS))  # noqa: S704 (nh3 made it safe)


#: nh3's safe tags without images: a remote image in a mail is a read receipt for its sender.
_MAIL_TAGS = nh3.ALLOWED_TAGS - {"img"}
