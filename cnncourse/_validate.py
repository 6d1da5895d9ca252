"""Argument checks shared by every module: one definition each, one wording.

Each validator returns the cleaned value or raises a ``TypeError`` (wrong
kind of value) or ``ValueError`` (right kind, wrong value) that names the
argument, shows what was given and says what would be accepted.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from pathlib import Path

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


MAX_SEED = 2**32 - 1  # NumPy's and Keras's generators take seeds up to here


def seed(value, what: str = "seed") -> int:
    """A random seed: an integer from 0 to 2**32 - 1, the range every generator of the course accepts."""
    value = integer(value, what, minimum=0, example="0")
    if value > MAX_SEED:
        raise ValueError(f"{what} must be at most 2**32 - 1 = {MAX_SEED:,}, got {value:,}; any smaller number "
                         "works as well")
    return value


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


def fraction(value, what: str) -> float:
    """A share strictly between 0 and 1 (0 and 1 are the degenerate ends: nothing, everything)."""
    value = number(value, what)
    if not 0 < value < 1:
        raise ValueError(f"{what} must be between 0 and 1 (exclusive), got {value!r}")
    return value


def one_of(value, choices, what: str):
    if value not in choices:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def path(value, what: str, *, kind: str, example: str) -> Path:
    """A file's or folder's path given as a non-empty string or a ``pathlib.Path``."""
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise TypeError(f"{what} must be the path of a {kind} (a string or a pathlib.Path), such as {example!r}; "
                        f"got {value!r}")
    return Path(value).expanduser()


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
        if num_classes is not None and labels.shape[1] != num_classes:
            raise ValueError(f"{what} are one-hot with {labels.shape[1]} columns, but there are {num_classes} "
                             "classes: pass class numbers, or one column per class")
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


def finite_array(values, what: str, allow_nan: bool = False, as_float: bool = True) -> np.ndarray:
    """A non-empty array of finite numbers, as floats (NaN or infinity would be shown as if they were data).

    ``allow_nan`` lets NaN through where it means "no value" (an undefined F1), never infinity.
    ``as_float=False`` returns whole numbers as they are (always finite): no float64 copy of uint8 pixels.
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
    if not np.issubdtype(array.dtype, np.floating):  # whole numbers are finite; float arrays are not copied
        return array.astype(np.float64) if as_float else array
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


# ---------------------------------------------------------------- the reference maths (cnncourse.ops)
# Sizes and arrays as the formulas of cnncourse.ops take them. Their wording
# names the type and the shape expected ("whole number", "(H, W) or (H, W, C)"),
# because 2.0, True or a batch of images look right until the maths uses them.

_PADDING_NAMES = ("valid", "same")


def whole_number(value, what: str, *, minimum: int) -> int:
    """A size or step as a Python int, at least ``minimum``; ``True`` and ``2.0`` are refused with their type."""
    if not is_integer(value):
        raise TypeError(f"{what} must be a whole number (int), got {value!r} of type {type(value).__name__}.")
    if value < minimum:
        hint = " A stride of 0 would never move the window; use 1 to visit every position." \
            if what.startswith("stride") else ""
        raise ValueError(f"{what} must be at least {minimum}, got {value}.{hint}")
    return int(value)


