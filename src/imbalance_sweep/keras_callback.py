"""``ValidationPanel``: a Keras 3 callback that puts the project's answer into a training run.

"Following the loss" in practice is ``EarlyStopping`` and ``ModelCheckpoint`` watching ``val_loss``
on a validation set whose prevalence may not be the one the model will meet. At each epoch's end
this callback predicts the validation scores once and

* logs every loss and metric of the project on the validation set as it is, and re-weighted
  exactly to each deployment prevalence asked for, as MLflow step metrics of the active run (one is
  started when none is: beside ``mlflow.keras.autolog()`` it is autolog's);
* saves the epoch's predictions (``label``, ``score``) as a Parquet artifact, a predictions file
  ``grid.models`` and ``python -m imbalance_sweep.flip`` read: each epoch is a model;
* puts the values of ``expose`` into Keras's ``logs``, for ``EarlyStopping`` and ``ModelCheckpoint``.

At the end of training the run holds which epoch each criterion picks at each prevalence, and that
epoch's recall and precision (``selection.json``, ``selection.txt``, ``selection.png``).

Names, kept stable (MLflow refuses ``@`` in a metric name: its names are ``[/\\w.\\- :]``):

* MLflow metrics ``val/<key>`` (the set as it is) and ``val_at_<p>/<key>`` (re-weighted to p), with
  ``<key>`` as a sweep logs it (``loss/bce``, ``recall``) and ``<p>`` the shortest text of the float
  (``0.01``, ``1e-05``); step = Keras's epoch index, from 0, as autolog logs ``val_loss``;
* Keras logs ``val_<name>`` and ``val_<name>_at_<p>`` (``val_balanced_bce_at_0.01``, ``val_recall``);
* artifacts ``predictions/epoch_<NNN>.parquet``, the epoch as Keras prints it (from 1).

A run the panel started ends when ``fit`` does: FINISHED when it returns, FAILED when it raises,
whoever raised (another callback, the model, the data), KILLED on Ctrl-C. Keras calls no callback
when ``fit`` raises, so the first panel made wraps ``keras.Model.fit`` (as ``mlflow.keras.autolog``
does) in a pass-through that tells the panels of that call. A run the panel did not start (the
active run, autolog's) is left to its owner, whose ``with mlflow.start_run()`` or autolog ends it
FAILED on an exception.

**K classes.** Given ``classes=K``, ``priors`` or one-hot ``y_val``, the panel is for a softmax
model of K >= 2 outputs (probabilities, rows summing to 1; ``from_logits=True``: softmax of logits),
``y_val`` class indices 0..K-1 or one-hot rows. Each epoch it logs the K-class losses and metrics
(``core.multiclass.reweighting``: ``loss/cce``, ``balanced_accuracy``, ``recall/class_003``,
``recall/few``, ...) as ``val/<key>`` and, re-weighted exactly to each prior of
``priors={name: [K shares]}``, as ``val_at_<name>/<key>``; Keras's logs get ``val_<name>`` and
``val_<name>_at_<prior>``; the epoch's predictions file has columns ``label``, ``score_0`` ..
``score_<K-1>`` (``core.multiclass.predictions``). ``training_counts`` (default: the validation
set's class counts) give the training-prior losses and the Many/Medium/Few bands. The selection
table at the end is the binary panel's only.

The computations are the core's (``core.reweighting``, ``core.multiclass.reweighting``,
``analysis.selection``); this module is Keras and MLflow at the edge. ``import imbalance_sweep``
does not import it: it imports Keras.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import re
import reprlib
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from numbers import Integral, Number
from pathlib import Path
from typing import Any

import keras
import numpy as np

from .analysis.selection import Pick, picks
from .core.checks import (
    NOT_A_PROBABILITY,
    InvalidValue,
    first_non_probability,
    names_from,
    shown,
    whole_number,
)
from .core.evaluation import check_loss_settings
from .core.losses import LOSS_NAMES
from .core.metrics import METRIC_NAMES, lower_is_better, metric_settings
from .core.multiclass.labelled import checked_classes, labelled_class_scores, per_class
from .core.multiclass.loss_settings import of_the_training_prior
from .core.multiclass.metrics import multiclass_settings
from .core.multiclass.predictions import class_predictions_table
from .core.multiclass.reweighting import class_validation_values, reweighting
from .core.prevalence import prevalence_of, prevalence_text
from .core.reweighting import check_labels, check_prevalences, validation_values
from .core.vocabulary import (
    MULTICLASS_LOSS_NAMES,
    MULTICLASS_METRIC_NAMES,
    MULTICLASS_METRICS_BY_NAME,
    loss_key,
)
from .tracking.runs import FAILED, FINISHED, KILLED

EXPOSABLE = (*LOSS_NAMES, *METRIC_NAMES)
DEFAULT_EXPOSED = ("bce", "balanced_bce", "recall", "precision")
KERAS_VAL_LOSS = "val_loss (Keras)"  # Keras's own val_loss, as a criterion of the selection table
CLASS_EXPOSABLE = (*MULTICLASS_LOSS_NAMES, *MULTICLASS_METRIC_NAMES)
CLASS_EXPOSED = ("cce", "accuracy", "balanced_accuracy")  # a K-class panel's default
PRIOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")  # a prior's name in metric keys


def mlflow_key(key: str, prevalence: float | str | None = None) -> str:
    """``val/<key>``, or ``val_at_<p>/<key>`` for the set re-weighted to prevalence p (or to the
    K-class prior of that name)."""
    return f"val/{key}" if prevalence is None else f"val_at_{_population(prevalence)}/{key}"


def logs_key(name: str, prevalence: float | str | None = None) -> str:
    """``val_<name>``, or ``val_<name>_at_<p>``: what ``EarlyStopping(monitor=...)`` is given."""
    return f"val_{name}" if prevalence is None else f"val_{name}_at_{_population(prevalence)}"


def _key(name: str) -> str:
    return loss_key(name) if name in LOSS_NAMES or name in MULTICLASS_LOSS_NAMES else name


def _population(prevalence: float | str | None) -> str:
    if isinstance(prevalence, str):  # a K-class prior's name
        return prevalence
    return "val" if prevalence is None else prevalence_text(prevalence)


def _rows(x_val: Any) -> int | None:
    """How many samples ``x_val`` holds (an array, or a dict, list or tuple of arrays: one per input,
    as Keras reads them); None when it has no length."""
    if isinstance(x_val, Mapping):
        arrays = list(x_val.values())
    elif isinstance(x_val, (list, tuple)) and x_val and all(hasattr(array, "shape") for array in x_val):
        arrays = list(x_val)
    else:
        arrays = [x_val]
    lengths = set()
    for array in arrays:
        try:
            lengths.add(len(array))
        except TypeError:
            return None
    if len(lengths) != 1:
        raise InvalidValue(f"x_val's arrays differ in length ({', '.join(map(str, sorted(lengths)))})")
    return lengths.pop()


class ValidationPanel(keras.callbacks.Callback):
    """Each epoch: the validation set's losses and metrics, as it is and at ``prevalences``, to
    MLflow, its predictions as Parquet, and the ``expose`` values into Keras's logs.

    ``x_val`` is what ``model.predict`` takes (an array, or arrays of a multi-input model); ``y_val`` its 0/1
    labels, both classes present. The model gives one probability per sample (``from_logits=True``
    for logits). Put the panel before the callbacks that read its values. Settings as ``evaluate``'s.

    A softmax model of K classes (``classes``, ``priors`` or one-hot ``y_val`` say so): ``y_val``
    class indices or one-hot rows, ``priors`` ``{name: K shares}``, ``training_counts`` the training
    set's class counts (default: ``y_val``'s); ``losses`` and ``expose`` name K-class ones.
    """

    def __init__(
        self,
        x_val: Any,
        y_val: Any,
        *,
        prevalences: Sequence[float] = (),
        priors: Mapping[str, Sequence[float]] | None = None,
        classes: int | None = None,
        training_counts: Sequence[float] | None = None,
        expose: Sequence[str] = DEFAULT_EXPOSED,
        losses: Sequence[str] = LOSS_NAMES,
        from_logits: bool = False,
        batch_size: int | None = None,
        predictions_dir: str | Path | None = None,
        save_predictions: bool = True,
        experiment: str | None = None,
        run_name: str | None = None,
        alpha: float = 0.25,
        gamma: float = 2.0,
        beta: float = 2.0,
        recall: float = 0.9,
        ece_bins: int = 15,
        verbose: int = 0,
    ):
        super().__init__()
        self.classes = _class_mode(y_val, priors, classes)  # None: the binary panel
        if self.classes is None:
            self.labels = check_labels(y_val)
        else:
            self._init_classes(y_val, prevalences, priors, training_counts, losses)
        rows = _rows(_inputs(x_val))
        if rows is not None and rows != self.labels.size:
            raise InvalidValue(f"x_val has {rows} samples and y_val {self.labels.size}: they must match")
        self.x_val = x_val
        if self.classes is None:
            self.prevalences = check_prevalences(prevalences)
            self.losses, _, self.alpha, self.gamma, _ = check_loss_settings(losses, "numpy", alpha, gamma, 1)
            self.settings = metric_settings(beta, recall, ece_bins)
        else:
            _, _, self.alpha, self.gamma, _ = check_loss_settings(LOSS_NAMES, "numpy", alpha, gamma, 1)
            self.class_settings = multiclass_settings(ece_bins=ece_bins)
        self.expose: list[str] = []
        if expose is DEFAULT_EXPOSED:  # those of the losses computed
            defaults = DEFAULT_EXPOSED if self.classes is None else CLASS_EXPOSED
            expose = [name for name in defaults if name not in self._loss_names or name in self.losses]
        empty = isinstance(expose, (list, tuple)) and not expose
        for name in () if empty else names_from("expose", expose, self._exposable):
            self._add_exposed(name)
        self.from_logits = _flag("from_logits", from_logits)
        self.save_predictions = _flag("save_predictions", save_predictions)
        self.batch_size = None if batch_size is None else whole_number("batch_size", batch_size, minimum=1)
        self.predictions_dir = _folder("predictions_dir", predictions_dir)
        self.experiment = _name_or_none("experiment", experiment, "an experiment's name")
        self.run_name = _name_or_none("run_name", run_name, "a run's name")
        self.verbose = _verbosity(verbose)
        self.run_id: str | None = None  # the run logged to, once training began
        self._run, self._started, self._in_guarded_fit = "", False, False
        _guard_fit()
        self.selection: list[Pick] = []
        self._epochs: list[int] = []
        self._values: list[dict[float | None, dict[str, float]]] = []
        self._keras_val_loss: list[float] = []

    def _init_classes(
        self,
        y_val: Any,
        prevalences: Sequence[float],
        priors: Mapping[str, Sequence[float]] | None,
        training_counts: Sequence[float] | None,
        losses: Sequence[str],
    ) -> None:
        """The K-class panel's labels, priors, training counts and losses, checked."""
        assert self.classes is not None
        if not isinstance(prevalences, (list, tuple)) or prevalences:
            raise InvalidValue(
                f"prevalences={reprlib.repr(prevalences)} is for a binary (one sigmoid) model; a K-class "
                "panel takes priors={name: [K class shares]}"
            )
        self.labels = _class_labels(y_val, self.classes)
        self.priors = _checked_priors(priors, self.labels, self.classes)
        counts = np.bincount(self.labels, minlength=self.classes)
        self.training_counts = tuple(
            (
                counts
                if training_counts is None
                else per_class("training_counts", training_counts, self.classes, positive=False)
            ).tolist()
        )
        if losses is LOSS_NAMES:  # the default: every K-class loss that applies
            needing = [] if min(self.training_counts) > 0 else of_the_training_prior(MULTICLASS_LOSS_NAMES)
            self.losses = tuple(name for name in MULTICLASS_LOSS_NAMES if name not in needing)
        else:
            self.losses = names_from("losses", losses, MULTICLASS_LOSS_NAMES)

    @property
    def _loss_names(self) -> tuple[str, ...]:
        return LOSS_NAMES if self.classes is None else MULTICLASS_LOSS_NAMES

    @property
    def _exposable(self) -> tuple[str, ...]:
        return EXPOSABLE if self.classes is None else CLASS_EXPOSABLE

    def _add_exposed(self, name: str) -> None:
        if name in self._loss_names and name not in self.losses:
            raise InvalidValue(f"expose: {name!r} is not one of losses={list(self.losses)!r}")
        if name not in self.expose:
            self.expose.append(name)

    def watch(self, name: str, prevalence: float | str | None = None) -> dict[str, str]:
        """``monitor`` and ``mode`` for ``EarlyStopping(**panel.watch("balanced_bce", 0.01))`` or
        ``ModelCheckpoint``: exposes ``name`` (a loss or metric) at ``prevalence`` (None: as it is;
        a K-class panel: a prior's name)."""
        names_from("name", [name], self._exposable)
        if self.classes is not None:
            if prevalence is not None and prevalence not in self.priors:
                raise InvalidValue(f"prior={shown(prevalence)} is not one of priors: {list(self.priors)!r}")
            self._add_exposed(name)
            lower = name in MULTICLASS_LOSS_NAMES or MULTICLASS_METRICS_BY_NAME[name].lower_is_better
            return {"monitor": logs_key(name, prevalence), "mode": "min" if lower else "max"}
        if prevalence is not None and prevalence not in self.prevalences:
            raise InvalidValue(
                f"prevalence={shown(prevalence)} is not one of prevalences={list(self.prevalences)!r}"
            )
        self._add_exposed(name)
        return {
            "monitor": logs_key(name, prevalence),
            "mode": "min" if lower_is_better(_key(name)) else "max",
        }

    def on_train_begin(self, logs=None):
        from .tracking.active_run import active_or_new_run
        from .tracking.tracker import Tracker

        if self.predictions_dir is not None:  # before the run: a folder it cannot make leaves none
            try:
                self.predictions_dir.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise InvalidValue(
                    f"predictions_dir={str(self.predictions_dir)!r} cannot be made: {error.strerror}"
                ) from None
        panels_in_fit = _PANELS_IN_FIT.get()
        self._in_guarded_fit = panels_in_fit is not None
        self._run, tracking_uri, self._started = active_or_new_run(
            experiment=self.experiment, run_name=self.run_name
        )
        self.run_id = self._run
        if panels_in_fit is not None:
            panels_in_fit.append(self)
        with self._closing_on_error():
            self._tracker = Tracker(tracking_uri, "", existing_run_id=self._run)
            self._tracker.log(self._run, params=self._params())
            self._epochs, self._values, self._keras_val_loss = [], [], []

    def _params(self) -> dict[str, object]:
        if self.classes is not None:
            return {
                "panel.rows": self.labels.size,
                "panel.classes": self.classes,
                "panel.priors": ",".join(self.priors),
                "panel.losses": ",".join(self.losses),
                "panel.focal.alpha": self.alpha,
                "panel.focal.gamma": self.gamma,
                **{f"panel.metrics.{key}": value for key, value in vars(self.class_settings).items()},
            }
        positives = int(np.count_nonzero(self.labels))
        return {
            "panel.rows": self.labels.size,
            "panel.positives": positives,
            "panel.prevalence": prevalence_of(self.labels.size - positives, positives),
            "panel.prevalences": ",".join(map(prevalence_text, self.prevalences)),
            "panel.losses": ",".join(self.losses),
            "panel.focal.alpha": self.alpha,
            "panel.focal.gamma": self.gamma,
            **{f"panel.metrics.{key}": value for key, value in vars(self.settings).items()},
        }

    def on_epoch_end(self, epoch, logs=None):
        with self._closing_on_error():
            self._epoch_end(epoch, logs)

    def _epoch_end(self, epoch: int, logs: dict | None) -> None:
        if self.classes is not None:
            self._class_epoch_end(epoch, logs)
            return
        scores = self._scores(epoch)
        values = validation_values(
            self.labels,
            scores,
            self.prevalences,
            losses=self.losses,
            alpha=self.alpha,
            gamma=self.gamma,
            settings=self.settings,
        )
        metrics = {
            mlflow_key(key, prevalence): value
            for prevalence, at in values.items()
            for key, value in at.items()
        }
        self._tracker.log(self._run, metrics=metrics, step=epoch)
        if self.save_predictions:
            self._save(epoch + 1, scores)
        if logs is not None:
            self._expose(values, logs)
        self._epochs.append(epoch + 1)
        self._values.append(values)
        if logs is not None and "val_loss" in logs:
            self._keras_val_loss.append(float(logs["val_loss"]))

    def _class_epoch_end(self, epoch: int, logs: dict | None) -> None:
        """The K-class panel's epoch: values as the set is and at each prior, logged, saved, exposed."""
        scores = self._class_scores(epoch)
        values = class_validation_values(
            self.labels,
            scores,
            self.priors,
            losses=self.losses,
            training_counts=self.training_counts,
            settings=self.class_settings,
            alpha=self.alpha,
            gamma=self.gamma,
        )
        metrics = {mlflow_key(key, prior): value for prior, at in values.items() for key, value in at.items()}
        self._tracker.log(self._run, metrics=metrics, step=epoch)
        if self.save_predictions:
            self._save(epoch + 1, scores)
        if logs is not None:
            self._expose(values, logs)

    def _class_scores(self, epoch: int) -> np.ndarray:
        """The model's validation scores as float32 rows of K probabilities, checked."""
        raw = self.model.predict(self.x_val, batch_size=self.batch_size, verbose=0)
        if isinstance(raw, (list, tuple, dict)):
            raise InvalidValue("the model has several outputs: ValidationPanel takes one softmax output")
        scores = np.asarray(raw, dtype=np.float64)
        if scores.shape != (self.labels.size, self.classes):
            raise InvalidValue(
                f"the model gives scores of shape {scores.shape} for {self.labels.size} validation labels "
                f"of K={self.classes} classes: ValidationPanel takes one softmax row of K a sample"
            )
        if self.from_logits:
            from scipy import special

            scores = special.softmax(scores, axis=1)
        try:
            _, checked = labelled_class_scores(self.labels, scores.astype(np.float32))
        except InvalidValue as error:
            hint = "" if self.from_logits else " (from_logits=True for logits)"
            raise InvalidValue(f"epoch {epoch + 1}: {error}{hint}") from None
        return checked

    @contextlib.contextmanager
    def _closing_on_error(self) -> Iterator[None]:
        """The panel's own failure ends its run at once: in a loop of one's own that calls the
        callbacks (no ``fit`` to tell the panel), nothing else would."""
        try:
            yield
        except BaseException as error:
            self._end_run(error)
            raise

    def _end_run(self, error: BaseException | None) -> None:
        """End the run the panel started (no other): FINISHED when training ended without ``error``,
        KILLED on Ctrl-C, else FAILED. A store that will not end it adds a note to ``error``, which
        goes on as it was."""
        if not self._started:
            return
        from .tracking.active_run import end_started_run

        self._started = False
        if error is None:
            end_started_run(FINISHED)
            return
        status = KILLED if isinstance(error, KeyboardInterrupt) else FAILED
        try:
            end_started_run(status)
        except Exception as refused:
            error.add_note(f"ValidationPanel: its run {self.run_id} could not be ended {status}: {refused}")

    def _scores(self, epoch: int) -> np.ndarray:
        """The model's validation scores as float32 probabilities, one per label."""
        raw = self.model.predict(self.x_val, batch_size=self.batch_size, verbose=0)
        if isinstance(raw, (list, tuple, dict)):
            raise InvalidValue("the model has several outputs: ValidationPanel takes one score per sample")
        scores = np.asarray(raw, dtype=np.float64).reshape(-1)
        if scores.size != self.labels.size:
            raise InvalidValue(
                f"the model gives {scores.size} scores for {self.labels.size} validation labels: "
                "ValidationPanel takes one score per sample (one sigmoid unit)"
            )
        if self.from_logits:
            from scipy import special

            scores = special.expit(scores)
        row = first_non_probability(scores)
        if row is not None:
            hint = "" if self.from_logits else " (from_logits=True for logits)"
            raise InvalidValue(
                f"epoch {epoch + 1}: scores[{row}]={shown(scores[row])} {NOT_A_PROBABILITY}{hint}"
            )
        return scores.astype(np.float32)

    def _save(self, epoch: int, scores: np.ndarray) -> None:
        """The epoch's predictions file, written to predictions_dir (else a temporary folder) and logged."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.classes is None:
            table = pa.table({"label": self.labels.astype(np.int8), "score": scores})
        else:
            table = class_predictions_table(self.labels, scores)
        name = f"epoch_{epoch:03d}.parquet"
        if self.predictions_dir is not None:
            with _new_file(self.predictions_dir / name) as file:
                pq.write_table(table, file)
            self._tracker.log_artifact(self._run, self.predictions_dir / name, "predictions")
            return
        with tempfile.TemporaryDirectory() as folder:
            pq.write_table(table, Path(folder) / name)
            self._tracker.log_artifact(self._run, Path(folder) / name, "predictions")

    def _expose(self, values: Mapping[Any, Mapping[str, float]], logs: dict) -> None:
        for prevalence, at in values.items():
            for name in self.expose:
                key = logs_key(name, prevalence)
                if key in logs:
                    raise InvalidValue(
                        f"Keras's logs already hold {key!r} (a metric compiled into the model): "
                        f"rename that metric, or leave {name!r} out of expose"
                    )
                logs[key] = at[_key(name)]

    def on_train_end(self, logs=None):
        with self._closing_on_error():
            if self._epochs:  # the binary panel's only: the K-class one keeps no epochs
                self._log_selection()
        if not self._in_guarded_fit:  # else fit's guard ends the run, once every callback is done
            self._end_run(None)

    def _series(self) -> dict[str, dict[str, list[float]]]:
        """Population -> key -> one value per epoch (``"val"`` first)."""
        populations: list[float | None] = [None, *self.prevalences]
        return {
            _population(prevalence): {
                key: [values[prevalence][key] for values in self._values]
                for key in self._values[0][prevalence]
            }
            for prevalence in populations
        }

    def _log_selection(self) -> None:
        """Each criterion's pick at each prevalence, as a table, a text and a figure of the run."""
        from .analysis.figures import selection_chart
        from .tracking.where import headline_table

        series = self._series()
        extra = (
            {KERAS_VAL_LOSS: self._keras_val_loss} if len(self._keras_val_loss) == len(self._epochs) else {}
        )
        self.selection = picks(self._epochs, series, extra=extra)
        rows = [pick.row() for pick in self.selection]
        columns = list(rows[0])
        self._tracker.log_table(
            self._run, {column: [row[column] for row in rows] for column in columns}, "selection.json"
        )
        self._tracker.log_text(self._run, headline_table(rows, columns) + "\n", "selection.txt")
        precision = {where: at["precision"] for where, at in series.items()}
        figure = selection_chart(self._epochs, series["val"]["recall"], precision, self.selection)
        self._tracker.log_figure(self._run, figure, "selection.png")
        if self.verbose:
            print(headline_table(rows, columns))


