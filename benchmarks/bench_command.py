"""Whole commands as a person waits for them, process start to exit, against what MLflow itself
costs for the same record. Every figure is a median of ``--repeats`` runs taken in rounds (each
command once a round, in turn), so a load that drifts on a shared machine weighs on both sides
of a ratio alike. Each command gets the same environment, in a scratch folder.

(a) ``default``: ``python -m imbalance_sweep`` (the README's first command: the post's 4 cells, the
    report as it is by default) into an existing sqlite store, against the MLflow floor: a fresh
    ``python -c`` process that imports mlflow and logs the same parent and cells (the params,
    metrics and tags the project logged, read back from its store) with ``MlflowClient`` into an
    existing store of the same kind. Target: within 1.5x. Also against that floor ending as the
    project's commands end (``gc.freeze()`` before the interpreter's final collections).
(b) ``per cell``: in this process, the project's logging of a cell (``runner.run_cell`` with the
    cell's numbers computed beforehand: its run created with its tags, one batch, closed) against
    MLflow's own ``create_run`` + one ``log_batch`` + ``set_terminated`` with the same payload, each
    in its own existing store; and the requests each makes per cell. Target: within 1.1x.
(c) ``new store``: a 1-cell ``mode=expected`` sweep into a sqlite file that does not exist yet,
    against the same into an existing store.
(d) ``mistake``: ``python -m imbalance_sweep losses=[nope]``: seconds to its one line (exit 2).
(e) ``120 cells``: a sampled grid of 120 cells of 101,000 samples (1 % prevalence, 12 x 10
    accuracies), losses ``bce`` and ``focal_tfa``, the report as by default, against the naive way
    as the issue measured it: the post's code in a Hydra multirun with fluent MLflow
    (``naive_post_sweep/app.py``, which bench_sweep.py uses too: one Hydra job and one
    ``mlflow.start_run`` per cell, a fresh draw, Keras's loss objects). Target: the project at least
    6x faster end to end. ``--naive-loop`` adds a leaner floor written here: one process, a loop of
    fluent runs, numpy losses (``--naive-keras``: Keras's), recall, precision and F1 from the counts.

An existing store is a copy of one MLflow made (untimed), fresh for every run.

    python benchmarks/bench_command.py [--repeats 5] [--cell-repeats 40] [--only a,b,c,d,e] [--naive-loop [--naive-keras]]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from timing import interleaved_wall_times  # benchmarks/timing.py, beside this script

DEFAULT_TARGET = 1.5
CELL_TARGET = 1.1
NAIVE_ACC_0S = [round(0.89 + 0.01 * i, 2) for i in range(12)]  # 0.89 .. 1.0
NAIVE_ACC_1S = [round(0.55 + 0.05 * i, 2) for i in range(10)]  # 0.55 .. 1.0
GRID_120 = (
    "grid=single",
    "grid.balances=[[100000,1000]]",
    "grid.models=null",
    f"grid.acc_0s=[{','.join(map(str, NAIVE_ACC_0S))}]",
    f"grid.acc_1s=[{','.join(map(str, NAIVE_ACC_1S))}]",
    "losses=[bce,focal_tfa]",
)
ONE_EXPECTED_CELL = ("grid=single", "mode=expected")
MISTAKE = ("losses=[nope]",)
EXPERIMENT = "imbalance-sweep"  # conf/config.yaml's

# MLflow's own cost of a sweep's record: its parent and cells, as MLflow's client logs them.
FLOOR_SCRIPT = """
import json, sys, time
from mlflow import MlflowClient
from mlflow.entities import Metric, Param
payload = json.load(open(sys.argv[1]))
client = MlflowClient()
experiment = client.get_experiment_by_name(payload["experiment"])
experiment_id = experiment.experiment_id if experiment else client.create_experiment(payload["experiment"])
parent = payload["parent"]
parent_id = client.create_run(experiment_id, run_name=parent["name"], tags=parent["tags"]).info.run_id
client.log_batch(parent_id, params=[Param(k, v) for k, v in parent["params"].items()])
for cell in payload["cells"]:
    tags = {**cell["tags"], "mlflow.parentRunId": parent_id}
    run_id = client.create_run(experiment_id, run_name=cell["name"], tags=tags).info.run_id
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        params=[Param(k, v) for k, v in cell["params"].items()],
        metrics=[Metric(k, v, now, 0) for k, v in cell["metrics"].items()],
    )
    client.set_terminated(run_id)
