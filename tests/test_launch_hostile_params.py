"""Hostile ``-P`` values through the real ``mlflow run . --env-manager local -e ENTRY``: nothing runs.

MLflow shell-quotes each value into the entry point's command (MLproject) and ``bash -c`` runs it;
``imbalance_sweep.launch`` then reads each value as a number, a name or a path, and refuses Hydra
overrides that would instantiate code. Here every parameter of every entry point gets a value that
tries to create a canary file (an absolute path under this module's temporary folder) the way a shell
would be tricked into it: ``$(...)``, backticks, ``;``, ``&&``, ``|``, a value closing single or
double quotes, a newline, and words split at spaces. A shell expands every word of a command before
Python starts, so one ``mlflow run`` carries a hostile value in every parameter at once, and the
forms rotate over a few runs per entry point; each value has its own canary name
(``canary-<entry>-<run>-<parameter>-<form>``), so a canary that appears says which value made it.

``-P overrides`` gets real payloads (Hydra callbacks that would touch a canary, ``hydra.job.env_set``
of ``BASH_ENV``, an ``oc.env`` interpolation, ``--experimental-rerun`` of a pickle that touches a
canary); each test first shows, in this process, that its payload does run code when Hydra acts on
it, so a refusal cannot pass vacuously. A positive control passes a path with spaces and quotes,
which must come back literally in the "does not exist" line.

Each run must: exit non-zero, leave no canary anywhere under the module's folder, leave no FINISHED
run in its throw-away store, print exactly one ``imbalance-sweep: error:`` line on stderr besides
MLflow's own log lines (and nothing else), and no traceback. ``mlflow run`` costs several seconds of
CPU, so the module starts all runs at once, a few at a time, and each test checks its own.
"""

from __future__ import annotations

import os
import pathlib
import pickle
import re
import shlex
import shutil
import subprocess
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import EXPERIMENT, ROOT, launched_run_ids, mlflow_run, params, stored_runs
from mlflow import MlflowClient

# one worker under pytest-xdist: the module's runs are one fixture, started once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hostile-params")]

PREFIX = "imbalance-sweep: error: "
# How each form tries to run `touch CANARY` (CANARY: an absolute path with no shell metacharacters).
FORMS: dict[str, Callable[[str], str]] = {
    "dollar": lambda canary: f"$(touch {canary})",
    "backtick": lambda canary: f"`touch {canary}`",
    "semicolon": lambda canary: f"; touch {canary}",
    "and": lambda canary: f"&& touch {canary}",
    "pipe": lambda canary: f"| touch {canary}",
    "squote": lambda canary: f"'; touch {canary}; '",
    "dquote": lambda canary: f'"; touch {canary}; "',
    "newline": lambda canary: f"\ntouch {canary}",
    "spaces": lambda canary: f"a  b\ttouch {canary}",
}
# Where each form runs code (or, for spaces, splits into words) when pasted into a command unquoted
# ("{}"), inside single quotes ("'{}'") or inside double quotes ('"{}"'): see test_forms_are_live.
FORM_CONTEXT = {
    "dollar": "{}",
    "backtick": "{}",
    "semicolon": "{}",
    "and": "{}",
    "pipe": "{}",
    "squote": "'{}'",
    "dquote": '"{}"',
    "newline": "{}",
    "spaces": "{}",
}

ENTRY_PARAMETERS = {
    "main": ("num_0s", "num_1s", "acc_0s", "acc_1s", "seed", "losses", "backend"),
    "sweep": ("grid", "overrides"),
    "flip": ("model_a", "model_b", "overrides"),
    "compare": ("sweeps", "metrics", "experiment"),
    "train": ("epochs", "prevalences", "seed", "out"),
}
# Per entry point, per run: the form each parameter gets (in ENTRY_PARAMETERS' order). Every form
# reaches main (seven parameters, two runs); every parameter of the other entry points gets hostile
# values that cover every quoting context between them ($(...) and backticks also run inside double
# quotes; ;, && and | only where $(...) does). Every command has the same shape (`--name {name}`).
ROTATIONS = {
    "main": [
        ("spaces", "dollar", "backtick", "semicolon", "and", "pipe", "squote"),
        ("newline", "squote", "dquote", "dollar", "backtick", "squote", "dollar"),
    ],
    "sweep": [("spaces", "backtick"), ("dollar", "dquote"), ("squote", "newline")],
    "flip": [("dollar", "squote", "newline"), ("backtick", "dquote", "spaces")],
    "compare": [("dollar", "squote", "spaces"), ("newline", "dquote", "backtick")],
    "train": [("dollar", "squote", "newline", "spaces"), ("backtick", "dquote", "semicolon", "pipe")],
}


