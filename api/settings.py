"""The one typed settings object. Read at the edge (CLI, app factory) and passed down."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from api.branding import AA_TEXT, HEX_COLOUR, contrast
from bot.reports.periods import parse_tz

REPO_ROOT = Path(__file__).resolve().parent.parent
SHORT_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
DURATION_UNITS = {"": "seconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DURATION_FORMS = "24h, 90m, 30s, 2d, 1w, ISO 8601 such as PT24H, or a number of seconds"
# Values of these settings may be credentials: an error names the setting, never echoes the value.
SECRET_PARTS = ("secret", "token", "key", "database_url", "storage")
JSON_EXAMPLES = {
    "slack_workspace_orgs": '{"T0123ABCD": "acme"}',
    "widget_launcher_label": '{"en": "Need help?", "ja": "お困りですか？"}',
    "widget_welcome": '{"en": "Hi! Ask me about getting started.", "ja": "こんにちは！"}',
    "widget_starter_questions": '{"en": ["How do I invite a teammate?"]}',
    "weekly_digest_channels": '["C0123ABCD"]',
}  # otherwise the default, as JSON


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JISO_", env_file=".env", extra="ignore")

    knowledge_dir: Path = REPO_ROOT / "knowledge"
    index_dir: Path = REPO_ROOT / "var" / "index"
    database_url: str = f"sqlite:///{REPO_ROOT / 'var' / 'jiso.db'}"

    # Embedding model per locale: a built-in name ("all-MiniLM-L6-v2", "multilingual-e5-small-q4",
    # "use-multilingual-v3"), a sentence-transformers model name (downloaded only if you have
    # internet) or a local path.
    model_en: str = "all-MiniLM-L6-v2"
    model_ja: str = "multilingual-e5-small-q4"
    # Lexical tokenizer per locale: "words" (English) or "sudachi" / "bigram" (Japanese).
    lexical_en: str = "words"
    lexical_ja: str = "bigram"
    locales: list[str] = Field(default_factory=lambda: ["en", "ja"])
    default_locale: str = "en"

    # The hybrid score, per locale, because each model has its own similarity scale
    # (docs/BENCHMARKS.md has the sweeps): weight of the keyword score, weight of the best
    # sentence's similarity, and the bonus of a FAQ entry over a manual section (a curated answer
    # to a question wins near-ties).
    lexical_weight_en: float = 0.1
    lexical_weight_ja: float = 0.02
    sentence_weight_en: float = 0.0
    sentence_weight_ja: float = 0.7
    faq_bonus_en: float = 0.05
    faq_bonus_ja: float = 0.05
    # A second (companion) model a locale also ranks with; empty: none. Each model's hybrid score is
    # standardized per question and the companion's added with this weight. Its own hybrid weights
    # follow, for its own similarity scale. English fuses MiniLM with e5: better on every English
    # set than either alone (docs/BENCHMARKS.md, "Ranking: two models").
    companion_model_en: str = "multilingual-e5-small-q4"
    companion_model_ja: str = ""
    companion_weight_en: float = 0.25
    companion_weight_ja: float = 0.25
    companion_lexical_weight_en: float = 0.02
    companion_lexical_weight_ja: float = 0.02
    companion_sentence_weight_en: float = 0.7
    companion_sentence_weight_ja: float = 0.7
    companion_faq_bonus_en: float = 0.05
    companion_faq_bonus_ja: float = 0.05
    # Answer when the calibrated probability of being right reaches the level at which held-out
    # questions were right this often; ask which entry is meant, by the same rule, when a right
    # entry is probably among the top three; otherwise say "I don't know" (docs/BENCHMARKS.md).
    target_precision: float = Field(default=0.9, gt=0.0, le=1.0)
    # Fitted per locale and model by `jiso calibrate`; the bundled models' calibrations ship with jiso.
    calibration_dir: Path = REPO_ROOT / "bot" / "calibrations"
    max_file_bytes: int = 1_000_000
    # How often the server checks for a newly published index build (seconds).
    index_reload_seconds: float = 5.0

    host: str = "127.0.0.1"
    port: int = 8000
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: comma-separated IPs or
    # networks, or "*" (uvicorn's --forwarded-allow-ips). Empty: nobody's, so a client cannot pick
    # the address its per-IP rate limit counts.
    forwarded_allow_ips: str = ""
    # The address users reach this server at (links in hand-overs and Slack messages).
    public_url: str = "http://127.0.0.1:8000"
    # Where people can read the knowledge files, for source links (e.g. your docs repository's
    # https://github.com/acme/docs/blob/main/knowledge). Empty: sources are named, not linked.
    knowledge_url: str = ""

    # Conversations and the web channel.
    identity_secret: str = ""  # HMAC-SHA256 key for verified users: hash = HMAC(secret, f"{id}:{org_id}")
    demo_user: bool = False  # the demo page at / signs in a verified demo user (make run; never in production)
    assume_resolved_after: timedelta = timedelta(hours=24)  # the quiet window: 24h, 90m, 2d, PT24H or seconds
    allowed_origins: list[str] = Field(default_factory=lambda: ["http://127.0.0.1:8000", "http://localhost:8000"])
    max_body_bytes: int = 16_384
    # Event ingestion (batches of up to 1000 events) and Slack's deliveries may be larger.
    max_events_body_bytes: int = 1_048_576
    max_question_chars: int = 1000
    rate_limit_per_visitor: str = "20/minute"
    rate_limit_per_ip: str = "60/minute"
    # Where the rate-limit windows live: memory:// (one process) or redis://host:port/db (shared by
    # every instance behind a load balancer).
    rate_limit_storage: str = "memory://"
    # Transcript pages (`/conversations/{id}`) open only from a signed link, which hand-overs
    # carry, or with a manager key. Empty secret: one is generated into link_secret_file.
    link_secret: str = ""
    link_secret_file: Path = REPO_ROOT / "var" / "link-secret"
    link_valid_for: timedelta = timedelta(days=30)  # ISO 8601 or seconds
    # A dashboard sign-in (the manager key exchanged for a session cookie) lasts this long.
    session_valid_for: timedelta = timedelta(hours=12)
    # An Idempotency-Key's reservation lasts this long: a retry after it (the first request's server
    # died) does the work again, finding what was already written. Keys are kept for the retention.
    idempotency_lease_seconds: float = 30.0
    idempotency_retention: timedelta = timedelta(hours=24)
    escalation_webhook_url: str = ""
    escalation_webhook_secret: str = ""
    escalation_retry_attempts: int = 6  # per destination; waits double from the back-off: 2, 4, 8 … s
    escalation_retry_backoff: float = 2.0
    # Background jobs (hand-over deliveries, Slack's events): worker threads per instance, how long a
    # claimed job is held before another instance may take it over (its holder died), how often idle
    # workers look, and how long done jobs are kept (failed ones stay until retried).
    job_workers: int = Field(default=4, ge=1)
    job_lease_seconds: float = Field(default=120.0, gt=0)
    job_poll_seconds: float = Field(default=1.0, gt=0)
    job_retention: timedelta = timedelta(days=7)
    # The widget's branding (README › Web chat › Branding); a page's data-* attributes override it.
    widget_accent: str = Field(default="#3b5bdb", pattern=HEX_COLOUR.pattern)  # launcher, header, the visitor's messages, Send
    widget_accent_text: str = Field(default="", pattern=rf"^$|{HEX_COLOUR.pattern}")  # text on the accent; empty: white or black, whichever reads
    widget_logo_url: str = ""
    widget_position: Literal["right", "left"] = "right"
    widget_launcher_label: dict[str, str] = Field(default_factory=dict)  # locale → label
    widget_welcome: dict[str, str] = Field(default_factory=dict)  # locale → the first message
    # Locale → starter questions; a locale without any shows its FAQ entries answered most in the
    # last 30 days ("Popular questions"), up to widget_popular_questions of them (0: none).
    widget_starter_questions: dict[str, list[str]] = Field(default_factory=dict)
    widget_popular_questions: int = Field(default=3, ge=0, le=10)

    # Slack (the token variables are Slack's own names, without the JISO_ prefix).
    slack_bot_token: str = Field(default="", validation_alias=AliasChoices("SLACK_BOT_TOKEN", "JISO_SLACK_BOT_TOKEN"))
    slack_signing_secret: str = Field(default="", validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "JISO_SLACK_SIGNING_SECRET"))
    slack_app_token: str = Field(default="", validation_alias=AliasChoices("SLACK_APP_TOKEN", "JISO_SLACK_APP_TOKEN"))
    slack_api_url: str = "https://slack.com/api/"
    slack_escalation_channel: str = ""
    slack_workspace_orgs: dict[str, str] = Field(default_factory=dict)  # Slack team id → organization id

    # Reporting.
    admin_api_key: str = ""  # bootstrap key for first set-up; create real keys with `jiso keys create`
    # Questions at least this similar (cosine, average linkage) form one content gap. Per locale,
    # like the thresholds: e5 puts unrelated questions at 0.8 where MiniLM puts them at 0.2.
    report_gap_similarity_en: float = 0.6
    report_gap_similarity_ja: float = 0.9
    # The weekly review posted to these Slack channels by the server itself (off while empty): the
    # last full week (Monday first, in the timezone) against the one before, once per channel and
    # week however many instances run. Checked every weekly_digest_check_seconds.
    weekly_digest_channels: list[str] = Field(default_factory=list)
    weekly_digest_tz: str = "UTC"
    weekly_digest_check_seconds: float = 600.0

    @field_validator("weekly_digest_tz")
    @classmethod
    def _digest_tz(cls, value: str) -> str:
        parse_tz(value)  # an unknown timezone names itself and the fix
        return value

    @field_validator("assume_resolved_after", "session_valid_for", mode="before")
    @classmethod
    def _short_duration(cls, value: Any) -> Any:
        """Accept the forms operators write (24h, 90m, 30s, 2d, 1w, plain seconds as text) besides ISO 8601."""
        match = SHORT_DURATION.match(value) if isinstance(value, str) else None
        return timedelta(**{DURATION_UNITS[match[2].lower()]: float(match[1])}) if match else value

    @field_validator("session_valid_for")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("a dashboard sign-in must last longer than zero")
        return value

    @field_validator("widget_accent_text")
    @classmethod
    def _readable_on_accent(cls, value: str, info: ValidationInfo) -> str:
        accent = info.data.get("widget_accent")
        if value and accent and contrast(value, accent) < AA_TEXT:
            raise ValueError(f"its contrast with JISO_WIDGET_ACCENT={accent} is {contrast(value, accent):.2f}:1, below WCAG AA's {AA_TEXT}:1 for text; leave it empty for white or black")
        return value

    def model_for(self, locale: str) -> str:
        return getattr(self, f"model_{locale}")

    def companion_for(self, locale: str) -> str | None:
        return getattr(self, f"companion_model_{locale}") or None

    def ranking_for(self, locale: str) -> str:
        """The models a locale ranks with, as its calibration is named: `first` or `first+companion`."""
        companion = self.companion_for(locale)
        return f"{self.model_for(locale)}+{companion}" if companion else self.model_for(locale)

    def lexical_for(self, locale: str) -> str:
        return getattr(self, f"lexical_{locale}")

    def lexical_weight_for(self, locale: str) -> float:
        return getattr(self, f"lexical_weight_{locale}")

    def sentence_weight_for(self, locale: str) -> float:
        return getattr(self, f"sentence_weight_{locale}")

    def faq_bonus_for(self, locale: str) -> float:
        return getattr(self, f"faq_bonus_{locale}")

    def gap_similarities(self) -> dict[str, float]:
        return {locale: getattr(self, f"report_gap_similarity_{locale}") for locale in self.locales}


class SettingsInvalid(ValueError):
    """Settings that cannot be used: one line per setting, naming its variable and the fix."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (and `overrides`); SettingsInvalid says what to fix."""
    try:
        settings = Settings(**overrides)
    except ValidationError as error:
        raise SettingsInvalid([_invalid_value(issue) for issue in error.errors()]) from None
    except SettingsError as error:  # a list or mapping setting that is not JSON
        raise SettingsInvalid([_invalid_json(str(error))]) from None
    check_handover_destinations(settings)
    return settings