client.set_terminated(parent_id)
"""

# The floor as the project ends a command (cli.whole_process): the interpreter's final collections
# skip the objects of the process, which otherwise cost it 0.5 to 1 s with MLflow's modules loaded.
FROZEN_EXIT = "\nimport gc\ngc.freeze()\n"

# The naive way of (e): what a user of the post would write for a grid of cells.
NAIVE_SCRIPT = """
import sys
import mlflow
import numpy as np
keras_losses = sys.argv[3] == "keras"
if keras_losses:
    import keras
    bce_loss = keras.losses.BinaryCrossentropy()
    focal_loss = keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.25, gamma=2.0, reduction="sum")
num_0s, num_1s = 100_000, 1_000
acc_0s, acc_1s = (list(map(float, text.split(","))) for text in sys.argv[1:3])
mlflow.set_experiment("naive")
rng = np.random.default_rng(0)
for a0 in acc_0s:
    for a1 in acc_1s:
        with mlflow.start_run(run_name=f"a0={a0} a1={a1}"):
            negatives = rng.uniform(0.0, 0.5 / a0, num_0s).astype(np.float32)
            positives = rng.uniform(1.0 - 0.5 / a1, 1.0, num_1s).astype(np.float32)
            y_true = np.concatenate([np.zeros(num_0s), np.ones(num_1s)]).astype(np.float32)
            y_pred = np.clip(np.concatenate([negatives, positives]), 1e-7, 1 - 1e-7)
            if keras_losses:
                bce = float(bce_loss(y_true[:, None], y_pred[:, None]))
                focal = float(focal_loss(y_true[:, None], y_pred[:, None]))
            else:
                p_true = np.where(y_true == 1, y_pred, 1 - y_pred)
                alpha = np.where(y_true == 1, 0.25, 0.75)
                bce = float(-np.mean(np.log(p_true)))
                focal = float(np.sum(-alpha * (1 - p_true) ** 2 * np.log(p_true)))
            tp = int(np.count_nonzero(positives > 0.5))
            fp = int(np.count_nonzero(negatives > 0.5))
            recall = tp / num_1s
            precision = tp / max(tp + fp, 1)
            f1 = 2 * precision * recall / max(precision + recall, 1e-12)
            mlflow.log_params({"num_0s": num_0s, "num_1s": num_1s, "acc_0s": a0, "acc_1s": a1})
            mlflow.log_metrics({"loss/bce": bce, "loss/focal_tfa": focal, "tp": tp, "fp": fp,
                                "recall": recall, "precision": precision, "f1": f1})
"""


class Stores:
    """Scratch sqlite stores: one MLflow made, copied fresh for every command that needs one."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.pristine = folder / "pristine.db"
        make = "import sys, mlflow; mlflow.MlflowClient(sys.argv[1]).search_experiments()"
        subprocess.run([sys.executable, "-c", make, self.uri(self.pristine)], check=True, capture_output=True)

    @staticmethod
    def uri(path: Path) -> str:
        return f"sqlite:///{path}"

    def fresh(self, name: str) -> Path:
        """A copy of the store MLflow made, as ``name`` (any earlier copy and its artifacts gone)."""
        path = self.folder / name
        self.absent(name)
        shutil.copyfile(self.pristine, path)
        return path

    def absent(self, name: str) -> Path:
        """No store ``name``: a command makes a new one there."""
        path = self.folder / name
        for stale in self.folder.glob(name + "*"):
            stale.unlink()
        shutil.rmtree(self.folder / "mlruns", ignore_errors=True)
        return path


