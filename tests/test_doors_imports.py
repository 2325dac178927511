"""A mistake, --help and a dry run answer before MLflow, TensorFlow or matplotlib are imported (issue 22):
those imports alone take seconds, and a person waits for the whole process."""

from __future__ import annotations

import subprocess
import sys

import pytest
from helpers import environment_without_mlflow_launch
from mlflow.entities import RunStatus

from imbalance_sweep.tracking import runs

HEAVY = ("mlflow", "tensorflow", "keras", "matplotlib")
DOORS = (
    "imbalance_sweep.__main__",
    "imbalance_sweep.app",
    "imbalance_sweep.cli",
    "imbalance_sweep.launch",
    "imbalance_sweep.flip",
    "imbalance_sweep.compare",
    "imbalance_sweep.analysis.flip",
    "imbalance_sweep.analysis.compare.printed",
    "imbalance_sweep.analysis.compare.record",
    "imbalance_sweep.sweep.callbacks",  # Hydra instantiates it before every job, a dry run's too
)


def test_importing_the_doors_imports_no_heavy_library():
    code = (
        f"import sys, {', '.join(DOORS)}; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _run_with_import_record(
    tmp_path, *command: str
) -> tuple[subprocess.CompletedProcess[str], set[str], list[str]]:
    """Run ``python -X importtime *command`` in tmp_path: the process, the top-level packages it
    imported, and its stderr without the import record."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *command],
        cwd=tmp_path,
        env=environment_without_mlflow_launch(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    imported, said = set(), []
    for line in done.stderr.splitlines():
        if line.startswith("import time:"):
            imported.add(line.rsplit("|", 1)[1].strip().split(".")[0])
        else:
            said.append(line)
    return done, imported, said


MISTAKES = {
    "grammar": (["-m", "imbalance_sweep", "seed=[1,"], "override 'seed=[1,' is not a Hydra override"),
    "value": (["-m", "imbalance_sweep", "grid=dens"], "grid='dens' is not one of"),
    "flip": (["-m", "imbalance_sweep.flip", "model_a=[2,0.5]"], "model_a: acc_0s=2 is outside [0, 1]"),
    "compare": (["-m", "imbalance_sweep.compare", "one"], "give at least 2 sweeps to compare"),
    "launch": (["-m", "imbalance_sweep.launch", "sweep", "--grid", "dens"], "grid='dens' is not one of"),
}


@pytest.mark.parametrize("case", MISTAKES)
def test_a_mistake_is_one_line_without_mlflow(tmp_path, case):
    command, line = MISTAKES[case]
    done, imported, said = _run_with_import_record(tmp_path, *command)
    assert done.returncode == 2
    assert len(said) == 1 and said[0].startswith(f"imbalance-sweep: error: {line}"), said
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))
    assert list(tmp_path.iterdir()) == []  # no store, no Hydra folder


@pytest.mark.parametrize("asked", [["dry_run=true", "grid=dense", "mode=expected"], ["--help"]])
def test_a_dry_run_and_help_answer_without_mlflow(tmp_path, asked):
    done, imported, said = _run_with_import_record(tmp_path, "-m", "imbalance_sweep", *asked)
    assert done.returncode == 0, said
    assert imported.isdisjoint(HEAVY), sorted(imported & set(HEAVY))
    if "--help" in asked:
        assert "Configuration groups" in done.stdout
    else:
        assert done.stdout.startswith("dense: 2000 cells, 9.28e+08 samples in all, expected mode; ")
        assert "dry run: nothing was logged" in done.stdout
    assert list(tmp_path.iterdir()) == []  # no store made


def test_the_run_statuses_are_mlflows():
    """tracking/runs.py writes the statuses out so that reading them does not import MLflow."""
    for name in ("RUNNING", "FINISHED", "FAILED", "KILLED"):
        assert getattr(runs, name) == RunStatus.to_string(getattr(RunStatus, name))