@dataclass
class Case:
    """One `mlflow run`: its entry point, its -P values, what its one error line must contain, and
    (for an override payload) a proof, run in this process, that the payload runs code."""

    name: str
    entry: str
    values: Callable[[Path], dict[str, str]]  # the -P values, given the case's folder
    expect: Callable[[dict[str, str]], list[str]]
    proof: Callable[[Path], None] | None = None
    rotation: bool = False


def hostile_values(entry: str, index: int, forms: tuple[str, ...], folder: Path) -> dict[str, str]:
    return {
        parameter: FORMS[form](str(folder / f"canary-{entry}-{index}-{parameter}-{form}"))
        for parameter, form in zip(ENTRY_PARAMETERS[entry], forms, strict=True)
    }


def expected_rotation_error(entry: str) -> Callable[[dict[str, str]], list[str]]:
    """What names the first value each entry point reads, whole: the value arrived as one argument,
    newline, quotes and spaces included, and was read as data."""

    def expect(values: dict[str, str]) -> list[str]:
        if entry == "main":
            return [f"num_0s={values['num_0s']!r} is not a number"]
        if entry == "sweep":
            return [f"grid={values['grid'].strip()!r} is not one of: "]
        if entry == "train":
            return [f"epochs={values['epochs']!r} is not a number"]
        if entry == "compare":  # sweeps split as a shell would (>= 2 names here), then the experiment
            assert len(shlex.split(values["sweeps"])) >= 2
            return [f"--experiment={values['experiment']!r} is not an experiment"]
        return ["override ", "is not a Hydra override"]  # flip reads its overrides first

    return expect


# --- Override payloads, each with its proof that Hydra would run it --------------------------------


class _TouchOnLoad:
    """Unpickling this touches the path: what a pickle handed to --experimental-rerun can do."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.path),))


def _compose(config_name: str, overrides: list[str], *, hydra: bool = True):
    from hydra import compose, initialize_config_dir

    from imbalance_sweep.sweep.config import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name=config_name, overrides=overrides, return_hydra_config=hydra)


def callbacks_overrides(canary: str) -> str:
    return f"+hydra.callbacks.pwn._target_=pathlib.Path.touch +hydra.callbacks.pwn.self={canary}"


def prove_callbacks(config_name: str) -> Callable[[Path], None]:
    def prove(folder: Path) -> None:
        """Hydra's Callbacks instantiates each hydra.callbacks entry when the app starts."""
        from hydra.utils import instantiate

        target = folder / "proof-callbacks"
        config = _compose(config_name, shlex.split(callbacks_overrides(str(target))))
        instantiate(config.hydra.callbacks.pwn)
        assert target.exists(), "the callbacks payload should touch its file when instantiated"

    return prove


def env_set_overrides(script: str) -> str:
    return f"+hydra.job.env_set.BASH_ENV={script}"


def prove_env_set(folder: Path) -> None:
    """Hydra sets hydra.job.env_set around the job: any bash the job starts then runs the script."""
    from hydra.core.utils import env_override

    target, script = folder / "proof-env-set", folder / "proof-env-set.sh"
    script.write_text(f"touch {target}\n")
    config = _compose("config", [env_set_overrides(str(script))])
    with env_override(config.hydra.job.env_set):
        subprocess.run(["bash", "-c", "true"], check=True)
    assert target.exists(), "bash under the env_set payload should run BASH_ENV"


