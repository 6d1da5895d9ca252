"""Every figure of the course, grouped in the order the chapters first use them.

Every function returns the Matplotlib figure (and closes nothing), so a
notebook shows it once and a test can inspect it.
"""

from __future__ import annotations

import itertools

import keras
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import ticker

from cnncourse import _validate, features, models, ops, training

__all__ = [
    "DISPLAY_METHODS",
    "accuracy_vs_minutes",
    "accuracy_vs_shift",
    "accuracy_vs_shots",
    "class_bars",
    "compare_histories",
    "confidence_histograms",
    "confusion_matrix",
    "displayable",
    "feature_map_figure",
    "feature_hierarchy",
    "feature_map_grid",
    "filter_gallery",
    "image_grid",
    "kernel_figure",
    "matrix_grid",
    "mistakes_grid",
    "model_diagram",
    "parameter_bars",
    "pooling_windows",
    "remedy_curves",
    "shifted_predictions",
    "singular_values",
    "sliding_windows",
    "training_curves",
]


# ---------------------------------------------------------------- every chapter: images, curves, results


def _as_display_image(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Drop a single channel axis and pick a colour map for grey images."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return image, "gray"
    if image.ndim == 3 and image.shape[-1] == 3:
        low, high = float(image.min()), float(image.max())
        if low < 0 or high > 1:  # e.g. [-0.5, 0.5] or 0..255: stretch into [0, 1] for imshow
            image = (image - low) / (high - low or 1.0)
        return image, None
    raise ValueError(f"an image must be (H, W), (H, W, 1) or (H, W, 3), got shape {image.shape}")


_BOOK_FIGURE_PIXELS = 688  # how wide the book shows a figure on a 1280-px screen (its text column)
_SMALLEST_TEXT_PIXELS = 9


def _legible_points(figure_width: float, points: float) -> float:
    """A font size of at least ``points``, larger if the figure is so wide (inches) that the book's
    shrinking it to its column would leave the text under 9 pixels."""
    return max(points, _SMALLEST_TEXT_PIXELS * 72 * figure_width / _BOOK_FIGURE_PIXELS)


def _captioned_grid(images, captions, colours, columns: int, size: float, title: str | None):
    """The one grid every image figure uses: pictures left to right, a caption on each."""
    columns = _validate.positive_int(columns, "columns", example="8")
    size = _validate.positive_number(size, "size")
    count = len(images)
    columns = min(columns, count)
    rows = int(np.ceil(count / columns))
    fontsize = _legible_points(size * columns, 9)
    caption_lines = max(str(caption).count("\n") + 1 for caption in captions) if captions else 0
    row_height = size + caption_lines * fontsize * 1.3 / 72  # a line of text is about 1.3 times its size
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, row_height * rows + (0.4 if title else 0)),
                                squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.set_axis_off()
        if index >= count:
            continue
        picture, colour_map = _as_display_image(images[index])
        axis.imshow(picture, cmap=colour_map)
        if captions is not None:
            axis.set_title(captions[index], fontsize=fontsize, color=colours[index])
    if title:
        figure.suptitle(title, fontsize=_legible_points(size * columns, 12))
    figure.tight_layout()
    return figure


def _finished(figure, axis, xlabel: str, ylabel: str, title: str | None, *, legend_size: int = 10,
              legend_at: str = "best", minor_grid: bool = True):
    """The course's look for a one-axis plot: labels, grid, legend and title, at sizes legible in the book."""
    axis.set_xlabel(xlabel, fontsize=11)
    axis.set_ylabel(ylabel, fontsize=11)
    axis.tick_params(labelsize=10)
    axis.grid(alpha=0.3, which="both" if minor_grid else "major")
    axis.legend(fontsize=legend_size, loc=legend_at)
    if title:
        axis.set_title(title, fontsize=12)
    figure.tight_layout()
    return figure


def image_grid(images, labels=None, class_names=None, predictions=None, columns: int = 8,
               size: float = 1.4, title: str | None = None):
    """Show images in a grid, titled with their class (and prediction, if given).

    A wrong prediction is titled in red as "predicted (true)", so mistakes
    stand out at a glance.
    """
    images = _validate.finite_array(images, "images")
    if images.ndim not in (3, 4):
        raise ValueError(f"images must be a batch (N, H, W[, C]), got shape {images.shape}")
    captions = colours = None
    if labels is not None:
        if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__") or len(labels) != len(images):
            raise ValueError(f"labels must give one label per image ({len(images)}), got {labels!r}")
        if class_names is not None:  # labels are class numbers; without names they are captions as they are
            numbers = _validate.class_labels(labels, "labels")
            labels = _validate.class_labels(labels, "labels", len(_validate.class_names(class_names, labels=numbers)))
            if predictions is not None:
                predictions = _validate.class_labels(predictions, "predictions", len(class_names))
                _validate.same_length(predictions, labels, "predictions", "labels")
    elif class_names is not None or predictions is not None:
        raise ValueError("class_names and predictions go with labels: pass labels too (one class number per image)")
    if labels is not None:
        name = (lambda label: class_names[int(label)]) if class_names is not None else str
        captions, colours = [], []
        for index, label in enumerate(labels[:len(images)]):
            caption, colour = name(label), "black"
            if predictions is not None and predictions[index] != label:
                caption, colour = f"{name(predictions[index])}\n({caption})", "tab:red"
            captions.append(caption)
            colours.append(colour)
    return _captioned_grid(images, captions, colours, columns, size, title)


def training_curves(history, metrics=("loss", "accuracy"), title: str | None = None):
    """Plot each metric per epoch, training and validation side by side.

    ``history`` is what ``model.fit`` returns, or its ``.history`` dict. The
    gap between the two curves is how overfitting shows itself.
    """
    values = _validate.history(history)
    missing = [metric for metric in metrics if metric not in values]
    if missing:
        raise ValueError(f"history has no {missing}; it records {sorted(values)}")
    figure, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
    for axis, metric in zip(axes.flat, metrics):
        epochs = np.arange(1, len(values[metric]) + 1)
        axis.plot(epochs, values[metric], "o-", label="training")
        if f"val_{metric}" in values:
            axis.plot(epochs, values[f"val_{metric}"], "s--", label="validation")
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(plt.MaxNLocator(integer=True))  # epochs are whole numbers
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def compare_histories(histories: dict, metric: str = "val_accuracy", title: str | None = None,
                      chance: float | None = None):
    """One curve per run of the same metric, epoch by epoch, to compare models or recipes.

    ``histories`` maps a label to what ``model.fit`` returns (or its
    ``.history`` dict); runs may have different numbers of epochs.
    """
    if not isinstance(histories, dict) or not histories:
        raise TypeError("histories must be a non-empty dict {label: history}")
    if chance is not None:
        chance = _validate.number(chance, "chance", minimum=0.0, maximum=1.0)
    for label, history in histories.items():
        _validate.history(history, f"histories[{label!r}]")
    figure, axis = plt.subplots(figsize=(6, 3.4))
    styles = ("-", "--", "-.", ":")  # identical runs still show as two lines
    for number, (label, history) in enumerate(histories.items()):
        values = _validate.history(history, f"the history of {label!r}")
        if metric not in values:
            recorded = sorted(values)
            raise ValueError(f"the history of {label!r} has no {metric!r}; it records {recorded}")
        axis.plot(np.arange(1, len(values[metric]) + 1), values[metric], marker="o", markersize=3,
                  linestyle=styles[number % len(styles)], label=str(label))
    if chance is not None:
        axis.axhline(chance, color="0.5", linestyle=":", label="chance")
    axis.set_xlabel("epoch")
    axis.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    axis.set_ylabel(metric.replace("_", " "))
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return figure


