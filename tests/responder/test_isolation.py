"""Every staff page and API endpoint, walked as an anonymous visitor and as an officer of
another office: nothing of a confidential finance case leaks, and nothing is done to it.

The routes are read from the application's URL map, so a new route is walked as soon as it
exists; a route whose address takes a parameter this file cannot fill fails, asking for it.
Each route is also tried, at the same address, by someone who may use it (an admin, or the
owner of the token), so that a 404 cannot come from an address that was wrong to begin with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import unquote_plus, urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from responder import create_app
from shared.attachments import store_blob
from shared.models import (
    ApiToken,
    Attachment,
    Case,
    CaseCluster,
    Message,
    Notice,
    NoticeItem,
    Office,
    OutboxEmail,
    Reply,
    ReplyTemplate,
    ReportArchive,
    Review,
    RoutingRule,
    StaffUser,
)
from shared.operations import cases as case_steps
from shared.operations import replies
from tests.conftest import csrf_token
from tests.factories import SETTINGS, log_in, make_case, make_staff, make_token, queue_outbox
from tests.shared.test_duplicates import CAMPAIGN, LETTERS

PASSWORD = "correct horse 1"


@pytest.fixture(scope="module")
def staff_app(database, tmp_path_factory):
    """The responder app of tests/conftest.py's ``responder_app``, made once for the module:
    its templates are compiled once rather than once per route. (The ``db`` fixture still
    empties the tables after each test.)"""
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


# -- the routes --------------------------------------------------------------------------------

#: Not walked: files, health and metrics (no case data, no login), and the login itself.
SKIPPED_ENDPOINTS = {"static", "health.healthz", "health.readyz", "prometheus_metrics"}
SKIPPED_ENDPOINTS |= {"auth.login", "auth.logout"}
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


@dataclass(frozen=True)
class Route:
    method: str
    rule: str
    endpoint: str
    arguments: tuple[str, ...]

    @property
    def api(self) -> bool:
        return self.rule.startswith("/api/")

    @property
    def admin(self) -> bool:
        return self.rule.startswith("/admin/") or self.rule == "/admin"

    @property
    def about_something(self) -> bool:
        """Its address names an object (the secret case's, an admin's or another user's):
        for the officer of another office it must not exist."""
        return bool(self.arguments) or self.admin


def _routes() -> list[Route]:
    app = create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "routes", "TESTING": True})
    app.extensions["minyi.db"].dispose()
    routes = [
        Route(method, rule.rule, rule.endpoint, tuple(sorted(rule.arguments)))
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in SKIPPED_ENDPOINTS
        for method in sorted((rule.methods or set()) - SKIPPED_METHODS)
    ]
    return sorted(routes, key=lambda route: (route.rule, route.method))


ROUTES = _routes()

#: Lists in which the secret case shows for those who may see it (the positive control).
CASE_LISTS = {
    "queue.index",
    "queue.export",
    "staff_api.list_cases",
    "clusters.index",
    "replies.to_review",
}
#: Lists in which the officer sees their own office's case (so theirs is no empty list).
OWN_CASE_LISTS = {"queue.index", "queue.export", "staff_api.list_cases"}

# -- the data ----------------------------------------------------------------------------------

SECRET_BODY = "财务室小金库秘密XYZZY，账外资金长期由个人保管，请组织核查。"
SECRET_SUBJECT = "小金库专项XYZZY举报"
SECRET_NAME = "秦守密"
SECRET_PHONE = "13912345678"
SECRET_EMAIL = "qin.xyzzy@example.cn"
SECRET_ADDRESS = "通渭县密巷九号"
SECRET_FILE = "小金库账本XYZZY.txt"
SECRET_NOTE = "内部批注PLUGH，核查组名单勿外传"
SECRET_REPLY = "答复草稿SNARF：经核查，小金库问题属实。"
REPEAT_BODY = "另一封财务来信FROTZ，反映差旅报销不透明的问题。"
OWN_BODY = "网络谣言需要澄清OWNCASE，请网信办处理。"


@dataclass
class World:
    secret: str  # tracking numbers
    repeat: str
    own: str
    secret_id: int
    repeat_id: int
    attachment_id: int
    cluster_id: int
    rule_id: int
    outbox_id: int
    reply_id: int  # the finance officer's reply, waiting for review
    token_id: int  # the finance officer's API token
    notice_id: int
    item_id: int
    office_id: int  # finance
    staff_id: int  # the finance officer
    template_id: int
    archive_id: int  # the finance office's archived monthly report
    tokens: dict[str, str] = field(default_factory=dict)  # username -> API token

    def markers(self) -> dict[str, str]:
        """What must never reach anyone who may not see the case, by what it is."""
        return {
            "tracking number": self.secret,
            "repeat's tracking number": self.repeat,
            "distinctive text": "XYZZY",
            "text": "小金库",
            "subject": SECRET_SUBJECT,
            "attachment's filename": SECRET_FILE,
            "repeat's text": "FROTZ",
            "submitter's name": SECRET_NAME,
            "submitter's phone": SECRET_PHONE,
            "submitter's email": SECRET_EMAIL,
            "submitter's address": SECRET_ADDRESS,
            "note": "PLUGH",
            "reply": "SNARF",
        }


#: URL parameters by name. A route with a parameter missing here fails: add it (and the
#: object it names to ``_world``), so that no route slips by unwalked.
PARAMETERS = {
    "tracking_number": lambda world: world.secret,
    "attachment_id": lambda world: world.attachment_id,
    "cluster_id": lambda world: world.cluster_id,
    "rule_id": lambda world: world.rule_id,
    "outbox_id": lambda world: world.outbox_id,
    "reply_id": lambda world: world.reply_id,
    "token_id": lambda world: world.token_id,
    "notice_id": lambda world: world.notice_id,
    "item_id": lambda world: world.item_id,
    "office_id": lambda world: world.office_id,
    "staff_id": lambda world: world.staff_id,
    "template_id": lambda world: world.template_id,
    "archive_id": lambda world: world.archive_id,
    "year": lambda world: 2027,
    "month": lambda world: "2026-10",
    "format": lambda world: "json",
    "token": lambda world: "0123456789abcdef0123456789abcdef",
}

#: Who may use a route with this parameter (the positive control); otherwise the admin.
OWNER_OF = {"token_id": "fin1"}


def _world(db) -> World:
    """The secret case in finance with an attachment, a note, a reply in review and a repeat
    in its cluster; a case of the officer's own office; a routing rule, a mail in the outbox,
    and the staff."""
    tokens = {
        "cyber1": make_token(db, "cyber1", "officer", ["cyber"]),
        "fin1": make_token(db, "fin1", "officer", ["finance"]),
        "admin2": make_token(db, "admin2", "admin"),
    }
    make_staff(db, "triage1", "triager")
    secret = make_case(
        db,
        body=SECRET_BODY,
        subject=SECRET_SUBJECT,
        name=SECRET_NAME,
        phone=SECRET_PHONE,
        email=SECRET_EMAIL,
        address=SECRET_ADDRESS,
        confidential=True,
    ).case
    repeat = make_case(db, body=REPEAT_BODY).case
    own = make_case(db, body=OWN_BODY, notice_item="XC21-04").case
    queue_outbox(db, 1)
    with db.transaction() as session:
        admin = session.scalar(select(StaffUser).where(StaffUser.username == "admin2"))
        author = session.scalar(select(StaffUser).where(StaffUser.username == "fin1"))
        secret_row = session.get_one(Case, secret.id)
        repeat_row = session.get_one(Case, repeat.id)
        case_steps.mark_duplicate(session, admin, repeat_row, secret.tracking_number)
        case_steps.add_note(session, admin, secret_row, SECRET_NOTE)
        first = session.scalar(
            select(Message).where(Message.case_id == secret.id).order_by(Message.id)
        )
        attachment = Attachment(
            message_id=first.id,
            filename=SECRET_FILE,
            content_type="text/plain",
            size=12,
            blob_sha256=store_blob(session, b"XYZZY ledger"),
        )
        session.add(attachment)
        reply = replies.draft(session, author, secret_row, SECRET_REPLY)
        replies.submit(session, author, reply, SETTINGS)
        session.flush()
        offices = dict(
            session.execute(
                select(Case.id, Office.code)
                .join(Office, Case.office_id == Office.id)
                .where(Case.id.in_([secret.id, repeat.id, own.id]))
            ).all()
        )
        assert offices == {secret.id: "finance", repeat.id: "finance", own.id: "cyber"}
        assert secret_row.confidential and repeat_row.duplicate_of_id == secret.id
        world = World(
            secret=secret.tracking_number,
            repeat=repeat.tracking_number,
            own=own.tracking_number,
            secret_id=secret.id,
            repeat_id=repeat.id,
            attachment_id=attachment.id,
            cluster_id=secret_row.cluster_id,
            rule_id=session.scalar(select(func.min(RoutingRule.id))),
            outbox_id=session.scalar(select(func.max(OutboxEmail.id))),
            reply_id=reply.id,
            token_id=session.scalar(
                select(ApiToken.id).join(StaffUser).where(StaffUser.username == "fin1")
            ),
            notice_id=session.scalar(select(func.min(Notice.id))),
            item_id=session.scalar(select(NoticeItem.id).where(NoticeItem.code == "XC21-04")),
            office_id=secret_row.office_id,
            staff_id=author.id,
            template_id=session.scalar(select(func.min(ReplyTemplate.id))),
            archive_id=_archived_report(session, secret_row.office_id),
            tokens=tokens,
        )
    assert world.cluster_id is not None and world.rule_id is not None
    return world


def _archived_report(session, office_id: int) -> int:
    """The finance office's report for October, as the archive keeps it."""
    archive = ReportArchive(
        month=date(2026, 10, 1),
        format="json",
        office_id=office_id,
        blob_sha256=store_blob(session, b'{"month": "2026-10", "secret": "XYZZY"}'),
    )
    session.add(archive)
    session.flush()
    return archive.id


def _snapshot(db, world: World) -> dict:
    """Every column of every row a walked route could change."""

    def columns(row) -> dict:
        return {column.key: getattr(row, column.key) for column in row.__table__.columns}

    with db.session() as session:
        cases = session.scalars(select(Case).where(Case.id.in_([world.secret_id, world.repeat_id])))
        return {
            "cases": [columns(case) for case in cases],
            "messages": session.execute(
                select(Message.id, Message.kind, Message.body)
                .where(Message.case_id.in_([world.secret_id, world.repeat_id]))
                .order_by(Message.id)
            ).all(),
            "attachments": session.scalar(select(func.count()).select_from(Attachment)),
            "replies": [columns(reply) for reply in session.scalars(select(Reply))],
            "reviews": session.scalar(select(func.count()).select_from(Review)),
            "clusters": [columns(c) for c in session.scalars(select(CaseCluster))],
            "rules": [
                columns(rule) for rule in session.scalars(select(RoutingRule).order_by("id"))
            ],
            "outbox": columns(session.get_one(OutboxEmail, world.outbox_id)),
            "token": columns(session.get_one(ApiToken, world.token_id)),
        }


# -- requests ----------------------------------------------------------------------------------


#: ``<name>``, ``<int:name>``, ``<int(max=9):name>`` in a rule.
_PLACEHOLDER = re.compile(r"<(?:[^<>:]*:)?(\w+)>")


def _path(route: Route, world: World) -> str:
    unknown = [name for name in route.arguments if name not in PARAMETERS]
    if unknown:
        pytest.fail(
            f"{route.method} {route.rule}: no value for the URL parameter(s) {unknown}. Add them "
            "to PARAMETERS in tests/responder/test_isolation.py (and the object they name to "
            "_world), so this route is walked too."
        )
    path = _PLACEHOLDER.sub(lambda match: str(PARAMETERS[match[1]](world)), route.rule)
    assert "<" not in path, path
    return path


def _urls(route: Route, world: World) -> list[str]:
    """The address, and for a list without an object in its address also searches and
    filters that would find the secret case."""
    path = _path(route, world)
    if route.method != "GET" or route.about_something:
        return [path]
    queries = [
        {"q": "XYZZY"},
        {"q": "小金库"},
        {"q": world.secret},
        {"q": world.secret.lower()},
        {"office": "finance"},
        {"status": "assigned", "channel": "web"},
    ]
    return [path] + [f"{path}?{urlencode(query)}" for query in queries]


def _form(world: World) -> dict:
    """A form that would do something to the secret case on any of its routes, were it let
    through: a step's fields, a reply and its review, the bulk assignment's ticked cases, a
    rule's fields. (HTML forms read only the fields they know.)"""
    return {
        "office": "cyber",
        "reason": "越权测试",
        "body": "越权批注",
        "duplicate_of": world.own,
        "case": [world.secret, world.repeat],
        "back": "/",
        "action": "submit",
        "kind": "answer",
        "public": "1",
        "decision": "approve",
        "comment": "越权审核",
        "direction": "down",
        "active": "0",
        "name": "越权规则",
        "keywords": "越权",
        "channel": "phone",
    }


#: JSON bodies of the API endpoints whose schema refuses fields it does not know; every other
#: endpoint gets ``_json``. An endpoint that answers 422 to the walk needs its body here: the
#: body must be valid, so that only the case's visibility can stop the step.
JSON_BODIES = {
    "staff_api.register_case": {"channel": "phone", "body": "越权登记的来电"},
    "staff_api.create_reply": {"body": "越权答复", "public": True, "submit": True},
    "staff_api.approve_reply": {"comment": "越权通过"},
    "staff_api.return_reply": {"comment": "越权退回"},
    "staff_api.submit_reply": {},
}


def _json(route: Route, world: World) -> dict:
    if route.endpoint in JSON_BODIES:
        return JSON_BODIES[route.endpoint]
    return {
        "office": "cyber",
        "reason": "越权测试",
        "body": "越权批注",
        "duplicate_of": world.own,
        "spam": True,
    }


class Visitor:
    """A test client as one kind of visitor: anonymous, logged in, or with a bearer token."""

    def __init__(self, app, name: str, *, login: str | None = None, token: str | None = None):
        self.name = name
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        if login:
            assert log_in(self.client, login, PASSWORD).status_code == 302, f"{login} logs in"
        self._csrf: str | None = None
        self._login = login

    def csrf(self) -> str:
        if self._csrf is None:
            self._csrf = csrf_token(self.client, "/" if self._login else "/login")
        return self._csrf

    def request(self, route: Route, url: str, world: World):
        if route.method == "GET":
            response = self.client.get(url, headers=self.headers)
        elif route.api:
            body = _json(route, world)
            response = self.client.open(url, method=route.method, json=body, headers=self.headers)
        else:
            data = {**_form(world), "csrf_token": self.csrf()}
            response = self.client.open(url, method=route.method, data=data, headers=self.headers)
        response.get_data()  # a streamed answer (the CSV export) is read in its own context
        response.close()
        return response


def _shown(response) -> str:
    """What a response tells its reader: the body and the headers that carry content."""
    headers = [response.headers.get(name, "") for name in ("Location", "Content-Disposition")]
    return response.get_data(as_text=True) + "\n" + "\n".join(headers)


def _assert_no_leak(world: World, response, url: str, who: str) -> None:
    shown = _shown(response)
    for what, marker in world.markers().items():
        if marker.lower() in unquote_plus(url).lower():
            continue  # the address the visitor typed, echoed back (e.g. in the search box)
        assert marker not in shown, (
            f"{who}: {url} answered {response.status_code} showing the secret case's {what} "
            f"({marker!r})"
        )


def _redirects_to_login(response) -> bool:
    return response.status_code == 302 and urlsplit(response.location).path == "/login"


def _check_stranger(route: Route, url: str, response, who: str, world: World, client) -> None:
    """Someone logged in, of another office: the case and admin pages do not exist for them;
    lists answer without the case."""
    status = response.status_code
    where = f"{who}: {route.method} {url}"
    if route.about_something:
        if status == 403 and "tracking_number" in route.arguments:
            pytest.fail(f"{where} answered 403: that tells the case exists; it must be 404")
        hint = ""
        if status in (400, 422) and route.api:
            hint = f" (if its body was refused, give {route.endpoint} a valid one in JSON_BODIES)"
        assert status == 404, f"{where} answered {status}, not 404{hint}: {response.data[:300]!r}"
    elif route.method == "GET":
        assert status == 200, f"{where} answered {status}, not 200"
    else:
        assert status < 500 and status != 401, f"{where} answered {status}"
    _assert_no_leak(world, response, url, who)
    if 300 <= status < 400 and not route.api:
        landing = client.get(response.location)  # where the flashed messages are shown
        _assert_no_leak(world, landing, f"{url} -> {response.location}", who)


def _check_anonymous(route: Route, url: str, response, who: str, world: World) -> None:
    status = response.status_code
    where = f"{who}: {route.method} {url}"
    if route.api:
        assert status == 401, f"{where} answered {status}, not 401"
    else:
        assert _redirects_to_login(response) or status in (401, 404), (
            f"{where} answered {status} {response.location or ''}, not a redirect to /login"
        )
    _assert_no_leak(world, response, url, who)


# -- the walk ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "route", [pytest.param(route, id=f"{route.method} {route.rule}") for route in ROUTES]
)
def test_route_shows_and_does_nothing_to_strangers(db, demo, staff_app, route):
    """Anonymous: the login page (401 in the API). An officer of another office, by session or
    by token: 404 for the case, its files, its cluster and admin pages; lists without it.
    The case is unchanged afterwards, and someone who may use the route gets through."""
    world = _world(db)
    urls = _urls(route, world)
    before = _snapshot(db, world)

    anonymous = Visitor(staff_app, "anonymous")
    officer = Visitor(staff_app, "cyber officer (session)", login="cyber1")
    bearer = Visitor(staff_app, "cyber officer (token)", token=world.tokens["cyber1"])
    for url in urls:
        _check_anonymous(route, url, anonymous.request(route, url, world), anonymous.name, world)
        response = officer.request(route, url, world)
        if route.api:  # a session cookie is no API credential (the API takes no CSRF token)
            _check_anonymous(route, url, response, officer.name, world)
        else:
            _check_stranger(route, url, response, officer.name, world, officer.client)
        if not route.api and url == urls[0] and route.endpoint in OWN_CASE_LISTS:
            assert world.own in response.get_data(as_text=True), "the officer sees their case"
        response = bearer.request(route, url, world)
        if route.api:
            _check_stranger(route, url, response, bearer.name, world, bearer.client)
        else:  # a token is no login for the HTML pages
            _check_anonymous(route, url, response, bearer.name, world)
        if route.api and url == urls[0] and route.endpoint in OWN_CASE_LISTS:
            assert world.own in response.get_data(as_text=True), "the officer sees their case"

    assert _snapshot(db, world) == before, f"{route.method} {route.rule} changed the secret case"

    # The positive control, at the same addresses: the route exists and answers its user.
    owner = next((OWNER_OF[name] for name in route.arguments if name in OWNER_OF), "admin2")
    if route.api:
        insider = Visitor(staff_app, owner, token=world.tokens[owner])
    else:
        insider = Visitor(staff_app, owner, login=owner)
    for url in urls:
        response = insider.request(route, url, world)
        status = response.status_code
        # 403 is a refusal of the step (e.g. an admin submitting another's reply): the
        # address was found, which is what the control is for.
        assert status < 500 and status not in (401, 404), (
            f"{owner}: {route.method} {url} answered {status}: the control fails"
        )
        assert not _redirects_to_login(response), f"{owner}: {url} sent to the login page"
        if route.method == "GET":
            assert status == 200, f"{owner}: GET {url} answered {status}"
        if route.endpoint in CASE_LISTS:
            shown = response.get_data(as_text=True)
            assert world.secret in shown or "XYZZY" in shown, f"{owner}: {url} lacks the case"


