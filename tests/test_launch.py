"""The mlflow run door without mlflow run: how launch.py reads each -P value, and how overrides.py
splits and checks Hydra overrides. (The slow tests drive the same code through `mlflow run`.)"""

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from imbalance_sweep import launch
from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.sweep import overrides
from imbalance_sweep.sweep.config import CONFIG_DIR

ROOT = Path(__file__).resolve().parents[1]
MAIN_DEFAULTS = {
    "num_0s": "1000000",
    "num_1s": "10000",
    "acc_0s": "0.999",
    "acc_1s": "0.5",
    "seed": "0",
    "losses": "bce,focal_tfa,focal_balanced,focal,balanced_bce,brier",
    "backend": "numpy",
}


def test_the_mlproject_declares_exactly_the_parameters_launch_reads():
    """Each entry point's parameters in MLproject are launch.ENTRY_POINTS's, and every `{name}` of a
    command stands as a whole word, so MLflow's shell quoting makes it one argument."""
    project = yaml.safe_load((ROOT / "MLproject").read_text())
    entry_points = project["entry_points"]
    assert set(entry_points) == set(launch.ENTRY_POINTS)
    for name, entry in entry_points.items():
        assert tuple(entry["parameters"]) == launch.ENTRY_POINTS[name], name
        words = entry["command"].split()
        assert words[words.index("imbalance_sweep.launch") + 1] == name
        for parameter in entry["parameters"]:
            assert f"--{parameter}" in words and "{" + parameter + "}" in words, (name, parameter)
            assert entry["command"].count("{" + parameter + "}") == 1


@pytest.mark.parametrize(
    "typed, expected",
    [
        ({"num_0s": "1e5", "acc_0s": ".98"}, ["grid.balances=[[100000,10000]]", "grid.models=[[0.98,0.5]]"]),
        (
            {"num_0s": " 100000 ", "acc_0s": "0.98"},
            ["grid.balances=[[100000,10000]]", "grid.models=[[0.98,0.5]]"],
        ),
        ({"num_1s": "1_000", "acc_1s": "1"}, ["grid.balances=[[1000000,1000]]", "grid.models=[[0.999,1.0]]"]),
        ({"losses": "bce, brier"}, ["losses=[bce,brier]"]),
        ({"losses": " brier ,bce"}, ["losses=[brier,bce]"]),
        ({"seed": "3.0", "backend": " keras"}, ["seed=3", "backend=keras"]),
    ],
)
def test_main_values_become_canonical_overrides(typed, expected):
    built = launch.main_overrides({**MAIN_DEFAULTS, **typed})
    assert built[0] == "grid=single" and set(expected) <= set(built)


@pytest.mark.parametrize(
    "typed, line",
    [
        ({"num_0s": "$(touch PWNED)1000"}, "num_0s='$(touch PWNED)1000' is not a number"),
        ({"num_0s": "100.5"}, "num_0s=100.5 is not a whole number >= 0"),
        ({"acc_0s": "1.5"}, "acc_0s=1.5 is outside [0, 1]"),
        ({"acc_1s": "nan"}, "acc_1s=nan is not a number in [0, 1]"),
        ({"seed": "-1"}, "seed=-1 is not a whole number >= 0"),
        ({"losses": "bce; rm -rf /"}, "losses[0]='bce; rm -rf /' is not one of:"),
        ({"backend": "numpy && touch x"}, "backend='numpy && touch x' is not one of: numpy, keras, tfa"),
    ],
)
def test_main_refuses_what_is_not_a_value_with_one_line(typed, line):
    with pytest.raises(InvalidValue) as refused:
        launch.main_overrides({**MAIN_DEFAULTS, **typed})
    assert str(refused.value).startswith(line)


def test_unknown_parameters_name_the_entry_points_parameters():
    with pytest.raises(InvalidValue) as refused:
        launch.parse_arguments(["main", "--num_0s", "10", "--acc0", "0.9"])
    assert str(refused.value) == (
        "-P acc0: entry point 'main' has no such parameter; its parameters are: "
        "num_0s, num_1s, acc_0s, acc_1s, seed, losses, backend"
    )
    assert launch.parse_arguments(["sweep", "--grid", "dense", "--overrides", ""]) == (
        "sweep",
        {"grid": "dense", "overrides": ""},
    )
    assert launch.parse_arguments(["main", "--seed", "-1"])[1] == {"seed": "-1"}


