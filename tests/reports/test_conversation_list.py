"""The reports' list of conversations (GET /api/v1/reports/conversations) and Excel-friendly CSV,
over HTTP with real keys, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import Session

from bot.apikeys import create_key
from tests.reports.conftest import ADMIN_KEY, bearer, converse

pytestmark = pytest.mark.integration
URL = "/api/v1/reports/conversations"


def seed(client) -> dict[str, str]:
    """Four conversations of two organizations, by outcome; returns outcome → conversation id."""
    now = datetime.now(timezone.utc)
    with Session(client.app.state.db) as session:
        escalated = converse(session, now - timedelta(days=3), [("ask", (True, "How do I invite a teammate?"), 0), ("escalate", None, 2)], user="a1", org="org-a")
        unanswered = converse(session, now - timedelta(days=2), [("ask", (False, "請求書をエクスポートできますか?"), 0)], user="a2", org="org-a", locale="ja")
        assumed = converse(session, now - timedelta(days=1, hours=2), [("ask", (True, "Where is 100%_done?"), 0)], user="b1", org="org-b", channel="slack")
        recent = max(now - timedelta(minutes=10), now.replace(hour=0, minute=0, second=0, microsecond=0))  # today's, even just after midnight
        opened = converse(session, recent, [("ask", (True, "How do I INVITE guests?"), 0)], user="b2", org="org-b")
        return {"escalated": escalated.id, "unanswered": unanswered.id, "resolved_assumed": assumed.id, "open": opened.id}


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["conversations"]]


def test_lists_the_period_newest_first_with_filters_and_search(client) -> None:
    made = seed(client)
    headers = bearer(ADMIN_KEY)
    everything = client.get(URL, headers=headers).json()
    assert everything["total"] == 4 and everything["period"]["tz"] == "UTC"
    assert [row["id"] for row in everything["conversations"]] == [made["open"], made["resolved_assumed"], made["unanswered"], made["escalated"]]
    first = everything["conversations"][-1]
    assert first["outcome"] == "escalated" and first["first_question"] == "How do I invite a teammate?" and first["org_id"] == "org-a"
    assert ids(client.get(URL, params={"outcome": "escalated"}, headers=headers)) == [made["escalated"]]
    assert ids(client.get(URL, params={"org_id": "org-b"}, headers=headers)) == [made["open"], made["resolved_assumed"]]
    assert ids(client.get(URL, params={"channel": "slack"}, headers=headers)) == [made["resolved_assumed"]]
    assert ids(client.get(URL, params={"q": "invite"}, headers=headers)) == [made["open"], made["escalated"]]  # case-insensitive
    assert ids(client.get(URL, params={"q": "エクスポート"}, headers=headers)) == [made["unanswered"]]
    assert ids(client.get(URL, params={"q": "0%_d"}, headers=headers)) == [made["resolved_assumed"]]  # % and _ are literal
    assert ids(client.get(URL, params={"q": "1%"}, headers=headers)) == []
    page = client.get(URL, params={"limit": 2, "offset": 2}, headers=headers).json()
    assert page["total"] == 4 and [row["id"] for row in page["conversations"]] == [made["unanswered"], made["escalated"]]
    today = datetime.now(timezone.utc).date()
    assert ids(client.get(URL, params={"from": str(today), "to": str(today)}, headers=headers)) == [made["open"]]


def test_each_row_links_to_its_transcript(client) -> None:
    made = seed(client)
    row = client.get(URL, params={"outcome": "unanswered"}, headers=bearer(ADMIN_KEY)).json()["conversations"][0]
    assert row["transcript_url"].startswith(f"/conversations/{made['unanswered']}?expires=")
    page = client.get(row["transcript_url"])  # the signed link opens without a key
    assert page.status_code == 200 and "請求書をエクスポートできますか?" in page.text


def test_an_organizations_key_sees_only_its_conversations(client) -> None:
    made = seed(client)
    with Session(client.app.state.db) as session:
        org_key = create_key(session=session, role="manager", org_id="org-a")[1]
    assert ids(client.get(URL, headers=bearer(org_key))) == [made["unanswered"], made["escalated"]]
    assert ids(client.get(URL, params={"q": "invite"}, headers=bearer(org_key))) == [made["escalated"]]
    refused = client.get(URL, params={"org_id": "org-b"}, headers=bearer(org_key))
    assert refused.status_code == 403 and refused.json()["detail"] == "this key is limited to another organization"


@pytest.mark.parametrize(
    ("params", "field"),
    [({"outcome": "won"}, "outcome"), ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"offset": -1}, "offset"), ({"q": "x" * 201}, "q"), ({"tz": "Mars/Base"}, None)],
)
def test_bad_parameters_are_refused_precisely(client, params, field) -> None:
    response = client.get(URL, params=params, headers=bearer(ADMIN_KEY))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert (field in str(detail)) if field else "unknown timezone 'Mars/Base'" in detail
    assert client.get(URL).status_code == 401


def test_csv_for_excel_starts_with_a_byte_order_mark_and_keeps_japanese(client) -> None:
    seed(client)
    headers = bearer(ADMIN_KEY)
    excel = client.get(URL, params={"format": "csv", "bom": "1"}, headers=headers)
    assert excel.headers["content-type"] == "text/csv; charset=utf-8"
    assert excel.headers["content-disposition"] == 'attachment; filename="jiso-conversations.csv"'
    assert excel.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(excel.content.decode("utf-8-sig"))))
    assert "請求書をエクスポートできますか?" in [row["first_question"] for row in rows]
    plain = client.get("/api/v1/reports/organizations", params={"format": "csv"}, headers=headers)
    assert not plain.content.startswith(b"\xef\xbb\xbf")  # scripts reading the CSV get plain UTF-8 by default
    for name in ("summary", "timeseries", "organizations", "entries", "gaps"):
        assert client.get(f"/api/v1/reports/{name}", params={"format": "csv", "bom": "true"}, headers=headers).content.startswith(b"\xef\xbb\xbf"), name
