"""The K-class flip's door (``python -m imbalance_sweep.flip --config-name flip_long_tail``;
analysis/k_flip.py): the shipped config composed by Hydra and run in-process, the run MLflow stored
read back, the flips equal to prior_flip's for the same models, K = 3's ternary figure, bad values
one line each; one slow test of the command in a subprocess."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import environment_without_mlflow_launch
from mlflow.tracking import MlflowClient

from imbalance_sweep import flip as flip_command
from imbalance_sweep.analysis.k_flip import k_flip_spec, run_k_flip, table_lines
from imbalance_sweep.cli import run_hydra_main
from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass.flip_inputs import model_class_values
from imbalance_sweep.core.multiclass.prior_flip import path_flips
from imbalance_sweep.core.multiclass.prior_paths import exponential_path, line_path
from imbalance_sweep.core.multiclass.profiles import exponential_counts, frequency_accuracies
from imbalance_sweep.flip import config_name
from imbalance_sweep.tracking.tags import ROLE_TAG, Role

PNG = b"\x89PNG\r\n\x1a\n"
README = Path(__file__).parents[2] / "README.md"


def composed(*overrides):
    """conf/flip_long_tail.yaml as Hydra composes it with ``overrides``, as a plain container."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from imbalance_sweep.sweep.config import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        config = compose(config_name="flip_long_tail", overrides=list(overrides))
    return OmegaConf.to_container(config, resolve=True)


def stored(client, run_id, tmp_path, name):
    with open(client.download_artifacts(run_id, name, str(tmp_path)), "rb") as file:
        return file.read()