@pytest.mark.parametrize(
    "text, value",
    [
        ("0.999,0.5", [0.999, 0.5]),
        ("0.999, .5", [0.999, 0.5]),
        ("[0.98,0.9]", [0.98, 0.9]),
        ("preds/logreg.csv", "preds/logreg.csv"),
        ("$(touch PWNED)0.999,0.5", "$(touch PWNED)0.999,0.5"),  # a (missing) file, taken literally
        ("my 'odd', file.csv", "my 'odd', file.csv"),
    ],
)
def test_a_flip_model_is_a_pair_or_a_literal_path(text, value):
    assert launch.model_value("model_a", text) == value


def test_a_flip_pair_out_of_range_is_refused():
    with pytest.raises(InvalidValue, match=r"model_b: acc_1s=1.2 is outside \[0, 1\]"):
        launch.model_value("model_b", "0.5,1.2")


TRAIN_DEFAULTS = {"epochs": "30", "prevalences": "0.001,0.1", "seed": "0", "out": ""}


@pytest.mark.parametrize(
    "typed, arguments",
    [
        ({}, ["--epochs", "30", "--seed", "0", "--prevalences", "0.001,0.1", "--out", ""]),
        (
            {"epochs": "3e1", "prevalences": " .5 , 1e-3,", "seed": " 2 ", "out": " runs/keras "},
            ["--epochs", "30", "--seed", "2", "--prevalences", "0.5,0.001", "--out", "runs/keras"],
        ),
    ],
)
def test_train_values_become_the_examples_arguments(typed, arguments):
    assert launch.train_arguments({**TRAIN_DEFAULTS, **typed}) == arguments
    assert launch.TRAIN_EXAMPLE.is_file()


@pytest.mark.parametrize(
    "typed, line",
    [
        ({"epochs": "0"}, "epochs=0 is not a whole number in [1, 10000]"),
        ({"epochs": "$(touch PWNED)"}, "epochs='$(touch PWNED)' is not a number"),
        ({"prevalences": "0.01,1"}, "prevalences[1]=1 is not a number in (0, 1)"),
        ({"prevalences": "0.01,x"}, "prevalences[1]='x' is not a number"),
        ({"prevalences": "0.1,.1"}, "prevalences=[0.1, 0.1] repeats 0.1"),
        ({"seed": "-1"}, "seed=-1 is not a whole number >= 0"),
    ],
)
def test_train_refuses_what_is_not_a_value_with_one_line(typed, line):
    with pytest.raises(InvalidValue) as refused:
        launch.train_arguments({**TRAIN_DEFAULTS, **typed})
    assert str(refused.value) == line


def test_continue_command_repeats_the_launch(monkeypatch):
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "7")
    command = launch.continue_command("sweep", {"grid": "dense", "overrides": "seed=1 mode=expected"})
    assert command == [
        "mlflow", "run", ".", "-e", "sweep", "--experiment-id", "7",
        "-P", "grid=dense", "-P", "overrides=seed=1 mode=expected",
    ]  # fmt: skip


@pytest.mark.parametrize(
    "text, words",
    [
        (
            "seed=3 losses=[bce,balanced_bce] backend=keras",
            ["seed=3", "losses=[bce,balanced_bce]", "backend=keras"],
        ),
        ("losses=[bce, brier]  seed=1", ["losses=[bce, brier]", "seed=1"]),
        ("'grid.models=[[0.9, 0.5]]' -m", ["grid.models=[[0.9, 0.5]]", "-m"]),
        ("grid.models=['my file.csv',[0.9,0.5]]", ["grid.models=['my file.csv',[0.9,0.5]]"]),
        ('sweep_name="my sweep"', ["sweep_name=my sweep"]),
        ("", []),
        ("   ", []),
    ],
)
def test_overrides_split_at_spaces_outside_brackets_and_quotes(text, words):
    assert overrides.split_overrides(text) == words


@given(st.lists(st.from_regex(r"[a-z_]{1,8}=[a-z0-9_.]{1,8}", fullmatch=True), max_size=6))
def test_plain_overrides_split_as_a_shell_would(words):
    import shlex

    text = " ".join(words)
    assert overrides.split_overrides(text) == shlex.split(text) == words


def test_an_unclosed_quote_is_one_line():
    with pytest.raises(InvalidValue, match="has an unclosed ' quote"):
        overrides.split_overrides("sweep_name='open")


