"""The K-class flip analysis (``python -m imbalance_sweep.flip --config-name flip_long_tail``, in
flip.py at the top): for two K-class models, where along a path of validation priors each loss and
each confusion-based metric changes its mind between them, on the exact expected mode, logged as one
MLflow run as the binary flip (analysis/flip.py) logs its own.

The config (conf/flip_long_tail.yaml documents each key): ``classes`` (K); ``models``, model A and
model B, each as a K-class grid's ``models`` writes one (``sweep.kgrid.k_model``; ``train`` required:
the validation prior moves, the training set does not; a list, so that an override replaces both),
or a K-class predictions file ``{name, file, train, label}`` (``sweep.kgrid.k_file_model``; ``train``
default the file's class counts; its values ``core.multiclass.file_flip_inputs``, exact for the
file's rows re-weighted to each prior); ``path``, ``{kind, from, to}``: ``exponential`` (the ratio rho of the
exponential profile, from >= 1), ``zipf`` (the exponent s, from >= 0) or ``line`` (t from 0 to 1
between two priors, each K numbers summing to 1 or a profile ``{profile: balanced | exponential
(ratio) | zipf (exponent)}``); ``losses``, ``metrics`` and ``loss_settings``. Each model becomes its
class-conditional values (``core.multiclass.flip_inputs``) and ``core.multiclass.prior_flip`` finds
the flips: exact for the losses, by scan and bisection for the metrics.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.checks import InvalidValue, clipped, is_number, names_from, one_of, shown
from ..core.multiclass.file_flip_inputs import file_class_values
from ..core.multiclass.file_model import ClassFileModel
from ..core.multiclass.flip_inputs import model_class_values
from ..core.multiclass.loss_settings import (
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    DEFAULT_GAMMA,
    DEFAULT_MAX_MARGIN,
    DEFAULT_SCALE,
    DEFAULT_TAU,
)
from ..core.multiclass.prior_flip import ClassValues, PathFlips, PathPreference, checked_metrics, path_flips
from ..core.multiclass.prior_paths import (
    LinePath,
    PriorPath,
    TiltedKind,
    TiltedPath,
    exponential_path,
    line_path,
    prior,
    zipf_path,
)
from ..core.multiclass.profiles import checked_class_count
from ..core.vocabulary import MULTICLASS_LOSS_NAMES, loss_key
from ..runtime.lifetime import imports_done
from ..sweep.config import checked_name, resolve_tracking_uri
from ..sweep.kfile_models import is_file_model
from ..sweep.kgrid import KModel, k_file_model, k_model
from ..tracking.tags import ROLE_TAG, Role
from ..tracking.where import summary_lines

K_FLIP_KEYS = (
    "classes",
    "models",
    "path",
    "losses",
    "metrics",
    "loss_settings",
    "experiment",
    "tracking_uri",
)
PATH_KINDS = ("exponential", "zipf", "line")
PATH_KEYS = ("kind", "from", "to")
# A path's parameter: its name, the least value and what it is (for the messages)
TILTED = {
    "exponential": ("rho", 1.0, "an imbalance ratio rho = pi_0 / pi_(K-1) >= 1"),
    "zipf": ("s", 0.0, "a Zipf exponent s >= 0"),
}
# A line's end given by a profile: its one setting, and the exact prior it makes
END_PROFILES = {"balanced": None, "exponential": "ratio", "zipf": "exponent"}
LOSS_SETTINGS = {
    "alpha": DEFAULT_ALPHA,
    "gamma": DEFAULT_GAMMA,
    "beta": DEFAULT_BETA,
    "tau": DEFAULT_TAU,
    "max_margin": DEFAULT_MAX_MARGIN,
    "scale": DEFAULT_SCALE,
}


@dataclass(frozen=True, eq=False)
class KFlipSpec:
    """The composed ``flip_long_tail`` config, validated, with each model's class-conditional values."""

    classes: int
    model_a: KModel
    model_b: KModel
    values_a: ClassValues
    values_b: ClassValues
    path: PriorPath
    losses: tuple[str, ...]
    metrics: tuple[str, ...]
    loss_settings: dict[str, Any]
    experiment: str
    tracking_uri: str
    config: dict[str, Any]  # as given (the models' and the path's entries, for the run's params)
    files: tuple[ClassFileModel | None, ClassFileModel | None] = (None, None)  # a file's model's file


