"""GET /api/v1/widget/config: the operator's branding (JISO_WIDGET_*) held to WCAG AA contrast,
and the starter questions: configured, or the entries answered most ("Popular questions")."""

from __future__ import annotations

import pytest

from api.branding import AA_TEXT, contrast, readable_on
from api.settings import SettingsInvalid, load_settings
from tests.web.knowledge import EN_QUESTION, JA_QUESTION, XSS_QUESTION

pytestmark = pytest.mark.integration


def ask(client, question: str, locale: str = "en") -> None:
    conversation_id = client.post("/api/v1/conversations", json={"locale": locale, "visitor_id": "v-1"}).json()["id"]
    assert client.post(f"/api/v1/conversations/{conversation_id}/messages", json={"text": question}).json()["answer"]["decision"] == "answer"


def test_default_branding_and_no_starter_questions_on_a_new_server(client) -> None:
    config = client.get("/api/v1/widget/config").json()
    assert config["branding"] == {"accent": "#3b5bdb", "accent_text": "#ffffff", "logo_url": None, "position": "right", "launcher_label": None, "welcome": None}
    assert (config["starter_questions"], config["starter_source"]) == ([], "popular")


def test_popular_questions_are_the_entries_answered_most_in_the_locale(client) -> None:
    for question in (EN_QUESTION, EN_QUESTION, XSS_QUESTION):
        ask(client, question)
    ask(client, JA_QUESTION, "ja")
    assert client.get("/api/v1/widget/config").json()["starter_questions"] == [EN_QUESTION, XSS_QUESTION]  # the writers' questions, most answered first
    assert client.get("/api/v1/widget/config?locale=ja").json()["starter_questions"] == [JA_QUESTION]
    assert client.get("/api/v1/widget/config?locale=fr").status_code == 422


def test_configured_branding_and_starter_questions_per_locale(make_client) -> None:
    client = make_client(
        widget_accent="#ffcc00",
        widget_position="left",
        widget_logo_url="https://app.tasklane.example/logo.svg",
        widget_launcher_label={"en": "Need help?", "ja": "お困りですか？"},
        widget_welcome={"ja": "こんにちは！"},
        widget_starter_questions={"en": ["How do I start?"]},
    )
    en = client.get("/api/v1/widget/config").json()
    assert en["branding"]["accent_text"] == "#1f2430"  # white on yellow would not read: jiso picks its near-black
    assert contrast(en["branding"]["accent"], en["branding"]["accent_text"]) >= AA_TEXT
    assert (en["branding"]["position"], en["branding"]["launcher_label"], en["branding"]["welcome"]) == ("left", "Need help?", None)
    assert (en["starter_questions"], en["starter_source"]) == (["How do I start?"], "configured")
    ja = client.get("/api/v1/widget/config?locale=ja").json()
    assert (ja["branding"]["launcher_label"], ja["branding"]["welcome"], ja["starter_source"]) == ("お困りですか？", "こんにちは！", "popular")


@pytest.mark.parametrize("background", ["#000000", "#ffffff", "#767676", "#777777", "#3b5bdb", "#ffcc00", "#808080", "#b0b0b0"])
def test_the_automatic_text_colour_always_reaches_aa(background: str) -> None:
    assert contrast(background, readable_on(background)) >= AA_TEXT


def test_a_text_colour_below_aa_is_refused_with_one_sentence_naming_the_setting(monkeypatch) -> None:
    monkeypatch.setenv("JISO_WIDGET_ACCENT", "#ffffff")
    monkeypatch.setenv("JISO_WIDGET_ACCENT_TEXT", "#eeeeee")
    with pytest.raises(SettingsInvalid) as refused:
        load_settings()
    assert refused.value.lines == [
        "JISO_WIDGET_ACCENT_TEXT='#eeeeee' is invalid (value error, its contrast with JISO_WIDGET_ACCENT=#ffffff is 1.16:1, below WCAG AA's 4.5:1 for text;"
        " leave it empty for white or black): correct it or unset it for the default"
    ]
    monkeypatch.setenv("JISO_WIDGET_ACCENT_TEXT", "#1f2430")
    assert load_settings().widget_accent_text == "#1f2430"
    monkeypatch.setenv("JISO_WIDGET_ACCENT", "blue")
    with pytest.raises(SettingsInvalid, match="JISO_WIDGET_ACCENT='blue' is invalid"):
        load_settings()