def test_every_route_is_walked():
    """The walk is not empty, and covers the case pages, the API and the admin pages."""
    endpoints = {route.endpoint for route in ROUTES}
    assert {"cases.show", "cases.attachment", "staff_api.show_case", "queue.index"} <= endpoints
    assert any(route.admin for route in ROUTES) and any(route.api for route in ROUTES)


def test_those_who_may_see_the_case_do(db, demo, staff_app):
    """The control for the walk's case address: the finance officer sees the case and its
    file but not the confidential submitter; a triager sees the submitter too."""
    world = _world(db)
    show = next(route for route in ROUTES if route.endpoint == "cases.show")
    api_show = next(route for route in ROUTES if route.endpoint == "staff_api.show_case")
    download = next(route for route in ROUTES if route.endpoint == "cases.attachment")

    finance = Visitor(staff_app, "fin1", login="fin1")
    page = finance.request(show, _path(show, world), world)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "XYZZY" in html and SECRET_FILE in html
    assert "PLUGH" in html and world.repeat in html
    assert SECRET_NAME not in html and SECRET_PHONE not in html
    file = finance.request(download, _path(download, world), world)
    assert file.status_code == 200 and file.data == b"XYZZY ledger"

    finance_api = Visitor(staff_app, "fin1 (token)", token=world.tokens["fin1"])
    body = finance_api.request(api_show, _path(api_show, world), world).json
    assert body["tracking_number"] == world.secret and body["submitter"] is None

    triage = Visitor(staff_app, "triage1", login="triage1")
    html = triage.request(show, _path(show, world), world).get_data(as_text=True)
    assert SECRET_NAME in html and SECRET_PHONE in html and "XYZZY" in html


