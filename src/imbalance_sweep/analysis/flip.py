"""The flip analysis (the command ``python -m imbalance_sweep.flip`` is flip.py, at the top): at which
prevalence does a loss change its mind between two models, and where does F1, or average precision?
Computed on the exact expectations (the population values, for the metrics of the scores), logged
as one MLflow run.

A model is a pair ``[acc_0s, acc_1s]`` (the uniform score model) or a predictions file (a path, a
one-element list holding one, as ``mlflow run -P model_a=preds.csv`` passes it, or a mapping with
``path`` and optionally ``name``, ``label``, ``score``, ``from_logits``), re-weighted exactly."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.cell import model_label
from ..core.checks import InvalidValue, fraction, names_from
from ..core.evaluation import check_loss_settings
from ..core.metrics import (
    DEFAULT_METRICS,
    MetricSettings,
    lower_is_better,
    settings_section,
)
from ..core.prevalence import percent
from ..core.score_models.empirical import EmpiricalModel, file_entry, is_file_entry
from ..core.vocabulary import loss_key, metric_names
from ..runtime.lifetime import imports_done
from ..sweep.config import checked_name, resolve_tracking_uri
from ..tracking.tags import ROLE_TAG, Role
from ..tracking.where import summary_lines
from .preference import SCAN, SHOWN, Model, Preference, loss_curve, metric_curve, preferences

# The rates' margins are relative to |a + b| / 2, as they always were; the others' to (|a| + |b|) / 2
# (the same for values >= 0: a skill score, which crosses 0, is why)
RATE_METRICS = metric_names(lambda metric: metric.kind == "rate")
# every metric but the counts
FLIP_METRICS = metric_names(lambda metric: metric.flip is not None)


@dataclass(frozen=True)
class FlipSpec:
    model_a: Model
    model_b: Model
    losses: tuple[str, ...]
    metrics: tuple[str, ...]
    alpha: float
    gamma: float
    experiment: str
    tracking_uri: str
    settings: MetricSettings = DEFAULT_METRICS  # fbeta's beta, precision_at_recall's recall, ece's bins


def _model(name: str, value: Any, start_dir=None) -> Model:
    if isinstance(value, (list, tuple)) and len(value) == 1 and is_file_entry(value[0]):
        value = value[0]  # mlflow run -P model_a=preds.csv gives model_a=[preds.csv]
    if is_file_entry(value):
        title, model = file_entry(name, value, start_dir=start_dir)
        return Model(*model.grid_accuracies, title=title, score_model=model)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise InvalidValue(f"{name}={value!r} must be a pair [acc_0s, acc_1s] or a predictions file")
    return Model(fraction(f"{name}: acc_0s", value[0]), fraction(f"{name}: acc_1s", value[1]))


def _model_params(key: str, model: Model) -> dict[str, object]:
    """How the run records a model: ``acc_0s,acc_1s`` for a pair; a file's name, path, digest, ..."""
    if not isinstance(model.score_model, EmpiricalModel):  # a pair of accuracies
        return {key: f"{model.acc_0s},{model.acc_1s}"}
    return {
        key: model.name,
        f"{key}.acc_0s": model.acc_0s,
        f"{key}.acc_1s": model.acc_1s,
        **model.score_model.file_params(key),
    }


def _describe_model(model: Model) -> str:
    if not isinstance(model.score_model, EmpiricalModel):  # a pair of accuracies
        return model.name
    return f"{model.name} ({model.score_model.predictions.path}: {model_label(model.acc_0s, model.acc_1s, '.4g')})"


def flip_spec(config: Mapping[str, Any], *, start_dir=None) -> FlipSpec:
    """Validate the composed ``flip`` config."""
    focal = config.get("focal") or {}
    losses, _, alpha, gamma, _ = check_loss_settings(
        config.get("losses"), "numpy", focal.get("alpha"), focal.get("gamma"), 1
    )
    return FlipSpec(
        model_a=_model("model_a", config.get("model_a"), start_dir),
        model_b=_model("model_b", config.get("model_b"), start_dir),
        losses=losses,
        metrics=names_from("metrics", config.get("metrics"), FLIP_METRICS),
        alpha=alpha,
        gamma=gamma,
        experiment=checked_name("experiment", config.get("experiment") or "imbalance-sweep"),
        tracking_uri=resolve_tracking_uri(config.get("tracking_uri")),
        settings=settings_section(config.get("metric_settings"), section="metric_settings"),
    )


def describe(preference: Preference) -> str:
    """One line a person can read: which model the loss or metric prefers, and where that changes.
    Each region between two flips is named by the model preferred inside it (asked at a point within),
    so two or more flips read as they are: ``B below 0.553 %, A between 0.553 % and 15.6 %, B above``."""
    label = preference.key
    regions = preferred_regions(preference)
    if len(regions) == 1:
        line = f"{label:22} prefers {regions[0][2]} at every prevalence"
        return f"{line}: never flips, {preference.never_because}" if preference.never_because else line
    parts = [f"{regions[0][2]} below {percent(regions[0][1])} prevalence"]
    parts += [f"{model} between {percent(low)} and {percent(high)}" for low, high, model in regions[1:-1]]
    parts.append(
        f"{regions[-1][2]} above"
        if len(regions) == 2
        else f"{regions[-1][2]} above {percent(regions[-1][0])}"
    )
    return f"{label:22} prefers " + ", ".join(parts)


