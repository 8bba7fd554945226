"""Every benchmark, one after the other, with short settings: `make bench`.

Each one refuses to start while the 1-minute load average is over 1.5 (bench/_support.py).
The load a benchmark leaves behind is its own, not someone else's, so before the next one
this waits (up to `--wait` seconds) for the load average to fall back under 1.5; past that
the machine is busy with other work and the benchmark refuses, which the results say. The
reports go to docs/results/bench.json, each with its command and the load before and after.

    uv run python bench/run_all.py [--force] [--smoke] [--only devices ingest] [--out FILE]

`--force` runs every benchmark however busy the machine is, to check that they all work;
its figures mean nothing (each report then says `"forced": true`). `--smoke` does the same
with tiny settings, in a minute or two, and writes to the temp folder, never to docs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _support import BUSY_LOAD, ROOT, load_average, machine

# name -> the script and its short settings (the full ones are in docs/benchmarks.md).
SHORT: dict[str, list[str]] = {
    "devices": ["devices.py", "--concurrency", "32", "--seconds", "4"],
    "gateway": ["gateway.py", "--concurrency", "32", "--seconds", "4", "--runs", "1"],
    "login": ["login.py", "--concurrency", "10", "--seconds", "8"],
    "ingest": [
        *("ingest.py", "--devices", "500", "--count", "10000", "--rounds", "1"),
        *("--half-count", "5000"),
    ],
    "ws_pipeline": ["ws_pipeline.py", "--rate", "1000", "--probes", "30"],
    "ws": ["ws.py", "--connections", "10000", "--events", "8", "--gap", "1.5"],
    "consumption_day": [
        *("consumption_day.py", "--devices", "100", "--days", "365", "--seconds", "5"),
        *("--connections", "1", "4"),
    ],
}


# Tiny settings for `--smoke`: does every benchmark still run? (figures meaningless)
TINY: dict[str, list[str]] = {
    "devices": ["devices.py", "--concurrency", "2", "--seconds", "1"],
    "gateway": ["gateway.py", "--concurrency", "2", "--seconds", "1", "--runs", "1"],
    "login": ["login.py", "--concurrency", "2", "--seconds", "2"],
    "ingest": [
        *("ingest.py", "--devices", "100", "--count", "3000", "--rounds", "1"),
        *("--half-count", "1000"),
    ],
    "ws_pipeline": ["ws_pipeline.py", "--rate", "50", "--probes", "3"],
    "ws": ["ws.py", "--connections", "200", "--events", "2", "--gap", "0.5"],
    "consumption_day": [
        *("consumption_day.py", "--devices", "5", "--days", "10", "--seconds", "1"),
        *("--connections", "1"),
    ],
}


def wait_until_quiet(limit: float) -> float:
    """The load average once it is at most BUSY_LOAD, or when `limit` seconds have passed."""
    deadline = time.monotonic() + limit
    while (load := load_average()) > BUSY_LOAD and time.monotonic() < deadline:
        time.sleep(5)
    return load


def run_one(name: str, settings: list[str], force: bool, folder: Path) -> dict[str, Any]:
    out = folder / f"{name}.json"
    argv = [sys.executable, str(ROOT / "bench" / settings[0]), *settings[1:]]
    argv += ["--out", str(out)] + (["--force"] if force else [])
    command = "uv run python bench/" + " ".join(settings)
    started = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    entry: dict[str, Any] = {
        "command": command,
        "seconds": round(time.monotonic() - started, 1),
    }
    if done.returncode == 0 and out.exists():
        entry["report"] = json.loads(out.read_text())
    else:
        lines = (done.stderr or done.stdout).strip().splitlines()
        entry["failed"] = lines[-1] if lines else f"exit status {done.returncode}"
        entry["refused"] = "the machine is busy" in (done.stderr or "")
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="run on a busy machine (smoke)")
    parser.add_argument("--only", nargs="+", choices=list(SHORT), help="only these")
    parser.add_argument("--wait", type=float, default=150, help="seconds to wait for quiet")
    parser.add_argument("--out", type=Path, help="default: docs/results/bench.json")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny settings, forced, not written to docs"
    )
    args = parser.parse_args()
    plan = TINY if args.smoke else SHORT
    args.force = args.force or args.smoke
    if args.out is None:
        smoke = Path(tempfile.gettempdir()) / "ems-bench-smoke.json"
        args.out = smoke if args.smoke else ROOT / "docs" / "results" / "bench.json"
    before = load_average()
    if before > BUSY_LOAD and not args.force:
        sys.exit(
            f"the 1-minute load average is {before} (over {BUSY_LOAD}): the machine is busy. "
            "Run `make bench` on a quiet machine (`make bench FORCE=1` checks that it works)."
        )
    results: dict[str, Any] = {
        "machine": machine(),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "forced": args.force,
        "load_average_before": before,
        "settings": "tiny (a smoke run)"
        if args.smoke
        else "short (make bench); the full runs are in docs/benchmarks.md",
        "benchmarks": {},
    }
    failed = []
    with tempfile.TemporaryDirectory(prefix="ems-bench-all-") as tmp:
        for name in args.only or list(SHORT):
            if not args.force:
                wait_until_quiet(args.wait)
            print(f"{name}: {' '.join(plan[name])}", flush=True)
            entry = run_one(name, plan[name], args.force, Path(tmp))
            results["benchmarks"][name] = entry
            print(f"  {entry.get('failed', 'done')} ({entry['seconds']} s)", flush=True)
            if "failed" in entry:
                failed.append(name)
    results["load_average_after"] = load_average()
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")
    if failed:
        sys.exit(f"failed or refused: {', '.join(failed)}")


if __name__ == "__main__":
    main()
