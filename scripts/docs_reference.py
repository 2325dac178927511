#!/usr/bin/env python
"""The generated pages of the documentation site: every config key (type, default, allowed range)
and every MLproject parameter, from the configs and the validation code, so they cannot drift.

    python scripts/docs_reference.py            # check: exit 1 when a page differs from what the code says
    python scripts/docs_reference.py --write    # rewrite the pages

Defaults come from Hydra composing ``conf/`` (each score model's group composed too); the allowed
ranges name the validation code's own constants (``MAX_CHUNK_SIZE``, ``MAX_CELLS``, ...);
``MLproject`` is read as MLflow reads it. A key the configs have and this file does not describe,
or the other way round, stops the generation. mkdocs.yml names this file as a hook: ``mkdocs build``
stops when a committed page is stale; tests/test_docs_reference.py checks the same.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG_PAGE = ROOT / "docs" / "reference" / "config.md"
MLPROJECT_PAGE = ROOT / "docs" / "reference" / "mlproject.md"


def _described() -> dict[str, dict[str, tuple[str, str, str]]]:
    """Per config file, key -> (type, allowed values, meaning), the allowed values from the code."""
    from imbalance_sweep.analysis.flip import FLIP_METRICS
    from imbalance_sweep.core.losses import BACKENDS, LOSS_NAMES
    from imbalance_sweep.core.metrics import MAX_ECE_BINS
    from imbalance_sweep.core.simulator import MAX_CHUNK_SIZE
    from imbalance_sweep.core.thresholds import BEST_CHOICES
    from imbalance_sweep.core.vocabulary import MULTICLASS_LOSS_NAMES
    from imbalance_sweep.sweep.config import MAX_BOOTSTRAP_REPLICATES, MAX_NAME_LENGTH, MODES
    from imbalance_sweep.sweep.grid import MAX_CELLS
    from imbalance_sweep.sweep.plan import SAMPLED_CELL_MAX_SAMPLES

    def names(values) -> str:
        return ", ".join(f"`{value}`" for value in values)

    name_rule = f"text, at most {MAX_NAME_LENGTH} printable characters"
    threshold_rule = f"a number in [0, 1], or one of {names(BEST_CHOICES)}"
    return {
        "config.yaml": {
            "grid": ("config group", names(_group("grid")), "which `conf/grid/<name>.yaml` to sweep"),
            "losses": (
                "list of names",
                f"non-empty, no repeats, from {names(LOSS_NAMES)}",
                "the losses each cell logs as `loss/<name>`",
            ),
            "backend": (
                "name",
                names(BACKENDS),
                "`numpy` (fast), `keras` (calls the real `keras.losses`; imports TensorFlow) or `tfa` "
                "(tensorflow-addons; only in the legacy environment)",
            ),
            "mode": (
                "name",
                names(MODES),
                "`sampled`: draw each cell (and log its exact expectations beside it); `expected`: only "
                "the exact population values, microseconds per cell",
            ),
            "seed": ("whole number", ">= 0", "the sweep seed; each cell seeds its own generator from it"),
            "chunk_size": (
                "whole number",
                f"1 to {MAX_CHUNK_SIZE:,} (`MAX_CHUNK_SIZE`)",
                "samples per chunk; memory per cell is bounded by it, whatever the cell's size",
            ),
            "focal.alpha": (
                "number",
                "[0, 1]",
                "weight of positives in `focal_tfa` and `focal_balanced` (negatives get 1 - alpha); a "
                "K-class grid's `categorical_focal` weight of every class",
            ),
            "focal.gamma": ("number", "finite, >= 0", "focusing parameter of the focal losses"),
            "threshold": (
                "number or name",
                threshold_rule,
                "where the confusion metrics cut the scores: a score > it predicts positive (compared "
                "in float32); `best:<metric>` chooses per cell the threshold that maximises the metric",
            ),
            "metrics.beta": (
                "number",
                "finite, > 0",
                "`fbeta`: recall weighs beta times as much as precision",
            ),
            "metrics.recall": (
                "number",
                "(0, 1]",
                "`precision_at_recall`: the best precision at this recall or more",
            ),
            "metrics.ece_bins": (
                "whole number",
                f"1 to {MAX_ECE_BINS:,} (`MAX_ECE_BINS`)",
                "`ece` (and a K-class grid's ECEs): equal-width bins on [0, 1]",
            ),
            "multiclass.losses": (
                "list of names or null",
                f"non-empty, no repeats, from {names(MULTICLASS_LOSS_NAMES)}",
                "a K-class grid's losses (K >= 3), logged as `loss/<name>`; `null`: all of them (those "
                "of the training prior left out of a cell with a training count of 0)",
            ),
            "multiclass.beta": ("number", "[0, 1)", "`class_balanced`: the effective-number beta"),
            "multiclass.tau": ("number", "finite, >= 0", "`logit_adjusted`: the prior's weight tau"),
            "multiclass.max_margin": ("number", "finite, >= 0", "`ldam`: the rarest training class's margin"),
            "multiclass.scale": ("number", "finite, > 0", "`ldam`: the logit scale"),
            "multiclass.top_k": ("whole number", ">= 1", "`top_k_accuracy`: k"),
            "multiclass.many_above": (
                "number",
                "finite, >= 0",
                "`recall/many`: the classes with more training samples than this",
            ),
            "multiclass.few_below": (
                "number",
                "finite, >= 0, at most `many_above`",
                "`recall/few`: the classes with fewer training samples than this (`recall/medium`: the others)",
            ),
            "bootstrap.replicates": (
                "whole number",
                f"0 to {MAX_BOOTSTRAP_REPLICATES:,} (`MAX_BOOTSTRAP_REPLICATES`)",
                "stratified resamples per predictions file's cell, for `ci_low/<key>` and `ci_high/<key>` "
                "(0: none)",
            ),
            "bootstrap.level": ("number", "strictly between 0 and 1", "the percentile interval's level"),
            "experiment": (
                "text",
                f"{name_rule} (`MAX_NAME_LENGTH`)",
                "the MLflow experiment (under `mlflow run`, the experiment it chose)",
            ),
            "tracking_uri": (
                "URI or null",
                "a tracking URI",
                "`null`: `$MLFLOW_TRACKING_URI` if set, else `sqlite:///mlflow.db` where the command starts",
            ),
            "sweep_name": (
                "text or null",
                name_rule,
                "the sweep's name (tag `imbalance_sweep.sweep`); `null`: the grid's name, and a multirun "
                "job's own overrides after it",
            ),
            "report": (
                "name or true/false",
                "`answer` (`true` says the same), `all`, `false`",
                "log summary tables and figures to the sweep's parent run: `answer` the tables and the figures "
                "that answer the sweep's question (`figures/agreement_f1.png`, `figures/heatmap_f1.png`), "
                "`all` every figure, `false` none",
            ),
            "resume": (
                "true/false",
                "`true`, `false` (`false` needs `shard.count=1`)",
                "continue the most recent sweep with the same identity; `false`: a fresh sweep",
            ),
            "dry_run": (
                "true/false",
                "`true`, `false`",
                "print the sweep's size and first cells, and log nothing",
            ),
            "shard.index": (
                "whole number",
                "0 to `shard.count` - 1",
                "run only the cells i with i % count == index",
            ),
            "shard.count": (
                "whole number",
                f"1 to {MAX_CELLS:,} (`MAX_CELLS`)",
                "how many shards split the grid; all log under one parent",
            ),
            "score_model": (
                "config group",
                names(_group("score_model")),
                "how each class's scores are distributed ([score models](../background/score-models.md))",
            ),
            "score_model.name": ("name", "the group's file name", "set by the group; not changed by hand"),
            "score_model.concentration": (
                "number",
                "finite, > 0",
                "`beta`: k = a + b of each class's Beta law; small puts scores near 0 and 1",
            ),
            "score_model.path": (
                "path",
                "a `.csv`, `.parquet`, `.npy` or `.npz` file",
                "`empirical`: the predictions file (a relative path starts where the command starts)",
            ),
            "score_model.label": ("column name", "non-empty text", "`empirical`: the label column (0 and 1)"),
            "score_model.score": (
                "column name",
                "non-empty text",
                "`empirical`: the score column (probabilities in [0, 1], or logits)",
            ),
            "score_model.from_logits": (
                "true/false",
                "`true`, `false`",
                "`empirical`: the scores are logits",
            ),
            "outputs": (
                "config group",
                names(_group("outputs")),
                "`none`: Hydra writes no folders or logs where the command starts; `hydra`: Hydra's own "
                "`outputs/` and `multirun/` folders",
            ),
        },
        "grid/<name>.yaml": {
            "name": ("text", name_rule, "the grid's name: a sweep's default name"),
            "balances": (
                "list of [num_0s, num_1s]",
                "whole numbers >= 0 (`1e6` is one million, `100.5` an error), at least one sample in all; "
                f"in `mode=sampled` at most {SAMPLED_CELL_MAX_SAMPLES:.0e} samples a cell "
                "(`SAMPLED_CELL_MAX_SAMPLES`)",
                "the class sizes of the validation sets",
            ),
            "models": (
                "list, or null",
                "pairs [acc_0s, acc_1s] in [0, 1], and/or predictions files (a path, or "
                "`{path, name, label, score, from_logits}`)",
                "the models; `null` when `acc_0s` and `acc_1s` give them",
            ),
            "acc_0s": (
                "list of numbers, or null",
                "each in [0, 1]",
                "with `acc_1s`: the models, their product",
            ),
            "acc_1s": (
                "list of numbers, or null",
                "each in [0, 1]",
                "with `acc_0s`: the models, their product",
            ),
            "seeds": ("list of whole numbers", ">= 0 each", "replicate seeds"),
            "thresholds": (
                "list, or null",
                f"each {threshold_rule}",
                "an axis of the grid (then leave `threshold` at 0.5); `null`: the config's `threshold`",
            ),
        },
        "flip.yaml": {
            "model_a": (
                "pair or file",
                "[acc_0s, acc_1s] in [0, 1], a predictions file's path, or `[{path: ...}]`",
                "model A",
            ),
            "model_b": ("pair or file", "as `model_a`", "model B"),
            "losses": (
                "list of names",
                f"from {names(LOSS_NAMES)}",
                "the losses whose flip points are found",
            ),
            "metrics": (
                "list of names",
                f"from {names(FLIP_METRICS)}",
                "the metrics whose flip points are found",
            ),
            "metric_settings.beta": ("number", "finite, > 0", "as a sweep's `metrics.beta`"),
            "metric_settings.recall": ("number", "(0, 1]", "as a sweep's `metrics.recall`"),
            "metric_settings.ece_bins": (
                "whole number",
                f"1 to {MAX_ECE_BINS:,}",
                "as a sweep's `metrics.ece_bins`",
            ),
            "focal.alpha": ("number", "[0, 1]", "as a sweep's"),
            "focal.gamma": ("number", "finite, >= 0", "as a sweep's"),
            "experiment": ("text", name_rule, "the MLflow experiment"),
            "tracking_uri": ("URI or null", "a tracking URI", "as a sweep's"),
            "outputs": ("config group", names(_group("outputs")), "as a sweep's"),
        },
    }


def _group(name: str) -> list[str]:
    """The options of a config group: the yaml files of ``conf/<name>/``."""
    from imbalance_sweep.sweep.config import CONFIG_DIR

    return sorted(path.stem for path in (Path(CONFIG_DIR) / name).glob("*.yaml"))


def _leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, value) of every leaf of a composed config, lists kept whole."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}{key}.")
    else:
        yield prefix[:-1], node


def _composed(config_name: str, overrides: list[str]) -> dict[str, Any]:
    """``conf/<config_name>.yaml`` as Hydra composes it (hydra's own section left out)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    from imbalance_sweep.sweep.config import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        config = compose(config_name=config_name, overrides=overrides)
    composed = OmegaConf.to_container(config, resolve=False)
    assert isinstance(composed, dict)
    composed.pop("hydra", None)
    return composed


def _defaults() -> dict[str, dict[str, Any]]:
    """Per config file, dotted key -> its default, as Hydra composes it: the group keys by the option
    they default to, each score model's own keys from that model composed."""
    sweep = _composed("config", [])
    defaults = {key: value for key, value in _leaves(sweep) if not key.startswith(("grid.", "score_model."))}
    defaults["grid"] = sweep["grid"]["name"]
    defaults["score_model"] = sweep["score_model"]["name"]
    defaults["outputs"] = "none"
    for model in _group("score_model"):
        composed = _composed("config", [f"score_model={model}"])["score_model"]
        for key, value in _leaves(composed, "score_model."):
            defaults.setdefault(key, value if key != "score_model.name" else "(the option)")
    grid = {key.removeprefix("grid."): value for key, value in _leaves(sweep["grid"], "grid.")}
    flip = dict(_leaves(_composed("flip", [])))
    flip["outputs"] = "none"
    return {"config.yaml": defaults, "grid/<name>.yaml": grid, "flip.yaml": flip}


def _shown(value: Any) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
        return f"`{text}`" if len(text) <= 60 else f"{len(value)} entries (see the file)"
    return f"`{value}`"


def config_page() -> str:
    """The config reference page, every key of every config file in one table per file."""
    described, defaults = _described(), _defaults()
    out = [
        "# Configuration keys",
        "",
        "<!-- Generated by scripts/docs_reference.py from conf/ and the validation code: do not edit by hand.",
        "     Rewrite with `python scripts/docs_reference.py --write`. -->",
        "",
        "Every key can be set on the command line (`key=value`, Hydra's syntax) or in `-P overrides` under",
        "`mlflow run`. Defaults are what Hydra composes from `conf/`; the allowed ranges are the ones the",
        "validation code checks (the names in brackets are its constants). A value outside them stops the",
        "command before any run exists, with one line naming the key, the value and what is allowed, and",
        "exit code 2 ([errors](errors.md)). A sweep has at most "
        f"{_max_cells():,} cells (`MAX_CELLS`): balances x models x seeds x thresholds.",
    ]
    titles = {
        "config.yaml": "`conf/config.yaml`: a sweep (`python -m imbalance_sweep`)",
        "grid/<name>.yaml": "`conf/grid/<name>.yaml`: a grid (`grid.<key>=...`)",
        "flip.yaml": "`conf/flip.yaml`: flip points (`python -m imbalance_sweep.flip`)",
    }
    for file, keys in described.items():
        have = set(defaults[file])
        missing, extra = sorted(have - set(keys)), sorted(set(keys) - have)
        if missing or extra:
            raise SystemExit(
                f"docs_reference: {file}: keys without a description {missing}, described but absent {extra}"
            )
        out += [
            "",
            f"## {titles[file]}",
            "",
            "| key | type | default | allowed | meaning |",
            "|---|---|---|---|---|",
        ]
        for key, (kind, allowed, meaning) in keys.items():
            out.append(f"| `{key}` | {kind} | {_shown(defaults[file][key])} | {allowed} | {meaning} |")
    shipped = ", ".join(f"`{name}`" for name in _group("grid"))
    out += ["", f"Shipped grids: {shipped}.", ""]
    return "\n".join(out)


def _max_cells() -> int:
    from imbalance_sweep.sweep.grid import MAX_CELLS

    return MAX_CELLS


def mlproject_page() -> str:
    """The MLproject entry points and their parameters, as MLflow reads MLproject."""
    project = yaml.safe_load((ROOT / "MLproject").read_text())
    out = [
        "# MLproject entry points",
        "",
        "<!-- Generated by scripts/docs_reference.py from MLproject: do not edit by hand.",
        "     Rewrite with `python scripts/docs_reference.py --write`. -->",
        "",
        "`mlflow run . -e ENTRY --env-manager local -P name=value ...` runs an entry point of `MLproject`.",
        "Every parameter is a string that `python -m imbalance_sweep.launch` reads as what it is (a count,",
        "an accuracy, a list of names, a path) before anything else sees it; an unknown name is refused",
        "with the entry point's parameters listed ([-P values](../guides/sweeps.md#what-mlflow-run-does-with-p-values)).",
    ]
    comments = _entry_comments()
    for entry, spec in project["entry_points"].items():
        out += ["", f"## `{entry}`", "", comments[entry], "", "| parameter | default |", "|---|---|"]
        for name, parameter in spec.get("parameters", {}).items():
            default = parameter.get("default")
            shown = "required" if default is None else ('`""` (empty)' if default == "" else f"`{default}`")
            out.append(f"| `{name}` | {shown} |")
    out.append("")
    return "\n".join(out)


def _entry_comments() -> dict[str, str]:
    """Each entry point's comment in MLproject (the lines just above its name), as one paragraph."""
    found, pending = {}, []
    for line in (ROOT / "MLproject").read_text().splitlines():
        stripped = line.strip()
        if line.startswith("  #"):
            pending.append(stripped.lstrip("# "))
        elif line.startswith("  ") and not line.startswith("   ") and stripped.endswith(":"):
            found[stripped[:-1]] = " ".join(pending)
            pending = []
        else:
            pending = []
    return found


def pages() -> dict[Path, str]:
    return {CONFIG_PAGE: config_page(), MLPROJECT_PAGE: mlproject_page()}


def stale_pages() -> list[Path]:
    """The generated pages whose committed text differs from what the code says now."""
    return [path for path, text in pages().items() if not path.exists() or path.read_text() != text]


def on_pre_build(config) -> None:
    """mkdocs hook: a stale generated page stops the build (the site shows what the code checks)."""
    from mkdocs.exceptions import PluginError

    stale = stale_pages()
    if stale:
        names = ", ".join(str(path.relative_to(ROOT)) for path in stale)
        raise PluginError(f"{names} differ from the code: run python scripts/docs_reference.py --write")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the pages")
    args = parser.parse_args()
    if args.write:
        for path, text in pages().items():
            path.write_text(text)
            print(f"docs_reference: wrote {path.relative_to(ROOT)}")
        return 0
    stale = stale_pages()
    for path in stale:
        print(f"docs_reference: {path.relative_to(ROOT)} is stale: run with --write", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
