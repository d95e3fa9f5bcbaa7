"""Size and render time of the HTML report for MT-Bench's six models, built from the real recorded data.

Builds a results directory in the tournament's layout from ../shared/data: the 3,355 expert human votes of
mt_bench_human/human_judgments.csv as battles (one details line per vote: the question up to the voted turn,
both models' recorded answers from mt_bench/model_answer/, and the voter as the "judgment"), a leaderboard
and per-category leaderboards from judge.ratings; no usage figures (humans cost nothing we know of). Then it
times render_report and reports the size of report.html, raw and gzipped.

Run:  .venv/bin/python benchmarks/report_size.py [--data ../shared/data] [--keep DIR] [--bootstrap N] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from judge.battles import load_battles
from judge.ratings import leaderboard, leaderboards_by
from judge.report import load_run_dir, render_report

ROOT = Path(__file__).resolve().parent.parent


def _board(frame: pd.DataFrame, n_battles: int, bootstrap: int) -> dict[str, Any]:
    rows = json.loads(frame.to_json(orient="records"))
    return {"method": "bt", "n_battles": n_battles, "bootstrap": bootstrap, "models": rows}


def build_run_dir(data: Path, out: Path, bootstrap: int) -> int:
    """Write the MT-Bench human-vote run directory; returns the number of battles."""
    battles = load_battles(data / "mt_bench_human" / "human_judgments.csv").frame
    questions = {}
    for line in (data / "mt_bench" / "question.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        questions[str(record["question_id"])] = record["turns"]
    answers: dict[str, dict[str, list[str]]] = {}
    for path in sorted((data / "mt_bench" / "model_answer").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            answers.setdefault(record["model_id"], {})[str(record["question_id"])] = record["choices"][0][
                "turns"
            ]
    out.mkdir(parents=True, exist_ok=True)
    records = json.loads(battles.to_json(orient="records"))
    with (out / "battles.jsonl").open("w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)
    with (out / "details.jsonl").open("w", encoding="utf-8") as handle:
        for r in records:
            qid, turn = str(r["question_id"]), int(r["turn"])
            detail = {
                "question_id": qid,
                "category": r["category"],
                "turn": turn,
                "question": questions[qid][:turn],
                "model_a": r["model_a"],
                "model_b": r["model_b"],
                "answer_a": answers[r["model_a"]][qid][:turn],
                "answer_b": answers[r["model_b"]][qid][:turn],
                "judgments": [{"order": "ab", "raw": f"human vote by {r['judge']}", "verdict": r["winner"]}],
                "winner": r["winner"],
            }
            handle.write(json.dumps(detail) + "\n")
    board = leaderboard(battles, bootstrap=bootstrap, seed=0, cluster="question")
    (out / "leaderboard.json").write_text(
        json.dumps(_board(board, len(battles), bootstrap)), encoding="utf-8"
    )
    groups = {
        name: _board(group, int(group["battles"].sum()) // 2, bootstrap)
        for name, group in leaderboards_by(battles, "category", bootstrap=bootstrap, seed=0).items()
    }
    (out / "leaderboard_by_category.json").write_text(json.dumps({"groups": groups}), encoding="utf-8")
    return len(battles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--keep", type=Path, help="write the run directory (and report.html) here")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp) / "mt_bench_human"
        n_battles = build_run_dir(args.data, out, args.bootstrap)
        start = time.perf_counter()
        data = load_run_dir(out)
        loaded = time.perf_counter()
        page = render_report(data)
        rendered = time.perf_counter()
        (out / "report.html").write_text(page, encoding="utf-8")
        raw = len(page.encode("utf-8"))
        result = {
            "models": len(data.leaderboard.rows),
            "battles": n_battles,
            "details": len(data.details),
            "details_jsonl_bytes": (out / "details.jsonl").stat().st_size,
            "report_bytes": raw,
            "report_gzip_bytes": len(gzip.compress(page.encode("utf-8"))),
            "load_seconds": round(loaded - start, 3),
            "render_seconds": round(rendered - loaded, 3),
        }
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return
    print("MT-Bench, 6 models, expert human votes -> report.html")
    print(f"{'measure':<22}{'value':>14}")
    for key, value in result.items():
        shown = f"{value / 1e6:.2f} MB" if key.endswith("bytes") else str(value)
        print(f"{key:<22}{shown:>14}")


if __name__ == "__main__":
    main()
