"""The ternary figure of three classes' priors (analysis/ternary.py): a PNG whose pixels show where
each model is preferred and where a loss and a metric disagree, the loss's exact tie line, and bad
models one line each."""

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from imbalance_sweep.analysis.ternary import COLOURS, CORNERS, ternary_figure
from imbalance_sweep.core.checks import InvalidValue
from imbalance_sweep.core.multiclass.prior_flip import class_values, loss_tie_vertices


def rates(accuracies):
    classes = len(accuracies)
    matrix = np.empty((classes, classes))
    for k, accuracy in enumerate(accuracies):
        matrix[k] = (1.0 - accuracy) / (classes - 1)
        matrix[k, k] = accuracy
    return matrix


# A learned the head class, B every class about as well: A is preferred near class 0 only
HEAD_HEAVY = class_values("head-heavy", rates([0.95, 0.7, 0.3]), {"cce": [0.1, 0.6, 1.5]})
BALANCED = class_values("balanced", rates([0.8, 0.75, 0.65]), {"cce": [0.35, 0.45, 0.7]})


def pixels_of(image, colour):
    """How many pixels of the saved image's simplex (its left 400 of 720 columns: the legend's
    swatches are right of them) have ``colour`` (to the 8 bits of a PNG)."""
    simplex = image[:, :400, :3]
    return int(np.count_nonzero(np.all(np.abs(simplex - to_rgb(colour)) < 1.5 / 255, axis=-1)))


def test_the_png_shows_both_models_and_the_disagreement(tmp_path):
    figure = ternary_figure(HEAD_HEAVY, BALANCED, loss="cce", metric="f1_macro")
    figure.savefig(tmp_path / "ternary.png")
    image = imread(tmp_path / "ternary.png")
    assert image.shape[:2] == (500, 720)  # screen resolution: 7.2 x 5 inches at 100 dpi
    assert pixels_of(image, COLOURS[("A", "A")]) > 1000  # both prefer the head-heavy model
    assert pixels_of(image, COLOURS[("B", "B")]) > 5000  # both prefer the balanced one
    assert pixels_of(image, COLOURS[("A", "B")]) > 1000  # cce prefers A, macro F1 B
    assert pixels_of(image, COLOURS["tie"]) < 20  # no tie but along the lines (rounding)


def test_the_loss_tie_is_drawn_exactly_where_the_loss_ties():
    """d = B - A = (0.25, -0.15, -0.8): cce ties at 0.375 e0 + 0.625 e1 and 0.7619... e0 + 0.238... e2."""
    figure = ternary_figure(HEAD_HEAVY, BALANCED, loss="cce", metric="accuracy")
    corners = loss_tie_vertices(HEAD_HEAVY, BALANCED, "cce")
    np.testing.assert_allclose(corners, [[0.375, 0.625, 0.0], [0.8 / 1.05, 0.0, 0.25 / 1.05]], atol=1e-15)
    (ax,) = figure.axes
    drawn = [line.get_xydata() for line in ax.lines if line.get_linewidth() == 2.0]
    assert len(drawn) == 1
    np.testing.assert_allclose(drawn[0], corners @ CORNERS, atol=1e-15)


def test_one_model_twice_ties_everywhere(tmp_path):
    figure = ternary_figure(BALANCED, BALANCED, loss="cce", metric="mcc")
    figure.savefig(tmp_path / "tie.png")
    image = imread(tmp_path / "tie.png")
    assert pixels_of(image, COLOURS["tie"]) > 40000
    assert all(pixels_of(image, COLOURS[key]) == 0 for key in COLOURS if key != "tie")


@pytest.mark.parametrize(
    ("model_b", "loss", "metric", "message"),
    [
        (
            class_values("B", rates([0.8] * 4), {"cce": [1.0] * 4}),
            "cce",
            "mcc",
            "B has K=4 classes; allowed: K=3",
        ),
        (BALANCED, "ldam", "mcc", "losses[0]='ldam' is not one of: cce"),
        (BALANCED, "cce", "roc_auc_ovr", "metrics[0]='roc_auc_ovr' is not a metric of the confusion counts"),
    ],
)
def test_bad_input_gets_one_line(model_b, loss, metric, message):
    with pytest.raises(InvalidValue) as error:
        ternary_figure(HEAD_HEAVY, model_b, loss=loss, metric=metric)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_four_classes_are_refused():
    four = class_values("A", rates([0.8] * 4), {"cce": [1.0] * 4})
    with pytest.raises(InvalidValue, match=r"^A has K=4 classes; allowed: K=3 for a ternary figure$"):
        ternary_figure(four, four, loss="cce", metric="mcc")
