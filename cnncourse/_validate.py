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


def positive_int(value, what: str, example: str = "3") -> int:
    return integer(value, what, minimum=1, example=example)


def positive_ints(value, option: str, length: int | None, example: str) -> tuple:
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
    return {str(key): [float(value) for value in series] for key, series in values.items()}
