"""Fixtures and hooks only: a throw-away MLflow store per test, the session's team server, a Ray
root per test, and hypothesis seeded per run. Plain helpers: helpers.py."""

import contextlib
import os
import random
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import environment_without_mlflow_launch
from hypothesis import settings

from imbalance_sweep import LOSS_NAMES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
settings.register_profile("project", deadline=None, max_examples=40)
settings.load_profile("project")


SEED_VARIABLE = "IMBALANCE_SWEEP_TEST_HYPOTHESIS_SEED"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """A new hypothesis seed each run (new examples, not the same ones forever), unless
    --hypothesis-seed gives one; the header prints it, so a failure can be replayed.

    ``xdist_group`` is pytest-xdist's marker (``-n 2 --dist loadgroup`` runs a group's tests in one
    worker: the team server, a module's expensive fixture, Ray); registered here as well, so the
    tests collect where pytest-xdist is not installed (the legacy tfa environment)."""
    config.addinivalue_line(
        "markers", "xdist_group(name): under pytest-xdist's --dist loadgroup, run in one worker"
    )
    if config.getoption("hypothesis_seed", None) is None:
        # pytest-xdist's workers start after this and inherit the environment: they take the seed
        # the header printed, not one of their own
        seed = os.environ.setdefault(SEED_VARIABLE, str(random.SystemRandom().randrange(2**32)))
        config.option.hypothesis_seed = seed


def pytest_report_header(config):
    seed = config.getoption("hypothesis_seed")
    return f"hypothesis seed: {seed} (replay a failure with --hypothesis-seed={seed})"


@pytest.fixture(scope="session", autouse=True)
def own_cache_folder(tmp_path_factory):
    """A new store copies a template kept in the user's cache ($XDG_CACHE_HOME, tracking.sqlite_file):
    the tests' is built once per session in their own folder, and the processes they start share it."""
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(cache))
        yield cache


@pytest.fixture(scope="session")
def new_store_file(tmp_path_factory):
    """A new sqlite store's file, copied from one made once per session (a copy of the cache's
    template, made as a command makes one)."""
    from imbalance_sweep.tracking.sqlite_store import prepare_sqlite_store

    template = tmp_path_factory.mktemp("store-template") / "mlflow.db"
    prepare_sqlite_store(f"sqlite:///{template}")

    def copy_to(path):
        # sqlite's backup API, not a file copy: it takes what a write-ahead log still holds too
        with (
            contextlib.closing(sqlite3.connect(template)) as source,
            contextlib.closing(sqlite3.connect(path)) as copy,
        ):
            source.backup(copy)
        return f"sqlite:///{path}"

    return copy_to


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch, new_store_file):
    """A new sqlite store; MLflow's launch variables are cleared so nothing leaks in."""
    for name in ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    return new_store_file(tmp_path / "mlflow.db")


@pytest.fixture
def make_spec():
    """Compose the project's config with overrides (Hydra's compose API) and validate it."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from imbalance_sweep.sweep.config import CONFIG_DIR, sweep_spec

    def make(*overrides, start_dir=None):
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            config = compose(config_name="config", overrides=list(overrides))
        return sweep_spec(OmegaConf.to_container(config, resolve=True), start_dir=start_dir)

    return make


@pytest.fixture
def logged_cell_metrics():
    """What a sampled cell run logs: its drawn values, and the exact expectations beside them."""
    from imbalance_sweep import evaluate, expected, simulate
    from imbalance_sweep.core.expectations import beside_sampled

    def metrics(num_0s, acc_0s, num_1s, acc_1s, *, seed, losses=None):
        losses = losses or list(LOSS_NAMES)
        drawn = evaluate(*simulate(num_0s, acc_0s, num_1s, acc_1s, seed=seed), losses=losses)
        return {**drawn, **beside_sampled(expected(num_0s, acc_0s, num_1s, acc_1s, losses=losses))}

    return metrics


@pytest.fixture(scope="session")
def sweep_rows():
    """Build the rows run_sweep writes to cells.csv (without run_id), from the project's own core."""
    from imbalance_sweep.core.evaluation import evaluate_cell
    from imbalance_sweep.core.losses import make_terms
    from imbalance_sweep.sweep.grid import build_cells

    def rows(*, balances, acc_0s, acc_1s, seeds=(0,), losses=LOSS_NAMES, seed=0):
        term_sums = make_terms("numpy", losses, alpha=0.25, gamma=2.0)
        built = []
        for cell in build_cells(balances=balances, acc_0s=acc_0s, acc_1s=acc_1s, seeds=list(seeds)):
            values = evaluate_cell(cell, seed=seed, losses=losses, term_sums=term_sums, chunk_size=65536)
            params = {
                "num_0s": cell.num_0s,
                "num_1s": cell.num_1s,
                "acc_0s": cell.acc_0s,
                "acc_1s": cell.acc_1s,
            }
            built.append(
                {
                    **params,
                    "prevalence": cell.prevalence,
                    "seed": seed,
                    "replicate": cell.replicate,
                    "backend": "numpy",
                    **values,
                }
            )
        return built

    return rows


