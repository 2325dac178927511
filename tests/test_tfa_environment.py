"""The legacy tfa environment, built for real: the project's tests and `mlflow run` inside it.

The environment is a virtualenv built from requirements-tfa.txt with the project installed
(``--no-deps -e .``). It is kept under ``~/.cache/imbalance-sweep/`` (or
``$IMBALANCE_SWEEP_TFA_VENV``), keyed by the requirement file's hash, so only the first run on a
machine pays for the downloads; every run reinstalls the project from this checkout.
"""

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from imbalance_sweep import evaluate, simulate
from imbalance_sweep.tracking.tags import ROLE_TAG, Role

# one worker under pytest-xdist: both tests use (and the first builds) the one venv
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("tfa-venv")]

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements-tfa.txt"


def legacy_venv() -> Path:
    """Build (once per requirement file) the tfa virtualenv, and install this checkout into it."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    default = Path.home() / ".cache" / "imbalance-sweep" / f"tfa-venv-{digest}"
    venv = Path(os.environ.get("IMBALANCE_SWEEP_TFA_VENV", default))
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(REQUIREMENTS)], check=True, timeout=1800)
        (venv / ".complete").write_text(digest)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "-e",
            str(ROOT),
        ],
        check=True,
        timeout=600,
    )
    return venv


@pytest.fixture(scope="module")
def venv():
    return legacy_venv()


def venv_env(venv, **extra):
    """This environment with the venv's bin first on PATH and no MLflow launch variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_") and k != "PYTHONPATH"}
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env.get("PATH", "")])
    env.update(extra)
    return env


def test_the_project_and_tfa_parity_pass_inside_the_legacy_environment(venv):
    """The fast tests (the code runs unchanged on Keras 2) and the tfa parity tests, none skipped.
    In one process: pyproject's addopts less pytest-xdist's ``-n 2 --dist loadgroup`` (the legacy
    environment has no pytest-xdist)."""
    pytest_command = [
        "-m",
        "pytest",
        "-o",
        "addopts=-ra --strict-markers --import-mode=importlib",
        "-m",
        "not slow",
        "-v",
    ]
    done = subprocess.run(
        [str(venv / "bin" / "python"), *pytest_command, "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=venv_env(venv),
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "skipped" not in lines[-1] and " passed" in lines[-1], lines[-1]
    parity = [line for line in lines if line.startswith("tests/core/test_losses_tfa.py::")]
    assert len(parity) == 15 and all("PASSED" in line for line in parity), parity


def test_mlflow_run_with_the_tfa_backend_inside_the_legacy_environment(venv, tmp_path, tracking_uri):
    """`mlflow run . --env-manager local -P backend=tfa`, from inside the legacy environment."""
    client = MlflowClient(tracking_uri)
    client.create_experiment("tfa", artifact_location=(tmp_path / "artifacts").as_uri())
    cell = {"num_0s": 20000, "acc_0s": 0.98, "num_1s": 200, "acc_1s": 0.9}
    args = [f"-P{key}={value}" for key, value in cell.items()] + ["-Pbackend=tfa", "-Plosses=focal_tfa,bce"]
    done = subprocess.run(
        [
            str(venv / "bin" / "mlflow"),
            "run",
            ".",
            "--env-manager",
            "local",
            "--experiment-name",
            "tfa",
            *args,
        ],
        cwd=ROOT,
        env=venv_env(venv, MLFLOW_TRACKING_URI=tracking_uri),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = client.search_runs([client.get_experiment_by_name("tfa").experiment_id])
    (run,) = [run for run in runs if run.data.tags.get(ROLE_TAG) == Role.CELL]  # under mlflow run's
    assert run.info.status == "FINISHED" and run.data.params["backend"] == "tfa"
    ours = evaluate(*simulate(20000, 0.98, 200, 0.9, seed=0), losses=["focal_tfa", "bce"])
    assert run.data.metrics["loss/focal_tfa"] == pytest.approx(ours["loss/focal_tfa"], rel=1e-5)
    assert run.data.metrics["loss/bce"] == pytest.approx(ours["loss/bce"], rel=1e-5)
    assert run.data.metrics["tp"] == ours["tp"]
