"""The K-class losses against Keras 3: CategoricalCrossentropy and CategoricalFocalCrossentropy as a
Keras user calls them (their own clipping, mean reduction, alpha list, sample weights), and the
softmax cross-entropy of the adjusted logits through ``from_logits=True``."""

import numpy as np
import pytest

from imbalance_sweep.core.multiclass.loss_settings import class_tables
from imbalance_sweep.core.multiclass.losses import class_weights, multiclass_losses
from imbalance_sweep.core.vocabulary import MULTICLASS_LOSS_NAMES

keras = pytest.importorskip("keras")


def validation_set(classes, samples, seed):
    """Dirichlet rows (many near 0 and 1), a tenth of them exactly one-hot, right or wrong."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, samples)
    scores = rng.dirichlet(np.full(classes, 0.2), size=samples)
    one_hot = rng.random(samples) < 0.1
    scores[one_hot] = np.eye(classes)[rng.integers(0, classes, int(one_hot.sum()))]
    return labels, scores.astype(np.float32)


def keras_value(loss, labels, scores, **call):
    one_hot = np.eye(scores.shape[1], dtype=np.float32)[labels]
    return float(np.asarray(loss(one_hot, scores, **call)))


@pytest.mark.parametrize("classes, samples, seed", [(3, 20_000, 1), (10, 20_000, 2), (2, 5_000, 3)])
def test_the_losses_agree_with_keras(classes, samples, seed):
    labels, scores = validation_set(classes, samples, seed)
    counts = np.geomspace(500, 5, classes)
    alpha = np.linspace(0.1, 0.9, classes)
    ours = multiclass_losses(labels, scores, training_counts=counts)
    with_alpha = multiclass_losses(labels, scores, ("categorical_focal",), alpha=alpha, gamma=3.5)
    tables = class_tables(classes, MULTICLASS_LOSS_NAMES, training_counts=counts)
    losses = keras.losses
    reference = {
        "cce": keras_value(losses.CategoricalCrossentropy(), labels, scores),
        "categorical_focal": keras_value(losses.CategoricalFocalCrossentropy(), labels, scores),
        "class_balanced": keras_value(
            losses.CategoricalCrossentropy(),
            labels,
            scores,
            sample_weight=class_weights("class_balanced", tables)[labels].astype(np.float32),
        ),
    }
    for name, value in reference.items():
        assert ours[name] == pytest.approx(value, rel=1e-5), name
    focal = losses.CategoricalFocalCrossentropy(alpha=alpha.tolist(), gamma=3.5)
    assert with_alpha["categorical_focal"] == pytest.approx(keras_value(focal, labels, scores), rel=1e-5)
    # the adjusted losses: Keras's softmax cross-entropy of the logits log c (+ tau log pi, - margin)
    log_c = np.log(np.clip(scores, 1e-7, 1 - 1e-7).astype(np.float64))
    rows = np.arange(samples)
    margins = log_c.copy()
    margins[rows, labels] -= tables.ldam_margins[labels]
    logits = {
        "logit_adjusted": log_c + tables.logit_adjustment,
        "balanced_softmax": log_c + tables.balanced_softmax,
        "ldam": tables.scale * margins,
    }
    from_logits = losses.CategoricalCrossentropy(from_logits=True)
    for name, values in logits.items():
        assert ours[name] == pytest.approx(
            keras_value(from_logits, labels, values.astype(np.float32)), rel=1e-5
        ), name