@pytest.fixture(scope="session")
def start_module():
    """Start ``python -m imbalance_sweep [-m] tracking_uri=... *overrides`` in ``cwd`` (Hydra writes there);
    ``env`` adds variables to its environment."""
    import subprocess
    import sys

    def start(cwd, tracking_uri, *overrides, multirun=False, env=None):
        command = [
            sys.executable,
            "-m",
            "imbalance_sweep",
            *(["-m"] if multirun else []),
            f"tracking_uri={tracking_uri}",
        ]
        return subprocess.Popen(
            [*command, *overrides],
            cwd=cwd,
            env={**environment_without_mlflow_launch(), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    return start


@pytest.fixture(scope="session")
def server_dir():
    """One team server directory for the session's tests, stopped and removed at the end.

    Not under tmp_path: as root, PostgreSQL runs as the postgres user, which cannot enter
    pytest's private temporary directory. Skips, saying why, where PostgreSQL is not installed.
    """
    from imbalance_sweep.tracking.server import lifecycle
    from imbalance_sweep.tracking.server.postgres import PostgresNotFound, postgres_bin

    try:
        postgres_bin()
    except PostgresNotFound as error:
        pytest.skip(str(error))
    directory = Path(tempfile.mkdtemp(prefix="imbalance-sweep-server-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        lifecycle.stop(directory)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def tracking_server(server_dir, monkeypatch):
    """The session's server, running (started on free ports by the first test that needs it), with
    the admin's credentials in this process's environment (MLflow's client reads them there)."""
    from imbalance_sweep.tracking.server import lifecycle
    from imbalance_sweep.tracking.server.probes import free_port

    if not (server_dir / "server.json").exists():
        # one worker process: quicker (re)starts on a small machine; restarts reuse these settings
        started = lifecycle.start(server_dir, port=free_port(), db_port=free_port(), workers=1)
        print(f"first start (initdb, MLflow's tables, the admin): {started.seconds:.1f} s")
    else:
        started = lifecycle.start(server_dir)
    for name, value in started.credentials.items():
        monkeypatch.setenv(name, value)
    return started


@pytest.fixture
def ray_temp_dir(monkeypatch):
    """A Ray root directory of this test's own, so that ``ray.init()`` finds no other instance of
    this machine to join (it looks for the latest one in its root). Under /tmp and short: Ray's
    socket paths must stay within the 107 characters of a Unix socket."""
    for name in ("RAY_ADDRESS", "RAY_NAMESPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    path = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(autouse=True)
def absl_handler_on_the_process_stderr():
    """TensorFlow's absl log handler keeps the sys.stderr of the test that first imported it (pytest's
    capture file) and closes it when a later in-process Hydra run sets up logging and closes the old
    handlers: every later test of that worker then fails on a closed file. After each test the
    handler writes to the process's own stderr, which absl never closes."""
    yield
    absl_logging = sys.modules.get("absl.logging")
    if absl_logging is not None:
        absl_logging.get_absl_handler().python_handler.setStream(sys.__stderr__)


# What the project's doors set in os.environ for their own process and its workers: an in-process
# door test would otherwise leave them to every later test's child processes (a child then printed
# the pytest worker's command as the one to run again).
PROCESS_VARIABLES = (
    "IMBALANCE_SWEEP_COMMAND",
    "IMBALANCE_SWEEP_LAUNCHER",
    "IMBALANCE_SWEEP_SWEPT_KEYS",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
    "MLFLOW_EXPERIMENT_ID",  # mlflow.set_experiment sets it (autolog's, under Keras 2)
)


@pytest.fixture(autouse=True)
def process_variables_restored(monkeypatch):
    """Each test ends with these variables as they were before it (monkeypatch records them)."""
    for name in PROCESS_VARIABLES:
        if name in os.environ:
            monkeypatch.setenv(name, os.environ[name])
        else:
            monkeypatch.setenv(name, "")
            monkeypatch.delenv(name)
