"""Run the quality and indexing benchmarks and print one markdown report (for docs/BENCHMARKS.md).

    make bench            # or: .venv/bin/python bench/run.py

Each table is measured in one run on this machine; ratios compare rows of the same run.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DATASETS = [ROOT.parent / "shared" / "datasets" / "stackfaq"] + [
    ROOT / "bench" / "datasets" / name for name in ("en-onboarding", "en-heldout", "en-blind", "ja-onboarding", "ja-heldout", "ja-confirmation")
]
COLUMNS = ["p@1", "mrr@10", "recall@5", "ndcg@10", "p50_ms", "p95_ms"]
POLICY = ["answered_share", "answered_precision", "clarified_share", "declined_share", "reached_correct", "aurc"]


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    memory = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")), "?")
    return f"{cpu}, {os.cpu_count()} cores, {int(memory) // 1024 // 1024} GiB, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def jiso(*args: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([str(Path(PYTHON).parent / "jiso"), *args], check=True, capture_output=True, text=True, env=env, cwd=ROOT).stdout


def main() -> None:
    print(f"Machine: {machine()}\n")
    subprocess.run([PYTHON, str(ROOT / "bench" / "build_eval_sets.py")], check=True, capture_output=True)
    for dataset in DATASETS:
        result = json.loads(jiso("eval", str(dataset), "--json"))
        shown = dataset.relative_to(ROOT) if dataset.is_relative_to(ROOT) else Path("..") / dataset.relative_to(ROOT.parent)
        print(f"### `jiso eval {shown}`\n")
        print(f"{result['corpus']} documents, {result['queries']} queries ({result['unanswerable_queries']} unanswerable); default method `{result['default']}`.\n")
        print("| method | " + " | ".join(COLUMNS) + " |\n|" + "---|" * (len(COLUMNS) + 1))
        for method, row in result["methods"].items():
            print(f"| {method} | " + " | ".join(f"{row[c]:.3f}" for c in COLUMNS) + " |")
        best_baseline = max(result["methods"]["dense"]["p@1"], result["methods"]["bm25"]["p@1"])
        print(f"\nDefault p@1 / best single baseline p@1: {result['methods']['hybrid']['p@1'] / best_baseline:.3f}×\n")
        hybrid = result["methods"]["hybrid"]
        print("| answer policy | " + " | ".join(POLICY) + " | precision at coverage 0.2 / 0.4 / 0.6 / 0.8 |\n|" + "---|" * (len(POLICY) + 2))
        print("| calibrated (default) | " + " | ".join(f"{hybrid[c]:.3f}" for c in POLICY) + " | " + " / ".join(f"{p['precision']:.3f}" for p in hybrid["precision_at_coverage"]) + " |")
        for name, baseline in result["confidence_baselines"].items():
            print(
                f"| {name} (ordering only) | "
                + " | ".join("-" for _ in POLICY[:-1])
                + f" | {baseline['aurc']:.3f} | "
                + " / ".join(f"{p['precision']:.3f}" for p in baseline["precision_at_coverage"])
                + " |"
            )
        if result.get("unanswerable_declined") is not None:
            print(f"\nUnanswerable questions not answered with confidence: {result['unanswerable_declined']:.3f}")
        print()
    for script, args in (
        ("replay_feedback.py", []),
        ("compare_retrieval.py", ["ja"]),
        ("japanese_ceiling.py", []),
        ("compare_retrieval.py", ["en"]),
        ("two_models.py", []),
        ("gap_similarity.py", []),
        ("index_speed.py", []),
        ("serving_bench.py", []),
    ):
        print(f"### `python bench/{script} {' '.join(args)}`\n")
        print(subprocess.run([PYTHON, str(ROOT / "bench" / script), *args], check=True, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"}).stdout)


if __name__ == "__main__":
    main()