# The panels whose training began in the innermost guarded ``fit`` of this thread (None: in none).
_PANELS_IN_FIT: contextvars.ContextVar[list[ValidationPanel] | None] = contextvars.ContextVar(
    "imbalance_sweep_panels_in_fit", default=None
)
_GUARD_MARK = "_ends_validation_panel_runs"


def _guard_fit() -> None:
    """Wrap ``keras.Model.fit`` (once; again if something put the plain one back) so that its return
    or its exception, whoever raised it, ends the runs of the panels that began training in it:
    when ``fit`` raises, Keras calls no callback."""
    fit = keras.Model.fit
    if getattr(fit, _GUARD_MARK, False):
        return

    @functools.wraps(fit)
    def fit_ending_panel_runs(model, *args, **kwargs):
        panels: list[ValidationPanel] = []
        token = _PANELS_IN_FIT.set(panels)
        try:
            history = fit(model, *args, **kwargs)
        except BaseException as error:
            for panel in panels:
                panel._end_run(error)
            raise
        finally:
            _PANELS_IN_FIT.reset(token)
        for panel in panels:
            panel._end_run(None)
        return history

    setattr(fit_ending_panel_runs, _GUARD_MARK, True)
    keras.Model.fit = fit_ending_panel_runs


def _class_mode(y_val: Any, priors: Any, classes: Any) -> int | None:
    """K for a K-class panel (``classes``, else the first prior's length, else one-hot ``y_val``'s
    columns), None for the binary panel."""
    if classes is not None:
        return checked_classes(classes)
    if priors is not None:
        if isinstance(priors, Mapping) and not priors:
            raise InvalidValue("priors={} names no prior: give classes=K, or priors={name: [K class shares]}")
        if not isinstance(priors, Mapping):
            raise InvalidValue(
                f"priors={reprlib.repr(priors)} is not a mapping of names to class priors, e.g. "
                "{'deploy': [0.7, 0.2, 0.1]}"
            )
        first = next(iter(priors.values()))
        size = np.shape(first) if isinstance(first, (list, tuple, np.ndarray)) else ()
        if len(size) != 1:
            raise InvalidValue(
                f"priors[{next(iter(priors))!r}]={reprlib.repr(first)} is not a list of K class shares"
            )
        return checked_classes(size[0])
    shape = np.shape(y_val) if isinstance(y_val, (list, tuple, np.ndarray)) else ()
    return checked_classes(shape[1]) if len(shape) == 2 and shape[1] >= 2 else None