def size_pair(value, what: str) -> tuple[int, int]:
    """A (height, width) pair of positive ints; one int means a square (as Keras reads ``strides=2``)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{what} must be an int or a (height, width) pair, got {value!r} "
                             f"with {len(value)} entries.")
        return (whole_number(value[0], f"{what}[0] (height)", minimum=1),
                whole_number(value[1], f"{what}[1] (width)", minimum=1))
    single = whole_number(value, what, minimum=1)
    return single, single


def padding(value, *, explicit: bool = True):
    """Keras padding, "valid" or "same" (any case), or with ``explicit`` an int of zeros per side."""
    if isinstance(value, str):
        name = value.lower()
        if name not in _PADDING_NAMES:
            zeros = " or an int number of zeros per side" if explicit else ""
            raise ValueError(f"unknown padding {value!r}: use 'valid' (no padding, the output shrinks) or 'same' "
                             f"(pad so that output = ceil(input / stride)){zeros}.")
        return name
    if explicit and is_integer(value):
        return whole_number(value, "padding", minimum=0)
    expected = "'valid', 'same' or an int >= 0" if explicit else "'valid' or 'same' (like Keras pooling layers)"
    raise TypeError(f"padding must be {expected}, got {value!r} of type {type(value).__name__}.")


def float64_array(values, what: str) -> np.ndarray:
    """Real numbers (bool, int or float) as float64, all finite.

    Unlike ``finite_array`` it takes bools (a mask is an image too) and always
    computes in float64, so a difference with a float32 Keras layer is Keras's
    rounding, not the reference's.
    """
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what} must hold real numbers (bool, int or float), got dtype {array.dtype}. "
                        f"Convert it first, e.g. np.asarray({what}, dtype=float).")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{what} contains NaN or infinite values; the reference maths needs real numbers")
    return array


def single_image(values, ndims: tuple[int, ...], shapes: str) -> np.ndarray:
    """One non-empty image as float64 with one of ``ndims`` dimensions (``shapes`` spells them out)."""
    image = float64_array(values, "image")
    if image.ndim not in ndims:
        if image.ndim > max(ndims):
            hint = "For a batch, pass one image at a time (e.g. batch[0])."
        else:
            hint = "For a single-channel image add a channel axis: image[:, :, np.newaxis]."
        raise ValueError(f"image must have shape {shapes}, got shape {image.shape} ({image.ndim} dimensions). {hint}")
    if 0 in image.shape:
        raise ValueError(f"image must not be empty, got shape {image.shape}.")
    return image


def conv_inputs(image, kernels, bias):
    """A convolution's image, kernels and bias as float64 in the Keras layout.

    Returns ``(H, W, C_in)``, ``(kh, kw, C_in, C_out)`` and ``(C_out,)``: a 2D
    image or kernel is one channel, no bias is zeros, a plain number is the
    bias of a single filter.
    """
    image = single_image(image, (2, 3), "(H, W) or (H, W, C_in)")
    kernels = float64_array(kernels, "kernels")
    if kernels.ndim not in (2, 4):
        raise ValueError(f"kernels must have shape (kh, kw) or (kh, kw, C_in, C_out) (the Keras Conv2D layout), "
                         f"got shape {kernels.shape} ({kernels.ndim} dimensions).")
    if 0 in kernels.shape:
        raise ValueError(f"kernels must not be empty, got shape {kernels.shape}.")
    if kernels.ndim == 2:
        if image.ndim == 3:
            raise ValueError(f"a 2D kernel of shape {kernels.shape} only applies to a 2D image, but the image has "
                             f"shape {image.shape}. Give kernels of shape (kh, kw, {image.shape[2]}, C_out) instead.")
        kernels = kernels[:, :, np.newaxis, np.newaxis]
    if image.ndim == 2:
        image = image[:, :, np.newaxis]
    in_channels, (kernel_in_channels, out_channels) = image.shape[2], kernels.shape[2:]
    if kernel_in_channels != in_channels:
        raise ValueError(f"channel mismatch: the image has {in_channels} channel(s) but the kernels expect "
                         f"{kernel_in_channels} (kernels.shape[2]). They must be equal.")
    if bias is None:
        return image, kernels, np.zeros(out_channels)
    bias = float64_array(bias, "bias")
    if bias.ndim == 0:
        bias = bias.reshape(1)
    if bias.shape != (out_channels,):
        raise ValueError(f"bias must have one value per output channel, i.e. shape ({out_channels},), "
                         f"got shape {bias.shape}.")
    return image, kernels, bias


def pooling_mode(mode, modes: tuple[str, ...]) -> str:
    if mode not in modes:
        raise ValueError(f"unknown pooling mode {mode!r}: choose one of {', '.join(map(repr, modes))}.")
    return mode


def pixel_shifts(value, what: str, count: int) -> np.ndarray:
    """One whole-pixel shift per image: an int for all ``count`` images, or one int each."""
    if is_integer(value):
        return np.full(count, int(value))
    if isinstance(value, (bool, float, np.floating)):
        raise TypeError(f"{what} must be a whole number of pixels (int), got {value!r}. Shifts by a fraction of a "
                        f"pixel need interpolation; keras.layers.RandomTranslation does that.")
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{what} must be an int or an array of ints (one per image), got {value!r} "
                        f"with dtype {array.dtype}.")
    if array.shape != (count,):
        raise ValueError(f"{what} must be one int for every image or an array with one int per image, "
                         f"i.e. shape ({count},); got shape {array.shape}.")
    return array.astype(int)
