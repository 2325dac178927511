"""The Keras example as docs/guides/keras.md shows it: its printed table, and the flip and grid commands
on its epoch files, run as written; every line the page shows is a line they print, and TensorFlow says
nothing on a machine without a GPU."""

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import environment_without_mlflow_launch

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "guides" / "keras.md").read_text()
SECTION = PAGE[PAGE.index("## Example: one training run, which epoch each criterion keeps") :]


def blocks(text):
    """The fenced blocks of ``text`` that name no language, in order (the page's printed output)."""
    found, current, language = [], None, None
    for line in text.splitlines():
        if line.startswith("```") and current is None:
            current, language = [], line[3:].strip()
        elif line.startswith("```"):
            if not language:
                found.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return found


def shown(block, directory):
    """The lines a block shows, '...' standing for the run's folder; lines that are only '...' skipped."""
    return [line.replace(".../", f"{directory}/") for line in block.splitlines() if line != "..."]


def command_of(block):
    """A block's ``$ ...`` command, with its continuation lines, as argv."""
    lines = block.splitlines()
    text = lines[0].removeprefix("$ ")
    for line in lines[1:]:
        if not text.endswith("\\"):
            break
        text = text[:-1] + line
    return shlex.split(text)


def person_environment():
    """A person's shell: no MLflow launch variables, and no TF_CPP_MIN_LOG_LEVEL (conftest sets one)."""
    environment = environment_without_mlflow_launch()
    environment.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return environment


def run(argv, directory):
    done = subprocess.run(
        argv,
        cwd=directory,
        env={
            **person_environment(),
            "MLFLOW_TRACKING_URI": f"sqlite:///{directory}/mlflow.db",
        },
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.slow
def test_the_keras_example_prints_what_its_page_says(tmp_path):
    printed, flip, grid = blocks(SECTION)[:3]
    assert printed.startswith("training on") and flip.startswith("$ python -m imbalance_sweep.flip")
    done = run([sys.executable, str(ROOT / "examples" / "train_keras.py")], tmp_path)
    assert done.stderr == ""  # no CUDA probing, oneDNN or cuInit lines
    table = [
        line for line in shown(printed, tmp_path) if not line.startswith(("store:", "experiment:", "run:"))
    ]
    assert done.stdout.splitlines()[: len(table)] == table
    for block in (flip, grid):
        output = run([sys.executable if word == "python" else word for word in command_of(block)], tmp_path)
        lines = output.stdout.splitlines()
        body = shown(block, tmp_path)[int(block.splitlines()[0].endswith("\\")) + 1 :]
        assert [line for line in body if line in lines] == body