def _class_labels(y_val: Any, classes: int) -> np.ndarray:
    """Class indices 0..K-1, given as such (n,) or one-hot (n, K)."""
    array = np.asarray(y_val)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.dtype.kind not in "biuf" or array.size == 0 or array.ndim not in (1, 2):
        raise InvalidValue(
            f"y_val of shape {array.shape} and dtype {array.dtype} is not class indices (n,) or one-hot rows (n, K)"
        )
    if array.ndim == 2:
        if array.shape[1] != classes:
            raise InvalidValue(f"y_val has {array.shape[1]} one-hot columns; allowed: {classes}, one a class")
        one_hot = ((array == 0) | (array == 1)).all(axis=1) & (array.sum(axis=1) == 1)
        if not one_hot.all():
            row = int(np.argmin(one_hot))
            raise InvalidValue(
                f"y_val[{row}]={array[row].tolist()!r} is not a one-hot row (one 1, the others 0)"
            )
        return np.argmax(array, axis=1).astype(np.intp)
    bad = ~((array >= 0) & (array <= classes - 1) & (array == np.floor(array)))
    if bad.any():
        row = int(np.argmax(bad))
        raise InvalidValue(
            f"y_val[{row}]={shown(array[row].item())} is not a class index in 0..{classes - 1} (K={classes})"
        )
    return array.astype(np.intp)


