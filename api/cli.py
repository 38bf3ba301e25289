"""`jiso`: one command line, thin over the Python API. Settings come from JISO_* variables."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from api import runtime
from api.settings import Settings, SettingsInvalid, load_settings
from bot.confidence import CHOICES, FOLDS, REPEATS, CalibrationMissing
from bot.reports.periods import DEFAULT_DAYS

if TYPE_CHECKING:  # the ledger's modules load only in the commands that use it
    from sqlmodel import Session

WORKER_PING_SECONDS = 120
app = typer.Typer(help="jiso (自走): answers onboarding questions from your knowledge, hands over to humans, reports outcomes.", no_args_is_help=True, add_completion=False)


def _settings(**overrides) -> Settings:
    """The settings, or exit 2 with one line per invalid setting (its variable and the fix)."""
    try:
        return load_settings(**{key: value for key, value in overrides.items() if value is not None})
    except SettingsInvalid as error:
        for line in error.lines:
            typer.echo(line, err=True)
        raise typer.Exit(2) from None


@contextmanager
def _ledger(settings: Settings) -> Iterator[Session]:
    """A session on the ledger, created or migrated first as `jiso serve` does (a new database
    just works), its engine disposed after."""
    from sqlmodel import Session

    from bot.ledger.db import make_engine, upgrade

    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


@app.command()
def lint(directory: Annotated[Optional[Path], typer.Argument(help="Knowledge directory (default: JISO_KNOWLEDGE_DIR).")] = None) -> None:
    """Check the knowledge files; print every problem as file:line: message; exit 1 on errors."""
    settings = _settings(knowledge_dir=directory)
    if not settings.knowledge_dir.is_dir():
        typer.echo(f"{settings.knowledge_dir}: not a directory", err=True)
        raise typer.Exit(2)
    from bot.onboarding import check_knowledge
    from indexer import risks
    from indexer.store import IndexUnavailable, load_index

    result = runtime.scan(settings)
    problems = sorted([*result.problems, *check_knowledge(settings.knowledge_dir, result.step_references)])
    warnings = risks.missing_twins(result.entries, tuple(settings.locales))
    try:  # similar entries are judged by the model, so on the last index built (no model is loaded here)
        warnings += risks.confusable_entries(load_index(settings.index_dir), result.entries)
    except IndexUnavailable:
        typer.echo("no index yet: run `jiso index` to check for entries too similar to tell apart", err=True)
    for problem in sorted([*problems, *warnings]):
        typer.echo(str(problem))
    entries = len(result.entries)
    typer.echo(f"{len(result.files)} file(s), {entries} entries, {len(problems)} problem(s), {len(warnings)} warning(s)", err=True)
    raise typer.Exit(1 if problems else 0)


@app.command()
def index(
    knowledge: Annotated[Optional[Path], typer.Option(help="Knowledge directory.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Re-embed everything, ignoring the previous index.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Index the knowledge: only changed entries are re-embedded; a bad file is refused (its previous version stays in service) and the exit code is 1."""
    from api.progress import IndexProgress
    from indexer.pipeline import index_knowledge

    settings = _settings(knowledge_dir=knowledge)
    result = runtime.scan(settings)
    progress = None if quiet else IndexProgress()  # a bar on a terminal, plain lines in a log
    try:
        report = index_knowledge(result, settings.index_dir, configs=runtime.locale_configs(settings), embedder_for=runtime.embedders(settings), full=full, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    for line in report.refusals():
        typer.echo(line, err=True)
    typer.echo(report.summary())
    if report.refused_files:
        raise typer.Exit(1)  # the rest is published, but content CI must see the refusal


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in English or Japanese.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    locale: Annotated[Optional[str], typer.Option(help="Answer in this locale instead of detecting it.")] = None,
    local: Annotated[bool, typer.Option("--local", help="Load the index and model here even when `jiso serve` is running with the same index.")] = False,
) -> None:
    """Answer a question from the index, with its sources and confidence: by the running server when it serves the same index (it has the models loaded), else here, loading only the model of the question's language."""
    from api.running_server import ask_running_server, server_url
    from indexer.store import IndexUnavailable

    settings = _settings()
    answer = None if local else ask_running_server(settings, question, locale)
    if answer is not None:
        typer.echo(f"answered by the server at {server_url(settings)} (same index; --local to load it here)", err=True)
    else:
        try:
            engine = runtime.load_engine(settings, runtime.embedders(settings))
        except IndexUnavailable as error:
            typer.echo(str(error), err=True)
            raise typer.Exit(2) from None
        answer = engine.answer(question, locale).to_json()
    if as_json:
        typer.echo(json.dumps(answer, ensure_ascii=False, indent=2))
        return
    typer.echo(answer["text"])
    for number, choice in enumerate(answer["choices"], 1):
        typer.echo(f"  ({number}) {choice['title']}  {choice['path']}:{choice['line']}")
    typer.echo("")
    answer_at, clarify_at = runtime.policy(settings).thresholds(answer["locale"])
    verdict = {"answer": f"answered: at least {answer_at:.2f} needed", "clarify": f"asked which entry is meant: {answer_at:.2f} needed to answer", "decline": "not confident: offered a hand-over"}[
        answer["decision"]
    ]
    typer.echo(f"confidence {answer['confidence']:.2f} = probability the best entry is right ({verdict}; target precision {settings.target_precision:.2f}, locale {answer['locale']})")
    for number, source in enumerate(answer["sources"], 1):
        typer.echo(f"  [{number}] {source['heading']}  {source['path']}:{source['line']}  ranking score {source['score']:.3f}")


