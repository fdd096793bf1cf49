"""The staff side: login, the case queue, the staff API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from shared.extensions import login_manager, mail
from shared.web import configure_app, json_http_errors


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    from responder.views import account, admin, api, auth, cases, clusters, queue, rules

    app = Flask(__name__)
    configure_app(app, config)  # settings, database, language, CSRF, health: first
    mail.init_app(app)  # used by the worker, which runs in this app's context
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.user_loader(auth.load_user)
    app.register_blueprint(auth.bp)
    app.register_blueprint(queue.bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(clusters.bp)
    app.register_blueprint(rules.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    json_http_errors(app)
    return app
