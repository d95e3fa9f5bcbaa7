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
start = time.perf_counter()
if kind == "load_battles":
    rows = len(b.load_battles(path).frame)
elif path.endswith(".csv"):
    rows = len(pd.read_csv(path))
else:
    rows = len(pd.read_json(path, lines=path.endswith(".jsonl")))
print(time.perf_counter() - start, rows)
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


def time_one(path: Path, kind: str) -> tuple[float, int]:
    out = subprocess.run(
        [sys.executable, "-c", TIMER, str(path), kind], capture_output=True, text=True, check=True
    )
    seconds, rows = out.stdout.split()
    return float(seconds), int(rows)


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
            ours, kept = time_one(path, "load_battles")
            base, _ = time_one(path, "baseline")
            results.append(
                {"file": name, "rows": args.rows, "kept": kept, "load_battles_s": ours, "baseline_s": base}
            )
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'file':6} {'rows':>10} {'kept':>10} {'load_battles s':>15} {'baseline s':>11} {'ratio':>6}")
    for r in results:
        ratio = r["load_battles_s"] / r["baseline_s"]
        print(
            f"{r['file']:6} {r['rows']:>10} {r['kept']:>10} {r['load_battles_s']:>15.2f} "
            f"{r['baseline_s']:>11.2f} {ratio:>6.2f}"
        )


if __name__ == "__main__":
    main()