def test_a_shared_cluster_shows_no_other_office_case(db, demo, staff_app):
    """A campaign whose first letter went to finance and the later ones to cyber: the cyber
    officer sees the cluster (two of its letters are theirs) but nothing of the finance one,
    neither in the list of clusters nor on the cluster's page."""
    make_staff(db, "cyber1", "officer", ["cyber"])
    letter = {"name": SECRET_NAME, "date": "3月2日", "extra": ""}
    first = make_case(db, notice_item="XC21-08", body=CAMPAIGN.format(**letter)).case
    for other in LETTERS[1:3]:
        make_case(db, notice_item="XC21-04", body=CAMPAIGN.format(**other))
    with db.session() as session:
        cluster_id = session.scalar(select(Case.cluster_id).where(Case.id == first.id))
    assert cluster_id is not None, "the letters form one campaign"

    officer = Visitor(staff_app, "cyber1", login="cyber1")
    listed = officer.client.get("/clusters/")
    assert f'data-cluster="{cluster_id}">2<' in listed.get_data(as_text=True)
    page = officer.client.get(f"/clusters/{cluster_id}")
    assert page.status_code == 200 and LETTERS[1]["name"] in page.get_data(as_text=True)
    leaks = [
        f"{response.request.path} shows {marker!r}"
        for response in (listed, page)
        for marker in (first.tracking_number, SECRET_NAME)
        if marker in response.get_data(as_text=True)
    ]
    assert not leaks, f"the finance letter leaks to cyber1: {leaks}"