def environment(tracking_uri: str) -> dict[str, str]:
    """This process's environment, the store set, no run of an outer `mlflow run` inherited."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if env.get("PYTHONPATH"):  # the commands run in a scratch folder: PYTHONPATH=src must still find src
        env["PYTHONPATH"] = os.pathsep.join(
            os.path.abspath(part) for part in env["PYTHONPATH"].split(os.pathsep)
        )
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME"):
        env.pop(name, None)
    return env


class CommandCall:
    """A call that runs ``command`` and returns its stderr, failing on another exit code; ``cpu``
    holds the CPU seconds (user + system) of each run, which a loaded machine disturbs far less
    than the wall clock."""

    def __init__(self, command: list[str], cwd: Path, tracking_uri: str, *, exit_code: int = 0):
        self.command, self.cwd, self.tracking_uri, self.exit_code = command, cwd, tracking_uri, exit_code
        self.cpu: list[float] = []

    def __call__(self) -> str:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            self.command, cwd=self.cwd, env=environment(self.tracking_uri), capture_output=True, text=True
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        if done.returncode != self.exit_code:
            raise RuntimeError(
                f"{' '.join(self.command[:6])} ... exited {done.returncode}:\n{done.stderr[-2000:]}"
            )
        return done.stderr

    def median_cpu(self) -> float:
        return statistics.median(self.cpu[1:])  # the first run is the warm-up


def command_call(command: list[str], cwd: Path, tracking_uri: str, *, exit_code: int = 0) -> CommandCall:
    return CommandCall(command, cwd, tracking_uri, exit_code=exit_code)


def project(*overrides: str) -> list[str]:
    return [sys.executable, "-m", "imbalance_sweep", *overrides]


def medians(times: Mapping[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) for name, values in times.items()}


def ratio_line(label: str, ours: float, theirs: float, target: float | None, unit: str = "s") -> str:
    scale, digits = (1000.0, 1) if unit == "ms" else (1.0, 2)
    line = (
        f"{label:44} {ours * scale:9.{digits}f} {theirs * scale:9.{digits}f} {unit:>3} {ours / theirs:6.2f}x"
    )
    if target is not None:
        line += f"  target <= {target:g}x: {'PASS' if ours / theirs <= target else 'FAIL'}"
    return line


def logged_record(tracking_uri: str) -> dict:
    """The params, metrics and tags the project logged for its sweep's parent and cells (the
    artifacts' bookkeeping tag left out), for the floor script to log again."""
    from mlflow import MlflowClient

    from imbalance_sweep.tracking.tags import ROLE_TAG, Role

    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    (parent,) = client.search_runs([experiment.experiment_id], f"tags.`{ROLE_TAG}` = '{Role.SWEEP}'")
    skip = {"mlflow.runName", "mlflow.parentRunId", "mlflow.loggedArtifacts"}

    def entry(run) -> dict:
        return {
            "name": run.info.run_name,
            "tags": {k: v for k, v in run.data.tags.items() if k not in skip},
            "params": dict(run.data.params),
            "metrics": dict(run.data.metrics),
        }

    cells = client.search_runs(
        [experiment.experiment_id],
        f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
        order_by=["attributes.start_time ASC"],
    )
    return {"experiment": experiment.name, "parent": entry(parent), "cells": [entry(run) for run in cells]}


def bench_default(stores: Stores, repeats: int) -> list[str]:
    """(a): the default command against the MLflow floor of the same record."""
    folder = stores.folder
    record = stores.fresh("record.db")
    command_call(project(), folder, stores.uri(record))()
    payload = folder / "payload.json"
    payload.write_text(json.dumps(logged_record(stores.uri(record))))
    calls = {
        "project": command_call(project(), folder, stores.uri(folder / "project.db")),
        "no report": command_call(project("report=false"), folder, stores.uri(folder / "project.db")),
        "mlflow": command_call(
            [sys.executable, "-c", FLOOR_SCRIPT, str(payload)], folder, stores.uri(folder / "floor.db")
        ),
        "mlflow frozen": command_call(
            [sys.executable, "-c", FLOOR_SCRIPT + FROZEN_EXIT, str(payload)],
            folder,
            stores.uri(folder / "floor.db"),
        ),
    }
    store_of = {
        "project": "project.db",
        "no report": "project.db",
        "mlflow": "floor.db",
        "mlflow frozen": "floor.db",
    }
    times = medians(interleaved_wall_times(calls, repeats, before=lambda name: stores.fresh(store_of[name])))
    cells = len(json.loads(payload.read_text())["cells"])
    return [
        ratio_line(
            f"(a) default command ({cells} cells) vs MLflow floor",
            times["project"],
            times["mlflow"],
            DEFAULT_TARGET,
        ),
        ratio_line("    the same, report=false", times["no report"], times["mlflow"], None),
        ratio_line(
            "    vs the floor, its exit frozen too", times["project"], times["mlflow frozen"], DEFAULT_TARGET
        ),
        ratio_line(
            "    CPU seconds, default command vs floor",
            calls["project"].median_cpu(),
            calls["mlflow"].median_cpu(),
            DEFAULT_TARGET,
        ),
        ratio_line(
            "    CPU seconds, report=false vs floor",
            calls["no report"].median_cpu(),
            calls["mlflow"].median_cpu(),
            None,
        ),
    ]