def k_flip_spec(config: Mapping[str, Any]) -> KFlipSpec:
    """Validate the composed ``flip_long_tail`` config (a plain mapping): one line a mistake."""
    unknown = sorted(set(config) - set(K_FLIP_KEYS))
    if unknown:
        raise InvalidValue(
            f"{unknown[0]} is not a key of the K-class flip; its keys are: {', '.join(K_FLIP_KEYS)}"
        )
    classes = checked_class_count(config.get("classes"))
    entries = config.get("models")
    if not isinstance(entries, (list, tuple)) or len(entries) != 2:
        raise InvalidValue(
            f"models={clipped(repr(entries), quoted=False)} is not a list of two models; allowed: "
            "[A, B], each {name, train, accuracy, errors}, {name, train, confusion} or {name, file, train}"
        )
    models: list[KModel] = []
    files: list[ClassFileModel | None] = []
    for index, entry in enumerate(entries):
        where = f"models[{index}]"
        if is_file_model(entry):
            model, loaded = k_file_model(where, entry, classes, default_name="AB"[index])
            if 0 in loaded.class_counts:
                raise InvalidValue(
                    f"{where}.file {loaded.path!r} has no rows of class {loaded.class_counts.index(0)}; "
                    "allowed: a file with rows of every class (a path of priors gives every class a share)"
                )
        else:
            model, loaded = k_model(where, entry, classes, default_name="AB"[index]), None
        models.append(model)
        files.append(loaded)
    if models[0].name == models[1].name:
        raise InvalidValue(
            f"models[1].name={models[1].name!r} is models[0]'s too; give the two models their own names"
        )
    path = prior_path(config.get("path"), classes)
    losses = _names_or_none("losses", config.get("losses"), MULTICLASS_LOSS_NAMES)
    metrics = checked_metrics(_listed_names(config.get("metrics")), classes)
    if not losses and not metrics:
        raise InvalidValue("losses=[] and metrics=[]: name at least one loss or metric to compare")
    settings = loss_settings(config.get("loss_settings"))
    values = [_class_values(model, losses, settings, file) for model, file in zip(models, files, strict=True)]
    return KFlipSpec(
        classes=classes,
        model_a=models[0],
        model_b=models[1],
        values_a=values[0],
        values_b=values[1],
        path=path,
        losses=losses,
        metrics=metrics,
        loss_settings=settings,
        experiment=checked_name("experiment", config.get("experiment") or "imbalance-sweep"),
        tracking_uri=resolve_tracking_uri(config.get("tracking_uri")),
        config=dict(config),
        files=(files[0], files[1]),
    )


def _listed_names(values: Any) -> Any:
    return [] if values is None else values


def _names_or_none(name: str, values: Any, allowed: Sequence[str]) -> tuple[str, ...]:
    """Names from ``allowed``; ``[]`` (or nothing) for none."""
    if values is None or (isinstance(values, (list, tuple)) and not values):
        return ()
    return names_from(name, values, allowed)


def loss_settings(section: Any) -> dict[str, Any]:
    """The ``loss_settings`` mapping with the defaults for keys it leaves out (values checked with the
    models' loss tables)."""
    if section is None:
        section = {}
    if not isinstance(section, Mapping):
        raise InvalidValue(
            f"loss_settings={clipped(repr(section), quoted=False)} must be a mapping of {', '.join(LOSS_SETTINGS)}"
        )
    for key in section:
        if key not in LOSS_SETTINGS:
            raise InvalidValue(f"loss_settings.{key} is not a setting; they are: {', '.join(LOSS_SETTINGS)}")
    return {
        key: default if section.get(key) is None else section[key] for key, default in LOSS_SETTINGS.items()
    }


def _class_values(
    model: KModel, losses: tuple[str, ...], settings: dict[str, Any], file: ClassFileModel | None = None
) -> ClassValues:
    """A model's values for ``prior_flip`` (a predictions file's: ``file``'s rows); a bad loss setting
    named as the config names it."""
    errors = model.errors if isinstance(model.errors, str) else np.array(model.errors)
    try:
        if file is not None:
            return file_class_values(
                model.name, file, training_counts=model.training_counts, losses=losses, **settings
            )
        return model_class_values(
            model.name, model.accuracies, errors, model.training_counts, losses=losses, **settings
        )
    except InvalidValue as error:
        text = str(error)
        # the loss tables name a setting first: alpha=..., alpha[3]=..., alpha has shape ...
        if any(text.startswith((f"{key}=", f"{key}[", f"{key} ")) for key in LOSS_SETTINGS):
            raise InvalidValue(f"loss_settings.{text}") from None
        raise


# --- the path ------------------------------------------------------------------------------------