@pytest.mark.parametrize(
    "override",
    [
        "+hydra.callbacks.pwn._target_=os.system",
        "hydra/callbacks=x",
        "grid={_target_: os.system}",
        "grid.models=[{_target_: os.system, _args_: [id]}]",
        "+x._partial_=true",
        "hydra.job.env_set.LD_PRELOAD=/tmp/x.so",
        "hydra.searchpath=[file:///tmp]",
        "hydra.job_logging.root.level=DEBUG",
        "hydra/launcher=ray_aws",
        "hydra.launcher.ray.init.runtime_env.pip=[evil]",
        "hydra.launcher={_target_: os.system}",
        "--experimental-rerun",
        "--config-dir=/tmp",
        "-cd",
    ],
)
def test_overrides_that_would_instantiate_code_are_refused(override):
    with pytest.raises(InvalidValue, match="is not allowed"):
        overrides.refuse_code([override])


@pytest.mark.parametrize(
    "override",
    ["seed=0,1", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "hydra/launcher=ray",
     "hydra.launcher.ray.init.num_cpus=2", "losses=[bce, brier]", "outputs=hydra", "hydra.run.dir=out"],
)  # fmt: skip
def test_config_keys_launchers_and_sweepers_are_allowed(override):
    overrides.refuse_code([override])


def test_interpolations_are_refused_from_mlflow_run_only():
    overrides.refuse_code(["sweep_name=${grid.name}"])
    with pytest.raises(InvalidValue, match=r"no \$\{...\} interpolations"):
        overrides.refuse_code(["sweep_name=${oc.env:MLFLOW_TRACKING_PASSWORD}"], interpolations=False)


def test_hydras_harmless_flags_are_set_aside_at_the_shell():
    argv = ["--cfg", "job", "-m", "seed=0,1", "--info", "config", "--resolve", "grid=dense"]
    assert overrides.without_safe_flags(argv) == ["seed=0,1", "grid=dense"]


@pytest.mark.parametrize(
    "given, line",
    [
        (["grid=dens"], "grid='dens' is not one of: dense, long_tail, seed_blog, single (did you mean dense?)"),
        (["score_model=betta"], "score_model='betta' is not one of: beta, empirical, uniform (did you mean beta?)"),
        (["outputs=none2"], "outputs='none2' is not one of: hydra, none (did you mean none?)"),
        (["lossses=[bce]"], "lossses is not a config key (did you mean losses?); the keys are: backend, "),
        (["focal.alpah=0.3"], "focal.alpah is not a config key (did you mean focal.alpha?); focal's keys are: alpha, gamma"),
        (["seed=0,1", "grid=dense", "acc0=0.9"], "acc0 is not a config key; the keys are: "),
        (["losses=[bce"], "override 'losses=[bce' is not a Hydra override: "),
        (["hydra/launcher=joblibb"], "hydra/launcher='joblibb' is not one of: basic, joblib, ray (did you mean joblib?)"),
    ],
)  # fmt: skip
def test_grammar_mistakes_are_one_line_with_the_options_or_the_nearest_key(given, line):
    with pytest.raises(InvalidValue) as refused:
        overrides.check_composes(CONFIG_DIR, "config", given)
    assert str(refused.value).startswith(line) and "\n" not in str(refused.value)


def test_a_sweep_of_overrides_composes_as_its_first_job():
    overrides.check_composes(
        CONFIG_DIR, "config", ["-m", "seed=0,1,2", "grid=dense,seed_blog", "mode=expected"]
    )
    overrides.check_composes(CONFIG_DIR, "flip", ["losses=[bce]", "metrics=[f1]"])


def test_the_ray_launcher_without_the_ray_extra_is_one_line_saying_how_to_install_it(tmp_path):
    """Ray is an extra: a process where its Hydra plugin cannot be imported stops before any run."""
    import subprocess
    import sys

    hide_ray_and_run = (
        "import runpy, sys\n"
        "sys.modules['hydra_plugins.hydra_ray_launcher'] = None  # as if the extra were not installed\n"
        "sys.argv = ['imbalance_sweep', '-m', 'shard.count=2', 'shard.index=0,1', 'hydra/launcher=ray']\n"
        "runpy.run_module('imbalance_sweep', run_name='__main__')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", hide_ray_and_run], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"imbalance-sweep: error: {overrides.RAY_NOT_INSTALLED}"]
    assert "Traceback" not in done.stderr and not (tmp_path / "mlflow.db").exists()
