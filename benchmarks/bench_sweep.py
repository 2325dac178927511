"""End-to-end wall time of a 500-cell sweep, logged to sqlite: the project's way against the post's.

Every figure is a whole command, process start to exit, timed here in one run of this script:

* ``project``: ``python -m imbalance_sweep`` on 500 cells of 100,000 samples (1 % prevalence,
  acc_0s x acc_1s on a 25 x 20 grid), losses ``bce`` and ``focal_tfa``, report off, one process;
* ``project, 2 joblib workers``: the same grid split in two shards by a Hydra multirun with the
  joblib launcher (skipped, and said so, where sharding is not available);
* ``naive``: the same cells the post's way (``naive_post_sweep/app.py``): one Hydra multirun job
  and one fluent ``mlflow.start_run`` per cell, a fresh draw, Python-level sums and a Keras loss
  call per loss. It is slow, so by default it runs ``--naive-cells`` of the cells and its rate is
  reported per cell.

Target: the project's sequential cells per second at least 10x the naive way's.

Each command logs into a store that already exists, as a user's ``mlflow.db`` does after its first
run: creating MLflow's tables in a new sqlite file (its migrations, 1.5 to 3 s here) is done untimed
before each command. ``--fresh-store`` times that creation too.

    python benchmarks/bench_sweep.py [--naive-cells 100] [--fresh-store]  (naive cells: whole rows of 20)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NUM_0S, NUM_1S = 99_000, 1_000
ACC_0S = [round(0.52 + 0.02 * i, 2) for i in range(25)]  # 0.52 .. 1.0
ACC_1S = [round(0.525 + 0.025 * i, 3) for i in range(20)]  # 0.525 .. 1.0
TARGET = 10.0


def create_store(tracking_uri: str) -> None:
    """MLflow's tables in a new sqlite file, as its first client makes them."""
    make = "import sys, mlflow; mlflow.MlflowClient(sys.argv[1]).search_experiments()"
    subprocess.run([sys.executable, "-c", make, tracking_uri], check=True, capture_output=True)


def timed(command: list[str], *, cwd: Path, tracking_uri: str, fresh_store: bool = False) -> float:
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("MLFLOW_RUN_ID", None)
    if not fresh_store:
        create_store(tracking_uri)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:6])} ... failed:\n{done.stderr[-2000:]}")
    return seconds


def project_command(*extra: str) -> list[str]:
    grid = [
        "grid=single",
        f"grid.balances=[[{NUM_0S},{NUM_1S}]]",
        "grid.models=null",
        f"grid.acc_0s=[{','.join(map(str, ACC_0S))}]",
        f"grid.acc_1s=[{','.join(map(str, ACC_1S))}]",
        "losses=[bce,focal_tfa]",
        "report=false",
    ]
    return [sys.executable, "-m", "imbalance_sweep", *extra, *grid]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--naive-cells", type=int, default=100, help="cells the naive way runs (all 500 is slow)"
    )
    parser.add_argument(
        "--fresh-store", action="store_true", help="time the creation of each sqlite store too"
    )
    args = parser.parse_args()
    cells = len(ACC_0S) * len(ACC_1S)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)

        seconds = timed(
            project_command(),
            cwd=work,
            tracking_uri=f"sqlite:///{work}/project.db",
            fresh_store=args.fresh_store,
        )
        rows.append(("project, 1 process", cells, seconds))

        try:
            parallel = project_command(
                "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "shard.count=2", "shard.index=0,1"
            )
            seconds = timed(
                parallel, cwd=work, tracking_uri=f"sqlite:///{work}/parallel.db", fresh_store=args.fresh_store
            )
            rows.append(("project, 2 joblib workers", cells, seconds))
        except RuntimeError as error:
            print(f"(2 joblib workers skipped: {str(error).splitlines()[-1]})")

        # The naive way on a sub-grid: the first acc_0s values x every acc_1s, one Hydra job each.
        naive_acc_0s = ACC_0S[: max(1, args.naive_cells // len(ACC_1S))]
        n_naive = len(naive_acc_0s) * len(ACC_1S)
        naive = [
            sys.executable,
            str(HERE / "naive_post_sweep" / "app.py"),
            "-m",
            f"+num_0s={NUM_0S}",
            f"+num_1s={NUM_1S}",
            f"+acc_0s={','.join(map(str, naive_acc_0s))}",
            f"+acc_1s={','.join(map(str, ACC_1S))}",
        ]
        seconds = timed(
            naive, cwd=work, tracking_uri=f"sqlite:///{work}/naive.db", fresh_store=args.fresh_store
        )
        rows.append((f"naive (post's way), {n_naive} cells", n_naive, seconds))

    print(f"{'run':38} {'cells':>6} {'seconds':>9} {'cells/s':>9}")
    for name, count, seconds in rows:
        print(f"{name:38} {count:>6} {seconds:>9.1f} {count / seconds:>9.1f}")
    project_rate = rows[0][1] / rows[0][2]
    naive_rate = rows[-1][1] / rows[-1][2]
    ratio = project_rate / naive_rate
    print(
        f"project (1 process) / naive cells per second: {ratio:.1f}x  target >= {TARGET:g}: {'PASS' if ratio >= TARGET else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
