"""The summary as a short text digest (terminal and Slack)."""

from __future__ import annotations

from typing import Any


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _num(value: float | None, unit: str = "") -> str:
    return "–" if value is None else f"{value:g}{unit}"


def digest_text(summary: dict[str, Any]) -> str:
    period, talk, board = summary["period"], summary["conversations"], summary["onboarding"]
    scope = f" · org {summary['filters']['org_id']}" if summary["filters"]["org_id"] else ""
    lines = [
        f"jiso report {period['from']} → {period['to']} ({period['tz']}){scope}  [{summary['kpi_version']}]",
        "",
        f"Conversations      {talk['conversations']} ({talk['decided']} decided, {talk['open']} open)",
        f"Deflection         {_pct(talk['deflection_rate'])}  (confirmed {_pct(talk['confirmed_rate'])}, assumed {_pct(talk['assumed_rate'])})",
        f"Escalation         {_pct(talk['escalation_rate'])}",
        f"Unanswered         {_pct(talk['unanswered_rate'])}",
        "",
        f"Onboarding users   {board['users_started']} started, {board['users_completed']} completed ({_pct(board['completion_rate'])})",
        f"Self-serve         {_pct(board['self_serve_completion_rate'])}",
        f"Involvement        {_pct(board['involvement'])}",
        f"Time to complete   median {_num(board['median_time_to_complete_hours'], ' h')}, p90 {_num(board['p90_time_to_complete_hours'], ' h')}",
    ]
    if board["funnel"]:
        lines += ["", "Funnel (did this step and all before it)"]
        for step in board["funnel"]:
            marker = "*" if step["required"] else " "
            lines.append(f"  {marker} {step['step']:<22} {step['reached']:>6}  drop-off {step['drop_off']}")
    if summary["unknown_events"]:
        lines += ["", "Unknown event names: " + ", ".join(f"{e['name']} ({e['count']})" for e in summary["unknown_events"][:10])]
    return "\n".join(lines)