def prior_path(entry: Any, classes: int) -> PriorPath:
    """The ``path`` entry, ``{kind, from, to}``, as a path of ``prior_paths`` of K classes."""
    if not isinstance(entry, Mapping):
        raise InvalidValue(
            f"path={clipped(repr(entry), quoted=False)} must be {{kind: {' | '.join(PATH_KINDS)}, from: ..., to: ...}}"
        )
    for key in entry:
        if key not in PATH_KEYS:
            raise InvalidValue(f"path.{key} is not a path key; its keys are: {', '.join(PATH_KEYS)}")
    kind = one_of("path.kind", entry.get("kind"), PATH_KINDS)
    for key in ("from", "to"):
        if entry.get(key) is None:
            raise InvalidValue(f"path.{key} is not set: a {kind} path goes from one value to another")
    if kind == "line":
        start, end = (_line_end(f"path.{key}", entry[key], classes) for key in ("from", "to"))
        if np.array_equal(start, end):
            raise InvalidValue(
                f"path.to={clipped(repr(entry['to']), quoted=False)} is the prior path.from is; allowed: another prior"
            )
        return line_path(start, end)
    parameter, least, what = TILTED[kind]
    low, high = (_number(f"path.{key}", entry[key], least, what) for key in ("from", "to"))
    if not high > low:
        raise InvalidValue(
            f"path.to={shown(entry['to'])} is not above path.from={shown(entry['from'])}; "
            f"allowed: from < to ({parameter} rises along the path)"
        )
    return exponential_path(classes, low, high) if kind == "exponential" else zipf_path(classes, low, high)


def _number(name: str, value: Any, least: float, what: str) -> float:
    if not is_number(value) or not math.isfinite(value) or value < least:
        raise InvalidValue(f"{name}={shown(value)} is not {what}")
    return float(value)


def _line_end(name: str, value: Any, classes: int) -> np.ndarray:
    """A line's end: K numbers >= 0 summing to 1, or ``{profile: ..., <setting>: ...}``."""
    if isinstance(value, (list, tuple)):
        return prior(name, value, classes)
    if not isinstance(value, Mapping):
        raise InvalidValue(
            f"{name}={shown(value)} is not a prior: allowed {classes} numbers >= 0 summing to 1, or "
            f"{{profile: {' | '.join(END_PROFILES)}, ...}}"
        )
    profile = one_of(f"{name}.profile", value.get("profile"), tuple(END_PROFILES))
    setting = END_PROFILES[profile]
    allowed = {"profile", *([setting] if setting else [])}
    for key in value:
        if key not in allowed:
            raise InvalidValue(
                f"{name}.{key} is not a setting of profile {profile}; its settings: {setting or 'none'}"
            )
    if setting is None:
        return np.full(classes, 1.0 / classes)
    if value.get(setting) is None:
        raise InvalidValue(f"{name}.{setting} is missing: profile {profile} needs {setting}")
    kind: TiltedKind = "exponential" if profile == "exponential" else "zipf"
    parameter = _number(f"{name}.{setting}", value[setting], TILTED[kind][1], TILTED[kind][2])
    shape: np.ndarray = TiltedPath(kind, classes, parameter, parameter).priors(np.array([parameter]))[0]
    return shape


def path_text(path: PriorPath) -> str:
    """The path in words, for the printed lines."""
    if isinstance(path, LinePath):
        return f"a line of {path.classes} classes' priors, t from 0 (path.from) to 1 (path.to)"
    last = path.classes - 1
    if path.kind == "exponential":
        return f"exponential profile of {path.classes} classes, rho = pi_0 / pi_{last} from {path.low:g} to {path.high:g}"
    return f"Zipf profile of {path.classes} classes, pi_k proportional to (k + 1)^-s, s from {path.low:g} to {path.high:g}"


# --- the answer, printed and logged --------------------------------------------------------------


def key_of(preference: PathPreference) -> str:
    """``loss/<name>`` for a loss, the metric's own name for a metric (as the binary flip keys them)."""
    return loss_key(preference.name) if preference.is_loss else preference.name


def flips_text(preference: PathPreference) -> str:
    """The flip points, 3 significant digits each, or ``never``; a touch said as one."""
    text = ", ".join(f"{value:.3g}" for value in preference.flips) or "never"
    if preference.touches:
        text += " (ties without a flip at " + ", ".join(f"{value:.3g}" for value in preference.touches) + ")"
    return text


def table_lines(found: PathFlips) -> list[str]:
    """Per loss and metric: the model preferred at the path's start, at its end, and the flips."""
    path = found.path
    start, end = (f"{path.parameter} = {value:g}" for value in (path.low, path.high))
    width = max(22, *(len(key_of(p)) + 1 for p in found.preferences))
    columns = (max(len(start), 4) + 2, max(len(end), 4) + 2)
    lines = [f"{'loss or metric':{width}} {start:{columns[0]}}{end:{columns[1]}}flips at {path.parameter}"]
    for preference in found.preferences:
        first, last = preference.intervals[0].preferred, preference.intervals[-1].preferred
        lines.append(
            f"{key_of(preference):{width}} {first:{columns[0]}}{last:{columns[1]}}{flips_text(preference)}"
        )
    return lines