def prove_rerun(folder: Path) -> None:
    """--experimental-rerun FILE unpickles FILE (hydra.main._get_rerun_conf)."""
    from hydra.main import _get_rerun_conf

    target, pickled = folder / "proof-rerun", folder / "proof-rerun.pickle"
    pickled.write_bytes(pickle.dumps(_TouchOnLoad(str(target))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(AttributeError):  # it unpickled None (touch's result), after touching
            _get_rerun_conf(str(pickled), [])
    assert target.exists(), "unpickling the rerun payload should touch its file"


def prove_interpolation(config_name: str, override: str) -> Callable[[Path], None]:
    def prove(folder: Path) -> None:
        """Composed and resolved, the interpolation copies $HOME into the config (and logged params)."""
        from omegaconf import OmegaConf

        key = override.split("=", 1)[0]
        config = OmegaConf.to_container(_compose(config_name, [override], hydra=False), resolve=True)
        assert config[key] == os.environ["HOME"]

    return prove


def rotation_values(entry: str, index: int, forms: tuple[str, ...]) -> Callable[[Path], dict[str, str]]:
    return lambda folder: hostile_values(entry, index, forms, folder)


def callbacks_values(entry: str) -> Callable[[Path], dict[str, str]]:
    return lambda folder: {
        "overrides": callbacks_overrides(str(folder / f"canary-{entry}-overrides-callbacks"))
    }


def env_set_values(folder: Path) -> dict[str, str]:
    script = folder / "payload-env-set.sh"
    script.write_text(f"touch {folder / 'canary-sweep-overrides-env_set'}\n")
    return {"overrides": env_set_overrides(str(script))}


def rerun_values(folder: Path) -> dict[str, str]:
    pickled = folder / "payload-rerun.pickle"
    pickled.write_bytes(pickle.dumps(_TouchOnLoad(str(folder / "canary-sweep-overrides-experimental_rerun"))))
    return {"overrides": f"--experimental-rerun {pickled}"}


LITERAL_PATH = "my 'odd' file.csv"


def build_cases() -> list[Case]:
    cases = [
        Case(
            f"{entry}-{index}",
            entry,
            rotation_values(entry, index, forms),
            expected_rotation_error(entry),
            rotation=True,
        )
        for entry, runs in ROTATIONS.items()
        for index, forms in enumerate(runs, start=1)
    ]
    instantiate_code = lambda values: ["override ", "it would make Hydra instantiate code"]  # noqa: E731
    not_under_hydra = lambda values: ["override ", "under hydra only"]  # noqa: E731
    no_interpolation = lambda values: [f"override {values['overrides']!r}", "no ${...} interpolations"]  # noqa: E731
    only_flags = lambda values: ["override '--experimental-rerun'", "only key=value overrides"]  # noqa: E731
    leak = "experiment=${oc.env:HOME}"
    # One run per payload, on the entry point where Hydra would act on it: sweep runs @hydra.main
    # (callbacks, env_set, --experimental-rerun), flip resolves the config it composes (the
    # interpolation). Both entry points pass -P overrides through the same check (launch.user_overrides).
    cases += [
        Case(
            "sweep-overrides-callbacks",
            "sweep",
            callbacks_values("sweep"),
            instantiate_code,
            prove_callbacks("config"),
        ),
        Case("sweep-overrides-env_set", "sweep", env_set_values, not_under_hydra, prove_env_set),
        Case(
            "flip-overrides-oc_env",
            "flip",
            lambda folder: {"overrides": leak},
            no_interpolation,
            prove_interpolation("flip", leak),
        ),
        Case("sweep-overrides-experimental_rerun", "sweep", rerun_values, only_flags, prove_rerun),
        # Positive control: not hostile, a path with spaces and quotes, taken literally.
        Case(
            "flip-literal-path",
            "flip",
            lambda folder: {"model_a": LITERAL_PATH},
            lambda values: [LITERAL_PATH, "does not exist"],
        ),
    ]
    return cases


CASES = build_cases()
CASE_NAMES = {case.name for case in CASES}


# --- Running them: all at once, a few at a time ----------------------------------------------------


@dataclass
class Outcome:
    values: dict[str, str]
    result: subprocess.CompletedProcess[str]
    statuses: list[str]
    launched: list[str]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    # The payloads are shell words only if the path holds no shell metacharacters.
    assert re.fullmatch(r"[A-Za-z0-9_/.-]+", str(folder)), folder
    return folder


@pytest.fixture(scope="module")
def outcomes(base, new_store_file) -> dict[str, Outcome]:
    """Every case's `mlflow run`, each against its own copy of a fresh sqlite store."""
    template = base / "template.db"
    MlflowClient(tracking_uri=new_store_file(template)).create_experiment(
        EXPERIMENT, artifact_location=(base / "artifacts").as_uri()
    )

    def run(case: Case) -> tuple[str, Outcome]:
        folder = base / case.name
        folder.mkdir()
        shutil.copyfile(template, folder / "mlflow.db")
        store = f"sqlite:///{folder / 'mlflow.db'}"
        values = case.values(folder)
        assignments = [f"{name}={value}" for name, value in values.items()]
        result = mlflow_run(
            store, "-e", case.entry, "--env-manager", "local", *params(*assignments), timeout=300
        )
        runs = stored_runs(store)
        return case.name, Outcome(
            values, result, [r.info.status for r in runs], launched_run_ids(runs, case.entry)
        )

    workers = min(4, (os.cpu_count() or 2) + 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(run, CASES))


# MLflow's "=== Running command '...' in run with ID '...' ===" spans lines when a value holds a newline.
_RUNNING_COMMAND = re.compile(
    r"^.* INFO mlflow\S*: === Running command '.*?' in run with ID '\w+' === ?$", re.S | re.M
)


def own_lines(stderr: str) -> list[str]:
    """stderr less MLflow's own log lines and blank lines."""
    text = _RUNNING_COMMAND.sub("", stderr)
    return [
        line
        for line in text.splitlines()
        if line.strip() and " INFO mlflow" not in line and " ERROR mlflow" not in line and "=== " not in line
    ]


def canaries(base: Path, case: str = "") -> list[str]:
    """Every canary under ``base`` (or its ``case`` folder), a mangled name too (``canary-x'``)."""
    return sorted(str(path.relative_to(base)) for path in (base / case).rglob("*canary*"))


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_value_runs_nothing(case: Case, outcomes, base, tmp_path):
    if case.proof is not None:
        case.proof(tmp_path)  # the payload is live: Hydra acting on it would run code
    if case.name == "flip-literal-path":
        assert not (ROOT / LITERAL_PATH).exists()  # so "does not exist" is the truth
    outcome = outcomes[case.name]
    result = outcome.result
    shown = f"-P values: {outcome.values!r}\nexit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"

    assert result.returncode != 0, shown
    assert canaries(base, case.name) == [], f"a hostile value ran: {canaries(base, case.name)}\n{shown}"
    stray = [path for path in canaries(base) if path.split("/")[0] not in CASE_NAMES]
    assert stray == [], f"a hostile value ran outside its own folder: {stray}"
    assert outcome.launched, f"mlflow run never launched the entry point's command\n{shown}"
    assert "FINISHED" not in outcome.statuses, shown
    assert "Traceback" not in result.stdout + result.stderr, shown

    lines = own_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith(PREFIX), f"not one error line: {lines}\n{shown}"
    for fragment in case.expect(outcome.values):
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


def test_every_parameter_gets_hostile_values():
    """The rotation covers every parameter of every entry point, every form reaches main, and every
    quoting context reaches each entry point; the cases' canary names are distinct."""
    for entry, runs in ROTATIONS.items():
        assert all(len(forms) == len(ENTRY_PARAMETERS[entry]) for forms in runs)
        if entry == "main":
            assert {form for forms in runs for form in forms} == set(FORMS), entry
        else:  # every quoting context: unquoted, inside single quotes, inside double quotes, newlines, spaces
            assert {"dollar", "backtick", "squote", "dquote", "newline", "spaces"} <= {
                f for fs in runs for f in fs
            }
    from imbalance_sweep.launch import ENTRY_POINTS

    assert dict(ENTRY_POINTS) == ENTRY_PARAMETERS
    names = [value for case in CASES if case.rotation for value in case.values(Path("/x")).values()]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("form", list(FORMS))
def test_forms_are_live(form, tmp_path):
    """Each form, pasted raw into a command in the quoting it targets, does run `touch` (spaces: the
    value splits into several words), so the end-to-end tests above cannot pass vacuously."""
    canary = tmp_path / "proof-canary"
    value = FORMS[form](str(canary))
    command = "printf '%s\\n' " + FORM_CONTEXT[form].format(value)
    printed = subprocess.run(["bash", "-c", command], capture_output=True, text=True).stdout
    if form == "spaces":
        assert len(printed.splitlines()) > 1
    else:
        assert canary.exists(), (form, command)
