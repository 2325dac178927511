"""`python -m imbalance_sweep` as a user runs it: multirun, bad input, quiet TensorFlow."""

import subprocess

import pytest
from mlflow.tracking import MlflowClient

from imbalance_sweep.tracking.tags import MLFLOW_PARENT_TAG, ROLE_TAG, Role

pytestmark = pytest.mark.slow


@pytest.fixture
def run_module(start_module):
    """Run the module to its end; its exit code and output."""

    def run(cwd, tracking_uri, *overrides, multirun=False):
        process = start_module(cwd, tracking_uri, *overrides, multirun=multirun)
        stdout, stderr = process.communicate(timeout=300)
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    return run


HUNDRED = "[" + ",".join(str(k / 100) for k in range(100)) + "]"
SEEDS = "[" + ",".join(map(str, range(100))) + "]"


def all_runs(tracking_uri):
    client = MlflowClient(tracking_uri)
    return client.search_runs([e.experiment_id for e in client.search_experiments()], max_results=1000)


def test_multirun_logs_one_sweep_per_job(run_module, tmp_path, tracking_uri, logged_cell_metrics):
    done = run_module(
        tmp_path, tracking_uri, "seed=0,1", "grid.balances=[[300,30]]", "losses=[bce]", multirun=True
    )
    assert done.returncode == 0, done.stderr
    assert sorted(path.name for path in tmp_path.iterdir() if path.is_dir()) == ["mlruns"]  # no Hydra folders
    runs = all_runs(tracking_uri)
    parents = [r for r in runs if r.data.tags[ROLE_TAG] == Role.SWEEP]
    assert sorted(r.data.params["seed"] for r in parents) == ["0", "1"]
    # each job its own sweep name: the grid's, then the job's value of the swept key
    assert sorted(r.info.run_name for r in parents) == [f"seed_blog seed={seed}" for seed in (0, 1)]
    for parent in parents:
        children = [r for r in runs if r.data.tags.get(MLFLOW_PARENT_TAG) == parent.info.run_id]
        assert len(children) == 2 and all(c.info.status == "FINISHED" for c in children)
        for child in children:
            p = child.data.params
            cell = 300, float(p["acc_0s"]), 30, float(p["acc_1s"])
            assert child.data.metrics == logged_cell_metrics(*cell, seed=int(p["seed"]), losses=["bce"])


@pytest.mark.parametrize(
    "overrides, line",
    [
        (
            ["grid=single", "grid.models=[[0.9,1.5]]"],
            "imbalance-sweep: error: grid.models[0]: acc_1s=1.5 is outside [0, 1]",
        ),
        (
            ["grid=dens"],
            "imbalance-sweep: error: grid='dens' is not one of: dense, long_tail, seed_blog, single (did you mean dense?)",
        ),
        (
            ["lossses=[bce]"],
            "imbalance-sweep: error: lossses is not a config key (did you mean losses?); the keys are: backend, "
            "bootstrap, chunk_size, dry_run, experiment, focal, grid, losses, metrics, mode, multiclass, report, resume, score_model, "
            "seed, shard, sweep_name, threshold, tracking_uri",
        ),
        (
            ["+hydra.callbacks.pwn._target_=os.getpid"],
            "imbalance-sweep: error: override '+hydra.callbacks.pwn._target_=os.getpid' is not allowed: "
            "it would make Hydra instantiate code",
        ),
        (
            ["losses=[bce,hinge]"],
            "imbalance-sweep: error: losses[1]='hinge' is not one of: bce, focal_tfa, focal_balanced, focal, balanced_bce, brier",
        ),
        (
            ["+lossses=[bce]"],
            "imbalance-sweep: error: lossses is not a config key (did you mean losses?); the keys are: backend, "
            "bootstrap, chunk_size, dry_run, experiment, focal, grid, losses, metrics, mode, multiclass, report, resume, score_model, "
            "seed, shard, sweep_name, threshold, tracking_uri",
        ),
        (
            ["sweep_name=${oc.env:IMBALANCE_SWEEP_TEST_UNSET}"],
            "imbalance-sweep: error: sweep_name='${oc.env:IMBALANCE_SWEEP_TEST_UNSET}' cannot be resolved: "
            "Environment variable 'IMBALANCE_SWEEP_TEST_UNSET' not found",
        ),
        (
            ["chunk_size=1e12"],
            "imbalance-sweep: error: chunk_size=1000000000000.0 is not a whole number in [1, 1048576]",
        ),
        (
            [
                "grid=dense",
                f"grid.acc_0s={HUNDRED}",
                f"grid.acc_1s={HUNDRED}",
                f"grid.seeds={SEEDS}",
                "dry_run=true",
            ],
            "imbalance-sweep: error: grid: 5 balances x 10000 models x 100 seeds x 1 thresholds = 5000000 cells, "
            "more than a sweep takes (at most 100000); split it into smaller sweeps",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_run(run_module, tmp_path, tracking_uri, overrides, line):
    done = run_module(tmp_path, tracking_uri, *overrides)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [line]
    assert not (tmp_path / "mlflow.db").exists() or all_runs(tracking_uri) == []


def test_a_multirun_leaves_a_users_sweep_dir_and_removes_its_own(start_module, tmp_path, tracking_uri):
    """hydra.sweep.dir naming a user's folder where the old rule removed whatever it found (the
    temporary folder, imbalance-sweep-*), under dry_run=true: the user's files stay; the project's
    own folder (outputs=none's default, in TMPDIR) is removed as before."""
    temporary = tmp_path / "tmp"
    users = temporary / "imbalance-sweep-mine"
    users.mkdir(parents=True)
    (users / "results.csv").write_text("a,b\n1,2\n")
    for sweep_dir in ([f"hydra.sweep.dir={users}"], []):
        process = start_module(
            tmp_path, tracking_uri, *sweep_dir, "seed=0,1", "dry_run=true", multirun=True,
            env={"TMPDIR": str(temporary)},
        )  # fmt: skip
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert stdout.count("dry run: nothing was logged") == 2
    assert (users / "results.csv").read_text() == "a,b\n1,2\n"
    assert sorted(path.name for path in temporary.iterdir()) == ["imbalance-sweep-mine"]
    assert all_runs(tracking_uri) == []


def test_keras_backend_prints_no_tensorflow_start_up_noise(
    run_module, tmp_path, tracking_uri, logged_cell_metrics
):
    done = run_module(tmp_path, tracking_uri, "grid=single", "grid.balances=[[2000,20]]", "backend=keras")
    assert done.returncode == 0, done.stderr
    # Nothing on stderr (not even MLflow's "Creating initial MLflow database tables"); on stdout only
    # the lines that say where the run is, with its values.
    assert done.stderr == ""
    size, computed, store = done.stdout.splitlines()[:3]
    assert size.startswith("single: 1 cell, 2.02e+03 samples in all, sampled mode; about ")
    assert computed == "single: 1 cell, computed" and store.startswith("store:      ")
    assert not [line for line in done.stdout.splitlines() if "tensorflow" in line.lower() or "oneDNN" in line]
    (run,) = all_runs(tracking_uri)
    ours = logged_cell_metrics(2000, 0.999, 20, 0.5, seed=0)
    assert set(run.data.metrics) == set(ours)
    for name, value in run.data.metrics.items():
        assert value == pytest.approx(ours[name], rel=1e-5)
