"""The tested versions are recorded once, in constraints.txt (scripts/lock writes it); every other
list is held to it: pyproject.toml's ranges admit it, conda.yaml's pip section (what `mlflow run
--env-manager uv|conda` builds) pins the main dependencies and the examples extra at its versions,
requirements-tfa.txt pins every package it shares with it at the same version except the TensorFlow
stack it exists to hold back (tensorflow < 2.16 needs numpy < 2), and the environment these tests run
in is it."""

import importlib.metadata as metadata
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
HELD_BACK_FOR_TFA = {"tensorflow", "tensorflow-cpu", "keras", "numpy", "protobuf", "tensorflow-addons"}


def pins(lines) -> dict[str, str]:
    """name (canonical, extras dropped) -> the version of an exact `==` pin; fails on any other form."""
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]+\])?==([0-9][A-Za-z0-9.+-]*)", line)
        assert match, f"not an exact pin: {line!r}"
        name = canonicalize_name(match.group(1))
        assert name not in found, f"{name} pinned twice"
        found[name] = match.group(3)
    return found


def locked() -> dict[str, str]:
    return pins((ROOT / "constraints.txt").read_text().splitlines())


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirements(texts) -> dict[str, Requirement]:
    return {canonicalize_name(requirement.name): requirement for requirement in map(Requirement, texts)}


def every_requirement() -> list[Requirement]:
    listed = list(project()["dependencies"])
    for extra in project()["optional-dependencies"].values():
        listed += extra
    return [Requirement(text) for text in listed]


@pytest.mark.parametrize("requirement", every_requirement(), ids=str)
def test_pyprojects_ranges_admit_the_locked_version(requirement):
    version = locked().get(canonicalize_name(requirement.name))
    assert version is not None, f"{requirement.name} is not in constraints.txt: run scripts/lock"
    assert requirement.specifier.contains(version), f"{requirement} does not admit the tested {version}"


def test_pyproject_pins_nothing_exactly():
    """Exact pins belong to the lock: a range lets the package install beside others."""
    exact = [str(r) for r in every_requirement() if any(spec.operator == "==" for spec in r.specifier)]
    assert exact == []


def test_conda_yaml_pins_the_main_dependencies_and_the_examples_at_the_locked_versions():
    """-e train runs an example: its extra (scikit-learn) is in the environment too."""
    conda = yaml.safe_load((ROOT / "conda.yaml").read_text())
    (pip_section,) = [entry["pip"] for entry in conda["dependencies"] if isinstance(entry, dict)]
    lock = locked()
    wanted = requirements(project()["dependencies"]) | requirements(
        project()["optional-dependencies"]["examples"]
    )
    assert pins(pip_section) == {name: lock[name] for name in wanted}


def test_requirements_tfa_agrees_with_the_lock_except_the_tensorflow_stack():
    tfa = pins((ROOT / "requirements-tfa.txt").read_text().splitlines())
    lock = locked()
    shared = {name for name in tfa if name in lock and name not in HELD_BACK_FOR_TFA}
    assert shared >= {"mlflow", "hydra-core", "omegaconf", "pytest", "hypothesis", "scikit-learn"}
    assert {name: tfa[name] for name in shared} == {name: lock[name] for name in shared}


def installed_list() -> tuple[str, dict[str, str]]:
    """The list this environment was installed from: requirements-tfa.txt in the legacy tfa
    environment (test_tfa_environment.py runs the fast tests there), else constraints.txt."""
    try:
        metadata.version("tensorflow-addons")
    except metadata.PackageNotFoundError:
        return "constraints.txt", locked()
    return "requirements-tfa.txt", pins((ROOT / "requirements-tfa.txt").read_text().splitlines())


def test_the_tests_run_on_the_set_their_list_records():
    """scripts/install-test-deps installs with -c constraints.txt: a test run checks what was locked."""
    listed, versions = installed_list()
    different = {}
    for name, version in versions.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != version:
            different[name] = (version, installed)
    assert different == {}, f"{listed}'s version, the installed version"


def test_ci_runs_the_readmes_test_command_which_installs_the_locked_set():
    readme = (ROOT / "README.md").read_text()
    setup = readme[readme.index("## Set-up: two commands") :].split("```")[1]
    commands = [line for line in setup.splitlines() if line and not line.startswith(("#", "bash"))]
    assert commands[0].startswith("pip install -c constraints.txt -e . && mlflow run .")
    assert commands[1] == (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert (
        'pip install -c constraints.txt -e ".[test,ray]"'
        in (ROOT / "scripts" / "install-test-deps").read_text()
    )