def _checked_priors(priors: Any, labels: np.ndarray, classes: int) -> dict[str, np.ndarray]:
    """Each prior by its name (a name metric keys can hold), checked: K shares summing to 1, none
    on a class without rows in ``labels``."""
    if priors is None:
        return {}
    if not isinstance(priors, Mapping):
        raise InvalidValue(f"priors={reprlib.repr(priors)} is not a mapping of names to class priors")
    checked = {}
    for name, prior in priors.items():
        if not isinstance(name, str) or not PRIOR_NAME.fullmatch(name) or name == "val":
            raise InvalidValue(
                f"priors: the name {reprlib.repr(name)} is not a prior's name: 1 to 40 letters, digits, "
                "'_', '.' or '-' (first a letter or digit), not 'val'"
            )
        weighting = reweighting(labels, classes, prior, name=f"priors[{name!r}]")
        checked[name] = np.array([float(share) for share in weighting.shares])
    return checked


def _inputs(x_val: Any) -> Any:
    """``x_val``, refused when it cannot be a model's inputs (None, a text, one number)."""
    if x_val is None or isinstance(x_val, (str, bytes, Number)) or getattr(x_val, "shape", None) == ():
        raise InvalidValue(
            f"x_val={reprlib.repr(x_val)} is not the model's inputs: an array, or a list, tuple or dict of arrays"
        )
    return x_val


