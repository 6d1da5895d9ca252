"""Tests for the figure functions of cnncourse.plots.

A figure cannot be compared pixel by pixel across Matplotlib versions, so
each test checks what a reader relies on: the function returns a Figure with
the panels it promises, it draws what the reference maths says (windows,
cells, bars), and bad input fails early with a message that says what to do.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cnncourse import models, plots  # noqa: E402
from conftest import tiny_convnet  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _centre_dots(axis):
    """The window-centre markers sliding_windows draws (one Line2D per window)."""
    return [(line.get_xdata()[0], line.get_ydata()[0]) for line in axis.lines]


# ---------------------------------------------------------------- sliding_windows


def test_sliding_windows_valid_5x5_3x3_has_nine_windows():
    figure = plots.sliding_windows(5, 3, 1, "valid")
    assert isinstance(figure, Figure)
    input_axis, output_axis = figure.axes
    assert len(figure.axes) == 2
    assert len(_centre_dots(input_axis)) == 9
    assert "output 3×3" in output_axis.get_title()


def test_sliding_windows_same_padding_puts_the_odd_zero_after():
    figure = plots.sliding_windows(6, 3, 2, "same")
    input_axis = figure.axes[0]
    assert "0 before, 1 after" in input_axis.get_title()
    # windows start at 0, 2, 4 of the padded 7-cell grid: centres at 1.5, 3.5, 5.5
    centres = sorted({x for x, _ in _centre_dots(input_axis)})
    assert centres == [1.5, 3.5, 5.5]


def test_sliding_windows_marks_pixels_no_window_covers():
    title = plots.sliding_windows(6, 3, 2, "valid").axes[0].get_title()
    assert "no window covers" in title
    assert "no window covers" not in plots.sliding_windows(5, 3, 2, "valid").axes[0].get_title()


def test_sliding_windows_explicit_padding():
    figure = plots.sliding_windows(4, 3, 1, 1)
    assert len(_centre_dots(figure.axes[0])) == 16
    assert "1 before, 1 after" in figure.axes[0].get_title()


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ((3, 5, 1, "valid"), ValueError, "does not fit"),
        ((5, 3, 0, "valid"), ValueError, "stride"),
        ((5, 3, 1, "full"), ValueError, "unknown padding"),
        ((5, 3.0, 1, "valid"), TypeError, "whole number"),
        ((40, 3, 1, "same"), ValueError, "too many to draw"),
    ],
)
def test_sliding_windows_rejects_bad_input(arguments, error, message):
    with pytest.raises(error, match=message):
        plots.sliding_windows(*arguments)


# ---------------------------------------------------------------- pooling_windows

MATRIX = np.array([[1, 3, 2, 9], [5, 6, 1, 4], [7, 2, 8, 0], [3, 4, 1, 6]])


def _written_output(figure):
    return sorted(text.get_text() for text in figure.axes[1].texts)


@pytest.mark.parametrize("mode, expected", [("max", ["6", "7", "8", "9"]), ("min", ["0", "1", "1", "2"]),
                                            ("average", ["3.75", "3.75", "4", "4"])])
def test_pooling_windows_writes_the_pooled_values(mode, expected):
    figure = plots.pooling_windows(MATRIX, 2, mode=mode)
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 2
    assert _written_output(figure) == expected
    circles = [patch for patch in figure.axes[0].patches if isinstance(patch, matplotlib.patches.Circle)]
    assert len(circles) == (0 if mode == "average" else 4)


def test_pooling_windows_overlapping_and_dropped_cells():
    figure = plots.pooling_windows(np.arange(25).reshape(5, 5), 2, 2, "max")
    assert "output 2×2" in figure.axes[1].get_title()
    assert "dropped" in figure.axes[0].get_title()
    overlapping = plots.pooling_windows(MATRIX, 3, 1, "max")
    assert _written_output(overlapping) == ["8", "8", "8", "9"]  # only the top-right window holds the 9


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ((np.ones(5), 2), ValueError, "2-D matrix"),
        ((np.ones((20, 20)), 2), ValueError, "at most 16"),
        ((MATRIX, 2, None, "median"), ValueError, "unknown pooling mode"),
        ((MATRIX, 5), ValueError, "larger than"),
        ((MATRIX, 2, 0), ValueError, "stride"),
    ],
)
def test_pooling_windows_rejects_bad_input(arguments, error, message):
    with pytest.raises(error, match=message):
        plots.pooling_windows(*arguments)


# ---------------------------------------------------------------- parameter_bars


def test_parameter_bars_one_bar_per_layer_and_the_dense_layer_dominates():
    model = models.build("dropout_maxnorm_cifar10")
    figure = plots.parameter_bars(model)
    assert isinstance(figure, Figure)
    assert len(figure.axes) == 1
    bars = figure.axes[0].patches
    table = models.layer_table(model)
    assert [bar.get_width() for bar in bars] == [row.params for row in table.rows]
    assert "4,210,090" in figure.axes[0].get_title()
    assert any("99.6%" in text.get_text() for text in figure.axes[0].texts)


def test_parameter_bars_accepts_a_name_and_a_log_scale():
    figure = plots.parameter_bars("mnist_convnet", log_scale=True)
    assert figure.axes[0].get_xscale() == "log"
    assert "93,322" in figure.axes[0].get_title()


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        (("seed999",), ValueError, "Unknown model name"),
        ((42,), TypeError, "Keras model"),
        (("mnist_convnet", "yes"), TypeError, "log_scale"),
    ],
)
def test_parameter_bars_rejects_bad_input(arguments, error, message):
    with pytest.raises(error, match=message):
        plots.parameter_bars(*arguments)


# ---------------------------------------------------------------- accuracy_vs_shift


def test_accuracy_vs_shift_draws_one_curve_per_model_and_the_chance_line():
    figure = plots.accuracy_vs_shift([0, 2, 4], {"dense": [0.8, 0.6, 0.3], "convnet": [0.8, 0.75, 0.5]}, chance=0.1)
    axis = figure.axes[0]
    curves = [line for line in axis.lines if len(line.get_xdata()) == 3]
    assert [list(line.get_ydata()) for line in curves] == [[0.8, 0.6, 0.3], [0.8, 0.75, 0.5]]
    assert any(list(line.get_ydata()) == [0.1, 0.1] for line in axis.lines)  # axhline
    assert [text.get_text() for text in axis.get_legend().get_texts()] == ["dense", "convnet", "chance (0.1)"]


@pytest.mark.parametrize(
    "shifts, accuracies, error, message",
    [
        ([0, 1], {"dense": [0.9]}, ValueError, "one accuracy per shift"),
        ([0, 1], [0.9, 0.8], TypeError, "dict"),
        ([], {"dense": []}, ValueError, "non-empty"),
    ],
)
def test_accuracy_vs_shift_rejects_bad_input(shifts, accuracies, error, message):
    with pytest.raises(error, match=message):
        plots.accuracy_vs_shift(shifts, accuracies)


# ---------------------------------------------------------------- shifted_predictions


class _BrightnessModel:
    """A stand-in for a Keras model: class 0 while the top-left pixel is lit, class 1 once it is dark."""

    def predict(self, batch, verbose=0):
        lit = float(batch[0, 0, 0, 0] > 0)
        return np.array([[0.7 * lit + 0.15, 0.75 - 0.7 * lit, 0.1]])


def test_shifted_predictions_shows_the_shifted_image_and_each_models_guess():
    images = np.zeros((2, 6, 6))
    images[1, 0, 0] = 1.0
    figure = plots.shifted_predictions(images, {"a": _BrightnessModel(), "b": _BrightnessModel()},
                                       ("zero", "one", "two"), index=1, dx=1, dy=0, labels=[2, 0], top=2)
    original, shifted, first, second = figure.axes
    assert shifted.images[0].get_array()[0, 1] == 1.0 and shifted.images[0].get_array()[0, 0] == 0.0
    assert first.get_title() == "a: one" and second.get_title() == "b: one"  # the move changed the guess
    assert [bar.get_facecolor() for bar in first.patches] == [matplotlib.colors.to_rgba("tab:red"),
                                                             matplotlib.colors.to_rgba("tab:green")]
    assert "shifted by (1, 0)" in shifted.get_title() and "zero" in original.get_title()


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        (dict(images=np.zeros((6, 6))), ValueError, "batch"),
        (dict(index=3), ValueError, "index must be an int from 0 to 1"),
        (dict(models=[_BrightnessModel()]), TypeError, "dict"),
        (dict(top=5), ValueError, "top"),
    ],
)
def test_shifted_predictions_rejects_bad_input(arguments, error, message):
    defaults = dict(images=np.zeros((2, 6, 6)), models={"a": _BrightnessModel()}, class_names=("zero", "one", "two"))
    with pytest.raises(error, match=message):
        plots.shifted_predictions(**dict(defaults, **arguments))


# ---------------------------------------------------------------- results of training runs


def test_mistakes_grid_shows_the_surest_mistakes_first():
    images = np.arange(5 * 4 * 4, dtype=float).reshape(5, 4, 4)
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.95, 0.05], [0.3, 0.7]])
    labels = np.array([0, 0, 0, 1, 1])
    figure = plots.mistakes_grid(images, labels, probabilities, ("cat", "dog"), title="mistakes")
    shown = [axis for axis in figure.axes if axis.images]
    assert len(shown) == 3, "three of the five images are misclassified"
    assert shown[0].get_title() == "cat (0.95)\ntrue: dog" and shown[1].get_title() == "dog (0.80)\ntrue: cat"
    np.testing.assert_array_equal(shown[0].images[0].get_array(), images[3])
    figure = plots.mistakes_grid(images, labels, probabilities, ("cat", "dog"), indices=[0])
    assert [axis.get_title() for axis in figure.axes if axis.images] == ["cat (0.90)\ntrue: cat"]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(labels=np.array([0, 1])), "must match one to one"),
        (dict(class_names=("a", "b", "c")), "there are 3 classes"),
        (dict(labels=np.array([0, 1, 1])), "no mistakes"),
    ],
)
def test_mistakes_grid_rejects_bad_input(arguments, message):
    values = dict(images=np.zeros((3, 4, 4)), labels=np.array([1, 1, 1]),
                  probabilities=np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]]), class_names=("a", "b"))
    values.update(arguments)
    with pytest.raises(ValueError, match=message):
        plots.mistakes_grid(values["images"], values["labels"], values["probabilities"], values["class_names"])


def test_compare_histories_draws_one_curve_per_run():
    figure = plots.compare_histories({"dense": {"val_accuracy": [0.3, 0.4]},
                                      "convnet": {"val_accuracy": [0.4, 0.5, 0.6]}}, chance=0.1)
    axis = figure.axes[0]
    assert [line.get_label() for line in axis.lines] == ["dense", "convnet", "chance"]
    np.testing.assert_array_equal(axis.lines[1].get_xdata(), [1, 2, 3])
    with pytest.raises(ValueError, match="records"):
        plots.compare_histories({"dense": {"loss": [1.0]}})
    with pytest.raises(TypeError, match="non-empty dict"):
        plots.compare_histories([])


def test_remedy_curves_draw_each_variant_over_the_baseline():
    histories = {"baseline": {"val_accuracy": [0.3, 0.4, 0.35]}, "dropout": {"val_accuracy": [0.3, 0.45, 0.5]},
                 "early stopping": {"val_accuracy": [0.3, 0.4]}}
    figure = plots.remedy_curves(histories, baseline="baseline", columns=3)
    shown = [axis for axis in figure.axes if axis.get_visible()]
    assert [axis.get_title() for axis in shown] == ["dropout", "early stopping"]
    assert all(len(axis.lines) == 2 for axis in shown)
    np.testing.assert_array_equal(shown[1].lines[1].get_xdata(), [1, 2])
    with pytest.raises(ValueError, match="baseline 'none'"):
        plots.remedy_curves(histories, baseline="none")
    with pytest.raises(ValueError, match="records"):
        plots.remedy_curves(histories, baseline="baseline", metric="loss")
    with pytest.raises(TypeError, match="at least one variant"):
        plots.remedy_curves({"baseline": {"val_accuracy": [0.1]}}, baseline="baseline")


def test_class_bars_draws_a_group_per_class():
    figure = plots.class_bars({"a": [0.1, 0.5, 0.9], "b": [0.2, 0.4, 0.6]}, ("x", "y", "z"))
    axis = figure.axes[0]
    assert len(axis.patches) == 6 and axis.patches[2].get_height() == pytest.approx(0.9)
    assert [label.get_text() for label in axis.get_xticklabels()] == ["x", "y", "z"]
    with pytest.raises(ValueError, match="one value per class"):
        plots.class_bars({"a": [0.1, 0.2]}, ("x", "y", "z"))
    with pytest.raises(TypeError, match="non-empty dict"):
        plots.class_bars({}, ("x",))


@pytest.mark.parametrize("labels, message", [
    ([0, -1], "from 0"), ([0, 3], "only 3"), ([0.0, 1.7], "whole class numbers"), ([True, False], "booleans"),
])
def test_label_taking_figures_refuse_labels_outside_the_classes(labels, message):
    from cnncourse import training

    names = ("a", "b", "c")
    with pytest.raises((ValueError, TypeError), match=message):
        plots.confusion_matrix(labels, [0, 1], names)
    with pytest.raises((ValueError, TypeError), match=message):
        plots.image_grid(np.zeros((2, 4, 4)), labels, names)
    captioned = plots.image_grid(np.zeros((2, 4, 4)), ["0 px", "1 px"])  # without class names: captions
    plt.close(captioned)
    with pytest.raises((ValueError, TypeError), match=message):
        training.per_class_accuracy(labels, [0, 1], num_classes=3)


def test_whole_float_labels_are_accepted():
    figure = plots.confusion_matrix(np.array([0.0, 1.0, 2.0]), [0, 1, 1], ("a", "b", "c"))
    assert figure is not None
    plt.close(figure)


def _smallest_text_in_the_book(figure) -> float:
    """The smallest text of a figure, in pixels, once the book shows it at most 688 px wide."""
    width_inches = figure.get_size_inches()[0]
    pixels_per_point = min(figure.dpi, plots._BOOK_FIGURE_PIXELS / width_inches) / 72
    hidden = {id(label) for axis in figure.axes if not axis.axison
              for label in axis.get_xticklabels() + axis.get_yticklabels()}  # an axis switched off draws no ticks
    texts = [text for text in figure.findobj(matplotlib.text.Text)
             if text.get_text().strip() and text.get_visible() and id(text) not in hidden]
    return min(text.get_fontsize() for text in texts) * pixels_per_point


@pytest.mark.parametrize("columns", [4, 8, 16])
def test_grid_captions_stay_legible_at_the_books_width(columns):
    images = np.random.default_rng(0).random((16, 28, 28))
    figure = plots.image_grid(images, np.arange(16) % 10, [f"class {n}" for n in range(10)], columns=columns,
                              size=0.9, title="sixteen images")
    assert _smallest_text_in_the_book(figure) >= 8.9
    plt.close(figure)


def test_mistake_captions_and_the_model_diagram_stay_legible_at_the_books_width():
    labels = np.arange(20) % 10
    probabilities = np.eye(10)[(labels + 1) % 10] * 0.9 + 0.01
    figure = plots.mistakes_grid(np.zeros((20, 8, 8)), labels, probabilities, [f"c{n}" for n in range(10)])
    assert _smallest_text_in_the_book(figure) >= 8.9
    diagram = plots.model_diagram(models.build("vgg_style_cifar10"))
    assert _smallest_text_in_the_book(diagram) >= 8.9
    plt.close("all")


# ---------------------------------------------------------------- what good input draws
#
# The tests above mostly check that bad input is refused. These check, on small good input, the text and
# panels each figure promises (titles, captions, axis labels, legends, curves, bars, colour scales), so that
# a figure that silently stops drawing its captions or numbers fails a test.


def _titles(figure):
    """The titles of the panels that show a picture, in order."""
    return [axis.get_title() for axis in figure.axes if axis.images]


def _legend(axis):
    return [text.get_text() for text in axis.get_legend().get_texts()]


def _suptitle(figure):
    return figure._suptitle.get_text() if figure._suptitle is not None else None


def _same_colour(first, second):
    return matplotlib.colors.to_rgba(first) == matplotlib.colors.to_rgba(second)


@pytest.fixture(scope="module")
def tiny_model():
    return tiny_convnet(classes=2, filters=4, activation=None)


# ---------------------------------------------------------------- image_grid


def test_image_grid_captions_each_image_with_its_class_name():
    images = np.random.default_rng(0).random((5, 6, 6))
    figure = plots.image_grid(images, [2, 0, 1, 1, 0], ("cat", "dog", "bird"), columns=3, title="five pictures")
    assert len(figure.axes) == 6 and sum(bool(axis.images) for axis in figure.axes) == 5  # 2 rows of 3, one empty
    assert _titles(figure) == ["bird", "cat", "dog", "dog", "cat"]
    assert all(_same_colour(axis.title.get_color(), "black") for axis in figure.axes if axis.images)
    assert _suptitle(figure) == "five pictures"
    np.testing.assert_array_equal(figure.axes[3].images[0].get_array(), images[3])


def test_image_grid_titles_a_wrong_prediction_in_red_with_the_truth_in_brackets():
    figure = plots.image_grid(np.zeros((3, 4, 4)), [0, 1, 2], ("cat", "dog", "bird"), predictions=[0, 2, 2])
    assert _titles(figure) == ["cat", "bird\n(dog)", "bird"]
    colours = [axis.title.get_color() for axis in figure.axes if axis.images]
    assert [_same_colour(colour, "tab:red") for colour in colours] == [False, True, False]


def test_image_grid_without_class_names_uses_the_labels_as_captions():
    figure = plots.image_grid(np.zeros((3, 4, 4, 1)), ["0 px", "2 px", "4 px"])
    assert _titles(figure) == ["0 px", "2 px", "4 px"]
    assert _titles(plots.image_grid(np.zeros((2, 4, 4)), [7, 3])) == ["7", "3"]


def test_image_grid_without_labels_draws_pictures_only():
    figure = plots.image_grid(np.zeros((4, 4, 4, 3)), columns=2)
    assert len(figure.axes) == 4 and all(axis.images for axis in figure.axes)
    assert _titles(figure) == ["", "", "", ""] and _suptitle(figure) is None
    with pytest.raises(ValueError, match="pass labels too"):
        plots.image_grid(np.zeros((2, 4, 4)), class_names=("a", "b"))
    with pytest.raises(ValueError, match="pass labels too"):
        plots.image_grid(np.zeros((2, 4, 4)), predictions=[0, 1])


# ---------------------------------------------------------------- training runs: curves


def test_training_curves_draws_a_panel_per_metric_with_training_and_validation():
    from types import SimpleNamespace

    history = SimpleNamespace(history={"loss": [1.0, 0.8, 0.6], "val_loss": [1.1, 0.9, 0.95],
                                       "accuracy": [0.3, 0.5, 0.7], "val_accuracy": [0.25, 0.4, 0.45]})
    figure = plots.training_curves(history, title="a short run")
    assert len(figure.axes) == 2 and _suptitle(figure) == "a short run"
    for axis, metric in zip(figure.axes, ("loss", "accuracy")):
        assert axis.get_xlabel() == "epoch" and axis.get_ylabel() == metric
        assert _legend(axis) == ["training", "validation"]
        assert [list(line.get_ydata()) for line in axis.lines] == [history.history[metric],
                                                                  history.history[f"val_{metric}"]]
        np.testing.assert_array_equal(axis.lines[0].get_xdata(), [1, 2, 3])
    only_training = plots.training_curves({"loss": [1.0, 0.5]}, metrics=("loss",))
    assert len(only_training.axes) == 1 and _legend(only_training.axes[0]) == ["training"]
    assert len(only_training.axes[0].lines) == 1


def test_compare_histories_labels_its_axes_and_legend():
    histories = {"dense": {"val_accuracy": [0.3, 0.4]}, "convnet": {"val_accuracy": [0.4, 0.5, 0.6]}}
    axis = plots.compare_histories(histories, chance=0.1, title="two models").axes[0]
    assert axis.get_title() == "two models"
    assert axis.get_xlabel() == "epoch" and axis.get_ylabel() == "val accuracy"
    assert _legend(axis) == ["dense", "convnet", "chance"]
    assert [list(line.get_ydata()) for line in axis.lines[:2]] == [[0.3, 0.4], [0.4, 0.5, 0.6]]
    assert list(axis.lines[2].get_ydata()) == [0.1, 0.1]


def test_remedy_curves_share_axes_and_name_the_grey_baseline():
    histories = {"baseline": {"val_accuracy": [0.3, 0.4, 0.35]}, "dropout": {"val_accuracy": [0.3, 0.45, 0.5]},
                 "augmentation": {"val_accuracy": [0.2, 0.4, 0.55]}, "early stopping": {"val_accuracy": [0.3, 0.4]}}
    figure = plots.remedy_curves(histories, baseline="baseline", columns=2, title="remedies")
    assert _suptitle(figure) == "remedies\n(grey in every panel: baseline)"
    assert len(figure.axes) == 4
    shown = [axis for axis in figure.axes if axis.get_visible()]
    assert [axis.get_title() for axis in shown] == ["dropout", "augmentation", "early stopping"]
    for axis in shown:
        reference, curve = axis.lines
        assert list(reference.get_ydata()) == [0.3, 0.4, 0.35] and _same_colour(reference.get_color(), "0.6")
        assert list(curve.get_ydata()) == histories[axis.get_title()]["val_accuracy"]
        assert not _same_colour(curve.get_color(), "0.6")
        assert shown[0].get_shared_x_axes().joined(shown[0], axis)
        assert shown[0].get_shared_y_axes().joined(shown[0], axis)
    assert [axis.get_ylabel() for axis in shown] == ["val accuracy", "", "val accuracy"]  # first column
    assert shown[2].get_xlabel() == "epoch"  # bottom row
    assert shown[1].get_xlabel() == "epoch", "a column whose bottom slot is empty: its lowest panel has the axis"
    assert any(label.get_visible() for label in shown[1].get_xticklabels()), "and its tick labels"
    assert _suptitle(plots.remedy_curves(histories, baseline="dropout")) == "grey in every panel: dropout"


def test_accuracy_vs_shots_draws_the_mean_of_each_arm_and_its_band():
    rows = [dict(k=k, arm=arm, **{"test accuracy": accuracy}) for k, arm, accuracy in [
        (10, "scratch", 0.2), (10, "scratch", 0.3), (50, "scratch", 0.4), (50, "scratch", 0.5),
        (10, "transfer", 0.5), (10, "transfer", 0.6), (50, "transfer", 0.7), (50, "transfer", 0.8)]]
    axis = plots.accuracy_vs_shots(rows, chance=0.1, title="labels").axes[0]
    assert _legend(axis) == ["scratch", "transfer", "chance"]
    scratch, transfer, chance = axis.lines
    np.testing.assert_array_equal(scratch.get_xdata(), [10, 50])
    np.testing.assert_allclose(scratch.get_ydata(), [0.25, 0.45])
    np.testing.assert_allclose(transfer.get_ydata(), [0.55, 0.75])
    assert list(chance.get_ydata()) == [0.1, 0.1]
    bands = [collection.get_paths()[0].vertices[:, 1] for collection in axis.collections]
    assert len(bands) == 2
    assert (bands[0].min(), bands[0].max()) == pytest.approx((0.2, 0.5))  # the range over seeds
    assert (bands[1].min(), bands[1].max()) == pytest.approx((0.5, 0.8))
    assert axis.get_xscale() == "log" and axis.get_title() == "labels"
    assert axis.get_xlabel() == "labelled images per class (k)" and axis.get_ylabel() == "test accuracy"


def test_accuracy_vs_minutes_colours_by_chapter_and_names_each_recipe_once():
    points = [dict(label="small convnet", minutes=2.0, chapter="07", **{"test accuracy": 0.6}),
              dict(label="small convnet", minutes=3.0, chapter="07", **{"test accuracy": 0.7}),
              dict(label="resnet", minutes=30.0, chapter="12", **{"test accuracy": 0.85})]
    axis = plots.accuracy_vs_minutes(points, title="cost").axes[0]
    assert _legend(axis) == ["07", "12"]
    assert [len(collection.get_offsets()) for collection in axis.collections] == [2, 1]
    names = {text.get_text(): text.xy for text in axis.texts}
    assert set(names) == {"small convnet (2 runs)", "resnet"}
    assert names["small convnet (2 runs)"] == pytest.approx((2.0, 0.65))  # leftmost run, mean accuracy
    assert axis.get_xscale() == "log" and axis.get_title() == "cost"
    assert axis.get_xlabel() == "minutes of model.fit on the CPU" and axis.get_ylabel() == "test accuracy"


def test_confidence_histograms_draw_each_histogram_as_shares():
    axis = plots.confidence_histograms({"plain": [1, 1, 2], "mixup": [0, 2, 2]}, title="sure?").axes[0]
    steps = axis.patches
    assert len(steps) == 2 and _legend(axis) == ["plain", "mixup"]
    np.testing.assert_allclose(steps[0].get_data().values, [0.25, 0.25, 0.5])
    np.testing.assert_allclose(steps[1].get_data().values, [0.0, 0.5, 0.5])
    np.testing.assert_allclose(steps[0].get_data().edges, [0, 1 / 3, 2 / 3, 1])
    assert axis.get_xlabel() == "probability of the predicted class" and axis.get_ylabel() == "share of test images"
    assert axis.get_title() == "sure?"


def test_singular_values_draws_each_spectrum_largest_first_relative_to_its_largest():
    diagonal = np.diag([4.0, 2.0, 1.0])
    axis = plots.singular_values({"gradient": diagonal, "orthogonal": np.eye(3)}, title="spectra").axes[0]
    assert _legend(axis) == ["gradient", "orthogonal"]
    np.testing.assert_allclose(axis.lines[0].get_ydata(), [1.0, 0.5, 0.25])
    np.testing.assert_allclose(axis.lines[1].get_ydata(), [1.0, 1.0, 1.0])
    np.testing.assert_allclose(axis.lines[0].get_xdata(), [1, 2, 3])
    assert axis.get_yscale() == "log" and axis.get_title() == "spectra"
    assert axis.get_ylabel() == "singular value / largest"


@pytest.mark.parametrize("matrices, message", [({"g": np.zeros((3, 3))}, "all zeros"),
                                               ({"g": np.ones(4)}, "2-D array"),
                                               ([np.eye(2)], "non-empty dict")])
def test_singular_values_refuses_what_has_no_spectrum(matrices, message):
    with pytest.raises((TypeError, ValueError), match=message):
        plots.singular_values(matrices)


# ---------------------------------------------------------------- training runs: results


def test_confusion_matrix_names_the_classes_and_normalises_each_row():
    true, predicted, names = [0, 0, 1, 1, 2, 2, 2, 2], [0, 1, 1, 1, 2, 0, 2, 2], ("cat", "dog", "bird")
    figure = plots.confusion_matrix(true, predicted, names, title="who is who")
    axis = figure.axes[0]
    assert len(figure.axes) == 2  # the matrix and its colour bar
    assert [label.get_text() for label in axis.get_xticklabels()] == list(names)
    assert [label.get_text() for label in axis.get_yticklabels()] == list(names)
    assert axis.get_xlabel() == "predicted" and axis.get_ylabel() == "true" and axis.get_title() == "who is who"
    matrix = np.asarray(axis.images[0].get_array())
    np.testing.assert_allclose(matrix.sum(axis=1), [1, 1, 1])
    np.testing.assert_allclose(matrix, [[0.5, 0.5, 0], [0, 1, 0], [0.25, 0, 0.75]])
    assert [text.get_text() for text in axis.texts] == ["0.50", "0.50", "0.00", "0.00", "1.00", "0.00",
                                                        "0.25", "0.00", "0.75"]
    assert axis.texts[5].get_position() == (2, 1)  # row = true class, column = predicted class
    counts = plots.confusion_matrix(true, predicted, names, normalize=False).axes[0]
    np.testing.assert_array_equal(counts.images[0].get_array(), [[1, 1, 0], [0, 2, 0], [1, 0, 3]])
    assert [text.get_text() for text in counts.texts] == ["1", "1", "0", "0", "2", "0", "1", "0", "3"]


def test_mistakes_grid_colours_mistakes_red_and_shows_its_title():
    images = np.zeros((4, 4, 4))
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    labels = np.array([0, 0, 0, 1])
    figure = plots.mistakes_grid(images, labels, probabilities, ("cat", "dog"), count=1, title="worst")
    assert _suptitle(figure) == "worst" and _titles(figure) == ["dog (0.80)\ntrue: cat"]
    chosen = plots.mistakes_grid(images, labels, probabilities, ("cat", "dog"), indices=[2, 3])
    assert _titles(chosen) == ["dog (0.60)\ntrue: cat", "dog (0.70)\ntrue: dog"]
    colours = [axis.title.get_color() for axis in chosen.axes if axis.images]
    assert _same_colour(colours[0], "tab:red") and _same_colour(colours[1], "black")


def test_class_bars_label_the_series_and_the_value_axis():
    figure = plots.class_bars({"a": [0.1, 0.5, 0.9], "b": [0.2, 0.4, 0.6]}, ("x", "y", "z"), title="per class")
    axis = figure.axes[0]
    assert _legend(axis) == ["a", "b"]
    assert [bar.get_height() for bar in axis.patches[3:]] == pytest.approx([0.2, 0.4, 0.6])
    assert axis.patches[0].get_x() < axis.patches[3].get_x()  # a's bar left of b's in each group
    assert axis.get_ylabel() == "accuracy" and axis.get_ylim() == (0, 1) and axis.get_title() == "per class"
    other = plots.class_bars({"a": [3.0, 1.0]}, ("x", "y"), ylabel="logit", ylim=(0, 4)).axes[0]
    assert other.get_ylabel() == "logit" and other.get_ylim() == (0, 4) and other.get_title() == ""


# ---------------------------------------------------------------- chapter 2, why convnets


def test_accuracy_vs_shift_labels_its_axes_and_marks_each_shift():
    axis = plots.accuracy_vs_shift([0, 2, 4], {"dense": [0.8, 0.6, 0.3]}, title="moved").axes[0]
    assert axis.get_title() == "moved"
    assert axis.get_xlabel() == "shift of the test images (pixels)" and axis.get_ylabel() == "test accuracy"
    np.testing.assert_array_equal(axis.get_xticks(), [0, 2, 4])
    assert axis.get_ylim() == (0, 1) and _legend(axis) == ["dense"]


def test_shifted_predictions_without_labels_lists_the_top_classes_in_blue():
    images = np.zeros((1, 6, 6))
    images[0, 0, 0] = 1.0
    figure = plots.shifted_predictions(images, {"model": _BrightnessModel()}, ("zero", "one", "two"), top=3)
    original, shifted, bars = figure.axes
    assert original.get_title() == "image 0" and shifted.get_title() == "shifted by (0, 0)"
    assert [label.get_text() for label in bars.get_yticklabels()] == ["zero", "two", "one"]  # most likely first
    assert [bar.get_width() for bar in bars.patches] == pytest.approx([0.85, 0.1, 0.05])
    assert all(_same_colour(bar.get_facecolor(), "tab:blue") for bar in bars.patches)
    assert bars.get_title() == "model: zero" and bars.get_xlabel() == "probability"


# ---------------------------------------------------------------- chapter 3, convolution


def test_filter_gallery_shows_the_original_then_each_filter_on_the_0_255_scale():
    image = np.arange(64, dtype=float).reshape(8, 8) * 4  # 0..252
    identity = np.zeros((3, 3))
    identity[1, 1] = 1
    figure = plots.filter_gallery(image, {"identity": identity, "double": 2 * identity}, title="filters")
    assert len(figure.axes) == 3 and _suptitle(figure) == "filters"
    assert _titles(figure) == ["original", "identity\n[0, 252] → clip", "double\n[0, 504] → clip"]
    assert all(axis.images[0].get_clim() == (0, 255) for axis in figure.axes)  # one scale: brightness compares
    assert not any(axis.axison for axis in figure.axes)
    np.testing.assert_array_equal(figure.axes[2].images[0].get_array(), np.clip(2 * image, 0, 255))
    rescaled = plots.filter_gallery(image, {"double": 2 * identity}, method="rescale")
    assert _titles(rescaled)[1] == "double\n[0, 504] → rescale"
    assert np.asarray(rescaled.axes[1].images[0].get_array()).max() == 255


def test_matrix_grid_titles_each_matrix_and_scales_it_on_its_own():
    matrices = [np.ones((2, 2)), np.arange(4.0).reshape(2, 2) * 10, -np.arange(9.0).reshape(3, 3)]
    figure = plots.matrix_grid(matrices, titles=["ones", "tens", "negative"], columns=2, title="three")
    assert len(figure.axes) == 4 and _suptitle(figure) == "three"
    assert _titles(figure) == ["ones", "tens", "negative"]
    assert [axis.images[0].get_clim() for axis in figure.axes if axis.images] == [(1, 1), (0, 30), (-8, 0)]
    assert not figure.axes[3].images and not figure.axes[3].axison
    assert _titles(plots.matrix_grid(matrices)) == ["", "", ""]


def test_matrix_grid_puts_every_panel_on_one_scale_when_asked():
    matrices = [np.ones((2, 2)), np.full((2, 2), 0.5)]
    figure = plots.matrix_grid(matrices, value_range=(0, 1))
    assert [axis.images[0].get_clim() for axis in figure.axes] == [(0, 1), (0, 1)]
    for value_range, error in (((1, 0), ValueError), ("01", TypeError), ((0, 1, 2), TypeError)):
        with pytest.raises(error, match="value_range"):
            plots.matrix_grid(matrices, value_range=value_range)
    with pytest.raises(ValueError, match="one title per matrix"):
        plots.matrix_grid(matrices, titles=["only one"])


# ---------------------------------------------------------------- chapter 6, architectures


def test_parameter_bars_names_each_layer_and_marks_the_largest(tiny_model):
    axis = plots.parameter_bars(tiny_model).axes[0]
    assert [label.get_text() for label in axis.get_yticklabels()] == ["conv (Conv2D)", "flat (Flatten)",
                                                                      "out (Dense)"]
    assert [bar.get_width() for bar in axis.patches] == [40, 0, 290]
    assert [_same_colour(bar.get_facecolor(), "tab:orange") for bar in axis.patches] == [False, False, True]
    assert [text.get_text().strip() for text in axis.texts] == ["40 (12.1%)", "0", "290 (87.9%)"]
    assert axis.get_xlabel() == "parameters" and axis.get_title() == "tiny: 330 parameters"


def test_model_diagram_draws_a_box_per_layer_with_its_shape_and_parameters(tiny_model):
    axis = plots.model_diagram(tiny_model).axes[0]
    boxes = [text.get_text() for text in axis.texts if text.get_text()]
    assert boxes == ["input\n8×8×1\n", "conv (Conv2D)\n6×6×4\n40 parameters", "flat (Flatten)\n144\n0 parameters",
                     "out (Dense)\n2\n290 parameters"]
    assert len(axis.patches) == 4
    arrows = [text for text in axis.texts if isinstance(text, matplotlib.text.Annotation)]
    assert len(arrows) == 3
    assert axis.get_title() == "tiny: 330 parameters"
    wrapped = plots.model_diagram(tiny_model, per_row=2, title="wrapped").axes[0]
    assert wrapped.get_title() == "wrapped"
    assert len({patch.get_y() for patch in wrapped.patches}) == 2  # two rows of two boxes


# ---------------------------------------------------------------- chapter 9, feature maps


def test_feature_map_grid_numbers_each_map_marks_empty_ones_and_scales_each_on_its_own():
    maps = np.zeros((4, 4, 3))
    maps[:, :, 0] = np.arange(16).reshape(4, 4)
    maps[0, 0, 2] = 0.5
    figure = plots.feature_map_grid(maps, columns=2, title="maps")
    assert len(figure.axes) == 4 and _suptitle(figure) == "maps"
    assert _titles(figure) == ["0", "1: off", "2"]
    assert [axis.images[0].get_clim() for axis in figure.axes if axis.images] == [(0, 15), (0, 0), (0, 0.5)]
    np.testing.assert_array_equal(figure.axes[2].images[0].get_array(), maps[:, :, 2])


def test_feature_map_figure_draws_the_layers_maps_under_a_title_naming_them(tiny_model):
    from cnncourse import features

    image = np.random.default_rng(1).random((8, 8, 1))
    figure = plots.feature_map_figure(tiny_model, image, "conv")
    assert _suptitle(figure) == "conv: 4 feature maps of 6×6"
    assert len(figure.axes) == 4 and len(_titles(figure)) == 4
    maps = features.feature_maps(tiny_model, image, "conv")
    for index, axis in enumerate(figure.axes):
        assert axis.get_title() in (str(index), f"{index}: off")
        np.testing.assert_allclose(axis.images[0].get_array(), maps[:, :, index])
    by_index = plots.feature_map_figure(tiny_model, image, 0, columns=2, title="first layer")
    assert _suptitle(by_index) == "first layer" and len(by_index.axes) == 4


def test_feature_hierarchy_shows_each_layers_most_active_maps_row_by_row():
    import keras

    from cnncourse import features

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((12, 12, 1)), keras.layers.Conv2D(4, 3, activation="relu", name="c1"),
                              keras.layers.MaxPooling2D(name="p1"), keras.layers.Conv2D(6, 3, name="c2")])
    image = np.random.default_rng(1).random((12, 12, 1))
    figure = plots.feature_hierarchy(model, image, ["c1", "c2"], maps=5, title="hierarchy")
    assert _suptitle(figure) == "hierarchy" and len(figure.axes) == 2 * 6
    labels = [text.get_text() for axis in figure.axes for text in axis.texts]
    assert labels == ["c1\n10×10\n4 maps", "c2\n3×3\n6 maps"]
    for row, layer in ((0, "c1"), (1, "c2")):
        maps = features.feature_maps(model, image, layer)
        chosen = np.argsort(-maps.mean(axis=(0, 1)), kind="stable")[:5]
        panels = figure.axes[row * 6 + 1:(row + 1) * 6]
        drawn = [axis for axis in panels if axis.images]
        assert [axis.get_title() for axis in drawn] == [str(index) for index in chosen]
        for axis, index in zip(drawn, chosen):
            np.testing.assert_allclose(axis.images[0].get_array(), maps[:, :, index])
    assert len([axis for axis in figure.axes[1:6] if axis.images]) == 4, "c1 has only 4 maps: one panel stays empty"
    for bad, error in (("c1", TypeError), ([], TypeError), (["flat"], ValueError)):
        with pytest.raises(error):
            plots.feature_hierarchy(model, image, bad)


def _stretched(weights):
    return (weights - weights.min()) / (weights.max() - weights.min())


def test_kernel_figure_titles_each_colour_filter_with_its_number():
    kernel = np.random.default_rng(2).normal(size=(3, 3, 3, 5))
    figure = plots.kernel_figure(kernel, columns=5, title="five filters")
    assert _titles(figure) == ["0", "1", "2", "3", "4"]
    assert _suptitle(figure) == "five filters"
    np.testing.assert_allclose(figure.axes[3].images[0].get_array(), _stretched(kernel[:, :, :, 3]))
    chosen = plots.kernel_figure(kernel, filters=[4, 1])
    assert _titles(chosen) == ["4", "1"]
    np.testing.assert_allclose(chosen.axes[0].images[0].get_array(), _stretched(kernel[:, :, :, 4]))


def test_kernel_figure_per_channel_shares_one_symmetric_colour_scale():
    kernel = np.random.default_rng(3).normal(size=(3, 3, 3, 4))
    kernel[0, 0, 1, 3] = 50.0  # filter 3 is not shown: it must not set the scale
    figure = plots.kernel_figure(kernel, per_channel=True, filters=[2, 0], title="by channel")
    panels = [axis for axis in figure.axes if axis.images]
    assert len(panels) == 6 and _suptitle(figure) == "by channel"  # 3 channels × 2 filters
    assert [axis.get_title() for axis in panels] == ["2", "0", "", "", "", ""]  # the numbers head the columns
    assert [axis.get_ylabel() for axis in panels] == ["red", "", "green", "", "blue", ""]
    limit = np.abs(kernel[:, :, :, [2, 0]]).max()
    assert all(axis.images[0].get_clim() == pytest.approx((-limit, limit)) for axis in panels)
    np.testing.assert_array_equal(panels[3].images[0].get_array(), kernel[:, :, 1, 0])
    colour_bar = panels[-1].images[0].colorbar
    assert colour_bar is not None and colour_bar.ax.get_ylabel() == "weight"


def test_kernel_figure_takes_a_conv_layer_and_names_other_channels(tiny_model):
    figure = plots.kernel_figure(tiny_model.get_layer("conv"), per_channel=True)
    panels = [axis for axis in figure.axes if axis.images]
    assert [axis.get_title() for axis in panels] == ["0", "1", "2", "3"]
    assert panels[0].get_ylabel() == "channel 0"
    named = plots.kernel_figure(tiny_model.get_layer("conv"), per_channel=True, filters=[1], channel_names=["grey"])
    assert [(axis.get_title(), axis.get_ylabel()) for axis in named.axes if axis.images] == [("1", "grey")]


def test_confusion_matrix_of_mistakes_only_counts_them_and_leaves_the_diagonal_out():
    true_labels = np.array([0] * 50 + [1] * 50 + [2] * 50)
    predicted = true_labels.copy()
    predicted[:3] = 1  # three 0s taken for 1s
    predicted[50] = 2  # one 1 taken for a 2
    axis = plots.confusion_matrix(true_labels, predicted, ["a", "b", "c"], mistakes_only=True).axes[0]
    shown = np.ma.getdata(axis.images[0].get_array())
    assert np.isnan(np.diag(shown)).all(), "the diagonal is left out"
    assert shown[0, 1] == 3 and shown[1, 2] == 1 and np.nansum(shown) == 4, "counts of mistakes"
    texts = {(round(text.get_position()[1]), round(text.get_position()[0])): text.get_text() for text in axis.texts}
    assert texts[(0, 1)] == "3" and (0, 0) not in texts
    assert axis.images[0].get_clim()[1] == 3, "the colour scale spans the mistakes, not the diagonal"
    with pytest.raises(TypeError, match="mistakes_only must be True or False"):
        plots.confusion_matrix(true_labels, predicted, ["a", "b", "c"], mistakes_only="yes")
