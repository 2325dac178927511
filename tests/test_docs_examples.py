"""Every example of README.md and docs/ runs as written, and prints what the page shows.

A page's blocks are read in order. ``python`` and ``pycon`` blocks run in one namespace per page;
``bash`` and ``console`` blocks run with bash in one temporary folder per page that links to this
checkout's MLproject, conf/, src/, examples/ and benchmarks/, as a person's shell would (no MLflow
launch variables, ``python`` this interpreter). Where a block shows output it is compared:
``console`` lines as shown (``...`` in a line stands for any text, a line of ``...`` for any lines),
``pycon`` values with their numbers to the digits shown. An HTML comment on the line before a block
says when it is not run here: ``<!-- not-run: why -->`` (then only its syntax is checked),
``<!-- tested-by: tests/... -->`` (another test runs it), ``<!-- slow: why -->`` (a Python block run
only by the page's slow test). Shell examples start Python and MLflow, seconds each: they run in the
slow test of their page; the fast tests check every block's syntax and run the Python blocks.
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml
from helpers import environment_without_mlflow_launch

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SHELL, PYTHON = ("bash", "console"), ("python", "pycon")
CHECKED_ONLY = ("yaml", "ini", "text")
DIRECTIVE = re.compile(r"<!--\s*(not-run|tested-by|slow):\s*(.+?)\s*-->")
# What a page's shell folder links to: the checkout's files that its commands name
LINKED = ("MLproject", "conda.yaml", "conf", "src", "examples", "benchmarks")
NUMBER = re.compile(r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, from 1
    language: str
    text: str
    directive: str | None = None
    reason: str = ""

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.directive not in ("not-run", "tested-by")


@cache
def blocks(page: Path) -> tuple[Block, ...]:
    """The fenced blocks of ``page``, in order, each with the directive on the line before it."""
    found, lines = [], page.read_text().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            language = line[3:].strip()
            end = next(k for k in range(index + 1, len(lines)) if lines[k].startswith("```"))
            directive = DIRECTIVE.fullmatch(lines[index - 1].strip()) if index else None
            found.append(
                Block(
                    page,
                    index + 1,
                    language,
                    "\n".join(lines[index + 1 : end]),
                    directive.group(1) if directive else None,
                    directive.group(2) if directive else "",
                )
            )
            index = end
        index += 1
    return tuple(found)


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def pages_with(*languages: str, slow: bool = False) -> list[Path]:
    return [
        page
        for page in PAGES
        if any(
            block.runs
            and block.language in languages
            and (not slow or block.language in SHELL or block.directive)
            for block in blocks(page)
        )
    ]


# ---- console and pycon blocks: commands and what they print


def console_steps(text: str) -> list[tuple[str, list[str]]]:
    """A console block as (command, the lines it shows): ``$ `` starts a command, a line ending in a
    backslash continues it, the lines up to the next ``$ `` are its output."""
    steps: list[tuple[str, list[str]]] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        assert line.startswith("$ "), f"console output before any command: {line!r}"
        command = line[2:]
        while command.endswith("\\"):
            index += 1
            command = command[:-1] + "\n" + lines[index]
        index += 1
        shown = []
        while index < len(lines) and not lines[index].startswith("$ "):
            shown.append(lines[index])
            index += 1
        steps.append((command, shown))
    return steps


def lines_match(shown: list[str], printed: list[str]) -> bool:
    """Every shown line is a printed line, in order and whole; ``...`` within a line is any text, a
    line of ``...`` any number of lines."""
    patterns = [
        None if line.strip() == "..." else re.compile(".*?".join(map(re.escape, line.rstrip().split("..."))))
        for line in shown
    ]
    printed = [line.rstrip() for line in printed]

    @cache
    def match(i: int, j: int) -> bool:
        if i == len(patterns):
            return j == len(printed)
        if patterns[i] is None:
            return any(match(i + 1, k) for k in range(j, len(printed) + 1))
        return j < len(printed) and patterns[i].fullmatch(printed[j]) is not None and match(i + 1, j + 1)

    return match(0, 0)


def same_to_digits_shown(shown: str, value: str) -> bool:
    """``value`` reads as ``shown`` where every number of ``shown`` is ``value``'s rounded to the
    digits it shows (0.31410 holds 0.3140986; 2.2e-4 holds 0.00021962); the rest is the same text."""
    if NUMBER.sub("#", shown) != NUMBER.sub("#", value):
        return False
    for expected, actual in zip(NUMBER.findall(shown), NUMBER.findall(value), strict=True):
        mantissa, _, exponent = expected.lower().partition("e")
        decimals = len(mantissa.partition(".")[2])
        if abs(float(actual) - float(expected)) > 0.5 * 10.0 ** (int(exponent or 0) - decimals) * (1 + 1e-9):
            return False
    return True


def pycon_steps(text: str) -> list[tuple[str, str]]:
    """A pycon block as (source, the value it shows)."""
    steps: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if line.startswith(">>> "):
            steps.append((line[4:], []))
        elif line.startswith("... ") or line == "...":
            steps[-1] = (steps[-1][0] + "\n" + line[4:], steps[-1][1])
        else:
            steps[-1][1].append(line)
    return [(source, "\n".join(shown)) for source, shown in steps]


def run_python(block: Block, namespace: dict) -> None:
    if block.language == "python":
        exec(compile(block.text, str(block), "exec"), namespace)
        return
    for source, shown in pycon_steps(block.text):
        tree = ast.parse(source)
        if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
            value = eval(compile(source, str(block), "eval"), namespace)
            printed = "" if value is None else repr(value)
        else:
            exec(compile(source, str(block), "exec"), namespace)
            printed = ""
        assert same_to_digits_shown(shown, printed), (
            f"{block}: {source}\nshown:   {shown}\nprinted: {printed}"
        )


# ---- the fast tests: every block known and well formed; the Python blocks run


def bash_syntax(block: Block) -> None:
    scripts = (
        [command for command, _ in console_steps(block.text)] if block.language == "console" else [block.text]
    )
    for script in scripts:
        done = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
        assert done.returncode == 0, f"{block}: {done.stderr}"


def python_syntax(block: Block) -> None:
    sources = [source for source, _ in pycon_steps(block.text)] if block.language == "pycon" else [block.text]
    for source in sources:
        ast.parse(source, str(block))


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_block_is_well_formed_and_says_whether_it_runs(page):
    for block in blocks(page):
        assert block.language in (*SHELL, *PYTHON, *CHECKED_ONLY) or block.directive == "tested-by", (
            f"{block}: a block names its language (bash, console, python, pycon, yaml, ini, text)"
        )
        if block.directive == "tested-by":
            named = re.findall(r"tests/[\w/]+\.py", block.reason)
            assert named and all((ROOT / name).exists() for name in named), f"{block}: {block.reason}"
        if block.language in ("bash", "console"):
            bash_syntax(block)
        elif block.language in PYTHON:
            python_syntax(block)
        elif block.language == "yaml":
            yaml.safe_load(block.text)
        elif block.language == "ini":
            configparser.ConfigParser().read_string(block.text)


@pytest.mark.parametrize("page", pages_with(*PYTHON), ids=page_id)
def test_the_python_examples_run_and_show_what_they_print(page, tmp_path, monkeypatch):
    """The page's Python blocks in one namespace, in a folder of their own (not the slow ones)."""
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for block in blocks(page):
        if block.runs and block.language in PYTHON and block.directive != "slow":
            with contextlib.redirect_stdout(io.StringIO()):
                run_python(block, namespace)


