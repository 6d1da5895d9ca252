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
