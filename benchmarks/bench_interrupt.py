"""How long Ctrl-C takes to end a sweep, and whether it ends as it should, at random moments.

Each trial starts ``python -m imbalance_sweep grid=dense mode=expected`` (2,000 cells of
milliseconds: most of the time goes to writing runs) on a fresh sqlite store, sends SIGINT to its
process group after a random 6 to 12 s (as a terminal's Ctrl-C), and times the exit. A trial is
good when the command exits 130 with its one line and no "database is locked": a signal that cut a
store write part-way once left sqlite's write lock behind, and the runs' closing then waited out
MLflow's 20 s busy timeout (5 of 12 trials, 81 s each; see ``runtime.signals``).

    python benchmarks/bench_interrupt.py [--trials 12] [--seed 1]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from imbalance_sweep.tracking.sqlite_store import prepare_sqlite_store


def trial(template: Path, folder: Path, wait: float) -> tuple[float, int, list[str]]:
    """``(seconds from SIGINT to exit, exit code, stderr lines)`` of one interrupted sweep."""
    shutil.copyfile(template, folder / "mlflow.db")
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    command = [
        sys.executable,
        "-m",
        "imbalance_sweep",
        "grid=dense",
        "mode=expected",
        f"tracking_uri=sqlite:///{folder / 'mlflow.db'}",
    ]
    process = subprocess.Popen(
        command,
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    time.sleep(wait)
    sent = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=600)
    return time.monotonic() - sent, process.returncode, [line for line in stderr.splitlines() if line.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1, help="of the random moments")
    args = parser.parse_args()
    moments = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        template = Path(scratch) / "template.db"
        prepare_sqlite_store(f"sqlite:///{template}")  # its tables once, copied per trial
        exits, bad = [], 0
        for number in range(args.trials):
            folder = Path(scratch) / f"trial-{number}"
            folder.mkdir()
            seconds, code, lines = trial(template, folder, moments.uniform(6, 12))
            good = code == 130 and len(lines) == 1 and not any("database is locked" in line for line in lines)
            bad += not good
            exits.append(seconds)
            print(
                f"trial {number:>2}: exit {code} after {seconds:5.1f} s, {len(lines)} stderr lines, "
                f"{'good' if good else 'BAD'}",
                flush=True,
            )
    print(
        f"{bad} of {args.trials} bad; seconds from SIGINT to exit: median {statistics.median(exits):.2f}, "
        f"max {max(exits):.2f}"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
