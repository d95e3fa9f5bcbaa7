"""How long `judge demo` takes for a newcomer: a fresh venv, `pip install .`, then `judge demo` with an empty
model cache, timed by phase (model fetch, answers, judging, rating, report) as the demo itself reports them.

Prints the install time apart (it is not part of the demo's target), then the phases, the demo's wall time,
its CPU time and the load average around the run. Wall time is only meaningful on a quiet machine; on a busy
one, the CPU time and the tokens llama.cpp evaluated say what the demo costs. Targets: 3 minutes on a quiet
2-core machine, 5 minutes under CI load.

Run:  python benchmarks/demo.py [--venv DIR] [--keep-cache] [--json]
      --venv DIR reuses (or creates) that venv instead of a fresh temporary one; --keep-cache uses the usual
      model cache, so the model fetch is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHASES = ("model fetch", "answers", "judging", "rating", "report")
TARGET_QUIET_S = 180.0
TARGET_LOADED_S = 300.0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def install(venv: Path) -> float:
    """Create the venv if needed and install this checkout into it; seconds taken."""
    started = time.perf_counter()
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, str(ROOT)], check=True)
    return time.perf_counter() - started


def run_demo(venv: Path, out: Path, cache: Path | None) -> dict[str, object]:
    """Run `judge demo` in the venv; its phase line, wall and CPU seconds, and the load around it."""
    env = dict(os.environ)
    if cache is not None:
        env["JUDGE_CACHE_DIR"] = str(cache)
    load_before = os.getloadavg()[0]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(
        [str(venv / "bin" / "judge"), "demo", "--out", str(out)], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"judge demo failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    found = re.search(r"^time: (.*); total", done.stdout, re.M)
    phases = {}
    for part in (found.group(1) if found else "").split(", "):
        name, _, seconds = part.rpartition(" ")[0].rpartition(" ")
        if name:
            phases[name] = float(seconds)
    return {
        "phases": phases,
        "wall_s": wall,
        "cpu_s": _children_cpu() - cpu_before,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "threads": os.environ.get("JUDGE_LOCAL_THREADS", "auto"),
        "stdout": done.stdout,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, help="venv to (create and) use instead of a fresh one")
    parser.add_argument("--keep-cache", action="store_true", help="use the usual model cache (no fetch)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="judge-demo-bench-") as tmp:
        venv = args.venv or Path(tmp) / "venv"
        installed = install(venv)
        cache = None if args.keep_cache else Path(tmp) / "models"
        result = run_demo(venv, Path(tmp) / "out", cache)
    result["install_s"] = installed
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(result["stdout"])
    phases = result["phases"]
    assert isinstance(phases, dict)
    print(f"{'phase':<14}{'seconds':>9}")
    print(f"{'(install)':<14}{installed:>9.1f}")
    for name in PHASES:
        print(f"{name:<14}{phases.get(name, float('nan')):>9.1f}")
    wall, cpu = float(result["wall_s"]), float(result["cpu_s"])  # type: ignore[arg-type]
    targets = f"targets: {TARGET_QUIET_S:.0f} s quiet, {TARGET_LOADED_S:.0f} s loaded"
    print(f"{'demo wall':<14}{wall:>9.1f}   ({targets})")
    print(f"{'demo CPU':<14}{cpu:>9.1f}   (all threads, llama.cpp included)")
    load = f"{result['load_before']:.1f} before, {result['load_after']:.1f} after"
    print(f"load average: {load}; {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
