"""Staff see duplicates and campaigns, counted among the cases they may see."""

from __future__ import annotations

import re

from sqlalchemy import select

from shared.models import Case
from tests.conftest import csrf_token
from tests.factories import make_case, make_staff
from tests.shared.test_duplicates import CAMPAIGN, LETTERS, UNRELATED

FINANCE_ITEM, CYBER_ITEM = "XC21-08", "XC21-04"


def _login(client, username, password="correct horse 1"):
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert response.status_code == 302


def _count_shown(html: str, cluster_id: int) -> int | None:
    match = re.search(rf'data-cluster="{cluster_id}">(\d+)<', html)
    return int(match.group(1)) if match else None


def _campaign_across_offices(db) -> tuple[list[Case], list[Case], int, int]:
    """A campaign with two finance and three cyber letters, and a cyber-only duplicate pair."""
    finance = [
        make_case(db, notice_item=FINANCE_ITEM, body=CAMPAIGN.format(**letter)).case
        for letter in LETTERS[:2]
    ]
    cyber = [
        make_case(db, notice_item=CYBER_ITEM, body=CAMPAIGN.format(**letter)).case
        for letter in LETTERS[2:]
    ]
    pair = [make_case(db, notice_item=CYBER_ITEM, body=UNRELATED).case for _ in range(2)]
    with db.session() as session:
        campaign_ids = session.scalars(
            select(Case.cluster_id).where(Case.id.in_([c.id for c in finance + cyber]))
        ).all()
        pair_ids = session.scalars(
            select(Case.cluster_id).where(Case.id.in_([c.id for c in pair]))
        ).all()
    assert len(set(campaign_ids)) == 1 and len(set(pair_ids)) == 1
    return finance, cyber, campaign_ids[0], pair_ids[0]


def test_clusters_need_login(db, responder_client):
    """An anonymous visitor is sent to the login page, for the list and for one cluster."""
    for path in ("/clusters/", "/clusters/1"):
        response = responder_client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


def test_triager_sees_every_cluster_with_its_count(db, demo, responder_client):
    """A triager sees the campaign with all five letters and the duplicate pair."""
    _, _, campaign, pair = _campaign_across_offices(db)
    make_staff(db, "triage1", "triager")
    _login(responder_client, "triage1")
    html = responder_client.get("/clusters/").get_data(as_text=True)
    assert _count_shown(html, campaign) == 5
    assert _count_shown(html, pair) == 2
    assert html.index(f'data-cluster="{pair}"') < html.index(f'data-cluster="{campaign}"')


def test_officer_counts_only_own_office(db, demo, responder_client):
    """A finance officer sees the campaign counted as their two letters, not the cyber pair."""
    _, _, campaign, pair = _campaign_across_offices(db)
    make_staff(db, "fin1", "officer", ["finance"])
    _login(responder_client, "fin1")
    html = responder_client.get("/clusters/").get_data(as_text=True)
    assert _count_shown(html, campaign) == 2
    assert _count_shown(html, pair) is None
    assert f"/clusters/{pair}" not in html


def test_cluster_page_lists_own_office_cases_oldest_first(db, demo, responder_client):
    """The cluster page links the officer's letters oldest first and hides the others."""
    finance, cyber, campaign, _ = _campaign_across_offices(db)
    make_staff(db, "fin1", "officer", ["finance"])
    _login(responder_client, "fin1")
    response = responder_client.get(f"/clusters/{campaign}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    first, second = (case.tracking_number for case in finance)
    assert f'href="/cases/{first}"' in html and f'href="/cases/{second}"' in html
    assert html.index(first) < html.index(second)
    assert "财务室" in html
    assert not any(case.tracking_number in html for case in cyber)


def test_cluster_of_other_offices_is_not_found(db, demo, responder_client):
    """A cluster holding only another office's cases answers 404, as an unknown one does."""
    _, _, _, pair = _campaign_across_offices(db)
    make_staff(db, "fin1", "officer", ["finance"])
    _login(responder_client, "fin1")
    assert responder_client.get(f"/clusters/{pair}").status_code == 404
    assert responder_client.get(f"/clusters/{pair + 1000}").status_code == 404