def _folder(name: str, value: Any) -> Path | None:
    """``value`` as a folder that is there or can be made (the nearest of it and its parents that
    exists is a writable folder); None stays None."""
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise InvalidValue(f"{name}={reprlib.repr(value)} is not a folder's path (made when missing) or None")
    path = Path(value)
    absolute = path.absolute()
    nearest = next(place for place in (absolute, *absolute.parents) if place.exists() or place.is_symlink())
    shown = f"{name}={str(value)!r}"
    if not nearest.is_dir():
        kind = "a link to no folder" if nearest.is_symlink() else "a file"
        where = "is" if nearest == absolute else f"cannot be made: {nearest} is"
        raise InvalidValue(f"{shown} {where} {kind}; give a folder (made when missing) or None")
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise InvalidValue(f"{shown} cannot be written: {nearest} is a folder this user may not write in")
    return path


@contextlib.contextmanager
def _new_file(path: Path) -> Iterator[Any]:
    """``path`` opened to be written anew, never through a symbolic link (refused in one line)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o666)
    except OSError as error:
        if path.is_symlink():
            raise InvalidValue(
                f"predictions_dir: {path} is a symbolic link; the panel writes through none"
            ) from None
        raise InvalidValue(f"predictions_dir: {path} cannot be written: {error.strerror}") from None
    with os.fdopen(descriptor, "wb") as file:
        yield file


def _name_or_none(name: str, value: Any, what: str) -> str | None:
    if value is None or (isinstance(value, str) and value.strip()):
        return value
    raise InvalidValue(f"{name}={reprlib.repr(value)} is not {what} (a non-empty text) or None")


def _verbosity(value: Any) -> int:
    """Keras's ``verbose``: 0 (silent), 1 or 2 (the selection table printed at the end), or a bool."""
    if isinstance(value, bool) or (isinstance(value, Integral) and value in (0, 1, 2)):
        return int(value)
    raise InvalidValue(f"verbose={shown(value)} is not 0, 1, 2, False or True (as Keras's verbose)")


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(f"{name}={shown(value)} is not True or False")
    return value