def preferred_regions(preference: Preference) -> list[tuple[float, float, str]]:
    """(lowest, highest prevalence, "A" or "B") for each stretch of prevalence where one model is
    preferred, neighbours merged where a flip point is a touch and not a change of side."""
    edges = [float(SCAN[0]), *preference.flips, float(SCAN[-1])]
    regions: list[tuple[float, float, str]] = []
    for low, high in itertools.pairwise(edges):
        model = "A" if preference.prefers_a_at(_inside(low, high)) else "B"
        if regions and regions[-1][2] == model:
            low = regions.pop()[0]
        regions.append((low, high, model))
    return regions


def _inside(low: float, high: float) -> float:
    """The prevalence halfway between ``low`` and ``high`` on the logit scale the scan uses."""
    logit = lambda p: np.log(p) - np.log1p(-p)  # noqa: E731
    return float(1.0 / (1.0 + np.exp(-(logit(low) + logit(high)) / 2)))


def margins(spec: FlipSpec) -> dict[str, np.ndarray]:
    """Relative margin for A over the scanned prevalences, per loss and metric (> 0: A preferred)."""
    curves = {}
    for name in spec.losses:
        a = loss_curve(spec.model_a, name, alpha=spec.alpha, gamma=spec.gamma)(SHOWN)
        b = loss_curve(spec.model_b, name, alpha=spec.alpha, gamma=spec.gamma)(SHOWN)
        curves[loss_key(name)] = (b - a) / ((a + b) / 2)
    for name in spec.metrics:
        a = metric_curve(spec.model_a, name, spec.settings)(SHOWN)
        b = metric_curve(spec.model_b, name, spec.settings)(SHOWN)
        # the rates' margins as they always were; a skill score crosses 0, where |a + b| would vanish
        scale = np.abs(a + b) / 2 if name in RATE_METRICS else (np.abs(a) + np.abs(b)) / 2
        better = b - a if lower_is_better(name) else a - b
        curves[name] = np.divide(better, scale, out=np.zeros_like(a), where=scale > 0)
    return curves


def run_flip(spec: FlipSpec, *, existing_run_id: str | None = None) -> str:
    """Compute every flip point, print them, and log one run with them as metrics and a chart."""
    found = preferences(
        spec.model_a,
        spec.model_b,
        losses=spec.losses,
        metrics=spec.metrics,
        alpha=spec.alpha,
        gamma=spec.gamma,
        settings=spec.settings,
    )
    lines = [f"A = {_describe_model(spec.model_a)}, B = {_describe_model(spec.model_b)}"]
    lines += [describe(p) for p in found]
    print("\n".join(lines))
    # MLflow and matplotlib: more than a second of start-up that a mistake in the command skips
    from ..tracking.tracker import Tracker
    from .figures import preference_chart

    imports_done()  # MLflow and matplotlib are in: a whole command's collector is on again

    tracker = Tracker(spec.tracking_uri, spec.experiment, existing_run_id=existing_run_id)
    run_id = tracker.start_run(
        f"flip {spec.model_a.name} vs {spec.model_b.name}",
        params={
            **_model_params("model_a", spec.model_a),
            **_model_params("model_b", spec.model_b),
            "losses": ",".join(spec.losses),
            "metrics": ",".join(spec.metrics),
            "focal.alpha": spec.alpha,
            "focal.gamma": spec.gamma,
            **spec.settings.non_default(),  # metrics.<key>, only when changed
        },
        tags={ROLE_TAG: Role.FLIP},
        existing_run_id=existing_run_id,
    )
    with tracker.closing(run_id):
        files = {
            m.score_model.predictions.digest: m.score_model
            for m in (spec.model_a, spec.model_b)
            if isinstance(m.score_model, EmpiricalModel)
        }
        for model in files.values():  # the predictions files the run evaluated
            tracker.log_dataset(run_id, model.dataset)
        tracker.log_metrics(run_id, {f"flip/{p.key}": p.flips[0] for p in found if p.flips})
        flips = {p.key: p.flips for p in found}
        chart = preference_chart(
            SHOWN, margins(spec), flips, model_a=spec.model_a.name, model_b=spec.model_b.name
        )
        tracker.log_figure(run_id, chart, "flip.png")
        tracker.log_text(run_id, "\n".join(lines) + "\n", "flip.txt")
    where = summary_lines(
        spec.tracking_uri,
        experiment_name=tracker.experiment_name,
        experiment_id=tracker.experiment_id,
        run_id=run_id,
        what="flip points, chart flip.png",
    )
    print("\n".join(["", *where]), flush=True)
    return run_id
