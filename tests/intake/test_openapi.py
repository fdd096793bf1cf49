"""``GET /api/openapi.json``: the document itself, and the real API checked against it."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

DOCUMENT = "/api/openapi.json"
#: The contract's operations, and POST .../messages (in intake/views/api.py, not in CONTRACT.md).
PUBLIC_OPERATIONS = {
    ("/api/v1/feedback", "post"),
    ("/api/v1/feedback/{tracking_number}", "get"),
    ("/api/v1/feedback/{tracking_number}/rating", "post"),
    ("/api/v1/feedback/{tracking_number}/messages", "post"),
    ("/api/v1/notices", "get"),
    ("/api/openapi.json", "get"),
    ("/healthz", "get"),
    ("/readyz", "get"),
}
CONTRACT_FEEDBACK_FIELDS = {
    "body",
    "subject",
    "category",
    "notice_item",
    "name",
    "phone",
    "email",
    "anonymous",
    "confidential",
}
BODY_ERRORS = {"400", "413", "422", "429", "503"}


@pytest.fixture
def document(intake_client) -> dict:
    """The document as the intake app serves it."""
    response = intake_client.get(DOCUMENT)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def resolve(document: dict, node: dict) -> dict:
    """``node`` itself, or the component its ``$ref`` points to."""
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = document["components"][kind][name]
    return node


def operation(document: dict, path: str, method: str) -> dict:
    return document["paths"][path][method]


def json_schema_of(document: dict, response_or_body: dict) -> dict:
    node = resolve(document, response_or_body)
    return resolve(document, node["content"]["application/json"]["schema"])


# --- The document ------------------------------------------------------------------------------


def test_document_is_valid_openapi(intake_app):
    """The served document passes the OpenAPI 3.0 meta-schema that schemathesis validates with."""
    schema = schemathesis.openapi.from_wsgi(DOCUMENT, intake_app)
    schema.validate()  # raises jsonschema_rs.ValidationError with the offending path
    assert schema.raw_schema["openapi"].startswith("3.0.")
    info = schema.raw_schema["info"]
    assert info["title"] == "Minyi public API"
    assert info["version"]
    assert "民意" in info["description"]


def test_document_lists_the_contract_operations(document):
    """Every public path and method is documented, with a unique operationId, and nothing else."""
    documented = {
        (path, method)
        for path, operations in document["paths"].items()
        for method in operations
        if method != "parameters"
    }
    assert documented == PUBLIC_OPERATIONS
    operation_ids = [
        operation(document, path, method)["operationId"] for path, method in documented
    ]
    assert len(set(operation_ids)) == len(operation_ids)


def test_feedback_request_schema_has_the_contract_fields(document):
    """POST /api/v1/feedback takes the contract's fields: body required, at most 5000, etc."""
    create = operation(document, "/api/v1/feedback", "post")
    assert create["requestBody"]["required"] is True
    schema = json_schema_of(document, create["requestBody"])
    properties = schema["properties"]
    assert set(properties) >= CONTRACT_FEEDBACK_FIELDS
    assert schema["required"] == ["body"]
    assert schema["additionalProperties"] is False  # unknown fields are a 422
    assert properties["body"]["type"] == "string"
    assert properties["body"]["maxLength"] == 5000
    assert set(properties["category"]["enum"]) - {None} == {
        "suggestion",
        "complaint",
        "report",
        "inquiry",
        "praise",
    }
    for name in ("subject", "notice_item", "name", "phone"):
        assert properties[name]["type"] == "string"
    assert properties["email"]["format"] == "email"
    assert properties["anonymous"]["type"] == properties["confidential"]["type"] == "boolean"


def test_feedback_receipt_is_the_contract_receipt(document):
    """The 201 of POST /api/v1/feedback promises number, passcode, status and received_at."""
    create = operation(document, "/api/v1/feedback", "post")
    receipt = json_schema_of(document, create["responses"]["201"])
    required = {"tracking_number", "passcode", "status", "received_at"}
    assert set(receipt["required"]) == required
    assert receipt["properties"]["received_at"]["format"] == "date-time"
    replayed = resolve(document, create["responses"]["201"]["headers"]["Idempotent-Replayed"])
    assert replayed["schema"]["enum"] == ["true"]


