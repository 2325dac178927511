"""``python -m imbalance_sweep.launch ENTRY_POINT --name VALUE ...``: what the MLproject commands run.

``mlflow run`` puts each ``-P`` value into the entry point's command as one shell-quoted word, and
the command hands it here as ``--name VALUE``: no shell ever reads a value. Here each value is read as
what it is before anything else sees it: a count (``1e5`` is 100000), an accuracy (``.98``), a list of
names (``bce, brier``), a grid's name, a path. Only these checked values are written into Hydra
overrides, so no value reaches Hydra's grammar or an interpolation; the one exception, ``overrides``,
is Hydra overrides by design and passes :func:`overrides.refuse_code` first. Parameters ``mlflow run``
does not know (``-P acc0=0.9``) arrive as extra ``--acc0 0.9`` and are refused with the entry point's
parameters named.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from .cli import exit_on_user_error
from .core.checks import InvalidValue, fraction, names_from, one_of, whole_number
from .runtime.lifetime import imports_done, whole_process
from .runtime.signals import install_interrupt_handlers, set_continue_command, terminate_with_parent
from .runtime.user_errors import on_user_error

# Each entry point's parameters, as MLproject declares them (tests/test_launch.py checks the two agree).
ENTRY_POINTS: Mapping[str, tuple[str, ...]] = {
    "main": ("num_0s", "num_1s", "acc_0s", "acc_1s", "seed", "losses", "backend"),
    "sweep": ("grid", "overrides"),
    "flip": ("model_a", "model_b", "overrides"),
    "compare": ("sweeps", "metrics", "experiment"),
    "train": ("epochs", "prevalences", "seed", "out"),
}
# The most epochs -e train runs (its example trains on a small data set: seconds per epoch).
MAX_EPOCHS = 10_000
# What -e train runs: this checkout's worked example of the Keras callback (MLproject runs here).
TRAIN_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_keras.py"


def parse_arguments(argv: Sequence[str]) -> tuple[str, dict[str, str]]:
    """``ENTRY --name VALUE ...`` as the entry point and its values; unknown names are refused."""
    if not argv or argv[0] not in ENTRY_POINTS:
        given = argv[0] if argv else ""
        raise InvalidValue(f"entry point {given!r} is not one of: {', '.join(ENTRY_POINTS)}")
    entry, rest = argv[0], list(argv[1:])
    known = ENTRY_POINTS[entry]
    values: dict[str, str] = {}
    while rest:
        flag = rest.pop(0)
        name = flag[2:] if flag.startswith("--") else ""
        if name not in known:
            raise InvalidValue(
                f"-P {name or flag}: entry point {entry!r} has no such parameter; "
                f"its parameters are: {', '.join(known)}"
            )
        if not rest:
            raise InvalidValue(f"-P {name}: no value")
        values[name] = rest.pop(0)
    return entry, values


def number(name: str, text: str) -> int | float:
    """A number as people type it: ``1000000``, ``1e6``, ``.98``, `` 0.5 ``."""
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        pass
    try:
        return float(stripped)
    except ValueError:
        raise InvalidValue(f"{name}={text!r} is not a number") from None


def main_overrides(values: Mapping[str, str]) -> list[str]:
    """The one cell of ``-e main`` as Hydra overrides, built from the checked values only."""
    from .core.losses import BACKENDS, LOSS_NAMES

    num_0s = whole_number("num_0s", number("num_0s", values["num_0s"]))
    num_1s = whole_number("num_1s", number("num_1s", values["num_1s"]))
    acc_0s = fraction("acc_0s", number("acc_0s", values["acc_0s"]))
    acc_1s = fraction("acc_1s", number("acc_1s", values["acc_1s"]))
    seed = whole_number("seed", number("seed", values["seed"]))
    losses = names_from("losses", values["losses"], LOSS_NAMES)
    backend = one_of("backend", values["backend"].strip(), BACKENDS)
    return [
        "grid=single",
        f"grid.balances=[[{num_0s},{num_1s}]]",
        f"grid.models=[[{acc_0s!r},{acc_1s!r}]]",
        f"seed={seed}",
        f"losses=[{','.join(losses)}]",
        f"backend={backend}",
    ]


def grid_names() -> list[str]:
    from .sweep.config import CONFIG_DIR

    return sorted(path.stem for path in (Path(CONFIG_DIR) / "grid").glob("*.yaml"))


def user_overrides(text: str, *, multirun: bool = True) -> list[str]:
    """``-P overrides``: split (spaces inside brackets kept), nothing that runs code, no interpolation."""
    from .sweep.overrides import MULTIRUN_FLAGS, refuse_code, split_overrides

    overrides = split_overrides(text)
    refuse_code(overrides, interpolations=False)
    if not multirun and any(flag in overrides for flag in MULTIRUN_FLAGS):
        raise InvalidValue(f"overrides={text!r}: this entry point does not run a multirun (-m)")
    return overrides


def model_value(name: str, text: str) -> list[float] | str:
    """``-P model_a``: ``acc_0s,acc_1s`` (spaces and brackets allowed) or a predictions file's path."""
    inner = text.strip()
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1]
    parts = inner.split(",")
    if len(parts) == 2:
        try:
            return [
                fraction(f"{name}: acc_0s", number(name, parts[0])),
                fraction(f"{name}: acc_1s", number(name, parts[1])),
            ]
        except InvalidValue as error:
            if all(_looks_numeric(part) for part in parts):
                raise error from None
    return text.strip()  # a path: read as a file, never parsed


