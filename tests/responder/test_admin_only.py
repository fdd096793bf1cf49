"""Only admins reach administration: every route under ``/admin`` (and ``/api/v1/admin``, if
any), with every method, walked as an anonymous visitor, as a triager, an officer and a
reviewer, and as an admin.

The routes come from the responder's URL map, so a page added later is walked as soon as it
exists. URL parameters are filled from the data of tests/responder/test_isolation.py (its
``PARAMETERS`` and ``_world``), which must know every parameter name in use anyway.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from responder import create_app
from shared.models import AuditEvent
from tests.factories import make_token
from tests.responder.test_isolation import PARAMETERS, Route, Visitor, _path, _world

#: Events a visit writes by itself (logging in), not by anything done to administration.
VISIT_EVENTS = ("staff.logged_in", "case.submitter_viewed")


@pytest.fixture(scope="module")
def staff_app(database, tmp_path_factory):
    """One responder app for the module (its templates compiled once)."""
    return create_app(
        {
            "DATABASE": database,
            "DATABASE_URL": "unused://",
            "SECRET_KEY": "test-secret-key",
            "VAR_DIR": str(tmp_path_factory.mktemp("var")),
            "TESTING": True,
            "RATELIMIT_ENABLED": False,
            "FORM_MIN_FILL_SECONDS": 0,
        }
    )


def _is_admin_rule(rule: str) -> bool:
    return rule == "/admin" or rule.startswith("/admin/") or rule.startswith("/api/v1/admin")


def _admin_routes() -> list[Route]:
    app = create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "routes", "TESTING": True})
    app.extensions["minyi.db"].dispose()
    routes = [
        Route(method, rule.rule, rule.endpoint, tuple(sorted(rule.arguments)))
        for rule in app.url_map.iter_rules()
        if _is_admin_rule(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]
    return sorted(routes, key=lambda route: (route.rule, route.method))


ADMIN_ROUTES = _admin_routes()


def _redirects_to_login(response) -> bool:
    return response.status_code == 302 and urlsplit(response.location).path == "/login"


def _changes(db) -> int:
    """How many events administration wrote: what a refused visitor must not add to."""
    with db.session() as session:
        return session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action.not_in(VISIT_EVENTS))
        )


def test_the_walk_covers_administration():
    """The URL map has admin pages, including the ones this engineer added, and every
    parameter they take can be filled in."""
    endpoints = {route.endpoint for route in ADMIN_ROUTES}
    assert {"rules.index", "reply_templates.edit", "calendar.year", "audit.index"} <= endpoints
    missing = {name for route in ADMIN_ROUTES for name in route.arguments} - set(PARAMETERS)
    assert not missing, f"add {missing} to PARAMETERS in tests/responder/test_isolation.py"


@pytest.mark.parametrize(
    "route", [pytest.param(route, id=f"{route.method} {route.rule}") for route in ADMIN_ROUTES]
)
def test_only_admins_reach_the_route(db, demo, staff_app, route):
    """Anonymous: the login page (401 in the API), never the page. Triager, officer, reviewer,
    by session or by token: 404, and nothing is changed. Admin: the page (GET 200), or the
    step taken or refused with a message, never "not found" or the login page."""
    world = _world(db)
    tokens = {
        "triager9": make_token(db, "triager9", "triager"),
        "reviewer9": make_token(db, "reviewer9", "reviewer", ["finance"]),
        "cyber1": world.tokens["cyber1"],
    }
    path = _path(route, world)
    where = f"{route.method} {path}"

    anonymous = Visitor(staff_app, "anonymous").request(route, path, world)
    if route.api:
        assert anonymous.status_code == 401, f"anonymous: {where} answered {anonymous.status_code}"
    else:
        assert _redirects_to_login(anonymous), (
            f"anonymous: {where} answered {anonymous.status_code} {anonymous.location or ''}, "
            "not a redirect to the login page"
        )

    before = _changes(db)
    for username, token in tokens.items():
        if route.api:
            visitor = Visitor(staff_app, f"{username} (token)", token=token)
        else:
            visitor = Visitor(staff_app, username, login=username)
        response = visitor.request(route, path, world)
        assert response.status_code == 404, (
            f"{visitor.name}: {where} answered {response.status_code}, not 404"
        )
    if not route.api:  # an admin's API token is no login for the pages
        bearer = Visitor(staff_app, "admin2 (token)", token=world.tokens["admin2"])
        response = bearer.request(route, path, world)
        assert _redirects_to_login(response), (
            f"admin2's token: {where} answered {response.status_code}"
        )
    assert _changes(db) == before, f"{where} changed something for a non-admin"

    if route.api:
        admin = Visitor(staff_app, "admin2 (token)", token=world.tokens["admin2"])
    else:
        admin = Visitor(staff_app, "admin2", login="admin2")
    response = admin.request(route, path, world)
    status = response.status_code
    assert not _redirects_to_login(response), f"admin2: {where} sent to the login page"
    if route.method == "GET":
        assert status == 200, f"admin2: {where} answered {status}"
    else:
        assert status < 500 and status not in (401, 404), f"admin2: {where} answered {status}"