def _model_text(model: KModel, entry: Any) -> str:
    parts = [
        f"{key} {_setting_text(entry[key])}"
        for key in ("file", "train", "accuracy", "errors", "confusion")
        if entry.get(key) is not None
    ]
    return f"{model.name} ({', '.join(parts)})"


def _setting_text(value: Any) -> str:
    """A config entry in few words: ``exponential ratio=100 largest=5000``, ``[0.9,0.8,...,0.3]``."""
    if isinstance(value, Mapping):
        settings = " ".join(f"{key}={_setting_text(value[key])}" for key in value if key != "profile")
        return f"{value.get('profile')} {settings}".strip()
    if isinstance(value, (list, tuple)):
        items = [_setting_text(item) for item in value]
        return "[" + ",".join(items if len(items) <= 6 else [*items[:4], "...", items[-1]]) + "]"
    return format(value, "g") if is_number(value) else str(value)


def _params(spec: KFlipSpec) -> dict[str, object]:
    """The run's params: K, each model's name and entries (JSON text as given), the path, the
    losses, metrics and loss settings."""
    params: dict[str, object] = {"classes": spec.classes}
    for key, model, entry, file in zip(
        ("model_a", "model_b"), (spec.model_a, spec.model_b), spec.config["models"], spec.files, strict=True
    ):
        params[key] = model.name
        for part in ("train", "accuracy", "errors", "confusion"):
            if entry.get(part) is not None:
                params[f"{key}.{part}"] = json.dumps(entry[part], separators=(",", ":"))
        if file is not None:  # the file it read: path, digest, rows, label column
            params.update(file.file_params(key))
    for part in PATH_KEYS:
        value = spec.config["path"][part]
        params[f"path.{part}"] = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    params["losses"] = ",".join(spec.losses)
    params["metrics"] = ",".join(spec.metrics)
    for key, value in spec.loss_settings.items():
        params[f"loss_settings.{key}"] = value
    return params


def run_k_flip(spec: KFlipSpec, *, existing_run_id: str | None = None) -> str:
    """Find every flip along the path, print the table, and log one run: ``flip/<key>`` (the first
    flip of each loss and metric that flips), ``flip.txt``, the chart ``flip.png`` and, for K = 3,
    ``ternary.png`` of the first loss and metric."""
    found = path_flips(spec.values_a, spec.values_b, spec.path, losses=spec.losses, metrics=spec.metrics)
    lines = [
        f"A = {_model_text(spec.model_a, spec.config['models'][0])}",
        f"B = {_model_text(spec.model_b, spec.config['models'][1])}",
        f"path: {path_text(spec.path)}",
        "",
        *table_lines(found),
    ]
    print("\n".join(lines))
    # MLflow and matplotlib: more than a second of start-up that a mistake in the command skips
    from ..tracking.tracker import Tracker
    from .path_chart import path_chart

    imports_done()  # MLflow and matplotlib are in: a whole command's collector is on again

    tracker = Tracker(spec.tracking_uri, spec.experiment, existing_run_id=existing_run_id)
    run_id = tracker.start_run(
        f"flip {spec.model_a.name} vs {spec.model_b.name} along {found.path.parameter}",
        params=_params(spec),
        tags={ROLE_TAG: Role.FLIP},
        existing_run_id=existing_run_id,
    )
    artifacts = "flip points, chart flip.png"
    with tracker.closing(run_id):
        files = {file.digest: file for file in spec.files if file is not None}
        for file in files.values():  # the predictions files the run evaluated, once each
            tracker.log_dataset(run_id, file.dataset)
        tracker.log_metrics(run_id, {f"flip/{key_of(p)}": p.flips[0] for p in found.preferences if p.flips})
        tracker.log_figure(run_id, path_chart(spec.values_a, spec.values_b, found), "flip.png")
        if spec.classes == 3 and spec.losses and spec.metrics:
            from .ternary import ternary_figure

            figure = ternary_figure(spec.values_a, spec.values_b, loss=spec.losses[0], metric=spec.metrics[0])
            tracker.log_figure(run_id, figure, "ternary.png")
            artifacts += ", ternary.png"
        tracker.log_text(run_id, "\n".join(lines) + "\n", "flip.txt")
    where = summary_lines(
        spec.tracking_uri,
        experiment_name=tracker.experiment_name,
        experiment_id=tracker.experiment_id,
        run_id=run_id,
        what=artifacts,
    )
    print("\n".join(["", *where]), flush=True)
    return run_id
