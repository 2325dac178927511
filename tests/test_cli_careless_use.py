"""Careless and hostile use of the Hydra doors, in-process through the code the commands run
(``run_hydra_main``, ``launch.main``): each mistake is one line on stderr, exit code 2, and no run in
the store; a multirun removes only the folder this project created for it."""

from __future__ import annotations

import sys
import tempfile

import pytest
from mlflow.tracking import MlflowClient

from imbalance_sweep import app, launch
from imbalance_sweep import flip as flip_command
from imbalance_sweep.analysis.compare.stored_sweeps import unknown_sweep_message
from imbalance_sweep.cli import run_hydra_main
from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.sweep import multirun_folder
from imbalance_sweep.sweep.config import MAX_NAME_LENGTH
from imbalance_sweep.sweep.grid import MAX_CELLS, build_cells
from imbalance_sweep.tracking.runs import StoredRun

PREFIX = "imbalance-sweep: error: "
UNSET = "IMBALANCE_SWEEP_TEST_UNSET"
HUNDRED = "[" + ",".join(str(k / 100) for k in range(100)) + "]"
SEEDS = "[" + ",".join(map(str, range(100))) + "]"
KEYS = (
    "the keys are: backend, bootstrap, chunk_size, dry_run, experiment, focal, grid, losses, metrics, "
    "mode, multiclass, report, resume, score_model, seed, shard, sweep_name, threshold, tracking_uri"
)


