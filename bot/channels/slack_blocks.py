"""Block Kit messages for Slack answers, built from the ledger's record of the turn.

Building from the recorded turn (not from a live engine answer) means a button click can redraw
the message exactly as it was shown, without answering the question a second time.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.ledger.models import Turn
from bot.messages import dont_know
from bot.slack_format import escape, link, pack, to_mrkdwn, to_mrkdwn_blocks

State = Literal["asked", "helpful", "not_helpful", "handed_over", "picked"]
HELPFUL, NOT_HELPFUL, HANDOVER, SHARE, CHOOSE = "jiso_helpful", "jiso_not_helpful", "jiso_handover", "jiso_share", "jiso_choose"
# Action ids (patterns): a block's buttons need distinct ids, so the choices are jiso_choose_0, _1, …
ACTION_IDS = (HELPFUL, NOT_HELPFUL, HANDOVER, SHARE, CHOOSE + r"_\d+")
BUTTON_CHARS = 75  # Slack's limit for a button's text
MAX_BLOCKS = 50  # Slack's limit per message
FALLBACK_CHARS = 3000  # the notification text; the blocks carry the whole answer

TEXTS: dict[str, dict[str, str]] = {
    "helpful": {"en": "This solved it", "ja": "解決しました"},
    "not_helpful": {"en": "Not helpful", "ja": "役に立たなかった"},
    "handover": {"en": "Talk to a person", "ja": "担当者と話す"},
    "share": {"en": "Share to channel", "ja": "チャンネルに共有"},
    "sources": {"en": "Sources", "ja": "出典"},
    "thanks_helpful": {"en": ":white_check_mark: Glad it helped: marked as solved.", "ja": ":white_check_mark: 解決してよかったです。解決済みにしました。"},
    "thanks_not_helpful": {"en": "Thanks for telling us. Would you like to talk to a person?", "ja": "ご意見ありがとうございます。担当者と話しますか？"},
    "handed_over": {"en": ":raising_hand: Passed on to a person: someone will follow up with you.", "ja": ":raising_hand: 担当者に引き継ぎました。担当者からご連絡します。"},
    "none_of_these": {"en": "None of these", "ja": "どれでもない"},
    "picked": {"en": "Chosen: {choice}", "ja": "選択: {choice}"},
    "asked": {"en": "{user} asked: {question}", "ja": "{user} さんの質問: {question}"},
    "not_yours": {
        "en": "Only {user}, who asked this question, can use these buttons. Mention me to ask your own.",
        "ja": "このボタンは質問した {user} さんだけが使えます。ご自身の質問はメンションしてお送りください。",
    },
    "person_reply": {"en": ":speech_balloon: *{author}* from our team replied: {text}", "ja": ":speech_balloon: 担当者（{author}）からの返信: {text}"},
    "someone": {"en": "A person", "ja": "担当者"},
    "usage": {"en": "Ask me a question, for example `/jiso how do I invite a teammate?`", "ja": "質問を入力してください。例: `/jiso メンバーを招待するには？`"},
}


def text(key: str, locale: str | None, **values: str) -> str:
    texts = TEXTS[key]
    return texts.get(locale or "en", texts["en"]).format(**values)


class ButtonRef(BaseModel):
    """What a button carries in its `value` (Slack hands it back, signed, on a click): the
    conversation and turn it acts on, the Slack user who asked that turn (several people may ask
    in one thread), and whether the message lives behind a response_url (ephemeral or shared
    slash answers) rather than a channel + ts."""

    model_config = ConfigDict(frozen=True)
    c: str = Field(min_length=1, max_length=32)
    t: str = Field(min_length=1, max_length=32)
    u: str = Field(min_length=1, max_length=32)
    r: bool = False
    e: str | None = Field(default=None, max_length=255)  # a "Did you mean…" choice: its entry ("" for none of these)

    def encode(self) -> str:
        return self.model_dump_json()

    @classmethod
    def decode(cls, raw: str) -> ButtonRef | None:
        try:
            return cls.model_validate_json(raw)
        except ValidationError:
            return None


def source_line(sources: list[dict[str, Any]], knowledge_url: str, locale: str | None) -> str | None:
    """`Sources: <link|Title › Section>, …`; plain names when no knowledge URL is configured."""
    names = []
    for source in sources:
        heading = str(source.get("heading") or source.get("title") or source.get("path"))
        if knowledge_url:
            names.append(link(f"{knowledge_url.rstrip('/')}/{source['path']}#L{source['line']}", heading))
        else:
            names.append(escape(heading))
    return f"{text('sources', locale)}: " + ", ".join(names) if names else None


def _button(key: str, action_id: str, ref: ButtonRef, locale: str | None, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "action_id": action_id, "value": ref.encode(), "text": {"type": "plain_text", "text": text(key, locale)}}
    if style:
        button["style"] = style
    return button


def _clarify_blocks(turn: Turn, ref: ButtonRef, state: State, locale: str | None, choice: str | None) -> list[dict[str, Any]]:
    """ "Did you mean…": a button per plausible entry and "None of these", then the hand-over; once
    picked, what was chosen."""
    if state == "handed_over":
        return [_context(text("handed_over", locale))]
    if state == "picked":
        chosen = next((item["title"] for item in turn.choices if item["id"] == choice), None) or text("none_of_these", locale)
        return [_context(text("picked", locale, choice=escape(chosen)))]
    labels = [(choice["title"], choice["id"]) for choice in turn.choices] + [(text("none_of_these", locale), "")]
    buttons = [_choice_button(label, f"{CHOOSE}_{n}", ref.model_copy(update={"e": entry})) for n, (label, entry) in enumerate(labels)]
    return [
        {"type": "actions", "block_id": "jiso_choices", "elements": buttons},
        {"type": "actions", "block_id": "jiso_feedback", "elements": [_button("handover", HANDOVER, ref, locale)]},
    ]


def _choice_button(label: str, action_id: str, ref: ButtonRef) -> dict[str, Any]:
    shown = label if len(label) <= BUTTON_CHARS else label[: BUTTON_CHARS - 1] + "…"
    return {"type": "button", "action_id": action_id, "value": ref.encode(), "text": {"type": "plain_text", "text": shown}}


def _context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn[:FALLBACK_CHARS]}]}


def answer_message(
    turn: Turn,
    *,
    asker: str,
    state: State = "asked",
    knowledge_url: str = "",
    show_question: bool = False,
    via_response_url: bool = False,
    shareable: bool = False,
    choice: str | None = None,
) -> dict[str, Any]:
    """`{"text", "blocks"}` for chat.postMessage / chat.update / a response_url.

    `asker` is the Slack user who asked; `show_question` puts "<asker> asked: …" above the
    answer, for slash-command answers, whose question is not in the channel; `choice` is the entry
    picked from a "Did you mean…" turn ("" for none of these)."""
    locale = turn.locale
    shown = turn.answer_text or dont_know(locale or "en")  # a confident answer or the declined message
    ref = ButtonRef(c=turn.conversation_id, t=turn.id, u=asker, r=via_response_url)
    blocks: list[dict[str, Any]] = []
    if show_question:
        blocks.append(_context(text("asked", locale, user=f"<@{asker}>", question=escape(turn.question))))
    sections = pack(to_mrkdwn_blocks(shown))
    room = MAX_BLOCKS - len(blocks) - 3  # sources, actions and a status line
    if len(sections) > room:
        sections = sections[: room - 1] + [sections[room - 1][:2990] + " …"]
    blocks.extend({"type": "section", "text": {"type": "mrkdwn", "text": section}} for section in sections)
    sources = source_line(turn.sources, knowledge_url, locale) if turn.answered else None
    if sources:
        blocks.append(_context(sources))
    if turn.kind == "clarify":
        blocks.extend(_clarify_blocks(turn, ref, state, locale, choice))
    elif state == "asked" and turn.answered:
        buttons = [_button("helpful", HELPFUL, ref, locale, "primary"), _button("not_helpful", NOT_HELPFUL, ref, locale), _button("handover", HANDOVER, ref, locale)]
        if shareable:
            buttons.append(_button("share", SHARE, ref, locale))
        blocks.append({"type": "actions", "block_id": "jiso_feedback", "elements": buttons})
    elif state == "asked" or state == "not_helpful":
        # Unconfident answers and "not helpful" votes offer the hand-over directly.
        if state == "not_helpful":
            blocks.append(_context(text("thanks_not_helpful", locale)))
        blocks.append({"type": "actions", "block_id": "jiso_feedback", "elements": [_button("handover", HANDOVER, ref, locale, "primary")]})
    elif state == "helpful":
        blocks.append(_context(text("thanks_helpful", locale)))
    else:
        blocks.append(_context(text("handed_over", locale)))
    return {"text": to_mrkdwn(shown)[:FALLBACK_CHARS], "blocks": blocks}