def test_the_shipped_config_logs_the_flips_prior_flip_finds(tracking_uri, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # MLflow's artifacts go to ./mlruns
    spec = k_flip_spec(composed(f"tracking_uri={tracking_uri}", "experiment=k-flip"))
    run_id = run_k_flip(spec)
    printed = capsys.readouterr().out.splitlines()

    # The same models straight through the Python API
    train = exponential_counts(10, 100, 5000)
    losses, metrics = spec.losses, spec.metrics
    settings = {"alpha": 0.25, "gamma": 2.0, "beta": 0.9999, "tau": 1.0, "max_margin": 0.5, "scale": 1.0}
    head_heavy = model_class_values(
        "head_heavy", frequency_accuracies(train, 0.95, 0.35), "frequency", train, losses=losses, **settings
    )
    even = model_class_values("even", [0.7] * 10, "frequency", train, losses=losses, **settings)
    found = path_flips(head_heavy, even, exponential_path(10, 1, 100), losses=losses, metrics=metrics)
    flips = {("loss/" if p.is_loss else "") + p.name: p.flips for p in found.preferences}
    assert len(flips) == 14 and flips["loss/class_balanced"] == flips["balanced_accuracy"] == ()

    client = MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.tags[ROLE_TAG] == Role.FLIP
    assert run.data.metrics == {f"flip/{key}": points[0] for key, points in flips.items() if points}
    params = run.data.params
    assert (params["classes"], params["model_a"], params["model_b"]) == ("10", "head_heavy", "even")
    assert params["model_a.accuracy"] == '{"profile":"frequency","head":0.95,"tail":0.35}'
    assert (params["path.kind"], params["path.from"], params["path.to"]) == ("exponential", "1", "100")
    assert params["losses"] == ",".join(losses) and params["loss_settings.beta"] == "0.9999"
    assert sorted(a.path for a in client.list_artifacts(run_id)) == ["flip.png", "flip.txt"]
    assert stored(client, run_id, tmp_path, "flip.png")[:8] == PNG
    table = stored(client, run_id, tmp_path, "flip.txt").decode().splitlines()
    assert printed[: len(table)] == table
    assert table[4] == "loss or metric          rho = 1  rho = 100  flips at rho"
    assert table[5] == f"loss/cce                B        A          {flips['loss/cce'][0]:.3g}"
    assert "loss/class_balanced     B        B          never" in table
    assert printed[-3].startswith(f"run:        {run_id}")


def test_three_classes_along_a_line_add_the_ternary_figure(tracking_uri, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model = "{{name: {name}, train: [600, 300, 100], accuracy: {{profile: explicit, values: {values}}}}}"
    models = [
        model.format(name="head", values="[0.95, 0.7, 0.3]"),
        model.format(name="flat", values="[0.8, 0.75, 0.65]"),
    ]
    spec = k_flip_spec(
        composed(
            f"tracking_uri={tracking_uri}",
            "classes=3",
            f"models=[{models[0]}, {models[1]}]",
            "path={kind: line, from: {profile: balanced}, to: [0.8, 0.15, 0.05]}",
            "losses=[cce, multiclass_brier]",
            "metrics=[f1_macro, recall/class_002]",
        )
    )
    run_id = run_k_flip(spec)
    printed = capsys.readouterr().out
    assert "path: a line of 3 classes' priors, t from 0 (path.from) to 1 (path.to)" in printed
    found = path_flips(
        spec.values_a,
        spec.values_b,
        line_path([1 / 3] * 3, [0.8, 0.15, 0.05]),
        losses=["cce", "multiclass_brier"],
        metrics=["f1_macro", "recall/class_002"],
    )
    client = MlflowClient(tracking_uri)
    metrics = client.get_run(run_id).data.metrics
    assert metrics == {
        f"flip/{'loss/' if p.is_loss else ''}{p.name}": p.flips[0] for p in found.preferences if p.flips
    }
    assert "flip/loss/cce" in metrics
    assert sorted(a.path for a in client.list_artifacts(run_id)) == ["flip.png", "flip.txt", "ternary.png"]
    assert stored(client, run_id, tmp_path, "ternary.png")[:8] == PNG


def readme_rows():
    """The README's K-class table: (names, at the start, at the end, flips) per row."""
    text = README.read_text()
    section = text[text.index("**With K classes.**") :]
    section = section[: section.index("```")]
    header, *rows = (line for line in section.splitlines() if line.startswith("| "))
    assert header == "| loss or metric | at ρ = 1 (balanced) prefers | at ρ = 100 prefers | flips at ρ |"  # noqa: RUF001
    for row in rows:
        names, start, end, flips = (cell.strip() for cell in row.strip("|").split("|"))
        yield re.findall(r"`([^`]+)`", names), start, end, flips.split(", ")


def test_the_readme_k_class_table_is_what_the_command_prints():
    """Every name, A or B and flip of the README's table against the lines the default command prints
    (the door's table_lines on the shipped config, as run_k_flip prints them)."""
    spec = k_flip_spec(composed("tracking_uri=sqlite:///unused.db"))
    assert (spec.path.parameter, spec.path.low, spec.path.high) == ("rho", 1.0, 100.0)
    found = path_flips(spec.values_a, spec.values_b, spec.path, losses=spec.losses, metrics=spec.metrics)
    _, *lines = table_lines(found)  # after the header
    printed = {}
    for line in lines:
        key, start, end, flips = line.split(maxsplit=3)
        printed[key.removeprefix("loss/")] = (start, end, flips)
    shown = {}
    for names, start, end, flips in readme_rows():
        each = flips if len(flips) == len(names) else flips * len(names)
        for name, flip in zip(names, each, strict=True):
            shown[name] = (start, end, flip)
    assert shown == printed


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["path.kind=spiral"], "path.kind='spiral' is not one of: exponential, zipf, line"),
        (["path.from=100", "path.to=1"], "path.to=1 is not above path.from=100; allowed: from < to"),
        (["path.from=0.5"], "path.from=0.5 is not an imbalance ratio rho = pi_0 / pi_(K-1) >= 1"),
        (["path={kind: zipf, from: -1, to: 2}"], "path.from=-1 is not a Zipf exponent s >= 0"),
        (["path.kind=line"], "path.from=1 is not a prior: allowed 10 numbers >= 0 summing to 1, or"),
        (
            ["path={kind: line, from: [0.5, 0.5], to: {profile: balanced}}"],
            "path.from has shape (2,); allowed: (10,), one number a class",
        ),
        (
            ["path={kind: line, from: {profile: balanced}, to: {profile: zipf}}"],
            "path.to.exponent is missing: profile zipf needs exponent",
        ),
        (
            ["path={kind: line, from: {profile: balanced}, to: {profile: exponential, ratio: 1}}"],
            "path.to={'profile': 'exponential', 'ratio': 1} is the prior path.from is",
        ),
        (["models.0.train.largest=0"], "models[0].train.largest=0 is not a whole number in [1, "),
        (["models.1.train=null"], "models[1].train is not set: give the model's training counts"),
        (["models.1.name=head_heavy"], "models[1].name='head_heavy' is models[0]'s too"),
        (["models.0.accuracy.head=1.5"], "models[0].accuracy.head=1.5 is outside [0, 1]"),
        (
            ["models=[{train: [5, 5], accuracy: {profile: uniform, value: 0.5}}, {}]"],
            "models[0].train has 2 values; allowed: 10",
        ),
        (["models=[{name: a}]"], "models=[{'name': 'a'}] is not a list of two models; allowed: [A, B]"),
        (["classes=1"], "classes=1 is not a whole number in [2, 100000]"),
        (["losses=[hinge]"], "losses[0]='hinge' is not one of: cce"),
        (["metrics=[roc_auc_ovr]"], "metrics[0]='roc_auc_ovr' is not a metric of the confusion counts"),
        (["losses=[]", "metrics=[]"], "losses=[] and metrics=[]: name at least one loss or metric"),
        (["loss_settings.beta=1"], "loss_settings.beta=1 is not a number in [0, 1)"),
        (["loss_settings.gamma=-2"], "loss_settings.gamma=-2 is not a finite number >= 0"),
        (
            ["loss_settings.alpha=[1, 2]"],
            "loss_settings.alpha has shape (2,); allowed: (10,), one number a class",
        ),
        (["+loss_settings.delta=1"], "loss_settings.delta is not a setting; they are: alpha, gamma"),
    ],
)
def test_bad_values_are_one_line(overrides, message):
    with pytest.raises(InvalidValue) as error:
        k_flip_spec(composed("tracking_uri=sqlite:///unused.db", *overrides))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"path": {"kind": "zipf", "to": 2}},
            "path.from is not set: a zipf path goes from one value to another",
        ),
        ({"path": [1, 100]}, "path=[1, 100] must be {kind: exponential | zipf | line, from: ..., to: ...}"),
        ({"colour": "red"}, "colour is not a key of the K-class flip; its keys are: classes, models, path"),
    ],
)
def test_bad_values_given_through_the_python_api_are_one_line(change, message):
    with pytest.raises(InvalidValue) as error:
        k_flip_spec({**composed("tracking_uri=sqlite:///unused.db"), **change})
    assert str(error.value).startswith(message)


