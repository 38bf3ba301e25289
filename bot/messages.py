"""The bot's own words, in each locale it speaks. Everything else it says is the writers' text."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "dont_know": {
        "en": "I don't know the answer to that yet. Would you like to talk to a person? They can pick it up from here.",
        "ja": "申し訳ありません、その質問にはまだお答えできません。担当者におつなぎしましょうか？",
    },
    "clarify": {
        "en": "I found a few entries that might fit. Which one do you mean?",
        "ja": "当てはまりそうな項目がいくつかあります。どれについてお知りになりたいですか？",
    },
    "none_of_these": {
        "en": "None of these",
        "ja": "どれでもない",
    },
}


def message(key: str, locale: str) -> str:
    texts = MESSAGES[key]
    return texts.get(locale, texts["en"])


def dont_know(locale: str) -> str:
    return message("dont_know", locale)