def remedy_curves(histories: dict, baseline: str, metric: str = "val_accuracy", columns: int = 3,
                  title: str | None = None):
    """One small panel per variant: its curve in colour over the baseline's in grey.

    Ten curves on one axis are a tangle; against a shared reference each
    remedy's effect (higher, later, flatter) reads at a glance. All panels
    share their axes, so panels can be compared with each other too.
    """
    if not isinstance(histories, dict) or len(histories) < 2:
        raise TypeError("histories must be a dict {label: history} with the baseline and at least one variant")
    if baseline not in histories:
        raise ValueError(f"baseline {baseline!r} is not one of the labels {list(histories)}")
    columns = _validate.positive_int(columns, "columns", example="3")
    values = {label: _validate.history(history, f"the history of {label!r}") for label, history in histories.items()}
    for label, history in values.items():
        if metric not in history:
            raise ValueError(f"the history of {label!r} has no metric {metric!r}; it records {sorted(history)}")
    variants = [label for label in values if label != baseline]
    rows = -(-len(variants) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.5 * rows + 0.4), sharex=True, sharey=True,
                                squeeze=False)
    reference = values[baseline][metric]
    for axis, label in zip(axes.flat, variants):
        axis.plot(np.arange(1, len(reference) + 1), reference, color="0.6", linewidth=1.5, label=baseline)
        curve = values[label][metric]
        axis.plot(np.arange(1, len(curve) + 1), curve, color="tab:blue", linewidth=2, label=label)
        axis.set_title(label, fontsize=11)
        axis.grid(alpha=0.3)
        axis.tick_params(labelsize=9)
    for axis in axes.flat[len(variants):]:
        axis.set_visible(False)
    for column in range(columns):  # the lowest panel drawn in each column carries the epoch axis
        shown = [axis for axis in axes[:, column] if axis.get_visible()]
        if shown:
            shown[-1].set_xlabel("epoch", fontsize=10)
            shown[-1].xaxis.set_tick_params(labelbottom=True)
    for axis in axes[:, 0]:
        axis.set_ylabel(metric.replace("_", " "), fontsize=10)
    axes.flat[0].xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    key = f"grey in every panel: {baseline}"
    figure.suptitle(f"{title}\n({key})" if title else key, fontsize=12)
    figure.tight_layout()
    return figure


def accuracy_vs_shots(rows, *, chance: float | None = None, title: str | None = None):
    """Test accuracy against labelled images per class, one line per arm: the mean over seeds, the band their range.

    ``rows`` are dicts with "k", "arm" and "test accuracy" (what
    ``cc.transfer.compare_arms`` returns). The x axis is logarithmic: going
    from 10 to 50 labels matters as much as from 200 to 1,000.
    """
    if not rows or not all(isinstance(row, dict) and {"k", "arm", "test accuracy"} <= set(row) for row in rows):
        raise TypeError("rows must be a non-empty list of dicts with 'k', 'arm' and 'test accuracy'")
    for row in rows:
        _validate.positive_int(row["k"], "rows: each row's 'k' (labelled images per class)", example="10")
        _validate.number(row["test accuracy"], "rows: each row's 'test accuracy'", minimum=0.0, maximum=1.0)
    if chance is not None:
        chance = _validate.number(chance, "chance", minimum=0.0, maximum=1.0)
    figure, axis = plt.subplots(figsize=(6.4, 4))
    for number, arm in enumerate(dict.fromkeys(row["arm"] for row in rows)):
        shots = sorted({row["k"] for row in rows if row["arm"] == arm})
        values = [[row["test accuracy"] for row in rows if row["arm"] == arm and row["k"] == k] for k in shots]
        mean = [float(np.mean(group)) for group in values]
        line, = axis.plot(shots, mean, marker="os^vD"[number % 5], linewidth=2, label=arm)
        axis.fill_between(shots, [min(group) for group in values], [max(group) for group in values],
                          color=line.get_color(), alpha=0.15)
    if chance is not None:
        axis.axhline(chance, color="0.5", linestyle=":", label="chance")
    axis.set_xscale("log")
    return _finished(figure, axis, "labelled images per class (k)", "test accuracy", title)


def accuracy_vs_minutes(points, *, title: str | None = None):
    """Test accuracy against minutes of training, one point per run, coloured by chapter.

    ``points`` are dicts with "label", "minutes", "test accuracy" and
    "chapter". Runs that share a label (seeds of one recipe) are named once,
    with their count. The x axis is logarithmic: a run twice as long is one
    step further right wherever it sits.
    """

    if not isinstance(points, (list, tuple)) or not points or not all(
            isinstance(point, dict) and {"label", "minutes", "test accuracy", "chapter"} <= set(point)
            for point in points):
        raise TypeError("points must be a non-empty list of dicts with 'label', 'minutes', 'test accuracy' and "
                        "'chapter'")
    for point in points:
        _validate.positive_number(point["minutes"], "points: each point's 'minutes'")
        _validate.number(point["test accuracy"], "points: each point's 'test accuracy'", minimum=0.0, maximum=1.0)
    figure, axis = plt.subplots(figsize=(7.2, 4.6))
    for number, chapter in enumerate(dict.fromkeys(point["chapter"] for point in points)):
        chosen = [point for point in points if point["chapter"] == chapter]
        axis.scatter([point["minutes"] for point in chosen], [point["test accuracy"] for point in chosen],
                     s=60, marker="os^vD"[number % 5], label=chapter, zorder=3, alpha=0.85)
    for label in dict.fromkeys(point["label"] for point in points):
        runs = [point for point in points if point["label"] == label]
        first = min(runs, key=lambda point: point["minutes"])
        name = label if len(runs) == 1 else f"{label} ({len(runs)} runs)"
        axis.annotate(name, (first["minutes"], np.mean([point["test accuracy"] for point in runs])),
                      xytext=(-8, 8), textcoords="offset points", fontsize=9, ha="right")
    minutes = [point["minutes"] for point in points]
    axis.set_ylim(top=min(1.0, max(point["test accuracy"] for point in points) + 0.06))  # room for the top name
    axis.set_xscale("log")
    axis.set_xlim(min(minutes) / 3, max(minutes) * 1.5)  # room for the names, written left of their points
    axis.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.xaxis.set_minor_formatter(ticker.NullFormatter())
    return _finished(figure, axis, "minutes of model.fit on the CPU", "test accuracy", title, legend_size=9,
                     legend_at="lower right")