def check_handover_destinations(settings: Settings) -> None:
    """Refuse hand-over destinations that would lose hand-overs silently: one sentence per setting."""
    problems = []
    url = settings.escalation_webhook_url
    if url and not re.match(r"^https?://[^\s/]+", url):
        problems.append("JISO_ESCALATION_WEBHOOK_URL is not an http(s) URL: write the full address hand-overs are posted to (https://…), or unset it")
    if url and not settings.escalation_webhook_secret:
        problems.append(
            "JISO_ESCALATION_WEBHOOK_SECRET is empty: hand-overs to JISO_ESCALATION_WEBHOOK_URL are signed with it, so set one (a long random string your receiver also knows) or unset the URL"
        )
    if settings.slack_escalation_channel and not settings.slack_bot_token:
        problems.append("JISO_SLACK_ESCALATION_CHANNEL is set but SLACK_BOT_TOKEN is empty: hand-overs cannot be posted to Slack; set the bot token (README › Connect Slack) or unset the channel")
    if problems:
        raise SettingsInvalid(problems)


def variable_name(field: str) -> str:
    """The environment variable that sets `field` (Slack's own names for the Slack tokens)."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return field.upper() if info is None else f"JISO_{field.upper()}"


def _invalid_value(issue: dict[str, Any]) -> str:
    field = str(issue["loc"][0]) if issue["loc"] else ""
    name = variable_name(field)
    if field in ("assume_resolved_after", "session_valid_for") and issue["type"] != "value_error":
        return f"{name}={issue['input']!r} is not a duration: write {DURATION_FORMS}"
    shown = "" if any(part in field for part in SECRET_PARTS) else f"={issue['input']!r}"
    return f"{name}{shown} is invalid ({issue['msg'][:1].lower()}{issue['msg'][1:]}): correct it or unset it for the default"


def _invalid_json(message: str) -> str:
    match = re.search(r'field "(\w+)"', message)
    if match is None:
        return f"invalid setting: {message}"
    field = match[1]
    example = JSON_EXAMPLES.get(field) or json.dumps(Settings.model_fields[field].get_default(call_default_factory=True))
    return f"{variable_name(field)} is not valid JSON: write it as JSON, e.g. {variable_name(field)}='{example}'"
