"""The tested versions are recorded once, in pyproject.toml; every other list is held to it:
conda.yaml's pip section (what `mlflow run --env-manager uv|conda` builds) lists exactly the same
pins, and requirements-tfa.txt pins every package it shares with the project at the same version,
except the TensorFlow stack it exists to hold back (tensorflow < 2.16 needs numpy < 2)."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
HELD_BACK_FOR_TFA = {"tensorflow", "tensorflow-cpu", "keras", "numpy", "protobuf", "tensorflow-addons"}


def pins(lines) -> dict[str, str]:
    """name (normalised, extras dropped) -> the version of an exact `==` pin; fails on any other form."""
    found = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]+\])?==([0-9][A-Za-z0-9.+-]*)", line)
        assert match, f"not an exact pin: {line!r}"
        found[match.group(1).lower().replace("_", "-")] = match.group(3)
    return found


def project_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    everything = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        everything += extra
    return pins(everything)


def test_conda_yaml_pins_exactly_the_projects_dependencies():
    conda = yaml.safe_load((ROOT / "conda.yaml").read_text())
    (pip_section,) = [entry["pip"] for entry in conda["dependencies"] if isinstance(entry, dict)]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert pins(pip_section) == pins(project["dependencies"])


def test_requirements_tfa_agrees_with_the_project_except_the_tensorflow_stack():
    tfa = pins((ROOT / "requirements-tfa.txt").read_text().splitlines())
    project = project_pins()
    shared = {name for name in tfa if name in project and name not in HELD_BACK_FOR_TFA}
    assert shared >= {"mlflow", "hydra-core", "omegaconf", "pytest", "hypothesis", "scikit-learn"}
    assert {name: tfa[name] for name in shared} == {name: project[name] for name in shared}