def confidence_histograms(histograms: dict, *, title: str | None = None):
    """How sure a network is of its answers: the share of test images at each top-class probability.

    ``histograms`` maps a label to counts in equal bins between 0 and 1
    (what ``cc.recipe_runs.result`` rows hold as "confidence histogram").
    """
    if not isinstance(histograms, dict) or not histograms:
        raise TypeError("histograms must be a non-empty dict of label: counts per confidence bin")
    figure, axis = plt.subplots(figsize=(6.4, 3.6))
    for label, counts in histograms.items():
        counts = _validate.finite_array(counts, f"histograms[{label!r}]")
        if counts.ndim != 1 or len(counts) < 2 or np.any(counts < 0) or counts.sum() == 0:
            raise ValueError(f"histograms[{label!r}] must be counts (at least 2 bins, not all zero); got {counts}")
        edges = np.linspace(0, 1, len(counts) + 1)
        axis.stairs(counts / counts.sum(), edges, linewidth=2, label=label)
    return _finished(figure, axis, "probability of the predicted class", "share of test images", title,
                     legend_at="upper left", minor_grid=False)


def singular_values(matrices: dict, *, title: str | None = None):
    """The singular values of each matrix, largest first, each divided by its largest (log scale).

    A gradient whose few top values tower over the rest changes the weights
    in a few directions only; an orthogonalized update (``cc.modern.newton_schulz``)
    has them all near one another. ``matrices`` maps a label to a 2-D array.
    """
    if not isinstance(matrices, dict) or not matrices:
        raise TypeError("matrices must be a non-empty dict of label: 2-D array, such as {'gradient': gradient}")
    spectra = {}
    for label, matrix in matrices.items():
        matrix = _validate.finite_array(matrix, f"matrices[{label!r}]")
        if matrix.ndim != 2 or min(matrix.shape) < 2:
            raise ValueError(f"matrices[{label!r}] must be a 2-D array with at least 2 rows and 2 columns; got "
                             f"shape {matrix.shape}")
        values = np.linalg.svd(matrix.astype(np.float64), compute_uv=False)
        if values[0] == 0:
            raise ValueError(f"matrices[{label!r}] is all zeros: it has no directions to compare")
        spectra[label] = np.maximum(values / values[0], 1e-12)  # a rank-deficient matrix: a floor, not log(0)
    figure, axis = plt.subplots(figsize=(6.4, 3.6))
    for label, values in spectra.items():
        axis.plot(np.arange(1, len(values) + 1), values, linewidth=2, label=label)
    axis.set_yscale("log")
    return _finished(figure, axis, "direction (largest singular value first)", "singular value / largest", title,
                     legend_at="lower left")


def confusion_matrix(true_labels, predicted_labels, class_names, normalize: bool = True, title: str | None = None,
                     mistakes_only: bool = False):
    """Rows are the true class, columns the predicted one; the diagonal is right.

    With ``normalize`` each row sums to 1, so the diagonal reads as per-class
    accuracy (recall) even when classes have different sizes. A very good
    network's matrix is all diagonal, its few mistakes too pale to see:
    ``mistakes_only=True`` leaves the diagonal out (grey) and colours the
    *counts* of mistakes, so the confusions stand out.
    """
    _validate.flag(mistakes_only, "mistakes_only")
    _validate.flag(normalize, "normalize")
    for labels, what in ((true_labels, "true_labels"), (predicted_labels, "predicted_labels")):
        _validate.class_names(class_names, labels=_validate.class_labels(labels, what), labels_what=what)
    count = len(class_names)
    true_labels = _validate.class_labels(true_labels, "true_labels", count)
    predicted_labels = _validate.class_labels(predicted_labels, "predicted_labels", count)
    _validate.same_length(predicted_labels, true_labels, "predicted_labels", "true_labels")
    matrix = np.zeros((count, count))
    np.add.at(matrix, (true_labels, predicted_labels), 1)
    if mistakes_only:
        normalize = False  # counts: a share of a share would hide how few the mistakes are
        np.fill_diagonal(matrix, np.nan)
    elif normalize:
        matrix = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(0.55 * count + 2.5, 0.55 * count + 2))
    colours = plt.get_cmap("Blues").with_extremes(bad="0.85")
    image = axis.imshow(matrix, cmap=colours)
    axis.set_xticks(range(count), class_names, rotation=60, ha="right", fontsize=10)
    axis.set_yticks(range(count), class_names, fontsize=10)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    for (row, column), value in np.ndenumerate(matrix):
        if np.isnan(value):
            continue
        text = f"{value:.2f}" if normalize else f"{int(value)}"
        axis.text(column, row, text, ha="center", va="center", fontsize=8.5,
                  color="white" if value > np.nanmax(matrix) / 2 else "black")
    figure.colorbar(image, ax=axis, fraction=0.046)
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return figure


def mistakes_grid(images, true_labels, probabilities, class_names, indices=None, count: int = 12,
                  columns: int = 6, size: float = 1.5, title: str | None = None):
    """Show wrongly classified images, captioned "predicted (probability) / true: class".

    Without ``indices`` it shows the ``count`` mistakes the model was surest
    about (``cnncourse.training.most_confident_mistakes``): a confident
    mistake says more about what the network learned than a hesitant one.
    """
    images = _validate.finite_array(images, "images")
    class_names = _validate.class_names(class_names)
    true_labels = _validate.class_labels(true_labels, "true_labels", len(class_names))
    _validate.same_length(true_labels, images, "true_labels", "images")
    probabilities = _validate.probabilities(probabilities, "probabilities", len(images), len(class_names))
    if indices is None:
        indices = training.most_confident_mistakes(true_labels, probabilities, count)
    indices = np.asarray(indices, dtype=int)
    if len(indices) == 0:
        raise ValueError("there are no mistakes to show: every image was classified correctly")
    predicted = probabilities[indices].argmax(axis=1)
    captions = [f"{class_names[p]} ({probabilities[i, p]:.2f})\ntrue: {class_names[true_labels[i]]}"
                for i, p in zip(indices, predicted)]
    colours = ["black" if p == true_labels[i] else "tab:red" for i, p in zip(indices, predicted)]
    return _captioned_grid(images[indices], captions, colours, columns, size, title)