def test_a_mistake_at_the_door_is_one_line_exit_2_and_no_run(tracking_uri, tmp_path, monkeypatch, capsys):
    """In-process through the code the command runs (run_hydra_main on the K-class main)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        sys, "argv", ["imbalance_sweep.flip", f"tracking_uri={tracking_uri}", "models.1.train.ratio=0.5"]
    )
    with pytest.raises(SystemExit) as exited:
        run_hydra_main(flip_command.main_long_tail, config_name="flip_long_tail")
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "imbalance-sweep: error: models[1].train.ratio=0.5 is not an imbalance ratio n_max / n_min >= 1"
    ]
    client = MlflowClient(tracking_uri)
    assert client.search_runs([e.experiment_id for e in client.search_experiments()]) == []


def test_the_config_name_flag():
    assert config_name(["--config-name", "flip_long_tail", "classes=3"]) == ("flip_long_tail", ["classes=3"])
    assert config_name(["-cn=flip", "-m"]) == ("flip", ["-m"])
    assert config_name(["model_a=[0.9,0.8]"]) == ("flip", ["model_a=[0.9,0.8]"])
    for argv, message in (
        (["--config-name=config"], "--config-name='config' is not one of: flip, flip_long_tail"),
        (["-cn", "x\ny"], "-cn='x\\ny' is not one of: flip, flip_long_tail"),
        (["--config-name"], "--config-name is not one of: flip, flip_long_tail"),
    ):
        with pytest.raises(InvalidValue) as error:
            config_name(argv)
        assert str(error.value) == message


@pytest.mark.slow
def test_the_command_as_a_person_runs_it(tmp_path):
    """The command in a subprocess: the table and a FINISHED run; a bad value one line, exit 2, no run."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    command = [sys.executable, "-m", "imbalance_sweep.flip", "--config-name", "flip_long_tail"]
    # this checkout's code, as the MLproject's commands run it
    environment = {
        **environment_without_mlflow_launch(),
        "PYTHONPATH": str(Path(__file__).parents[2] / "src"),
    }

    def run(*overrides):
        return subprocess.run(
            [*command, f"tracking_uri={uri}", *overrides],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
        )

    done = run("path={kind: zipf, from: 0, to: 2}", "losses=[cce]", "metrics=[accuracy]")
    assert done.returncode == 0, done.stderr
    assert "loss or metric         s = 0  s = 2  flips at s" in done.stdout
    (found,) = MlflowClient(uri).search_runs(
        [MlflowClient(uri).get_experiment_by_name("imbalance-sweep").experiment_id]
    )
    assert found.info.status == "FINISHED" and "flip/loss/cce" in found.data.metrics

    refused = run("path.from=200")
    assert refused.returncode == 2
    assert (
        refused.stderr.strip()
        == "imbalance-sweep: error: path.to=100 is not above path.from=200; allowed: from < to (rho rises along the path)"
    )
    assert len(MlflowClient(uri).search_runs([found.info.experiment_id])) == 1