def test_the_pictures_the_readme_shows_are_there():
    for target in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", (ROOT / "README.md").read_text()):
        assert (ROOT / target).is_file(), target


# ---- the slow tests: each page's examples, as a person runs them, in order


@pytest.fixture(scope="module")
def person_shell(tmp_path_factory):
    """A person's environment: no MLflow launch variables or tracking URI, ``python`` this
    interpreter, this checkout's code, unbuffered output, an 80-column terminal; matplotlib's font
    cache made once, so no first-use notice lands in a page's output."""
    bin_dir = tmp_path_factory.mktemp("bin")
    (bin_dir / "python").symlink_to(sys.executable)
    environment = environment_without_mlflow_launch()
    environment.pop("MLFLOW_TRACKING_URI", None)
    environment.update(
        PATH=f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}",
        PYTHONPATH=str(ROOT / "src"),
        PYTHONUNBUFFERED="1",
        COLUMNS="80",
        MPLCONFIGDIR=str(tmp_path_factory.mktemp("matplotlib")),
    )
    subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"], env=environment, check=True)
    return environment


def bash(arguments: list[str], folder: Path, environment: dict) -> subprocess.CompletedProcess[str]:
    """``bash ARGUMENTS`` in ``folder``, as a person's shell: its output and errors as one text."""
    return subprocess.run(
        ["bash", *arguments],
        cwd=folder,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
    )


def run_shell(block: Block, folder: Path, environment: dict) -> None:
    if block.language == "bash":
        done = bash(["-e", "-o", "pipefail", "-c", block.text], folder, environment)
        assert done.returncode == 0, f"{block}: exit code {done.returncode}\n{done.stdout[-3000:]}"
        return
    for command, shown in console_steps(block.text):
        done = bash(["-c", command], folder, environment)
        if 'echo "exit code $?"' not in command:  # else the block shows the exit code itself
            refused = any("error:" in line for line in shown)
            assert (done.returncode != 0) == refused, (
                f"{block}: {command}: exit code {done.returncode}\n{done.stdout}"
            )
        printed = done.stdout.splitlines()
        assert lines_match(shown, printed), (
            f"{block}: {command}\nshown:\n" + "\n".join(shown) + "\nprinted:\n" + done.stdout
        )


@pytest.mark.slow
@pytest.mark.parametrize("page", pages_with(*SHELL, "python", "pycon", slow=True), ids=page_id)
def test_the_examples_of_a_page_run_as_written(page, tmp_path, person_shell, monkeypatch):
    """Every runnable block of the page, in order, in one folder: shell blocks as a person's shell
    runs them, Python blocks (the slow ones too) in one namespace."""
    for name in LINKED:
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for block in blocks(page):
        if not block.runs:
            continue
        if block.language in SHELL:
            run_shell(block, tmp_path, person_shell)
        elif block.language in PYTHON:
            with contextlib.redirect_stdout(io.StringIO()):
                run_python(block, namespace)