def class_bars(values: dict, class_names, ylabel: str = "accuracy", ylim=(0, 1), title: str | None = None):
    """Grouped bars: one group per class, one bar per series (per-class accuracy, one image's outputs...)."""
    if not isinstance(values, dict) or not values:
        raise TypeError("values must be a non-empty dict {label: one number per class}")
    class_names = _validate.class_names(class_names)
    series = {label: _validate.finite_array(numbers, f"values[{label!r}]", allow_nan=True)
              for label, numbers in values.items()}  # NaN: no value for that class (an F1 never defined)
    for label, numbers in series.items():
        if numbers.shape != (len(class_names),):
            raise ValueError(f"values[{label!r}] has shape {numbers.shape}, but class_names has "
                             f"{len(class_names)} names: give one value per class")
    width = 0.8 / len(series)
    positions = np.arange(len(class_names))
    figure, axis = plt.subplots(figsize=(max(6, 0.7 * len(class_names)), 3.4))
    for number, (label, numbers) in enumerate(series.items()):
        axis.bar(positions + (number - (len(series) - 1) / 2) * width, numbers, width, label=str(label))
    axis.set_xticks(positions, class_names, rotation=30, ha="right", fontsize=8)
    axis.set_ylabel(ylabel)
    if ylim is not None:
        axis.set_ylim(*ylim)
    axis.grid(alpha=0.3, axis="y")
    axis.legend(fontsize=8)
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return figure


# ---------------------------------------------------------------- chapter 2, why convnets: shifted images


def accuracy_vs_shift(shifts, accuracies, chance: float | None = None, title: str | None = None):
    """Test accuracy of several models against how far the test images were moved.

    ``shifts`` are the distances in pixels (x axis); ``accuracies`` maps a
    model's name to one accuracy per shift. A flat curve means the model
    recognises an object wherever it sits; a steep one means it learned
    *where* things are as much as *what* they are. ``chance`` draws the
    accuracy of guessing (e.g. 0.1 for ten classes) as a floor.
    """
    shifts = np.asarray(shifts)
    if shifts.ndim != 1 or len(shifts) == 0 or shifts.dtype.kind not in "iuf":
        raise ValueError(f"shifts must be a non-empty list of numbers (pixels), got {shifts!r}")
    if not isinstance(accuracies, dict) or not accuracies:
        raise TypeError("accuracies must be a dict {model name: one accuracy per shift}, "
                        f"got {type(accuracies).__name__}")
    if chance is not None:
        chance = _validate.number(chance, "chance", minimum=0, maximum=1)
    for name, values in accuracies.items():
        if len(values) != len(shifts):
            raise ValueError(f"accuracies[{name!r}] has {len(values)} values for {len(shifts)} shifts; "
                             "give one accuracy per shift")
    figure, axis = plt.subplots(figsize=(6, 3.6))
    for (name, values), marker in zip(accuracies.items(), "osD^v<>"):
        axis.plot(shifts, values, marker=marker, label=name)
    if chance is not None:
        axis.axhline(chance, color="grey", linestyle=":", label=f"chance ({chance:g})")
    axis.set_xticks(shifts)
    axis.set_xlabel("shift of the test images (pixels)")
    axis.set_ylabel("test accuracy")
    axis.set_ylim(0, 1)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower left", fontsize=8)  # high curves start at the left: the corner below is free
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return figure


def shifted_predictions(images, models: dict, class_names, index: int = 0, dx: int = 0, dy: int = 0,
                        labels=None, top: int = 3):
    """Image ``images[index]`` moved by (dx, dy), and what each model believes it is.

    Panels: the original, the shifted copy, then one bar chart per model of
    its ``top`` most likely classes. With ``labels`` the bar of the true class
    is green and the others red, so a model that changes its mind under a
    small move is easy to spot. ``models`` maps a name to a Keras model
    (anything with ``predict(batch, verbose=0)`` returning probabilities).
    The batch-and-index form lets ``cc.widgets.explorer`` slide over images.
    """

    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4:
        raise ValueError(f"images must be a batch (N, H, W) or (N, H, W, C), got shape {images.shape}; "
                         "for one image pass image[np.newaxis]")
    if not _validate.is_integer(index) or not 0 <= index < len(images):
        raise ValueError(f"index must be an int from 0 to {len(images) - 1}, got {index!r}")
    if not isinstance(models, dict) or not models:
        raise TypeError("models must be a dict {name: Keras model}, e.g. {'dense': dense_model}")
    if not _validate.is_integer(top) or not 1 <= top <= len(class_names):
        raise ValueError(f"top must be an int from 1 to {len(class_names)}, got {top!r}")
    true_label = None if labels is None else int(labels[index])
    image = images[index]
    shifted = ops.shift_images(image[np.newaxis], dx, dy)
    figure, axes = plt.subplots(1, 2 + len(models), figsize=(2.4 * 2 + 3.0 * len(models), 2.6),
                                gridspec_kw=dict(width_ratios=[1, 1] + [1.5] * len(models)))
    caption = "" if true_label is None else f"\n{class_names[true_label]}"
    for axis, picture, title in ((axes[0], image, f"image {index}"), (axes[1], shifted[0], f"shifted by ({dx}, {dy})")):
        shown, colour_map = _as_display_image(picture)
        axis.imshow(shown, cmap=colour_map, vmin=0 if colour_map else None, vmax=1 if colour_map else None)
        axis.set_title(title + caption, fontsize=9)
        axis.set_xticks([])
        axis.set_yticks([])
    for axis, (name, model) in zip(axes[2:], models.items()):
        probabilities = np.asarray(model.predict(shifted, verbose=0))[0]
        if probabilities.shape != (len(class_names),):
            raise ValueError(f"model {name!r} returned {probabilities.shape[0]} scores for "
                             f"{len(class_names)} class names")
        best = np.argsort(probabilities)[::-1][:top]
        if true_label is None:
            colours = ["tab:blue"] * top
        else:
            colours = ["tab:green" if class_index == true_label else "tab:red" for class_index in best]
        axis.barh(range(top), probabilities[best], color=colours)
        axis.set_yticks(range(top), [class_names[class_index] for class_index in best], fontsize=8)
        axis.invert_yaxis()
        axis.set_xlim(0, 1)
        axis.set_xlabel("probability", fontsize=8)
        axis.set_title(f"{name}: {class_names[best[0]]}", fontsize=9)
    figure.tight_layout()
    return figure