def bench_per_cell(stores: Stores, repeats: int) -> list[str]:
    """(b): the project's logging of a cell against MLflow's create + log_batch + terminate."""
    from hydra import compose, initialize_config_dir
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param
    from omegaconf import OmegaConf

    from imbalance_sweep.analysis.parent_page import REPORT_AND_ANSWER
    from imbalance_sweep.sweep import runner
    from imbalance_sweep.sweep.config import CONFIG_DIR, sweep_spec
    from imbalance_sweep.sweep.identity import cell_key, sweep_key
    from imbalance_sweep.sweep.params import cell_params
    from imbalance_sweep.tracking.tags import (
        CELL_KEY_TAG,
        MLFLOW_PARENT_TAG,
        ROLE_TAG,
        SWEEP_KEY_TAG,
        SWEEP_TAG,
        Role,
    )
    from imbalance_sweep.tracking.tracker import Tracker

    ours, theirs = stores.fresh("cells_project.db"), stores.fresh("cells_mlflow.db")
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        config = compose(config_name="config", overrides=[f"tracking_uri={stores.uri(ours)}"])
    spec = sweep_spec(OmegaConf.to_container(config, resolve=True))
    key = sweep_key(spec)
    sweep_tags = {SWEEP_TAG: spec.name, SWEEP_KEY_TAG: key}
    term_sums = runner.make_terms(spec.backend, spec.losses, alpha=spec.alpha, gamma=spec.gamma)
    values = {cell: runner.cell_values(spec, cell, spec.model_of(cell), term_sums) for cell in spec.cells}
    # run_cell as a sweep runs it, its cell's numbers computed once above: only the logging is timed
    runner.cell_values = lambda _spec, cell, _model, _term_sums: values[cell]  # type: ignore[assignment]

    tracker = Tracker(spec.tracking_uri, spec.experiment)
    # the sweep as execute_sweep hands it to run_cell; the cells' numbers are computed above
    sweep = runner.SweepRun(
        tracker=tracker, spec=spec, key=key, tags=sweep_tags, term_sums=None, page=REPORT_AND_ANSWER
    )
    project_parent = tracker.start_run("bench parent", tags=sweep_tags)
    requests: list[str] = []
    mlflow_client = tracker.client._client
    for name in ("create_run", "log_batch", "set_terminated", "get_run", "update_run", "set_tag", "log_text"):
        method = getattr(mlflow_client, name)
        setattr(
            mlflow_client, name, lambda *a, _m=method, _n=name, **k: (requests.append(_n), _m(*a, **k))[1]
        )

    client = MlflowClient(stores.uri(theirs))
    experiment_id = client.create_experiment(spec.experiment)
    mlflow_parent = client.create_run(experiment_id, run_name="bench parent", tags=sweep_tags).info.run_id
    cells = itertools.cycle(spec.cells)
    mlflow_cells = itertools.cycle(spec.cells)

    def project_cell() -> None:
        runner.run_cell(sweep, next(cells), parent=project_parent)

    def mlflow_cell() -> None:
        cell = next(mlflow_cells)
        tags = {
            **sweep_tags,
            ROLE_TAG: str(Role.CELL),
            CELL_KEY_TAG: cell_key(key, cell),
            MLFLOW_PARENT_TAG: mlflow_parent,
        }
        run_id = client.create_run(experiment_id, run_name=cell.name, tags=tags).info.run_id
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            params=[Param(k, str(v)) for k, v in cell_params(cell, spec).items()],
            metrics=[Metric(k, float(v), now, 0) for k, v in values[cell].items()],
        )
        client.set_terminated(run_id)

    times = medians(interleaved_wall_times({"project": project_cell, "mlflow": mlflow_cell}, repeats))
    per_cell = len(requests) / (repeats + 1)
    kinds = ", ".join(f"{name} x{requests.count(name) // (repeats + 1)}" for name in dict.fromkeys(requests))
    n_tags = len(sweep_tags) + 4  # its role, its key, its parent, its name
    payload = (
        f"{len(cell_params(spec.cells[0], spec))} params, {len(values[spec.cells[0]])} metrics, {n_tags} tags"
    )
    return [
        ratio_line(f"(b) per cell ({payload})", times["project"], times["mlflow"], CELL_TARGET, unit="ms"),
        f"    project's requests per cell: {per_cell:g} ({kinds}); MLflow's: 3 (create_run, log_batch, set_terminated)",
    ]


