"""The migrations build exactly the schema the models describe."""

from shared import migrate


def test_migrations_match_the_models(db, database_url):
    """Autogenerate finds nothing left to migrate after upgrading to head."""
    assert migrate.pending_changes(database_url) == []


def test_migrations_go_down_to_empty_and_up_again(db, database_url):
    """The whole chain can be undone and redone, so a failed release can roll back."""
    migrate.downgrade(database_url, "base")
    try:
        assert migrate.pending_changes(database_url) != []  # the tables are gone
    finally:
        migrate.upgrade(database_url)
    assert migrate.pending_changes(database_url) == []


def test_cases_from_before_duplicate_detection_get_their_fingerprints(db, database_url):
    """A database made by 0001 holding cases, upgraded to the newest schema: every case long
    enough to compare gets its fingerprints (0002 made their table, for new cases only), so
    a new comment nearly the same as an old case joins it in a cluster."""
    from datetime import timedelta

    from sqlalchemy import JSON, column, func, insert, select, table

    from shared.db import UTCDateTime, utcnow
    from shared.models import Case, CaseFingerprint
    from tests.factories import make_case

    received = utcnow() - timedelta(days=10)
    old_texts = {
        "OLDA-0001": "县城东大街的路灯已经坏了三个月，晚上行人很不安全，请尽快派人维修。",
        "OLDA-0002": "建议在文化广场增设公共厕所，节假日游客很多，现有设施远远不够用。",
        "OLDA-0003": "谢谢",  # too short to compare: no fingerprint, and no error
    }
    migrate.downgrade(database_url, "base")
    try:
        migrate.upgrade(database_url, "0001")
        typed = {"received_at": UTCDateTime(), "updated_at": UTCDateTime()}
        typed["channel_details"] = JSON()
        case_0001 = table("case", *(column(name, typed.get(name)) for name in (
            "tracking_number", "passcode_hash", "channel", "subject", "body", "anonymous",
            "confidential", "publish_consent", "published", "language", "status",
            "routing_explanation", "received_at", "extension_days", "reopened_count",
            "updated_at", "reply_token", "channel_details",
        )))  # fmt: skip
        with db.engine.begin() as connection:
            connection.execute(insert(case_0001), [
                {"tracking_number": number, "passcode_hash": "x", "channel": "web",
                 "subject": "", "body": body, "anonymous": False, "confidential": False,
                 "publish_consent": False, "published": False, "language": "zh",
                 "status": "received", "routing_explanation": "", "received_at": received,
                 "extension_days": 0, "reopened_count": 0, "updated_at": received,
                 "reply_token": f"token{number}", "channel_details": {}}
                for number, body in old_texts.items()
            ])  # fmt: skip
    finally:
        migrate.upgrade(database_url)
    with db.session() as session:
        bands = dict(
            session.execute(
                select(Case.tracking_number, func.count(CaseFingerprint.band))
                .outerjoin(CaseFingerprint, CaseFingerprint.case_id == Case.id)
                .group_by(Case.tracking_number)
            ).all()
        )
    assert bands == {"OLDA-0001": 8, "OLDA-0002": 8, "OLDA-0003": 0}

    nearly_the_same = "县城东大街的路灯已经坏了三个月，晚上行人很不安全，请尽快派人来维修。"
    receipt = make_case(db, body=nearly_the_same)
    with db.session() as session:
        new = session.get(Case, receipt.case.id)
        old = session.scalar(select(Case).where(Case.tracking_number == "OLDA-0001"))
        other = session.scalar(select(Case).where(Case.tracking_number == "OLDA-0002"))
        assert new.cluster_id is not None and new.cluster_id == old.cluster_id
        assert other.cluster_id is None