# ---------------------------------------------------------------- chapter 3, convolution: filters and their outputs


DISPLAY_METHODS = ("clip", "rescale", "absolute")


def displayable(values, method: str = "clip") -> np.ndarray:
    """Turn a filter's output, which can leave 0..255, into uint8 pixels.

    ``clip`` cuts values below 0 and above 255 (loses information at both
    ends); ``rescale`` shifts and stretches the whole range onto 0..255 (keeps
    the order of the values, but rounding to 256 grey levels merges values
    closer than 1/255 of the range, and the overall brightness changes); ``absolute`` keeps the
    strength of a response and drops its sign, which suits edge detectors.
    """
    _validate.one_of(method, DISPLAY_METHODS, "method")
    values = _validate.finite_array(values, "values")
    if method == "clip":
        result = np.clip(values, 0, 255)
    elif method == "rescale":
        low, high = values.min(), values.max()
        result = (values - low) / ((high - low) or 1.0) * 255
    elif method == "absolute":
        result = np.clip(np.abs(values), 0, 255)
    else:
        raise ValueError(f"method must be one of {', '.join(map(repr, DISPLAY_METHODS))}, got {method!r}")
    return np.round(result).astype(np.uint8)


def filter_gallery(image, kernels: dict, method: str = "clip", size: float = 2.6, title: str | None = None):
    """The image, then its convolution with each named kernel, shown with ``method``."""

    image = _validate.finite_array(image, "image")
    _validate.one_of(method, DISPLAY_METHODS, "method")
    if image.ndim != 2:
        raise ValueError(f"filter_gallery takes a grey (H, W) image, got shape {image.shape}")
    if not kernels:
        raise ValueError("kernels must name at least one kernel, e.g. {'blur': np.ones((3, 3)) / 9}")
    figure, axes = plt.subplots(1, len(kernels) + 1, figsize=(size * (len(kernels) + 1), size))
    axes[0].imshow(image, cmap="gray", vmin=0, vmax=255)
    axes[0].set_title("original", fontsize=9)
    for axis, (name, kernel) in zip(axes[1:], kernels.items()):
        filtered = ops.conv2d(image, np.asarray(kernel, dtype=np.float64), padding="same")
        axis.imshow(displayable(filtered, method), cmap="gray", vmin=0, vmax=255)
        axis.set_title(f"{name}\n[{filtered.min():.0f}, {filtered.max():.0f}] → {method}", fontsize=9)
    for axis in axes:
        axis.set_axis_off()
    if title:
        figure.suptitle(title, fontsize=11)  # before tight_layout, which then makes room for it
    figure.tight_layout()
    return figure