@app.command()
def calibrate(
    dataset: Annotated[Path, typer.Argument(help="A BEIR-layout development question set: corpus.jsonl, queries.jsonl, qrels/test.tsv (queries without qrels are unanswerable).")],
    locale: Annotated[str, typer.Option(help="Fit the calibration of this locale (its configured model, and companion if any).")],
    out: Annotated[Optional[Path], typer.Option(help="Write into this folder instead of JISO_CALIBRATION_DIR (the same file name).")] = None,
) -> None:
    """Fit the answer / clarify calibration of a locale's model on a development question set."""
    from bot.confidence import Calibration, calibration_file, calibration_text
    from bot.evaluation import calibration_rows, indexed, load_beir

    settings = _settings()
    _require_dataset(dataset)
    if out is not None and out.exists() and not out.is_dir():
        typer.echo(f"--out {out}: not a folder (the calibration is written into a folder, named for its locale and model)", err=True)
        raise typer.Exit(2)
    collection = load_beir(dataset, tuple(settings.locales))
    model = settings.ranking_for(locale)
    with indexed(collection, configs=runtime.locale_configs(settings), embedder_for=runtime.embedders(settings), policy=runtime.policy(settings, calibrated=False)) as engine:
        rows = calibration_rows(collection, engine).get(locale, [])
    if len(rows) < 50:
        typer.echo(f"{dataset}: {len(rows)} {locale} questions; a calibration needs at least 50 (more is better: each one sets the thresholds)", err=True)
        raise typer.Exit(2)
    answerable = sum(1 for _, _, any_right in rows if any_right)
    calibration = Calibration.fit(rows, locale=locale, model=model, fitted_on=f"{dataset.name}: {len(rows)} questions, {FOLDS}-fold cross-validation repeated {REPEATS} times")
    path = calibration_file(out or settings.calibration_dir, locale, model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(calibration_text(calibration), encoding="utf-8")
    answer_at, clarify_at = calibration.answer.threshold(settings.target_precision), calibration.choices.threshold(settings.target_precision)
    typer.echo(
        f"{path}: {len(rows)} questions ({answerable} with a right entry in the top {CHOICES}); at target precision {settings.target_precision:.2f} jiso answers from {answer_at:.2f} and asks from {clarify_at:.2f}"
    )


def _require_dataset(dataset: Path) -> None:
    for required in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        if not (dataset / required).is_file():
            typer.echo(f"{dataset}: missing {required} (expected the BEIR layout)", err=True)
            raise typer.Exit(2)


@app.command("eval")
def evaluate(
    dataset: Annotated[Path, typer.Argument(help="A BEIR-layout folder: corpus.jsonl, queries.jsonl, qrels/test.tsv.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Measure retrieval quality (default method and BM25/dense baselines, same run)."""
    from bot.evaluation import evaluate as run_evaluation
    from bot.evaluation import load_beir

    settings = _settings()
    _require_dataset(dataset)
    collection = load_beir(dataset, tuple(settings.locales))
    result = run_evaluation(collection, configs=runtime.locale_configs(settings), embedder_for=runtime.embedders(settings), policy=runtime.policy(settings))
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    typer.echo(f"{result['dataset']}: {result['corpus']} documents, {result['queries']} queries (default method: {result['default']})")
    columns = ["p@1", "mrr@10", "recall@5", "p95_ms", "answered_share", "answered_precision", "clarified_share", "reached_correct", "aurc"]
    typer.echo(f"{'method':8} " + " ".join(f"{column:>18}" for column in columns))
    for method, row in result["methods"].items():
        typer.echo(f"{method:8} " + " ".join(f"{'-' if row.get(c) is None else format(row[c], '.3f'):>18}" for c in columns))
    for name, baseline in result["confidence_baselines"].items():
        typer.echo(f"confidence baseline {name}: aurc {baseline['aurc']:.3f}")


suggestions_app = typer.Typer(help="Users' questions confirmed for an entry, suggested as alternative phrasings.", invoke_without_command=True)
app.add_typer(suggestions_app, name="suggestions")


@suggestions_app.callback()
def suggestions_list(
    ctx: typer.Context,
    entry: Annotated[Optional[str], typer.Option(help="Only this entry's suggestions.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List open suggestions (most confirmed first); accept or reject them with the subcommands."""
    if ctx.invoked_subcommand is not None:
        return
    from bot.suggestions import suggestions

    settings = _settings()
    with _ledger(settings) as session:
        found = suggestions(session, runtime.scan(settings).entries, entry_id=entry)
    if as_json:
        typer.echo(json.dumps([s.to_json() for s in found], ensure_ascii=False, indent=2))
        return
    for s in found:
        typer.echo(f"{s.path}:{s.line}  {s.entry_id}  ×{s.confirmations}  {s.phrasing}")
    typer.echo(f'{len(found)} open suggestion(s); accept one with: jiso suggestions accept ENTRY_ID "PHRASING"', err=True)


def _decide_suggestion(entry_id: str, phrasing: str, accept: bool) -> None:
    from bot.suggestions import decide
    from indexer.alternatives import CannotAdd

    settings = _settings()
    try:
        with _ledger(settings) as session:
            decided = decide(session, settings.knowledge_dir, runtime.scan(settings).entries, entry_id=entry_id, phrasing=phrasing, accept=accept)
    except (LookupError, CannotAdd) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    if accept:
        typer.echo(f"{decided.path}: added {decided.phrasing!r} to the alternatives of '{entry_id}'; run `jiso index` to use it")
    else:
        typer.echo(f"rejected {decided.phrasing!r} for '{entry_id}': it will not be suggested again")


@suggestions_app.command("accept")
def suggestions_accept(entry_id: Annotated[str, typer.Argument()], phrasing: Annotated[str, typer.Argument()]) -> None:
    """Write a suggested phrasing into the entry's `also:` list in its markdown file."""
    _decide_suggestion(entry_id, phrasing, True)


@suggestions_app.command("reject")
def suggestions_reject(entry_id: Annotated[str, typer.Argument()], phrasing: Annotated[str, typer.Argument()]) -> None:
    """Do not suggest this phrasing for this entry again."""
    _decide_suggestion(entry_id, phrasing, False)


drafts_app = typer.Typer(help="FAQ drafts proposed from people's answers after hand-overs.", no_args_is_help=True)
app.add_typer(drafts_app, name="drafts")


@drafts_app.command("list")
def drafts_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the open drafts (oldest first): id, locale, question, and the person's answer."""
    from bot.drafts import open_drafts, to_json

    settings = _settings()
    with _ledger(settings) as session:
        found = [to_json(draft) for draft in open_drafts(session)]
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    for draft in found:
        answer = " ".join(draft["answer"].split())
        typer.echo(f"{draft['id']}  {draft['locale']}  {draft['question']}\n    {answer[:200]}{'…' if len(answer) > 200 else ''}")
    typer.echo(f"{len(found)} open draft(s); accept one with: jiso drafts accept ID [--file PATH], or reject it with: jiso drafts reject ID", err=True)


@drafts_app.command("accept")
def drafts_accept(
    draft_id: Annotated[str, typer.Argument()],
    file: Annotated[Optional[Path], typer.Option("--file", help="The FAQ file to add the entry to, in the knowledge folder (default: <locale>/faq/answers-from-hand-overs.md).")] = None,
) -> None:
    """Write the draft as a FAQ entry into a markdown file (checked as `jiso lint` does); edit it there, then `jiso index`."""
    from bot.drafts import CannotAccept, accept

    settings = _settings()
    try:
        with _ledger(settings) as session:
            draft = accept(session, settings.knowledge_dir, runtime.scan(settings).entries, draft_id, file)
    except (LookupError, CannotAccept) as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{draft.path}: added entry '{draft.entry_id}' ({draft.question}); review it, then run `jiso index` to answer with it")


@drafts_app.command("reject")
def drafts_reject(draft_id: Annotated[str, typer.Argument()]) -> None:
    """Drop the draft: it is not proposed again."""
    from bot.drafts import reject

    settings = _settings()
    try:
        with _ledger(settings) as session:
            draft = reject(session, draft_id)
    except LookupError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"rejected draft {draft.id} ({draft.question})")


db_app = typer.Typer(help="The ledger database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Create or migrate the ledger schema (JISO_DATABASE_URL); safe to run repeatedly."""
    from bot.ledger.db import upgrade

    settings = _settings()
    upgrade(settings.database_url, revision)
    typer.echo(f"database at revision {revision}")


@db_app.command("settle")
def db_settle(seconds: Annotated[float, typer.Option(help="Stop settling users after about this long.")] = 600.0) -> None:
    """Bring the reports' aggregates up to date (after a bulk import or a checklist change): fold
    the outcome and unknown event changes into the rollups and compute the stored onboarding states of the users
    changed since. The reports are exact without it, only slower until it is done; the server
    does it every few seconds."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from bot.ledger.models import OnboardingDirty
    from bot.ledger.rollups import UNKNOWN_EVENTS, compact, compact_outcome_changes
    from bot.onboarding import load_checklist
    from bot.reports.onboarding_states import refresh_until_settled

    settings = _settings()
    with _ledger(settings) as session:
        folded, unknown = compact_outcome_changes(session.get_bind()), compact(session.get_bind(), UNKNOWN_EVENTS)
        settled = refresh_until_settled(session.get_bind(), load_checklist(settings.knowledge_dir), budget=timedelta(seconds=seconds))
        left = session.execute(select(func.count()).select_from(OnboardingDirty)).scalar_one()
    typer.echo(f"{folded} outcome change(s) and {unknown} unknown event change(s) folded in; {settled} user(s) settled, {left} still to do")


@app.command()
def jobs(retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Give the failed jobs new attempts (after fixing their receiver).")] = False) -> None:
    """Background jobs of every instance (hand-over deliveries): counts, then the failed and pending ones."""
    from bot import jobs as queue

    with _ledger(_settings()) as session:
        if retry_failed:
            typer.echo(f"{queue.retry_failed(session=session)} failed job(s) queued again")
        typer.echo(" ".join(f"{status}={count}" for status, count in queue.counts(session=session).items()))
        for job in queue.unfinished(session=session):
            when = f"next attempt {job.run_at:%Y-%m-%d %H:%M:%S}Z" if job.status == "pending" else f"failed {job.finished_at:%Y-%m-%d %H:%M:%S}Z"
            typer.echo(f"{job.status}\t{job.kind}\t{job.key}\tattempts {job.attempts}/{job.max_attempts}\t{when}\t{job.last_error or ''}")


keys_app = typer.Typer(help="API keys for the reporting and ingest APIs.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="manager (reports, drafts), ingest (POST /api/v1/events) or agent (replies to and closes hand-overs).")],
    org: Annotated[Optional[str], typer.Option("--org", help="Limit the key to this organization.")] = None,
    name: Annotated[Optional[str], typer.Option(help="A note saying who or what uses the key.")] = None,
) -> None:
    """Create a key and print it once; only its hash is stored."""
    from bot.apikeys import create_key

    if role not in ("manager", "ingest", "agent"):
        typer.echo("--role must be manager, ingest or agent", err=True)
        raise typer.Exit(2)
    with _ledger(_settings()) as session:
        row, secret = create_key(session=session, role=role, org_id=org, name=name)
    typer.echo(secret)
    typer.echo(f"key {row.id}: role {role}{f', organization {org}' if org else ', all organizations'}. Shown once: store it now.", err=True)


@keys_app.command("list")
def keys_list() -> None:
    """List the keys (id, prefix, role, organization, created, revoked); never the secrets."""
    from bot.ledger.keys import list_api_keys

    with _ledger(_settings()) as session:
        keys = list_api_keys(session=session)
    for key in keys:
        revoked = f"revoked {key.revoked_at:%Y-%m-%d %H:%M}" if key.revoked_at else "active"
        typer.echo(f"{key.id}  jiso_{key.prefix}_…  {key.role:8} {key.org_id or 'all organizations':20} created {key.created_at:%Y-%m-%d %H:%M}  {revoked}  {key.name or ''}".rstrip())


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (from `jiso keys list`).")]) -> None:
    """Revoke a key: it stops working at once; the record stays for the audit trail."""
    from bot.ledger.keys import revoke_api_key
    from bot.ledger.writes import NotFound

    try:
        with _ledger(_settings()) as session:
            key = revoke_api_key(session=session, key_id=key_id)
    except NotFound as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"key {key.id} revoked at {key.revoked_at:%Y-%m-%d %H:%M} UTC")


@app.command()
def report(
    since: Annotated[str, typer.Option(help="7d, 4w, 1m (30 days) or a date; today included.")] = f"{DEFAULT_DAYS}d",
    tz: Annotated[str, typer.Option(help="IANA timezone of the days.")] = "UTC",
    org: Annotated[Optional[str], typer.Option("--org", help="One organization.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    slack_channel: Annotated[Optional[str], typer.Option(help="Also post the digest to this Slack channel (needs SLACK_BOT_TOKEN).")] = None,
) -> None:
    """Print the KPI summary (conversations and onboarding) for a period."""
    from bot.ledger.models import utcnow
    from bot.onboarding import load_checklist
    from bot.reports import kpis
    from bot.reports.digest import digest_text
    from bot.reports.periods import BadPeriod, Period, parse_since, parse_tz
    from bot.reports.queries import Filters

    settings = _settings()
    now = utcnow()
    try:
        zone = parse_tz(tz)
        first, last = parse_since(since, now, zone)
        period = Period.of(first, last, zone)
    except BadPeriod as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    with _ledger(settings) as session:
        scope = kpis.ReportScope(session, load_checklist(settings.knowledge_dir), period, Filters(org_id=org), now, settings.assume_resolved_after)
        summary = kpis.summary(scope)
    text = digest_text(summary)
    typer.echo(json.dumps(summary, ensure_ascii=False, indent=2) if as_json else text)
    if slack_channel:
        from slack_sdk import WebClient
        from slack_sdk.errors import SlackApiError

        if not settings.slack_bot_token:
            typer.echo("SLACK_BOT_TOKEN is not set: digest not posted", err=True)
            raise typer.Exit(1)
        try:
            WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url).chat_postMessage(channel=slack_channel, text=text, mrkdwn=True)
        except SlackApiError as error:
            reason = error.response.get("error", "refused")
            hint = "check SLACK_BOT_TOKEN" if reason in ("invalid_auth", "not_authed", "account_inactive", "token_revoked") else f"check the channel {slack_channel} (invite the bot there)"
            typer.echo(f"Slack refused the digest ({reason}): {hint}; the report above was not posted", err=True)
            raise typer.Exit(2) from None
        except OSError as error:  # unreachable Slack: connection refused, DNS, TLS
            typer.echo(f"could not reach Slack at {settings.slack_api_url} ({error}): check JISO_SLACK_API_URL and the network; the report above was not posted", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"digest posted to {slack_channel}", err=True)


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Address to listen on, e.g. 0.0.0.0 for every interface (default: JISO_HOST, else 127.0.0.1).")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port to listen on (default: JISO_PORT, else 8000). Set JISO_PUBLIC_URL to the address people reach.")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Server processes on this port (each loads the index and the models: ~0.5–1 GB each).")] = 1,
) -> None:
    """Start the web server (chat API, widget, Slack events, reports)."""
    import uvicorn

    from bot.ledger.db import upgrade

    settings = _settings(host=host, port=port)
    runtime.policy(settings)  # a missing calibration stops here with one sentence, not in the server's start-up
    upgrade(settings.database_url)  # once, before the workers start (each would race to create the schema)
    # The app trusts forwarded headers from JISO_FORWARDED_ALLOW_IPS only; uvicorn's own handling is
    # off, or its default (trust 127.0.0.1, or $FORWARDED_ALLOW_IPS) would decide before the app does.
    # A worker still importing the models can take longer than uvicorn's 5 s to answer its
    # supervisor's ping, which would kill it and start another, over and over.
    uvicorn.run("api.app:create_app", factory=True, host=settings.host, port=settings.port, workers=workers, timeout_worker_healthcheck=WORKER_PING_SECONDS, log_level="info", proxy_headers=False)


@app.command()
def slack() -> None:
    """Connect to Slack in Socket Mode (no public URL needed): needs SLACK_APP_TOKEN and SLACK_BOT_TOKEN."""
    settings = _settings()
    missing = [name for name, value in (("SLACK_APP_TOKEN", settings.slack_app_token), ("SLACK_BOT_TOKEN", settings.slack_bot_token)) if not value]
    if missing:
        typer.echo(f"Socket Mode needs {' and '.join(missing)} (an app-level token with connections:write, and the bot token); see README › Connect Slack", err=True)
        raise typer.Exit(2)
    from slack_sdk.errors import SlackApiError

    from api.transcript_links import transcript_links
    from bot.ledger.db import make_engine, upgrade
    from indexer.store import IndexUnavailable

    problem = _slack_unusable(settings)
    if problem:
        typer.echo(problem, err=True)
        raise typer.Exit(2)
    try:
        engine = runtime.load_engine(settings, runtime.embedders(settings))
    except IndexUnavailable as error:
        typer.echo(f"no usable index, every question will get a hand-over: {error}", err=True)
        engine = None
    upgrade(settings.database_url)  # idempotent, as `jiso serve` does: a new database just works
    database = make_engine(settings.database_url)
    dispatcher = runtime.hand_over_dispatcher(settings, database, transcript_links(settings))
    handler = runtime.slack_socket_mode(settings, lambda: engine, database, dispatcher)
    typer.echo("connecting to Slack in Socket Mode…", err=True)
    try:
        handler.start()
    except SlackApiError as error:
        typer.echo(f"SLACK_APP_TOKEN was refused by Slack ({error.response.get('error')}): {APP_TOKEN_FIX}", err=True)
        raise typer.Exit(2) from None
    except OSError as error:
        typer.echo(_unreachable(settings, error), err=True)
        raise typer.Exit(2) from None
    finally:
        dispatcher.close()


SLACK_ERROR_CODE = re.compile(r"^[a-z0-9_]+$")
APP_TOKEN_FIX = "use an app-level token (xapp-…) with connections:write, from Basic Information › App-Level Tokens"
BOT_TOKEN_FIX = "use the Bot User OAuth Token (xoxb-…) from OAuth & Permissions, after installing the app"


def _slack_unusable(settings: Settings) -> str | None:
    """Why Slack cannot be used with these settings, in one sentence (None when it can): each
    token is tried once, without retries, before anything else starts."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    sdk_log = logging.getLogger("slack_sdk.web.base_client")
    level = sdk_log.level
    sdk_log.setLevel(logging.CRITICAL)  # the sentence returned says it all, once
    try:
        for variable, token, call, fix in (
            ("SLACK_BOT_TOKEN", settings.slack_bot_token, "auth.test", BOT_TOKEN_FIX),
            ("SLACK_APP_TOKEN", settings.slack_app_token, "apps.connections.open", APP_TOKEN_FIX),
        ):
            try:
                WebClient(token=token, base_url=settings.slack_api_url, timeout=10).api_call(call)
            except SlackApiError as error:
                code = str(error.response.get("error") or "") if isinstance(error.response.data, dict) else ""
                if not SLACK_ERROR_CODE.match(code):  # Slack answers snake_case codes; anything else is another server
                    return f"JISO_SLACK_API_URL={settings.slack_api_url} does not answer like the Slack Web API (HTTP {error.response.status_code}): point it at Slack's Web API, or unset it for https://slack.com/api/"
                return f"{variable} was refused by Slack ({code}): {fix}"
            except (OSError, ValueError) as error:
                return _unreachable(settings, error)
    finally:
        sdk_log.setLevel(level)
    return None


def _unreachable(settings: Settings, error: Exception) -> str:
    reason = getattr(error, "reason", None) or error
    return f"cannot reach the Slack Web API at JISO_SLACK_API_URL={settings.slack_api_url} ({reason}): check the address and the network, or unset it for https://slack.com/api/"


def main() -> None:
    # Offline by design: the models are bundled; never reach for a model hub, never draw bars.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # alembic says "Context impl SQLiteImpl." and every migration on each command that opens the ledger
    for noisy in ("sentence_transformers", "httpx", "bm25s", "faiss", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        app()
    except CalibrationMissing as error:
        typer.echo(str(error), err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
