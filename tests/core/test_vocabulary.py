"""The registry of losses and metrics (core/vocabulary.py) says what the code does: each entry is
computed where its kind says, each list it takes a place in is whole, the configs list its names,
and the page on adding a metric shows lines that are in the files."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from imbalance_sweep import evaluate, expected
from imbalance_sweep.analysis.flip import FLIP_METRICS
from imbalance_sweep.analysis.preference import Model, metric_polynomial, preferences
from imbalance_sweep.analysis.selection import CRITERIA
from imbalance_sweep.core.calibration import skill_scores
from imbalance_sweep.core.metrics import confusion_metrics, lower_is_better
from imbalance_sweep.core.score_models.uniform import UNIFORM
from imbalance_sweep.core.thresholds import BEST_METRICS, metric_curve
from imbalance_sweep.core.vocabulary import (
    LOSS_NAMES,
    LOSSES,
    METRIC_NAMES,
    METRICS,
    Metric,
    loss_key,
    loss_keys,
    metric_names,
    ranked_names,
)

ROOT = Path(__file__).resolve().parents[2]
PLACES = {
    "reference": lambda metric: metric.reference,
    "best": lambda metric: metric.best,
    "criterion": lambda metric: metric.criterion,
    "answer": lambda metric: metric.answer,
    "flip_default": lambda metric: metric.flip_default,
}


def test_each_name_is_declared_once_and_losses_and_metrics_never_meet():
    assert len(set(LOSS_NAMES)) == len(LOSSES) and len(set(METRIC_NAMES)) == len(METRICS)
    assert not set(LOSS_NAMES) & set(METRIC_NAMES)
    assert not set(loss_keys()) & set(METRIC_NAMES)
    assert all(lower_is_better(loss_key(name)) for name in LOSS_NAMES)


@pytest.mark.parametrize("field", PLACES)
def test_each_place_in_a_list_is_taken_once(field):
    """Places 1, 2, ... n: no gap (a list shorter than meant) and no two metrics at one place."""
    places = sorted(place for metric in METRICS if (place := PLACES[field](metric)) is not None)
    assert places == list(range(1, len(places) + 1))


def test_the_flip_rules_agree_with_what_they_need():
    for metric in METRICS:
        assert (metric.flip == "prevalence_free") == (metric.never_flips is not None), metric.name
        assert (metric.flip == "as_loss") == (metric.kind == "skill") == (metric.skill_of in LOSS_NAMES)
        assert (metric.flip is None) == (metric.kind == "count"), metric.name


def test_a_cell_has_every_metric_of_the_registry_and_each_where_its_kind_says():
    rng = np.random.default_rng(0)
    labels, scores = rng.integers(0, 2, 400), rng.random(400).astype(np.float32)
    sampled = evaluate(labels, scores)
    assert list(sampled) == [*loss_keys(), *METRIC_NAMES]
    population = expected(900, 0.9, 100, 0.7)
    assert {key for key in population if not key.startswith("stderr/")} == set(sampled)
    of_counts = confusion_metrics(tp=3, fp=1, tn=5, fn=2)
    assert tuple(of_counts) == metric_names(lambda metric: metric.of_counts)
    of_laws = UNIFORM.score_metrics(0.9, 0.7, 0.1, recall=0.9, ece_bins=15)
    assert set(of_laws) == set(metric_names(lambda metric: metric.of_score_law))
    skill = skill_scores(bce=0.3, brier=0.1, prevalence=0.2)
    assert set(skill) == set(metric_names(lambda metric: metric.kind == "skill"))


@pytest.mark.parametrize("metric", BEST_METRICS)
def test_each_best_metric_has_its_curve_of_the_counts(metric):
    """``best:<metric>`` maximises ``thresholds.metric_curve``: the metric itself, vectorised."""
    counts = [(3.0, 1.0, 5.0, 2.0), (0.0, 0.0, 4.0, 1.0), (7.0, 2.0, 0.0, 0.0), (2.5, 0.5, 9.0, 4.0)]
    curve = metric_curve(metric, *np.array(counts).T, beta=1.5)
    for value, (tp, fp, tn, fn) in zip(curve, counts, strict=True):
        assert value == pytest.approx(
            confusion_metrics(tp=tp, fp=fp, tn=tn, fn=fn, beta=1.5)[metric], abs=1e-15
        )


def test_the_closed_forms_are_the_polynomial_metrics():
    """A metric declared ``flip="polynomial"`` has its polynomial, and no other metric has one."""
    model_a, model_b = Model(0.999, 0.5), Model(0.98, 0.9)
    for metric in METRICS:
        if metric.flip == "polynomial":
            assert metric_polynomial(model_a, model_b, metric.name).coef.size >= 1
        else:
            with pytest.raises(ValueError, match="no polynomial"):
                metric_polynomial(model_a, model_b, metric.name)


def test_a_prevalence_free_metric_says_why_it_never_flips():
    free = metric_names(lambda metric: metric.flip == "prevalence_free")
    found = preferences(Model(0.999, 0.5), Model(0.98, 0.9), losses=[], metrics=free, alpha=0.25, gamma=2.0)
    for preference in found:
        assert preference.flips == ()
        assert preference.never_because == next(m.never_flips for m in METRICS if m.name == preference.name)


def test_the_criteria_are_every_loss_then_metrics_that_are_not_counts():
    assert CRITERIA[: len(LOSS_NAMES)] == loss_keys()
    assert set(CRITERIA[len(LOSS_NAMES) :]) <= set(metric_names(lambda metric: metric.kind != "count"))


def test_the_configs_list_the_names_of_the_registry():
    """A YAML file cannot derive its defaults: conf/ spells them, and here they are held to the registry."""
    sweep = yaml.safe_load((ROOT / "conf" / "config.yaml").read_text())
    flip = yaml.safe_load((ROOT / "conf" / "flip.yaml").read_text())
    assert tuple(sweep["losses"]) == LOSS_NAMES
    assert tuple(flip["losses"]) == LOSS_NAMES
    assert tuple(flip["metrics"]) == ranked_names(lambda metric: metric.flip_default)
    assert set(flip["metrics"]) <= set(FLIP_METRICS)


# ---- docs/development/adding.md: the diff that adds a metric is the real one

ADDING = ROOT / "docs" / "development" / "adding.md"


def _diff_of_the_page() -> dict[str, list[list[str]]]:
    """Per file of the page's ``diff`` block, each hunk's lines as the file has them after it."""
    text = ADDING.read_text()
    block = re.search(r"```diff\n(.*?)```", text, re.DOTALL)
    assert block, f"{ADDING} has no diff block"
    files: dict[str, list[list[str]]] = {}
    hunks: list[list[str]] = []
    for line in block.group(1).splitlines():
        if line.startswith("+++ b/"):
            hunks = files.setdefault(line.removeprefix("+++ b/"), [])
        elif line.startswith("---"):
            continue
        elif line.startswith("@@"):
            hunks.append([])
        else:
            assert line[:1] in (" ", "+"), f"a line the diff removes or garbles: {line!r}"
            hunks[-1].append(line[1:])
    return files


def test_the_diff_that_adds_a_metric_is_in_the_files():
    """Every hunk of the page's diff, its context and its added lines, is in its file as shown."""
    files = _diff_of_the_page()
    assert {path.split("/")[0] for path in files} == {"src", "tests"}
    for path, hunks in files.items():
        lines = (ROOT / path).read_text().splitlines()
        for hunk in hunks:
            assert any(lines[start : start + len(hunk)] == hunk for start in range(len(lines))), (path, hunk)


def test_the_metric_of_the_diff_is_named_nowhere_else_in_the_code():
    """Adding it touched the registry, its computation and its tests, nothing else: no other module
    of the package spells its name."""
    files = _diff_of_the_page()
    added = "\n".join(line for hunks in files.values() for hunk in hunks for line in hunk)
    (name,) = re.findall(r'Metric\(name="(\w+)"', added)
    assert isinstance(next(m for m in METRICS if m.name == name), Metric)
    spelled = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "src").rglob("*.py")
        if f'"{name}"' in path.read_text()
    }
    assert spelled == {path for path in files if path.startswith("src/")}