def test_replies_to_review_are_only_the_reviewers_offices(db, demo, staff_app):
    """The secret case's reply waits for finance's reviewers; a cyber reviewer's list of
    replies to review does not have it, a finance reviewer's does."""
    world = _world(db)
    make_staff(db, "cyber-rev", "reviewer", ["cyber"])
    make_staff(db, "fin-rev", "reviewer", ["finance"])
    to_review = next(route for route in ROUTES if route.endpoint == "replies.to_review")
    stranger = Visitor(staff_app, "cyber-rev", login="cyber-rev")
    response = stranger.request(to_review, _path(to_review, world), world)
    assert response.status_code == 200
    _assert_no_leak(world, response, _path(to_review, world), stranger.name)
    insider = Visitor(staff_app, "fin-rev", login="fin-rev")
    shown = insider.request(to_review, _path(to_review, world), world).get_data(as_text=True)
    assert world.secret in shown


def test_a_whole_cluster_reply_reaches_only_cases_its_author_may_see(db, demo, staff_app):
    """Cyber answers its letters of a campaign at once; the campaign's finance letter, which
    no one in cyber may see, gets nothing: no message, no mail, no change of status."""
    client = staff_app.test_client()
    token = make_token(db, "cyber1", "officer", ["cyber"])
    reviewers = [make_token(db, f"cyber-rev{i}", "reviewer", ["cyber"]) for i in (1, 2)]
    letter = {"name": SECRET_NAME, "date": "3月2日", "extra": ""}
    first = make_case(
        db, notice_item="XC21-08", body=CAMPAIGN.format(**letter), email=SECRET_EMAIL
    ).case
    own = [
        make_case(db, notice_item="XC21-04", body=CAMPAIGN.format(**other)).case
        for other in LETTERS[1:3]
    ]
    with db.session() as session:
        clusters = set(
            session.scalars(
                select(Case.cluster_id).where(Case.id.in_([first.id] + [c.id for c in own]))
            )
        )
    assert len(clusters) == 1 and None not in clusters, "the letters form one campaign"

    def finance_letter() -> tuple:
        with db.session() as session:
            case = session.get_one(Case, first.id)
            messages = session.scalar(
                select(func.count()).select_from(Message).where(Message.case_id == first.id)
            )
            mails = session.scalar(
                select(func.count())
                .select_from(OutboxEmail)
                .where(OutboxEmail.to_addr.contains(SECRET_EMAIL))
            )
            return case.status, case.first_replied_at, messages, mails

    before = finance_letter()
    reply = client.post(
        f"/api/v1/cases/{own[0].tracking_number}/replies",
        json={"body": "网信办统一答复", "whole_cluster": True},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status_code == 201, reply.json
    for reviewer in reviewers:
        approved = client.post(
            f"/api/v1/replies/{reply.json['id']}/approve",
            headers={"Authorization": f"Bearer {reviewer}"},
        )
        assert approved.status_code == 200, approved.json
    assert approved.json["state"] == "sent"
    with db.session() as session:
        twin = session.get_one(Case, own[1].id)
        assert twin.status == "replied", "the cyber twin got the answer"
    assert finance_letter() == before, "the finance letter was answered by cyber"