def matrix_grid(matrices, titles=None, columns: int = 8, size: float = 1.3, cmap: str = "viridis",
                title: str | None = None, value_range=None):
    """Show 2-D arrays (kernels, feature maps) side by side.

    Each panel has its own colour scale, which shows each one's pattern best;
    ``value_range=(low, high)`` puts them all on one scale instead, so that
    the panels' brightness can be compared (a dimmer panel really is dimmer).
    """
    matrices = [_validate.finite_array(matrix, "matrices") for matrix in matrices]
    if not matrices or any(matrix.ndim != 2 for matrix in matrices):
        raise ValueError("matrices must be a non-empty list of 2-D arrays")
    if value_range is not None:
        if isinstance(value_range, (str, bytes)) or not hasattr(value_range, "__len__") or len(value_range) != 2:
            raise TypeError(f"value_range must be a (low, high) pair such as (0, 1), got {value_range!r}")
        low, high = (_validate.number(value, "value_range") for value in value_range)
        if not low < high:
            raise ValueError(f"value_range must run from low to high, such as (0, 1); got {value_range!r}")
        value_range = (low, high)
    if titles is not None and (isinstance(titles, (str, bytes)) or len(titles) != len(matrices)):
        raise ValueError(f"titles must give one title per matrix ({len(matrices)}), got {titles!r}")
    columns = min(_validate.positive_int(columns, "columns", example="8"), len(matrices))
    size = _validate.positive_number(size, "size")
    rows = int(np.ceil(len(matrices) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + (0.4 if title else 0)),
                                squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.set_axis_off()
        if index < len(matrices):
            low, high = value_range or (None, None)
            axis.imshow(matrices[index], cmap=cmap, vmin=low, vmax=high)
            if titles is not None:
                axis.set_title(titles[index], fontsize=9)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


# Mechanics: which windows a layer takes, and where the parameters live


# ---------------------------------------------------------------- chapters 4 and 5, padding, stride, pooling: windows


_LARGEST_DRAWN_GRID = 32  # cells per side; beyond this the cells are too small to read


def _window_colours(count: int) -> list:
    """One distinct colour per window (qualitative for few, a rainbow for many)."""
    if count <= 10:
        return [plt.get_cmap("tab10")(index) for index in range(count)]
    if count <= 20:
        return [plt.get_cmap("tab20")(index) for index in range(count)]
    return [plt.get_cmap("turbo")(value) for value in np.linspace(0.05, 0.95, count)]


def _outline(axis, top: float, left: float, height: float, width: float, colour, inset: float) -> None:
    """Draw a window's outline a little inside its cells, so neighbouring outlines stay apart."""
    axis.add_patch(plt.Rectangle((left + inset, top + inset), width - 2 * inset, height - 2 * inset,
                                 fill=False, edgecolor=colour, linewidth=2))


def _setup_grid_axis(axis, rows: int, columns: int, title: str) -> None:
    axis.set_xlim(-0.05, columns + 0.05)
    axis.set_ylim(rows + 0.05, -0.05)  # row 0 at the top, like an image
    axis.set_aspect("equal")
    axis.set_xticks([])
    axis.set_yticks([])
    for spine in axis.spines.values():
        spine.set_visible(False)
    axis.set_title(title, fontsize=9)


def sliding_windows(input_size: int = 5, kernel_size: int = 3, stride: int = 1, padding="valid",
                    size: float = 0.42):
    """Draw which patches a convolution takes from a square input, and the output they make.

    Left: the input (white) inside its zero padding (grey cells marked 0),
    every window outlined in its own colour with a dot at its centre; input
    pixels that no window covers are hatched red. Right: the output grid,
    each cell in the colour of the window that produced it. Seeing the
    windows makes the size rules concrete: how "same" pads (the odd zero goes
    at the bottom/right), and which pixels a large stride never looks at.

    With more than 16 windows only the first row and column of windows and
    the last window are outlined (every window still gets its dot).
    Sizes and positions come from ``cnncourse.ops``, so the picture follows
    the same rules as ``ops.conv2d`` and Keras.
    """

    count = ops.output_size(input_size, kernel_size, stride, padding)  # checks every argument
    if isinstance(padding, str):
        before, after = ops.same_padding(input_size, kernel_size, stride) if padding.lower() == "same" else (0, 0)
    else:
        before = after = int(padding)
    padded_size = before + input_size + after
    if padded_size > _LARGEST_DRAWN_GRID:
        raise ValueError(
            f"the padded input would be {padded_size} cells wide, too many to draw legibly; "
            f"use input_size + padding ≤ {_LARGEST_DRAWN_GRID} (the rules do not depend on the size)."
        )
    positions = ops.patch_positions(input_size, kernel_size, stride, padding)

    covered = np.zeros((padded_size, padded_size), dtype=bool)
    for top in positions:
        for left in positions:
            covered[top:top + kernel_size, left:left + kernel_size] = True

    width = size * (padded_size + count) + 1.2
    height = size * padded_size + 1.1
    figure, (input_axis, output_axis) = plt.subplots(
        1, 2, figsize=(width, height), gridspec_kw=dict(width_ratios=[padded_size, max(count, 1)])
    )
    text_size = max(5, min(9, 70 / padded_size))
    for row in range(padded_size):
        for column in range(padded_size):
            inside = before <= row < before + input_size and before <= column < before + input_size
            face = "white" if inside else "0.85"
            hatch = "////" if inside and not covered[row, column] else None
            edge = "tab:red" if hatch else "0.6"
            input_axis.add_patch(plt.Rectangle((column, row), 1, 1, facecolor=face, edgecolor=edge,
                                               linewidth=0.6, hatch=hatch))
            if not inside:
                input_axis.text(column + 0.5, row + 0.5, "0", ha="center", va="center",
                                fontsize=text_size, color="0.45")

    windows = [(row_index, column_index) for row_index in range(count) for column_index in range(count)]
    colours = _window_colours(len(windows))
    outline_all = len(windows) <= 16  # beyond that the outlines hide each other
    for number, (row_index, column_index) in enumerate(windows):
        top, left = positions[row_index], positions[column_index]
        colour = colours[number]
        last = number == len(windows) - 1
        if outline_all or row_index == 0 or column_index == 0 or last:
            _outline(input_axis, top, left, kernel_size, kernel_size, colour, inset=0.06 + 0.07 * (number % 3))
        centre = kernel_size / 2
        input_axis.plot(left + centre, top + centre, "o", color=colour, markersize=max(3, 10 - padded_size / 3))
        output_axis.add_patch(plt.Rectangle((column_index, row_index), 1, 1, facecolor=colour, alpha=0.55,
                                            edgecolor="0.3", linewidth=0.8))

    padding_text = padding if isinstance(padding, str) else f"{padding} zeros per side"
    zeros = f"zeros added per axis: {before} before, {after} after"
    if not outline_all:
        zeros += "\n(outlines: first row and column of windows, and the last one)"
    if not covered[before:before + input_size, before:before + input_size].all():
        zeros += "\nhatched: input pixels no window covers"
    _setup_grid_axis(
        input_axis, padded_size, padded_size,
        f"input {input_size}×{input_size}, kernel {kernel_size}×{kernel_size}, stride {stride}, "
        f"padding {padding_text!r}\n{zeros}",
    )
    _setup_grid_axis(output_axis, count, count, f"output {count}×{count}\n({count * count} windows)")
    figure.tight_layout()
    return figure


def pooling_windows(image, pool_size: int = 2, stride: int | None = None, mode: str = "max",
                    size: float = 0.5):
    """Show a small matrix, the pooling windows on it and the pooled result, numbers written in.

    Each window is outlined in its own colour; for max and min pooling the
    value the window keeps is circled, for average pooling every value counts.
    Cells no window covers (when the size is not a multiple of the stride)
    are hatched: "valid" pooling simply drops them. The output is computed by
    ``ops.pool2d``, the course's checked reference.
    """

    image = _validate.finite_array(image, "image")
    if image.ndim != 2:
        raise ValueError(f"image must be a 2-D matrix (height, width), got shape {image.shape}; "
                         "for one channel of a feature map pass image[:, :, channel].")
    if max(image.shape) > 16:
        raise ValueError(f"image is {image.shape[0]}×{image.shape[1]}: at most 16×16 fits with its numbers written in.")
    stride = pool_size if stride is None else stride
    pooled = ops.pool2d(image, pool_size, stride, padding="valid", mode=mode)  # checks the arguments
    rows = ops.patch_positions(image.shape[0], pool_size, stride)
    columns = ops.patch_positions(image.shape[1], pool_size, stride)

    covered = np.zeros(image.shape, dtype=bool)
    for top in rows:
        for left in columns:
            covered[top:top + pool_size, left:left + pool_size] = True

    def written(value) -> str:
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"

    height, width = image.shape
    figure, (input_axis, output_axis) = plt.subplots(
        1, 2, figsize=(size * (width + len(columns)) + 1.2, size * height + 1.0),
        gridspec_kw=dict(width_ratios=[width, max(len(columns), 1)]),
    )
    text_size = max(6, min(10, 90 / max(height, width)))
    shade = plt.get_cmap("Blues")
    low, high = float(image.min()), float(image.max())
    for (row, column), value in np.ndenumerate(image):
        level = 0.1 + 0.5 * (float(value) - low) / ((high - low) or 1.0)
        hatch = None if covered[row, column] else "////"
        input_axis.add_patch(plt.Rectangle((column, row), 1, 1, facecolor=shade(level), edgecolor="0.6",
                                           linewidth=0.6, hatch=hatch))
        input_axis.text(column + 0.5, row + 0.5, written(value), ha="center", va="center", fontsize=text_size)

    windows = [(row_index, column_index) for row_index in range(len(rows)) for column_index in range(len(columns))]
    colours = _window_colours(len(windows))
    for number, (row_index, column_index) in enumerate(windows):
        top, left = rows[row_index], columns[column_index]
        colour = colours[number]
        _outline(input_axis, top, left, pool_size, pool_size, colour, inset=0.05 + 0.08 * (number % 2))
        if mode in ("max", "min"):
            window = image[top:top + pool_size, left:left + pool_size]
            pick = np.argmax(window) if mode == "max" else np.argmin(window)
            row_offset, column_offset = np.unravel_index(pick, window.shape)
            radius = 0.4 - 0.07 * (number % 4)  # concentric rings when one value wins several windows
            input_axis.add_patch(plt.Circle((left + column_offset + 0.5, top + row_offset + 0.5), radius,
                                            fill=False, edgecolor=colour, linewidth=1.8))
        output_axis.add_patch(plt.Rectangle((column_index, row_index), 1, 1, facecolor=colour, alpha=0.35,
                                            edgecolor="0.3", linewidth=0.8))
        output_axis.text(column_index + 0.5, row_index + 0.5, written(pooled[row_index, column_index]),
                         ha="center", va="center", fontsize=text_size)

    note = "circled: the value each window keeps" if mode in ("max", "min") else "each output is its window's mean"
    if not covered.all():
        note += "\nhatched: cells no window covers (dropped)"
    _setup_grid_axis(input_axis, height, width,
                     f"input {height}×{width}, {mode} pooling {pool_size}×{pool_size}, stride {stride}\n{note}")
    _setup_grid_axis(output_axis, len(rows), len(columns), f"output {len(rows)}×{len(columns)}")
    figure.tight_layout()
    return figure


# ---------------------------------------------------------------- chapter 6, architectures: parameters and diagrams


def parameter_bars(model, log_scale: bool = False):
    """Horizontal bars of each layer's parameter count, labelled with its share of the total.

    ``model`` is a built Keras model or the name of one of the course's
    models (see ``cnncourse.models.names()``). In most small convnets the
    first Dense layer after Flatten holds nearly all the parameters; the
    bars make that obvious, and ``log_scale=True`` lets the small
    convolution bars be read too (layers without weights are marked "0").
    """

    if isinstance(model, str):
        model = models.build(model)
    if not isinstance(log_scale, bool):
        raise TypeError(f"log_scale must be True or False, got {log_scale!r}.")
    table = models.layer_table(model)  # checks that it is a built Keras model
    if not table.rows:
        raise ValueError(f"model {model.name!r} has no layers to draw.")
    names = [f"{row.name} ({row.layer_type})" for row in table.rows]
    counts = np.array([row.params for row in table.rows], dtype=float)
    positions = np.arange(len(names))
    figure, axis = plt.subplots(figsize=(8, 0.38 * len(names) + 1.3))
    shown = np.where(counts > 0, counts, np.nan) if log_scale else counts
    axis.barh(positions, shown, color=["tab:orange" if count == counts.max() else "tab:blue" for count in counts])
    axis.set_yticks(positions, names, fontsize=8)
    axis.invert_yaxis()  # first layer at the top, like a summary
    if log_scale:
        axis.set_xscale("log")
    else:  # 4,000,000 rather than "4 1e6"
        axis.xaxis.set_major_formatter(plt.FuncFormatter(lambda value, _: f"{value:,.0f}"))
    right_edge = counts.max() * (30 if log_scale else 1.45)
    axis.set_xlim(0.8 if log_scale else 0, right_edge)
    for position, count in zip(positions, counts):
        share = 100 * count / table.total if table.total else 0.0
        label = "0" if count == 0 else f"{count:,.0f} ({share:.1f}%)"
        axis.text(count if count > 0 else (1 if log_scale else 0), position, "  " + label,
                  va="center", fontsize=8)
    axis.set_xlabel("parameters" + (" (log scale)" if log_scale else ""))
    axis.set_title(f"{model.name}: {table.total:,} parameters", fontsize=10)
    axis.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure


_LAYER_COLOURS = {"Conv2D": "#cfe2f3", "MaxPooling2D": "#d9ead3", "AveragePooling2D": "#d9ead3",
                  "Dense": "#fce5cd", "Flatten": "#eeeeee", "Dropout": "#f4f4f4"}


def model_diagram(model, *, per_row: int = 4, box_width: float = 2.3, title: str | None = None):
    """Draw a model as a chain of boxes: layer name, type, output shape and parameters, read left to right.

    The course draws it itself with matplotlib, so it needs no Graphviz
    (``keras.utils.plot_model`` does) and stays as wide as the page: long
    models wrap onto the next row. Works for models whose layers form one
    chain (every model of the course); for branching graphs use
    ``keras.utils.plot_model``.
    """

    per_row = _validate.positive_int(per_row, "per_row", example="4")
    table = models.layer_table(model)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"model {model.name!r} is not a single chain of layers; draw it with keras.utils.plot_model")
    input_shape = "×".join(str(size) for size in model.inputs[0].shape[1:])
    boxes = [("input", "", input_shape, None)] + [
        (row.name, row.layer_type, row.shape_text, row.params) for row in table.rows]
    rows = -(-len(boxes) // per_row)
    gap, height = 0.55, 1.25
    width = per_row * (box_width + gap)
    fontsize = _legible_points(width, 10)
    figure, axis = plt.subplots(figsize=(width, rows * (height + 0.45) + 0.5))
    axis.set_xlim(0, per_row * (box_width + gap))
    axis.set_ylim(rows * (height + 0.45), 0)
    axis.axis("off")
    centres = []
    for index, (name, layer_type, shape, params) in enumerate(boxes):
        row, column = divmod(index, per_row)
        left, top = column * (box_width + gap) + gap / 2, row * (height + 0.45) + 0.2
        axis.add_patch(plt.Rectangle((left, top), box_width, height, facecolor=_LAYER_COLOURS.get(layer_type, "#ffffff"),
                                     edgecolor="#555555", linewidth=1))
        lines = [f"{name}" + (f" ({layer_type})" if layer_type else ""), shape,
                 "" if params is None else f"{params:,} parameters"]
        axis.text(left + box_width / 2, top + height / 2, "\n".join(lines), ha="center", va="center", fontsize=fontsize,
                  linespacing=1.5)
        centres.append((left, top, row))
    for (left, top, row), (next_left, next_top, next_row) in zip(centres, centres[1:]):
        if row == next_row:
            start, end = (left + box_width, top + height / 2), (next_left, next_top + height / 2)
        else:
            start, end = (left + box_width / 2, top + height), (next_left + box_width / 2, next_top)
        axis.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", color="#555555"))
    axis.set_title(title or f"{model.name}: {table.total:,} parameters", fontsize=_legible_points(width, 12))
    figure.tight_layout()
    return figure


# ---------------------------------------------------------------- chapter 9, feature maps: filters and maps


def feature_map_grid(maps, *, columns: int = 8, size: float = 1.1, cmap: str = "viridis", title: str | None = None):
    """Draw a stack of maps (height, width, maps) as a grid, each map on its own colour scale.

    Each map is scaled on its own so that a weak map still shows its pattern;
    a map that is zero everywhere (a filter that found nothing in this image,
    after ReLU) is drawn as one flat colour and titled "n: off".
    """
    maps = _validate.finite_array(maps, "maps")
    _validate.positive_int(columns, "columns", example="8")
    if maps.ndim != 3 or 0 in maps.shape:
        raise ValueError(
            f"maps must be one image's feature maps of shape (height, width, maps), got shape {maps.shape}; "
            "for a batch, pass maps[0]."
        )
    titles = [f"{index}: off" if not np.any(maps[:, :, index]) else str(index) for index in range(maps.shape[-1])]
    return matrix_grid([maps[:, :, index] for index in range(maps.shape[-1])], titles=titles,
                             columns=columns, size=size, cmap=cmap, title=title)


def feature_map_figure(model, image, layer, *, columns: int = 8, size: float = 1.1, cmap: str = "viridis",
                       title: str | None = None):
    """`cc.features.feature_maps` of one image and layer, drawn with `feature_map_grid` (for explorers)."""

    maps = features.feature_maps(model, image, layer)
    if title is None:
        names = features.layer_names(model)
        name = layer if isinstance(layer, str) else names[int(layer)]
        height, width, count = maps.shape
        title = f"{name}: {count} feature maps of {height}×{width}"
    return feature_map_grid(maps, columns=columns, size=size, cmap=cmap, title=title)


def feature_hierarchy(model, image, layers, *, maps: int = 8, size: float = 1.1, cmap: str = "viridis",
                      title: str | None = None):
    """One row per layer: the image's ``maps`` most active feature maps in each, deepest layer last.

    Reading down the rows is reading up the hierarchy: the maps shrink, grow
    in number, and look less like the picture. Which maps a row shows is
    chosen on this image (largest mean activation), so a row is a sample of
    what the layer found here, not a fixed set of filters; the row's label
    gives the layer's size and how many maps it has.
    """
    if isinstance(layers, (str, bytes)) or not isinstance(layers, (list, tuple)) or not layers:
        raise TypeError(f"layers must be a list of layer names such as ['conv1', 'conv2'], got {layers!r}")
    maps = _validate.positive_int(maps, "maps", example="8")
    size = _validate.positive_number(size, "size")
    stacks = [features.feature_maps(model, image, layer) for layer in layers]
    figure, axes = plt.subplots(len(stacks), maps + 1, figsize=(size * (maps + 1.6), size * len(stacks)
                                                                + (0.4 if title else 0)), squeeze=False)
    for row, (layer, stack) in zip(axes, zip(layers, stacks)):
        height, width, count = stack.shape
        chosen = np.argsort(-stack.mean(axis=(0, 1)), kind="stable")[:maps]
        row[0].set_axis_off()
        row[0].text(1.0, 0.5, f"{layer}\n{height}×{width}\n{count} maps", ha="right", va="center",
                    fontsize=9, transform=row[0].transAxes)
        for axis, index in itertools.zip_longest(row[1:], chosen):
            axis.set_axis_off()
            if index is not None:
                axis.imshow(stack[:, :, index], cmap=cmap)
                axis.set_title(str(index), fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def _kernel_array(kernel) -> np.ndarray:
    """Accept a (kh, kw, C_in, C_out) array or a Conv2D layer (its `kernel`)."""

    if isinstance(kernel, keras.layers.Layer):
        if not hasattr(kernel, "kernel"):
            raise TypeError(f"layer {kernel.name!r} has no kernel; pass a Conv2D layer or its kernel array.")
        kernel = keras.ops.convert_to_numpy(kernel.kernel)
    kernel = _validate.finite_array(kernel, "kernel")
    if kernel.ndim != 4 or 0 in kernel.shape:
        raise ValueError(
            "kernel must have the Keras Conv2D layout (height, width, input channels, filters), e.g. "
            f"(3, 3, 3, 32); got shape {kernel.shape}."
        )
    return kernel


def kernel_figure(kernel, *, per_channel: bool = False, filters=None, columns: int = 8, size: float = 0.9,
                  channel_names=None, title: str | None = None):
    """Draw a convolution's filters, as small colour images or one panel per input channel.

    `kernel` is a (kh, kw, C_in, C_out) array or a Conv2D layer.

    - `per_channel=False` (needs 3 input channels): each filter is one RGB
      image, stretched on its own to [0, 1]. Bright red means "large positive
      weight on the red channel". Only the *pattern* within one filter can be
      compared, not brightness across filters.
    - `per_channel=True`: a row per input channel, a column per filter, all on
      ONE symmetric colour scale (red positive, blue negative), so it shows how
      strongly each channel counts, which the RGB view hides.

    `filters` picks which filters to show (default: all).
    """
    kernel = _kernel_array(kernel)
    columns = _validate.positive_int(columns, "columns", example="8")
    size = _validate.positive_number(size, "size")
    height, width, channels, count = kernel.shape
    chosen = list(range(count)) if filters is None else [int(index) for index in filters]
    if not chosen or any(not 0 <= index < count for index in chosen):
        raise ValueError(f"filters must be indices between 0 and {count - 1}; got {filters!r}.")
    if not per_channel:
        if channels != 3:
            raise ValueError(
                f"an RGB picture of a filter needs 3 input channels; this kernel has {channels}. "
                "Use per_channel=True to see each channel's weights."
            )
        pictures = []
        for index in chosen:
            weights = kernel[:, :, :, index]
            low, high = weights.min(), weights.max()
            pictures.append((weights - low) / (high - low) if high > low else np.full_like(weights, 0.5))
        return image_grid(np.stack(pictures), labels=chosen, columns=columns, size=size, title=title)
    if channel_names is None:
        channel_names = ("red", "green", "blue") if channels == 3 else [f"channel {c}" for c in range(channels)]
    if len(channel_names) != channels:
        raise ValueError(f"channel_names must name {channels} channels, got {len(channel_names)}.")
    limit = float(np.abs(kernel[:, :, :, chosen]).max()) or 1.0
    figure, axes = plt.subplots(channels, len(chosen), figsize=(size * len(chosen) + 1.6, size * channels + 0.6),
                                squeeze=False)
    for row in range(channels):
        for column, index in enumerate(chosen):
            axis = axes[row, column]
            image = axis.imshow(kernel[:, :, row, index], cmap="RdBu_r", vmin=-limit, vmax=limit)
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(str(index), fontsize=8)
            if column == 0:
                axis.set_ylabel(channel_names[row], fontsize=8)
    figure.colorbar(image, ax=axes, fraction=0.02, pad=0.01, label="weight")
    if title:
        figure.suptitle(title)
    return figure