def test_idempotency_key_and_passcode_headers_are_documented(document):
    """Idempotency-Key (1-255 visible ASCII) on create, X-Passcode on each case operation."""
    create = operation(document, "/api/v1/feedback", "post")
    headers = {
        parameter["name"]: parameter
        for parameter in (resolve(document, p) for p in create["parameters"])
        if parameter["in"] == "header"
    }
    key = headers["Idempotency-Key"]
    assert key["required"] is False
    assert key["schema"]["minLength"] == 1
    assert key["schema"]["maxLength"] == 255
    assert key["schema"]["pattern"] == "^[!-~]{1,255}$"
    for path, method in PUBLIC_OPERATIONS:
        if "{tracking_number}" not in path:
            continue
        parameters = [resolve(document, p) for p in operation(document, path, method)["parameters"]]
        locations = {(parameter["in"], parameter["name"]) for parameter in parameters}
        assert {("path", "tracking_number"), ("header", "X-Passcode")} <= locations, path


def test_error_responses_are_documented_with_their_bodies(document):
    """400/413/422/429/503 on bodies, 404 on case look-ups, each with its JSON error shape."""
    for path, method in PUBLIC_OPERATIONS:
        if not path.startswith("/api/v1/"):
            continue
        responses = operation(document, path, method)["responses"]
        assert {"429", "503"} <= set(responses), (path, method)
        if method == "post":
            assert set(responses) >= BODY_ERRORS, path
        if "{tracking_number}" in path:
            assert "404" in responses, path
        for status in set(responses) & {"400", "404", "413", "429", "503"}:
            error = json_schema_of(document, responses[status])
            assert set(error["required"]) == {"error", "message"}, (path, status)
    create = operation(document, "/api/v1/feedback", "post")["responses"]
    invalid = json_schema_of(document, create["422"])
    assert invalid["required"] == ["errors"]
    assert invalid["properties"]["errors"]["additionalProperties"]["items"]["type"] == "string"
    for status in ("429", "503"):
        assert "Retry-After" in resolve(document, create[status])["headers"]


def test_notices_are_an_array_of_notices_with_items(document):
    """GET /api/v1/notices returns an array of notices, each with typed items and office codes."""
    notices = operation(document, "/api/v1/notices", "get")
    schema = json_schema_of(document, notices["responses"]["200"])
    assert schema["type"] == "array"
    notice = resolve(document, schema["items"])
    assert {"id", "title", "items"} <= set(notice["required"])
    item = resolve(document, notice["properties"]["items"]["items"])
    assert {"code", "title", "area", "office"} <= set(item["required"])
    office = item["properties"]["office"]
    assert (office["type"], office["nullable"]) == ("string", True)  # an item may have none


def test_document_is_built_once_per_app(settings, monkeypatch):
    """The document is built on the first request, then served from the cache of that app."""
    from intake import create_app
    from intake.views import openapi

    builds = []
    build = openapi.build_document
    monkeypatch.setattr(openapi, "build_document", lambda app: builds.append(app) or build(app))
    first_app, second_app = create_app(settings), create_app(settings)
    first = [first_app.test_client().get(DOCUMENT).get_data() for _ in range(3)]
    second = second_app.test_client().get(DOCUMENT).get_data()
    assert builds == [first_app, second_app]
    assert len({*first, second}) == 1


# --- The API against its document --------------------------------------------------------------