def _looks_numeric(text: str) -> bool:
    try:
        float(text.strip())
    except ValueError:
        return False
    return True


def continue_command(entry: str, values: Mapping[str, str]) -> list[str]:
    """The ``mlflow run`` command that repeats this launch (it continues an interrupted sweep)."""
    command = ["mlflow", "run", "."]
    if entry != "main":
        command += ["-e", entry]
    if os.environ.get("MLFLOW_EXPERIMENT_ID"):
        command += ["--experiment-id", os.environ["MLFLOW_EXPERIMENT_ID"]]
    for name, value in values.items():
        command += ["-P", f"{name}={value}"]
    return command


def run_main(values: Mapping[str, str]) -> None:
    _run_app(main_overrides(values))


def run_sweep_entry(values: Mapping[str, str]) -> None:
    grid = one_of("grid", values["grid"].strip(), grid_names())
    _run_app([f"grid={grid}", *user_overrides(values.get("overrides", ""))])


def _run_app(overrides: list[str]) -> None:
    from .__main__ import main as app_main
    from .cli import run_hydra_main

    sys.argv[1:] = overrides
    run_hydra_main(app_main, config_name="config")


def run_flip_entry(values: Mapping[str, str]) -> None:
    """``-e flip``: the models are set in the composed config as values, never as override text."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from .analysis.flip import flip_spec, run_flip
    from .sweep.config import CONFIG_DIR
    from .sweep.overrides import check_composes

    overrides = user_overrides(values.get("overrides", ""), multirun=False)
    check_composes(CONFIG_DIR, "flip", overrides)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        # a composed config is a DictConfig: its container is a dict with string keys
        config = cast(
            "dict[str, Any]",
            OmegaConf.to_container(compose(config_name="flip", overrides=overrides), resolve=True),
        )
    for name in ("model_a", "model_b"):
        if name in values:
            config[name] = model_value(name, values[name])
    run_flip(flip_spec(config), existing_run_id=os.environ.get("MLFLOW_RUN_ID") or None)


def run_compare_entry(values: Mapping[str, str]) -> int:
    from . import compare

    argv = ["--sweeps", values.get("sweeps", "")]
    for name in ("metrics", "experiment"):
        if values.get(name, "").strip():
            argv += [f"--{name}", values[name]]
    return compare.main(argv)


def train_arguments(values: Mapping[str, str]) -> list[str]:
    """``-e train``'s values, checked, as the example's command-line arguments."""
    from .core.prevalence import prevalence_text
    from .core.reweighting import check_prevalences

    epochs = whole_number("epochs", number("epochs", values["epochs"]), minimum=1, maximum=MAX_EPOCHS)
    seed = whole_number("seed", number("seed", values["seed"]))
    parts = [part for part in values["prevalences"].split(",") if part.strip()]
    prevalences = check_prevalences([number(f"prevalences[{i}]", part) for i, part in enumerate(parts)])
    return [
        *("--epochs", str(epochs), "--seed", str(seed)),
        *("--prevalences", ",".join(map(prevalence_text, prevalences)), "--out", values["out"].strip()),
    ]


def run_train_entry(values: Mapping[str, str]) -> None:
    """``-e train``: examples/train_keras.py with the checked values (it logs into the launched run)."""
    import importlib.util

    arguments = train_arguments(values)
    if not TRAIN_EXAMPLE.is_file():
        raise InvalidValue(f"{TRAIN_EXAMPLE} is missing: -e train runs this checkout's example")
    spec = importlib.util.spec_from_file_location("train_keras", TRAIN_EXAMPLE)
    assert spec is not None and spec.loader is not None
    imports_done()  # Keras makes garbage every epoch: the collector is on before it is imported
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main(arguments)


def main(argv: Sequence[str] | None = None) -> None:
    install_interrupt_handlers()
    if os.environ.get("MLFLOW_RUN_ID"):
        from .tracking.refusal import record_refusal

        terminate_with_parent()
        on_user_error(record_refusal)  # the FAILED run `mlflow run` made says why
    with exit_on_user_error():
        entry, values = parse_arguments(sys.argv[1:] if argv is None else argv)
        set_continue_command(continue_command(entry, values))
        if entry == "main":
            run_main(values)
        elif entry == "sweep":
            run_sweep_entry(values)
        elif entry == "flip":
            run_flip_entry(values)
        elif entry == "train":
            run_train_entry(values)
        else:
            sys.exit(run_compare_entry(values))


if __name__ == "__main__":
    with whole_process():
        main()
