"""What a new sqlite store adds to a command: a 1-cell ``mode=expected`` sweep, whole command.

Three ways, each the median of ``--repeats`` runs (after one warm-up) of
``python -m imbalance_sweep grid=single mode=expected resume=false`` (process start to exit):

* ``existing store``: a store that already holds runs (the sweep's own, from the warm-up);
* ``new store``: a new file each run, copied from the template in the user's cache (built once per
  installed MLflow; here in this script's own cache folder, built by the warm-up);
* ``new store, empty cache``: a new file and an empty cache each run, so MLflow's migrations run
  into the template first (what the first command after installing an MLflow pays).

Target: a new store costs under 1 s more than an existing one.

    python benchmarks/bench_new_store.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import wall_times

TARGET_SECONDS = 1.0


def sweep(store: Path, cache: Path) -> None:
    """One 1-cell sweep into ``store``, with ``cache`` as the user's cache folder."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    env["XDG_CACHE_HOME"] = str(cache)
    command = [sys.executable, "-m", "imbalance_sweep", "grid=single", "mode=expected", "resume=false"]
    command.append(f"tracking_uri=sqlite:///{store}")
    done = subprocess.run(command, cwd=store.parent, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the sweep failed:\n{done.stderr[-2000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        cache = root / "cache"
        count = itertools.count()

        def fresh(name: str) -> Path:
            path = root / f"{name}{next(count)}"
            path.mkdir()
            return path

        existing = root / "existing.db"
        medians = {
            "existing store": statistics.median(wall_times(lambda: sweep(existing, cache), args.repeats)),
            "new store": statistics.median(
                wall_times(lambda: sweep(fresh("store") / "mlflow.db", cache), args.repeats)
            ),
            "new store, empty cache": statistics.median(
                wall_times(lambda: sweep(fresh("store") / "mlflow.db", fresh("cache")), args.repeats)
            ),
        }
    print(f"1-cell mode=expected sweep, whole command, medians of {args.repeats}:")
    for label, seconds in medians.items():
        print(f"  {label:24} {seconds:6.2f} s")
    extra = medians["new store"] - medians["existing store"]
    verdict = "met" if extra < TARGET_SECONDS else "NOT met"
    print(f"a new store adds {extra:+.2f} s (target: under {TARGET_SECONDS:.0f} s: {verdict}); ", end="")
    print(f"with an empty cache {medians['new store, empty cache'] - medians['existing store']:+.2f} s")


if __name__ == "__main__":
    main()
