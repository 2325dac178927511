"""The size line's time estimate (sweep/plan.py) beside whole commands, process start to exit.

Three sweeps, each ``python -m imbalance_sweep`` into a sqlite store that exists already (a copy of
one prepared before timing, so every run computes and logs all its cells):

* ``default``: the seed_blog grid, 4 sampled cells, 2.06e6 samples, six losses, the report;
* ``dense expected``: ``grid=dense mode=expected``, 2,000 exact cells, the report;
* ``120 sampled``: the dense grid cut to one balance (100,000:1,000) and 12 x 10 models, 120 sampled
  cells of 1.01e5 samples, losses ``bce`` and ``focal_tfa``, the report.

Each is timed ``--repeats`` times (wall clock, median printed) and set beside the estimate the size
line is made from; the target is a ratio measured/estimate within [0.5, 2]. ``--new-store`` times
the commands on a new store instead (its tables created by the command). ``--parts`` also times a
dry run (start-up without MLflow), a sweep of one exact cell (start-up with MLflow: the figure of
plan.STARTUP_SECONDS) and each sweep with ``report=false``: the difference is what the report
costs, the figures of plan.REPORT_SECONDS and REPORT_SECONDS_PER_CELL when the report changes.

    python benchmarks/bench_size_line.py [--repeats 3] [--parts] [--new-store]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from imbalance_sweep.runtime.lifetime import whole_process
from imbalance_sweep.sweep import plan
from imbalance_sweep.sweep.config import CONFIG_DIR, SweepSpec, sweep_spec

ACC_0S = "[" + ",".join(f"{0.45 + 0.05 * i:.2f}" for i in range(12)) + "]"  # 0.45 .. 1.0
ACC_1S = "[" + ",".join(f"{0.55 + 0.05 * i:.2f}" for i in range(10)) + "]"  # 0.55 .. 1.0
SWEEPS = {
    "default": [],
    "dense expected": ["grid=dense", "mode=expected"],
    "120 sampled": [
        "grid=dense",
        "grid.balances=[[100000,1000]]",
        f"grid.acc_0s={ACC_0S}",
        f"grid.acc_1s={ACC_1S}",
        "losses=[bce,focal_tfa]",
    ],
}
LOW, HIGH = 0.5, 2.0


def spec_of(overrides: list[str]) -> SweepSpec:
    """The spec the command will build from these overrides."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        config = compose(config_name="config", overrides=overrides)
    return sweep_spec(OmegaConf.to_container(config, resolve=True))  # type: ignore[arg-type]


def prepared_store(folder: Path) -> Path:
    """An empty store with its tables, made once and copied for each command."""
    store = folder / "prepared.db"
    make = (
        "import sys; from imbalance_sweep.tracking.sqlite_store import prepare_sqlite_store; "
        "prepare_sqlite_store('sqlite:///' + sys.argv[1])"
    )
    subprocess.run([sys.executable, "-c", make, str(store)], check=True, capture_output=True)
    return store


def whole_command(overrides: list[str], *, prepared: Path | None) -> float:
    """Seconds of ``python -m imbalance_sweep *overrides`` in a new folder, its own store there."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    with tempfile.TemporaryDirectory(prefix="bench-size-line-") as folder:
        store = Path(folder) / "mlflow.db"
        if prepared is not None:
            shutil.copyfile(prepared, store)
        command = [sys.executable, "-m", "imbalance_sweep", f"tracking_uri=sqlite:///{store}", *overrides]
        start = time.perf_counter()
        done = subprocess.run(
            command, cwd=folder, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True
        )
        seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return seconds


def median_of(repeats: int, overrides: list[str], *, prepared: Path | None) -> tuple[float, list[float]]:
    times = [whole_command(overrides, prepared=prepared) for _ in range(repeats)]
    return statistics.median(times), times


def fitted_figures(one_cell: float, parts: dict[str, tuple[float, float]]) -> list[str]:
    """plan.py's figures as these timings give them: start-up from the one-cell sweep, a cell's
    tracking from the dense exact sweep without its report, and the report's three figures from
    the three reports (their losses and cells)."""
    dense = spec_of(SWEEPS["dense expected"])
    bare = parts["dense expected"][1]
    tracked = (bare - one_cell) / (len(dense.cells) - 1) - plan.SECONDS_PER_EXPECTED_CELL
    specs = [spec_of(overrides) for overrides in SWEEPS.values()]
    design = np.array([[1.0, len(spec.losses), len(spec.cells)] for spec in specs])
    reports = np.array([whole - bare for whole, bare in parts.values()])
    fixed, per_loss, per_cell = np.linalg.solve(design, reports)
    return [
        f"STARTUP_SECONDS = {one_cell - tracked:.2f}",
        f"SECONDS_PER_CELL_TRACKED = {tracked:.4f}",
        f"REPORT_SECONDS = {fixed:.2f}",
        f"REPORT_SECONDS_PER_LOSS = {per_loss:.3f}",
        f"REPORT_SECONDS_PER_CELL = {per_cell:.5f}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--parts",
        action="store_true",
        help="also time a dry run, one exact cell and each sweep without its report; fit plan.py's figures",
    )
    parser.add_argument("--new-store", action="store_true", help="each command creates its store")
    options = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    parts: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-size-line-") as folder:
        prepared = None if options.new_store else prepared_store(Path(folder))
        if options.parts:
            dry, _ = median_of(options.repeats, ["dry_run=true"], prepared=prepared)
            print(f"dry run (start-up without MLflow): {dry:.2f} s")
            one_cell, _ = median_of(options.repeats, ["grid=single", "mode=expected"], prepared=prepared)
            print(f"one exact cell (start-up with MLflow, one cell's run): {one_cell:.2f} s")
        print(f"{'sweep':<16} {'estimate':>9} {'measured':>9} {'ratio':>6}  runs (s)")
        ratios = []
        for name, overrides in SWEEPS.items():
            guess = plan.estimated_seconds(spec_of(overrides), new_store=options.new_store)
            measured, times = median_of(options.repeats, overrides, prepared=prepared)
            ratios.append(measured / guess)
            runs = " ".join(f"{t:.1f}" for t in times)
            print(f"{name:<16} {guess:>8.1f}s {measured:>8.1f}s {measured / guess:>6.2f}  {runs}", flush=True)
            if options.parts:
                bare, _ = median_of(options.repeats, [*overrides, "report=false"], prepared=prepared)
                parts[name] = (measured, bare)
                print(f"{'':<16} report=false {bare:.1f} s: the report took {measured - bare:.1f} s")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    held = all(LOW <= ratio <= HIGH for ratio in ratios)
    print(f"target: every ratio in [{LOW}, {HIGH}]: {'met' if held else 'NOT met'}")
    if options.parts and not options.new_store:
        print("plan.py's figures from these timings:", *fitted_figures(one_cell, parts), sep="\n  ")
    return 0


if __name__ == "__main__":
    # As a command's own process: the estimate is the one the command prints (there a forked worker
    # computes the cells ahead while they are logged: SweepSpec.computes_ahead).
    with whole_process():
        code = main()
    sys.exit(code)
