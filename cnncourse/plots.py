"""Figures the chapters share: image grids, training curves, confusion matrices.

Every function returns the Matplotlib figure (and closes nothing), so a
notebook shows it once and a test can inspect it.
"""

from __future__ import annotations

import numpy as np
import matplotlib.pyplot as plt


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


def image_grid(images, labels=None, class_names=None, predictions=None, columns: int = 8,
               size: float = 1.4, title: str | None = None):
    """Show images in a grid, titled with their class (and prediction, if given).

    A wrong prediction is titled in red as "predicted (true)", so mistakes
    stand out at a glance.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"images must be a non-empty batch (N, H, W[, C]), got shape {images.shape}")
    if not isinstance(columns, int) or columns < 1:
        raise ValueError(f"columns must be a positive int, got {columns!r}")
    count = len(images)
    columns = min(columns, count)
    rows = int(np.ceil(count / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + (0.4 if title else 0)),
                                squeeze=False)
    name = (lambda label: class_names[int(label)]) if class_names is not None else str
    for index, axis in enumerate(axes.flat):
        axis.set_axis_off()
        if index >= count:
            continue
        picture, colour_map = _as_display_image(images[index])
        axis.imshow(picture, cmap=colour_map)
        if labels is None:
            continue
        caption, colour = name(labels[index]), "black"
        if predictions is not None and int(predictions[index]) != int(labels[index]):
            caption, colour = f"{name(predictions[index])}\n({caption})", "tab:red"
        axis.set_title(caption, fontsize=8, color=colour)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def training_curves(history, metrics=("loss", "accuracy"), title: str | None = None):
    """Plot each metric per epoch, training and validation side by side.

    ``history`` is what ``model.fit`` returns, or its ``.history`` dict. The
    gap between the two curves is how overfitting shows itself.
    """
    values = getattr(history, "history", history)
    if not isinstance(values, dict) or not values:
        raise TypeError("history must be the object model.fit returns, or its .history dict")
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
        axis.set_ylabel(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure


def confusion_matrix(true_labels, predicted_labels, class_names, normalize: bool = True, title: str | None = None):
    """Rows are the true class, columns the predicted one; the diagonal is right.

    With ``normalize`` each row sums to 1, so the diagonal reads as per-class
    accuracy (recall) even when classes have different sizes.
    """
    true_labels, predicted_labels = np.asarray(true_labels), np.asarray(predicted_labels)
    if true_labels.shape != predicted_labels.shape:
        raise ValueError(f"got {true_labels.shape} true labels but {predicted_labels.shape} predictions")
    count = len(class_names)
    matrix = np.zeros((count, count))
    np.add.at(matrix, (true_labels, predicted_labels), 1)
    if normalize:
        matrix = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(0.55 * count + 2.5, 0.55 * count + 2))
    image = axis.imshow(matrix, cmap="Blues")
    axis.set_xticks(range(count), class_names, rotation=60, ha="right", fontsize=8)
    axis.set_yticks(range(count), class_names, fontsize=8)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    for (row, column), value in np.ndenumerate(matrix):
        text = f"{value:.2f}" if normalize else f"{int(value)}"
        axis.text(column, row, text, ha="center", va="center", fontsize=6,
                  color="white" if value > matrix.max() / 2 else "black")
    figure.colorbar(image, ax=axis, fraction=0.046)
    if title:
        axis.set_title(title)
    figure.tight_layout()
    return figure


def matrix_grid(matrices, titles=None, columns: int = 8, size: float = 1.3, cmap: str = "viridis",
                title: str | None = None):
    """Show 2-D arrays (kernels, feature maps) side by side, each on its own scale."""
    matrices = [np.asarray(matrix) for matrix in matrices]
    if not matrices or any(matrix.ndim != 2 for matrix in matrices):
        raise ValueError("matrices must be a non-empty list of 2-D arrays")
    columns = min(columns, len(matrices))
    rows = int(np.ceil(len(matrices) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(size * columns, size * rows + (0.4 if title else 0)),
                                squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.set_axis_off()
        if index < len(matrices):
            axis.imshow(matrices[index], cmap=cmap)
            if titles is not None:
                axis.set_title(titles[index], fontsize=7)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    return figure