@pytest.fixture
def door(monkeypatch, capsys, tracking_uri, tmp_path):
    """Run ``python -m imbalance_sweep[.flip] ARGS`` in this process: (exit code, stderr lines, stdout)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # where outputs=none puts a multirun's folder
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # tempfile.gettempdir(), cached per process
    monkeypatch.delenv(UNSET, raising=False)
    for name in ("IMBALANCE_SWEEP_COMMAND", "IMBALANCE_SWEEP_LAUNCHER"):
        monkeypatch.delenv(name, raising=False)

    def run(*arguments, config="config", via_launch=None):
        main = app.main if config == "config" else flip_command.main
        monkeypatch.setattr(sys, "argv", ["imbalance_sweep", f"tracking_uri={tracking_uri}", *arguments])
        code = 0
        try:
            if via_launch is not None:
                launch.main(via_launch)
            else:
                run_hydra_main(main, config_name=config)
        except SystemExit as exit_:
            code = exit_.code
        captured = capsys.readouterr()
        return code, captured.err.strip().splitlines(), captured.out

    return run


def stored_runs(tracking_uri):
    client = MlflowClient(tracking_uri)
    return client.search_runs([e.experiment_id for e in client.search_experiments()], max_results=100)


@pytest.mark.parametrize(
    "arguments, line",
    [
        (["+lossses=[bce]"], f"lossses is not a config key (did you mean losses?); {KEYS}"),
        (["+foo=bar"], f"foo is not a config key; {KEYS}"),
        (["seed=0,1"], "seed is given several values (a sweep): add -m to run one sweep per value, or give one value (a list in brackets is one value)"),
        (["grid.seeds=range(0,3)"], "grid.seeds is given several values (a sweep): add -m to run one sweep per value, or give one value (a list in brackets is one value)"),
        (["focal={alpha: 0.3, gama: 1}"], "focal.gama is not a config key (did you mean focal.gamma?); focal's keys are: alpha, gamma"),
        (["hydra.sweeper.params={seed:1}"], "override 'hydra.sweeper.params={seed:1}' is not allowed: give the values to sweep on the command line, e.g. -m seed=0,1"),
        ([f"sweep_name=${{oc.env:{UNSET}}}"], f"sweep_name='${{oc.env:{UNSET}}}' cannot be resolved: Environment variable '{UNSET}' not found"),
        (["sweep_name=${foo.bar}"], "sweep_name='${foo.bar}' cannot be resolved: Interpolation key 'foo.bar' not found"),
        (["sweep_name=${nope:x}"], "sweep_name='${nope:x}' cannot be resolved: Unsupported interpolation type nope"),
        (["sweep_name=${sweep_name}"], "sweep_name='${sweep_name}' cannot be resolved: Recursive interpolation detected"),
        (["grid.seeds=[0,${nope}]"], "grid.seeds[1]='${nope}' cannot be resolved: Interpolation key 'nope' not found"),
        (["chunk_size=1e12"], "chunk_size=1000000000000.0 is not a whole number in [1, 1048576]"),
        (["chunk_size=1e30", "dry_run=true"], "chunk_size=1e+30 is not a whole number in [1, 1048576]"),
        (["bootstrap.replicates=1e5"], "bootstrap.replicates=100000.0 is not a whole number in [0, 10000]"),
        (["shard.count=1e9"], "shard.count=1000000000.0 is not a whole number in [1, 100000]"),
        (["metrics.ece_bins=1e7"], "metrics.ece_bins=10000000.0 is not a whole number in [1, 1000000]"),
        ([f"sweep_name={'x' * 500}"], f"sweep_name='{'x' * 40}...' has 500 characters; a name has at most 200"),
        ([f"experiment={'e' * 201}"], f"experiment='{'e' * 40}...' has 201 characters; a name has at most 200"),
        (["sweep_name='a\tb'"], "sweep_name='a\\tb' holds a control character; a name is one printable line"),
        (
            ["grid=dense", f"grid.acc_0s={HUNDRED}", f"grid.acc_1s={HUNDRED}", f"grid.seeds={SEEDS}",
             f"grid.thresholds={HUNDRED}", "dry_run=true"],
            "grid: 5 balances x 10000 models x 100 seeds x 100 thresholds = 500000000 cells, more than a sweep "
            "takes (at most 100000); split it into smaller sweeps",
        ),
    ],
)  # fmt: skip
def test_each_mistake_is_one_line_exit_2_and_no_run(door, tracking_uri, arguments, line):
    code, errors, _ = door(*arguments)
    assert (code, errors) == (2, [PREFIX + line])
    assert stored_runs(tracking_uri) == []


def test_flip_refuses_an_interpolation_that_cannot_resolve(door, tracking_uri):
    code, errors, _ = door("model_a=${nope}", config="flip")
    assert (code, errors) == (
        2,
        [PREFIX + "model_a='${nope}' cannot be resolved: Interpolation key 'nope' not found"],
    )
    assert stored_runs(tracking_uri) == []


def test_a_name_of_the_longest_length_is_taken(make_spec):
    assert make_spec(f"sweep_name={'n' * MAX_NAME_LENGTH}").name == "n" * 200


def test_a_grid_at_the_bound_is_formed_and_one_past_it_is_refused_before_forming():
    acc = [k / 1000 for k in range(1000)]
    assert len(build_cells(balances=[[10, 10]], acc_0s=acc, acc_1s=acc[:100])) == MAX_CELLS
    with pytest.raises(InvalidValue) as refused:
        build_cells(balances=[[10, 10]], acc_0s=acc, acc_1s=acc[:101])
    assert str(refused.value) == (
        "grid: 1 balances x 101000 models x 1 seeds x 1 thresholds = 101000 cells, more than a sweep takes "
        "(at most 100000); split it into smaller sweeps"
    )


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_dash_m_is_taken_anywhere_in_mlflow_runs_overrides(door, tracking_uri, tmp_path, where):
    words = ["seed=0,1", "dry_run=true", "losses=[bce]"]
    words.insert({"first": 0, "middle": 1, "last": 3}[where], "-m")
    overrides = " ".join([*words, f"tracking_uri={tracking_uri}"])
    code, errors, out = door(via_launch=["sweep", "--grid", "seed_blog", "--overrides", overrides])
    assert (code, errors) == (0, [])
    assert out.count("dry run: nothing was logged") == 2  # two jobs
    assert stored_runs(tracking_uri) == []
    assert not list(tmp_path.glob("imbalance-sweep-multirun-*"))  # the project's own folder, removed


def test_a_users_sweep_dir_keeps_its_files_and_the_projects_own_goes(door, tracking_uri, tmp_path):
    """The folder is where the old rule removed whatever it found: in TMPDIR, named imbalance-sweep-*."""
    users = tmp_path / "imbalance-sweep-mine"
    (users / "notes").mkdir(parents=True)
    (users / "notes" / "todo.txt").write_text("mine\n")
    (users / "multirun.yaml").write_text("my own file of that name\n")
    code, errors, _ = door("-m", f"hydra.sweep.dir={users}", "seed=0,1", "dry_run=true")
    assert (code, errors) == (0, [])
    assert (users / "notes" / "todo.txt").read_text() == "mine\n"
    assert users.is_dir() and not (users / multirun_folder.MARKER).exists()

    new = tmp_path / "new-sweep-dir"
    code, errors, _ = door("-m", f"hydra.sweep.dir={new}", "seed=0,1", "dry_run=true")
    assert (code, errors) == (0, []) and not new.exists()
    assert stored_runs(tracking_uri) == []


def stored(name: str, number: int) -> StoredRun:
    return StoredRun(run_id=f"{number:032x}", status="FINISHED", tags={"imbalance_sweep.sweep": name})


def test_an_unknown_sweep_names_a_few_stored_sweeps_each_cut_and_escaped():
    tops = [stored(f"sweep-{k:03d}" + "x" * 100, k) for k in range(200)]
    tops += [stored("two\nlines", 1000), stored("dense", 1001), stored("dense", 1002)]
    message = unknown_sweep_message("dens", tops, where="in the store")
    assert "\n" not in message
    assert message == (
        "no sweep named 'dens' and no run with that id; sweeps in the store: dense (2 runs), "
        f"sweep-000{'x' * 31}..., sweep-001{'x' * 31}..., sweep-002{'x' * 31}..., sweep-003{'x' * 31}... "
        "and 197 more"
    )
    odd = unknown_sweep_message("two lines" * 50, tops[-3:], where="in the store")
    assert "two\\nlines" in odd and "\n" not in odd
    assert odd.startswith(f"no sweep named '{('two lines' * 50)[:200]}...' and no run with that id")
