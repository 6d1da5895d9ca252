"""Argument checks shared by every module: one definition each, one wording.

Each validator returns the cleaned value or raises a ``TypeError`` (wrong
kind of value) or ``ValueError`` (right kind, wrong value) that names the
argument, shows what was given and says what would be accepted.
"""

from __future__ import annotations

import math
import numbers
import re

import numpy as np

_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def is_integer(value) -> bool:
    """True for Python and NumPy integers, False for bools (``True`` is not a count)."""
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_))


def integer(value, what: str, *, minimum: int | None = None, example: str = "3") -> int:
    """An int (Python or NumPy) at least ``minimum``, returned as a Python int."""
    if not is_integer(value):
        raise TypeError(f"{what} must be an integer such as {example}, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{what} must be at least {minimum}, got {value!r}")
    return int(value)


def positive_int(value, what: str, *, example: str = "3") -> int:
    return integer(value, what, minimum=1, example=example)


def positive_ints(value, option: str, length: int | None, *, example: str) -> tuple:
    """Return `value` as a tuple of positive ints, or say clearly what is wrong.

    Accepting a bare int for a one-element option spares learners the
    `(64,)` trailing-comma trap.
    """
    if is_integer(value) and length in (None, 1):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not value:
        raise TypeError(f"{option} must be a tuple of positive integers such as {example}; got {value!r}.")
    for item in value:
        if not is_integer(item) or item < 1:
            raise ValueError(f"{option} must contain only positive integers, such as {example}; got {value!r}.")
    if length is not None and len(value) != length:
        raise ValueError(f"{option} must have {length} entries, such as {example}; got {value!r}.")
    return tuple(value)


def number(value, what: str, *, minimum: float | None = None, maximum: float | None = None) -> float:
    """A finite real number (not a bool, not NaN) within the given bounds."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{what} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{what} must be at least {minimum}, got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{what} must be at most {maximum}, got {value!r}")
    return value


def one_of(value, choices, what: str):
    if value not in choices:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def run_name(name) -> str:
    """A saved run's name becomes a file name: letters, digits, '_' and '-' only."""
    if not isinstance(name, str):
        raise TypeError(f"a run name must be a string such as 'mnist_convnet', got {name!r}")
    if not _NAME_PATTERN.match(name):
        raise ValueError(f"run name {name!r} must use only letters, digits, '_' and '-' (it becomes a file name)")
    return name


def class_labels(labels, what: str = "labels", num_classes: int | None = None) -> np.ndarray:
    """Integer class labels from integer or one-hot labels, checked against ``num_classes``.

    Float labels are accepted only when they hold whole numbers (as
    ``np.float32`` arrays read from a file often do); ``1.7`` is refused
    rather than truncated to class 1.
    """
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        labels = labels.argmax(axis=1)
    elif labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(f"{what} must be integers (N,) or one-hot (N, classes), got shape {labels.shape}")
    if labels.dtype == bool:
        raise TypeError(f"{what} must be class numbers, got booleans")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        if not np.issubdtype(labels.dtype, np.floating) or not np.all(np.isfinite(labels)) \
                or not np.all(labels == np.round(labels)):
            raise ValueError(f"{what} must be whole class numbers such as 0, 1, 2; got {labels[:5]!r}...")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"{what} must be class numbers from 0, got {int(labels.min())}")
    if num_classes is not None and labels.size and labels.max() >= num_classes:
        raise ValueError(f"{what} go up to {int(labels.max())}, but there are only {num_classes} classes "
                         f"(0 to {num_classes - 1})")
    return labels


def history(values, what: str = "history") -> dict:
    """Per-epoch metrics as ``{name: [float, ...]}``, from what ``model.fit`` returns or its ``.history`` dict."""
    values = getattr(values, "history", values)
    if not isinstance(values, dict) or not values:
        raise TypeError(f"{what} must be what model.fit returns, or its non-empty .history dict")
    cleaned = {}
    for key, series in values.items():
        if isinstance(series, (str, bytes)) or not hasattr(series, "__len__") or not len(series):
            raise TypeError(f"{what}[{key!r}] must be a non-empty list of numbers, one per epoch; got {series!r}")
        for epoch, value in enumerate(series, start=1):  # NaN stays: a diverged run really records it
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
                raise TypeError(f"{what}[{key!r}] must hold numbers; epoch {epoch} has {value!r}")
        cleaned[str(key)] = [float(value) for value in series]
    return cleaned


def class_count(value, what: str = "num_classes") -> int:
    """The number of classes of a softmax classifier: 2 or more (one class would always score 1.0)."""
    if not is_integer(value):
        raise TypeError(f"{what} must be an integer such as 10; got {value!r}.")
    if value < 2:
        raise ValueError(f"{what} must be at least 2 for a softmax classifier (one unit would always output "
                         f"1.0); got {value}.")
    return int(value)  # Keras's Dense refuses NumPy integers