#: What a response must satisfy: no 5xx, a documented status, content type, body and headers.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]
FUZZ_SETTINGS = hypothesis_settings(
    max_examples=50,
    deadline=None,  # database round trips: their time says nothing about the input
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def app_schema(settings: dict, **overrides):
    """The document as schemathesis loads it from a fresh intake app (no rate limit unless
    asked); its operations call that app directly, through WSGI."""
    from intake import create_app

    app = create_app({**settings, "RATELIMIT_ENABLED": False, **overrides})
    return schemathesis.openapi.from_wsgi(DOCUMENT, app)


def call_and_validate(schema, path: str, method: str, checks=CHECKS, **case):
    """One hand-made request, its response checked against the document like generated ones.
    (The response's headers have lower-case names and lists of values.)"""
    request = schema[path][method].Case(**case)
    response = request.call()
    request.validate_response(response, checks=checks)
    return response


@pytest.fixture
def api_schema(request, settings, demo):
    """The document of an app with the demo notice, offices and rules."""
    # schemathesis 4.32's from_fixture reads and rewrites Node._nodeid, which pytest 9.2
    # replaced by Node._id: give it the attribute it expects (it only renames the subtests).
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid
    return app_schema(settings)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_conforms_to_its_document(case):
    """Generated requests, valid and invalid, get documented answers and never a 5xx."""
    case.call_and_validate(checks=CHECKS)


def test_workflows_conform_to_the_document(api_schema):
    """Following the document's links (create, then read and add to that case) conforms too."""
    checks = [*CHECKS, schemathesis.checks.ensure_resource_availability]

    class Workflow(api_schema.as_state_machine()):
        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=checks, transport_kwargs=kwargs)

    Workflow.run(
        settings=hypothesis_settings(
            max_examples=25,
            stateful_step_count=6,
            deadline=None,
        )
    )


def test_replayed_receipt_has_the_documented_header(settings):
    """The same Idempotency-Key and body give the receipt again, marked Idempotent-Replayed."""
    api = app_schema(settings)
    sent = {"body": {"body": "再次提交的留言"}, "headers": {"Idempotency-Key": "replay-1"}}
    first = call_and_validate(api, "/api/v1/feedback", "POST", **sent)
    again = call_and_validate(api, "/api/v1/feedback", "POST", **sent)
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == ["true"]
    assert again.json() == first.json()


def test_rate_limited_request_gets_the_documented_429(settings):
    """Past the limit, the answer is the documented 429: a JSON error with Retry-After."""
    api = app_schema(settings, RATELIMIT_ENABLED=True)
    for _ in range(50):  # well past any sensible per-minute limit of comments
        response = call_and_validate(api, "/api/v1/feedback", "POST", body={})
        if response.status_code == 429:
            break
    assert response.status_code == 429
    assert int(response.headers["retry-after"][0]) >= 0


def test_oversized_body_gets_the_documented_413(settings):
    """A body over the configured limit gets the documented 413."""
    api = app_schema(settings, MAX_MESSAGE_BYTES=1000)
    response = call_and_validate(api, "/api/v1/feedback", "POST", body={"body": "长" * 1000})
    assert response.status_code == 413


def test_database_unavailable_gets_the_documented_503(settings, tmp_path):
    """Without a database, the answer is the documented 503 with Retry-After."""
    from shared.db import Database

    unreachable = Database(f"sqlite:///{tmp_path / 'no-such-directory' / 'minyi.db'}")
    api = app_schema(settings, DATABASE=unreachable)
    # A 503 is the documented answer here: every check but not_a_server_error.
    checks = [check for check in CHECKS if check is not schemathesis.checks.not_a_server_error]
    for path, method, case in [
        ("/api/v1/notices", "GET", {}),
        (
            "/api/v1/feedback/{tracking_number}",
            "GET",
            {"path_parameters": {"tracking_number": "7KQM-3WXP"}, "headers": {"X-Passcode": "X"}},
        ),
        ("/api/v1/feedback", "POST", {"body": {"body": "数据库不可用时的留言"}}),
    ]:
        response = call_and_validate(api, path, method, checks, **case)
        assert response.status_code == 503, (path, response.text)
        assert response.headers["retry-after"] == ["30"]
    unreachable.dispose()