def bench_new_store(stores: Stores, repeats: int) -> list[str]:
    """(c): a 1-cell expected sweep into a new store against an existing one."""
    folder = stores.folder
    calls = {
        "new": command_call(project(*ONE_EXPECTED_CELL), folder, stores.uri(folder / "new.db")),
        "existing": command_call(project(*ONE_EXPECTED_CELL), folder, stores.uri(folder / "existing.db")),
    }

    def before(name: str) -> None:
        stores.absent("new.db") if name == "new" else stores.fresh("existing.db")

    times = medians(interleaved_wall_times(calls, repeats, before=before))
    return [
        ratio_line("(c) 1-cell expected sweep: new store vs existing", times["new"], times["existing"], None)
    ]


def bench_mistake(stores: Stores, repeats: int) -> list[str]:
    """(d): a mistake's seconds to its one line."""
    folder = stores.folder
    call = command_call(project(*MISTAKE), folder, stores.uri(folder / "mistake.db"), exit_code=2)
    times = medians(interleaved_wall_times({"mistake": call}, repeats))
    line = call().strip()
    return [f"{'(d) mistake: ' + ' '.join(MISTAKE):44} {times['mistake']:9.2f} s to: {line}"]


def bench_grid(stores: Stores, repeats: int, *, naive_loop: str | None) -> list[str]:
    """(e): 120 sampled cells, the project's way against the post's way (and, asked for, a leaner
    loop of fluent runs with ``naive_loop``'s losses)."""
    folder = stores.folder
    post = [
        sys.executable,
        str(Path(__file__).resolve().parent / "naive_post_sweep" / "app.py"),
        "-m",
        "+num_0s=100000",
        "+num_1s=1000",
        f"+acc_0s={','.join(map(str, NAIVE_ACC_0S))}",
        f"+acc_1s={','.join(map(str, NAIVE_ACC_1S))}",
    ]
    calls = {
        "project": command_call(project(*GRID_120), folder, stores.uri(folder / "grid.db")),
        "post": command_call(post, folder, stores.uri(folder / "post.db")),
    }
    store_of = {"project": "grid.db", "post": "post.db"}
    if naive_loop:
        loop = [
            *(sys.executable, "-c", NAIVE_SCRIPT),
            *(",".join(map(str, NAIVE_ACC_0S)), ",".join(map(str, NAIVE_ACC_1S)), naive_loop),
        ]
        calls["loop"] = command_call(loop, folder, stores.uri(folder / "loop.db"))
        store_of["loop"] = "loop.db"
    times = medians(interleaved_wall_times(calls, repeats, before=lambda name: stores.fresh(store_of[name])))
    cells = len(NAIVE_ACC_0S) * len(NAIVE_ACC_1S)
    speedup = times["post"] / times["project"]
    lines = [
        ratio_line(
            f"(e) {cells} cells x 1.01e5 samples vs the post's way", times["project"], times["post"], None
        ),
        f"    the project {speedup:.1f}x faster end to end; target >= 6: {'met' if speedup >= 6 else 'NOT met'}",
    ]
    if naive_loop:
        lines.append(
            ratio_line(f"    vs a lean loop ({naive_loop} losses)", times["project"], times["loop"], None)
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs of each command (after one warm-up)")
    parser.add_argument("--cell-repeats", type=int, default=40, help="cells logged each way in (b)")
    parser.add_argument("--only", default="a,b,c,d,e", help="which of a,b,c,d,e to run")
    parser.add_argument(
        "--naive-loop", action="store_true", help="(e) also against a lean loop of fluent runs"
    )
    parser.add_argument("--naive-keras", action="store_true", help="the lean loop's losses with Keras (e)")
    args = parser.parse_args()
    chosen = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as work:
        stores = Stores(Path(work))
        print(f"{'':44} {'project':>9} {'other':>9} {'':3} {'ratio':>7}   (medians of {args.repeats})")
        steps = {
            "a": lambda: bench_default(stores, args.repeats),
            "b": lambda: bench_per_cell(stores, args.cell_repeats),
            "c": lambda: bench_new_store(stores, args.repeats),
            "d": lambda: bench_mistake(stores, args.repeats),
            "e": lambda: bench_grid(
                stores,
                args.repeats,
                naive_loop=("keras" if args.naive_keras else "numpy") if args.naive_loop else None,
            ),
        }
        for name, step in steps.items():
            if name in chosen:
                print("\n".join(step()), flush=True)


if __name__ == "__main__":
    main()