def finite_array(values, what: str, allow_nan: bool = False) -> np.ndarray:
    """A non-empty array of finite numbers, as floats (NaN or infinity would be shown as if they were data).

    ``allow_nan`` lets NaN through where it means "no value" (an undefined F1), never infinity.
    """
    if isinstance(values, (str, bytes)) or values is None:
        raise TypeError(f"{what} must be an array of numbers, got {values!r}")
    try:
        array = np.asarray(values)
    except ValueError as error:
        raise ValueError(f"{what} must be a rectangular array of numbers; NumPy says: {error}") from None
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
        raise TypeError(f"{what} must hold real numbers, got an array of {array.dtype}")
    if array.size == 0:
        raise ValueError(f"{what} is empty (shape {array.shape})")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)  # float arrays keep their precision (and are not copied)
    wrong = np.isinf(array) if allow_nan else ~np.isfinite(array)
    if np.any(wrong):
        bad = np.argwhere(wrong)[0]
        kind = "infinite" if allow_nan else "NaN or infinite"
        raise ValueError(f"{what} contain {kind} values (the first at index {tuple(int(i) for i in bad)}); "
                         "fix them before showing or using them")
    return array


def model_inputs(values, model, what: str) -> np.ndarray:
    """Inputs for ``model``: numbers of the shape its input expects, all finite (checked without a copy)."""
    array = np.asarray(values)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{what} must hold numbers (pixels), got an array of {array.dtype}")
    expected = tuple(model.input_shape[1:])
    if array.ndim != len(expected) + 1 or any(want not in (None, got) for want, got in zip(expected, array.shape[1:])):
        raise ValueError(f"{what} have shape {array.shape[1:]} per image, but {model.name!r} takes {expected}")
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(f"{what} contain NaN or infinite pixels (the first at index {tuple(int(i) for i in bad)}); "
                         "a model trained or scored on them gives meaningless numbers: fix or drop those images")
    return array


def images(values, what: str = "images", channels: int | None = None) -> np.ndarray:
    """A non-empty batch of images ``(N, height, width, channels)`` as float32, every pixel a finite number.

    A NaN or infinite pixel would train to NaN weights or draw as black;
    either way the learner would be shown a number or a picture that means
    nothing, so it is refused here with where it is.
    """
    if isinstance(values, (str, bytes)) or values is None:
        raise TypeError(f"{what} must be an array of images (N, height, width, channels), got {values!r}")
    try:
        array = np.asarray(values)
    except ValueError as error:  # ragged lists
        raise ValueError(f"{what} must be a rectangular array of images; NumPy says: {error}") from None
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.number)):
        raise TypeError(f"{what} must hold numbers (pixels), got an array of {array.dtype}")
    if array.ndim != 4:
        raise ValueError(f"{what} must have shape (N, height, width, channels), got shape {array.shape}; "
                         "for one image use images[np.newaxis], for grayscale add a channel axis")
    if array.shape[0] == 0:
        raise ValueError(f"{what} is empty (shape {array.shape})")
    if min(array.shape[1:]) == 0:
        raise ValueError(f"{what} has a zero-sized axis: shape {array.shape}")
    if channels is not None and array.shape[-1] != channels:
        raise ValueError(f"{what} have {array.shape[-1]} channel(s) but {channels} are expected "
                         f"(shape {array.shape})")
    array = array.astype(np.float32, copy=False)
    if not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(f"{what} contain NaN or infinite pixels (the first at index {tuple(int(i) for i in bad)}); "
                         "fix or drop those images before using them")
    return array


def positive_number(value, what: str) -> float:
    """A finite number above zero (a size in inches, a learning rate...)."""
    value = number(value, what)
    if value <= 0:
        raise ValueError(f"{what} must be greater than 0, got {value!r}")
    return value


def class_names(names, what: str = "class_names", labels=None, labels_what: str = "labels") -> list[str]:
    """Names of the classes, as strings; enough of them for every label in ``labels``."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)) or not names \
            or not all(isinstance(name, str) for name in names):
        raise TypeError(f"{what} must be a non-empty list of strings such as dataset.class_names, got {names!r}")
    if labels is not None and len(labels) and int(np.max(labels)) >= len(names):
        raise ValueError(f"{labels_what} go up to {int(np.max(labels))} but {what} has only {len(names)} names "
                         f"(classes 0 to {len(names) - 1}): a label is wrong, or a class has no name")
    return list(names)


def probabilities(values, what: str = "probabilities", rows: int | None = None, columns: int | None = None):
    """A (N, classes) array of probabilities: finite, within [0, 1], one row per image."""
    array = finite_array(values, what)
    if array.ndim != 2:
        raise ValueError(f"{what} must have shape (N, classes), one row per image; got shape {array.shape}")
    if rows is not None and len(array) != rows:
        raise ValueError(f"{what} has {len(array)} rows but there are {rows} images/labels")
    if columns is not None and array.shape[1] != columns:
        raise ValueError(f"{what} has {array.shape[1]} columns but there are {columns} classes")
    if array.min() < 0 or array.max() > 1:
        raise ValueError(f"{what} must lie within [0, 1] (a softmax's outputs); got values from "
                         f"{array.min():.3g} to {array.max():.3g}. Logits? Apply keras.ops.softmax first")
    return array


def same_length(first, second, first_name: str, second_name: str) -> None:
    if len(first) != len(second):
        raise ValueError(f"{first_name} has {len(first)} entries but {second_name} has {len(second)}: "
                         "they must match one to one")


def flag(value, what: str) -> bool:
    """True or False, and nothing else: the string "False" is truthy, which would silently mean yes."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} must be True or False, got {value!r}")
    return bool(value)
