"""Speed of judge.battles.load_battles on Arena-sized logs, against a plain pandas read of the same file.

Writes a synthetic battle log (default 1.6 million rows, Arena's clean_battle fields) as CSV, JSON lines and a
JSON list to a temporary directory, then times in fresh subprocesses (imports excluded, first call):

  load_battles   judge.battles.load_battles: read, map, validate every row, build the canonical frame
  baseline       pandas.read_csv (default C engine) / pandas.read_json with no checks at all

Run:  .venv/bin/python benchmarks/load_battles.py [--rows N] [--json]
Target on 2 cores: the CSV well under 1 s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

TIMER = """
import sys, time
import pandas as pd
import judge.battles as b
path, kind = sys.argv[1], sys.argv[2]
start, cpu = time.perf_counter(), time.process_time()
if kind == "load_battles":
    rows = len(b.load_battles(path).frame)
elif path.endswith(".csv"):
    rows = len(pd.read_csv(path))
else:
    rows = len(pd.read_json(path, lines=path.endswith(".jsonl")))
print(time.perf_counter() - start, time.process_time() - cpu, rows)
"""


def synthetic(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    models = np.array([f"model-{i:03d}" for i in range(130)])
    a = rng.integers(0, 130, n)
    b = (a + rng.integers(1, 130, n)) % 130
    return pd.DataFrame(
        {
            "question_id": [f"{x:016x}" for x in rng.integers(0, 2**62, n)],
            "model_a": models[a],
            "model_b": models[b],
            "winner": np.array(["model_a", "model_b", "tie", "tie (bothbad)"])[rng.integers(0, 4, n)],
            "judge": [f"arena_user_{x}" for x in rng.integers(0, 50_000, n)],
            "turn": rng.integers(1, 4, n),
            "anony": rng.random(n) < 0.9,
            "language": np.array(["English", "Chinese", "German", "Russian"])[rng.integers(0, 4, n)],
            "tstamp": 1.7e9 + rng.random(n) * 3e7,
        }
    )


def time_one(path: Path, kind: str) -> tuple[float, float, int]:
    """Wall and CPU seconds (CPU counts every thread: it is what a busy machine charges) and rows kept."""
    command = [sys.executable, "-c", TIMER, str(path), kind]
    wall, cpu, rows = subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()
    return float(wall), float(cpu), int(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_600_000)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    frame = synthetic(args.rows)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        files = {
            "csv": Path(tmp, "battles.csv"),
            "jsonl": Path(tmp, "battles.jsonl"),
            "json": Path(tmp, "b.json"),
        }
        frame.to_csv(files["csv"], index=False)
        frame.to_json(files["jsonl"], orient="records", lines=True)
        frame.to_json(files["json"], orient="records")
        for name, path in files.items():
            ours, ours_cpu, kept = time_one(path, "load_battles")
            base, base_cpu, _ = time_one(path, "baseline")
            results.append(
                {
                    "file": name,
                    "rows": args.rows,
                    "kept": kept,
                    "load_battles_s": ours,
                    "load_battles_cpu_s": ours_cpu,
                    "baseline_s": base,
                    "baseline_cpu_s": base_cpu,
                }
            )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'file':6} {'rows':>9} {'kept':>9} {'ours s':>7} {'ours cpu':>9} {'base s':>7} {'base cpu':>9}")
    for r in results:
        print(
            f"{r['file']:6} {r['rows']:>9} {r['kept']:>9} {r['load_battles_s']:>7.2f} "
            f"{r['load_battles_cpu_s']:>9.2f} {r['baseline_s']:>7.2f} {r['baseline_cpu_s']:>9.2f}"
        )


if __name__ == "__main__":
    main()
