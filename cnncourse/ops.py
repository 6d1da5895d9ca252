"""NumPy reference implementations of the operations the course teaches.

These functions are written to be read next to the course text, not to be
fast: each one loops over output positions so that the formula on the page
and the line of code look alike. The tests check every function against the
matching Keras layer, so you can trust them as a ground truth when you
experiment in a notebook.

Conventions (the same as Keras with ``data_format="channels_last"``):

* an image has shape ``(height, width)`` or ``(height, width, channels)``;
* a convolution kernel has shape ``(kernel_height, kernel_width,
  input_channels, output_channels)``, exactly what ``Conv2D.get_weights()[0]``
  returns;
* ``padding="same"`` pads like Keras/TensorFlow: when the number of zeros is
  odd, the extra one goes after (at the bottom / on the right).

Only NumPy is needed.
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np

from cnncourse import _validate

__all__ = [
    "output_size",
    "same_padding",
    "conv2d",
    "pool2d",
    "global_pool2d",
    "patch_positions",
    "receptive_field",
    "shift_images",
]

_POOLING_MODES = ("max", "average", "min")
_GLOBAL_POOLING_MODES = ("average", "max")
_REDUCTIONS = {"max": np.max, "average": np.mean, "min": np.min}


# --------------------------------------------------------------------------
# Sizes and positions along one axis
# --------------------------------------------------------------------------


def output_size(input_size: int, kernel_size: int, stride: int = 1, padding="valid") -> int:
    """Number of output positions along one axis of a convolution or pooling.

    "valid": floor((W - F) / S) + 1, only windows that fit inside the input.
    "same":  ceil(W / S), Keras/TensorFlow pad just enough for this.
    int P:   floor((W - F + 2P) / S) + 1, P zeros on each side.
    """
    input_size = _validate.whole_number(input_size, "input_size", minimum=1)
    kernel_size = _validate.whole_number(kernel_size, "kernel_size", minimum=1)
    stride = _validate.whole_number(stride, "stride", minimum=1)
    padding = _validate.padding(padding)
    return _window_layout(input_size, kernel_size, stride, padding)[2]


def same_padding(input_size: int, kernel_size: int, stride: int = 1) -> tuple[int, int]:
    """Zeros (before, after) that Keras adds along one axis for padding="same".

    The total is what the last window needs to reach past the input; when it
    is odd the extra zero goes after (bottom/right), which is why a 2x2
    "same" kernel sees an extra zero row at the bottom, not at the top.
    """
    input_size = _validate.whole_number(input_size, "input_size", minimum=1)
    kernel_size = _validate.whole_number(kernel_size, "kernel_size", minimum=1)
    stride = _validate.whole_number(stride, "stride", minimum=1)
    windows = math.ceil(input_size / stride)
    total = max((windows - 1) * stride + kernel_size - input_size, 0)
    before = total // 2
    return before, total - before


def patch_positions(input_size: int, kernel_size: int, stride: int = 1, padding="valid") -> list[int]:
    """Top (or left) coordinate of every window along one axis, in the padded input.

    Handy for drawing which patches a layer looks at: window i covers
    positions ``p, ..., p + kernel_size - 1`` where ``p = positions[i]``.
    """
    input_size = _validate.whole_number(input_size, "input_size", minimum=1)
    kernel_size = _validate.whole_number(kernel_size, "kernel_size", minimum=1)
    stride = _validate.whole_number(stride, "stride", minimum=1)
    padding = _validate.padding(padding)
    count = _window_layout(input_size, kernel_size, stride, padding)[2]
    return [index * stride for index in range(count)]


def receptive_field(layers: list[tuple[int, int]]) -> int:
    """Size of the input region that one output unit depends on.

    ``layers`` lists (kernel_size, stride) from input to output. Each layer
    widens the field by (kernel_size - 1) steps, and a step ("jump") is as
    large as the product of all earlier strides, which is why pooling makes
    later layers see much further.
    """
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(
            f"layers must be a list of (kernel_size, stride) pairs, got {layers!r}. "
            f"For a single 3x3 stride-1 layer write [(3, 1)]."
        )
    field = 1
    jump = 1
    for position, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or len(layer) != 2:
            raise ValueError(
                f"layer {position} must be a (kernel_size, stride) pair, got {layer!r}. "
                f"For a single layer write [(kernel_size, stride)], e.g. [(3, 1)]."
            )
        kernel_size = _validate.whole_number(layer[0], f"kernel_size of layer {position}", minimum=1)
        stride = _validate.whole_number(layer[1], f"stride of layer {position}", minimum=1)
        field += (kernel_size - 1) * jump
        jump *= stride
    return field


# --------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------


def conv2d(image, kernels, bias=None, stride=1, padding="valid") -> np.ndarray:
    """2D convolution as deep-learning layers compute it (a cross-correlation).

    The kernel is *not* flipped: output[i, j, n] is the sum over the window
    rows, columns and input channels c of
    ``window[row, col, c] * kernels[row, col, c, n]``, plus ``bias[n]``.

    image:   (H, W) or (H, W, C_in)
    kernels: (kh, kw) for one filter on a 2D image, or
             (kh, kw, C_in, C_out), the Keras Conv2D layout.
    stride:  int or (stride_height, stride_width).
    padding: "valid", "same" (asymmetric like Keras) or an int of zeros per side.

    Returns float64 of shape (H_out, W_out) in the 2D/2D case, otherwise
    (H_out, W_out, C_out).
    """
    single_map = np.ndim(image) == 2 and np.ndim(kernels) == 2  # a 2D image and kernel give a 2D map
    image, kernels, bias = _validate.conv_inputs(image, kernels, bias)  # (H, W, C_in), (kh, kw, C_in, C_out), (C_out,)
    kernel_height, kernel_width, _, out_channels = kernels.shape
    stride_height, stride_width = _validate.size_pair(stride, "stride")
    zeros, (out_height, out_width) = _windows(
        image.shape, kernels.shape, (stride_height, stride_width), _validate.padding(padding), "kernel")
    padded = np.pad(image, (*zeros, (0, 0)))

    output = np.empty((out_height, out_width, out_channels))
    for row in range(out_height):
        for col in range(out_width):
            top_row = row * stride_height
            left_col = col * stride_width
            window = padded[top_row : top_row + kernel_height, left_col : left_col + kernel_width, :]
            # sum over window rows (i), columns (j) and input channels (c),
            # one result per output channel (n)
            output[row, col, :] = np.einsum("ijc,ijcn->n", window, kernels) + bias
    return output[:, :, 0] if single_map else output


def pool2d(image, pool_size=2, stride=None, padding="valid", mode="max") -> np.ndarray:
    """Max, average or min pooling, applied to each channel separately.

    stride defaults to pool_size (non-overlapping windows), as in Keras.
    With padding="same" a window may hang over the border; we then reduce
    only the real pixels it covers. For max/min that equals padding with
    -inf/+inf, and for average it is what Keras does (padded zeros are not
    counted, so border averages are not pulled towards 0).

    image: (H, W) or (H, W, C); returns float64 of the same rank.
    """
    image = _validate.single_image(image, (2, 3), "(H, W) or (H, W, C)")
    pool_height, pool_width = _validate.size_pair(pool_size, "pool_size")
    stride_height, stride_width = (pool_height, pool_width) if stride is None else _validate.size_pair(stride, "stride")
    padding = _validate.padding(padding, explicit=False)
    reduce = _REDUCTIONS[_validate.pooling_mode(mode, _POOLING_MODES)]
    ((top, _), (left, _)), (out_height, out_width) = _windows(
        image.shape, (pool_height, pool_width), (stride_height, stride_width), padding, "pool")
    maps = np.atleast_3d(image)  # (H, W, C): a 2D image is one map
    height, width, channels = maps.shape

    output = np.empty((out_height, out_width, channels))
    for row in range(out_height):
        for col in range(out_width):
            # window position in original-image coordinates (may start at -top)
            first_row = row * stride_height - top
            first_col = col * stride_width - left
            rows = slice(max(first_row, 0), min(first_row + pool_height, height))
            cols = slice(max(first_col, 0), min(first_col + pool_width, width))
            output[row, col, :] = reduce(maps[rows, cols, :], axis=(0, 1))
    return output[:, :, 0] if image.ndim == 2 else output


def global_pool2d(image, mode="average") -> np.ndarray:
    """Reduce each channel of an (H, W, C) image to one number: shape (C,).

    This is how a CNN turns its last feature maps into a vector for the
    classifier, whatever the input size.
    """
    image = _validate.single_image(image, (3,), "(H, W, C)")
    mode = _validate.pooling_mode(mode, _GLOBAL_POOLING_MODES)
    if mode == "average":
        return image.mean(axis=(0, 1))
    return image.max(axis=(0, 1))


# --------------------------------------------------------------------------
# Moving images around
# --------------------------------------------------------------------------


def _shift_slices(size: int, step: int) -> tuple[slice, slice] | None:
    """(source, destination) slices that move a line of ``size`` pixels by ``step``.

    None when the shift is at least as long as the line: nothing stays inside.
    """
    if abs(step) >= size:
        return None
    if step >= 0:
        return slice(0, size - step), slice(step, size)
    return slice(-step, size), slice(0, size + step)


def shift_images(images, dx, dy) -> np.ndarray:
    """Move images ``dx`` pixels to the right and ``dy`` pixels down, filling with zeros.

    This is the experiment behind "translation equivariance": the same object,
    a few pixels to the side. Unlike ``np.roll`` nothing wraps around: what
    leaves the frame is lost and zeros (black, the background of MNIST-style
    images) come in from the other side, as when a camera moves.

    images: a batch ``(N, H, W)`` or ``(N, H, W, C)``, or one ``(H, W)`` image.
    dx, dy: ints (negative: left / up), the same for every image, or 1-D int
            arrays with one shift per image (random directions, augmentation).

    Returns an array of the same shape and dtype.
    """
    images = np.asarray(images)
    if images.dtype.kind not in "biuf":
        raise TypeError(
            f"images must hold numbers (bool, int or float), got dtype {images.dtype}."
        )
    if images.dtype.kind == "f" and not np.all(np.isfinite(images)):
        raise ValueError("images contain NaN or infinite pixels; fix or drop those images first")
    if images.size == 0:
        raise ValueError(f"images is empty (shape {images.shape}): there is nothing to shift")
    if images.ndim == 2:
        if not (isinstance(dx, Integral) and isinstance(dy, Integral)):
            raise TypeError(
                "one (H, W) image takes one int dx and one int dy; for one shift per image "
                "pass a batch (N, H, W) or (N, H, W, C)."
            )
        return shift_images(images[np.newaxis], dx, dy)[0]
    if images.ndim not in (3, 4):
        raise ValueError(
            f"images must be a batch (N, H, W) or (N, H, W, C), or one (H, W) image; got shape "
            f"{images.shape}. For one image with channels, pass image[np.newaxis]."
        )
    count, height, width = images.shape[:3]
    steps_x = _validate.pixel_shifts(dx, "dx", count)
    steps_y = _validate.pixel_shifts(dy, "dy", count)
    shifted = np.zeros_like(images)
    # images that move the same way are moved together, with one slice each
    for step_x, step_y in sorted(set(zip(steps_x.tolist(), steps_y.tolist()))):
        rows, columns = _shift_slices(height, step_y), _shift_slices(width, step_x)
        if rows is None or columns is None:
            continue  # moved out of the frame entirely: all zeros
        chosen = (steps_x == step_x) & (steps_y == step_y)
        shifted[chosen, rows[1], columns[1]] = images[chosen][:, rows[0], columns[0]]
    return shifted


# --------------------------------------------------------------------------
# Window layout (private): where the windows go, and whether they fit
# --------------------------------------------------------------------------


def _windows(image_shape, window, steps, padding, kind: str):
    """Lay the windows out over both axes of an image, or say why they do not fit.

    Returns ``(zeros, counts)``: the zeros (before, after) on each axis, ready
    for ``np.pad``, and the number of windows as (height, width).
    """
    top, bottom, rows = _window_layout(
        image_shape[0], window[0], steps[0], padding, "the image height", f"{kind} height")
    left, right, columns = _window_layout(
        image_shape[1], window[1], steps[1], padding, "the image width", f"{kind} width")
    return ((top, bottom), (left, right)), (rows, columns)


def _window_layout(
    input_size: int,
    window_size: int,
    stride: int,
    padding,
    input_name: str = "input_size",
    window_name: str = "kernel_size",
) -> tuple[int, int, int]:
    """Return ``(zeros_before, zeros_after, number_of_windows)`` along one axis.

    Every function that slides a window (convolution, pooling, patch drawing)
    goes through here, so they all agree on sizes and on the error messages.
    Arguments are assumed already checked, except for the "does it fit" test.
    """
    if padding == "same":
        before, after = same_padding(input_size, window_size, stride)
        return before, after, math.ceil(input_size / stride)
    zeros_per_side = 0 if padding == "valid" else padding
    if zeros_per_side > input_size + window_size:
        raise ValueError(
            f"padding={zeros_per_side} adds more zeros on each side than the {input_name} ({input_size}) and the "
            f"{window_name} ({window_size}) together: most windows would see only zeros. Use at most "
            f"{input_size + window_size}, usually much less, or 'same'."
        )
    padded_size = input_size + 2 * zeros_per_side
    if window_size > padded_size:
        if padding == "valid":
            raise ValueError(
                f"{window_name} ({window_size}) is larger than {input_name} "
                f"({input_size}), so with padding='valid' the window does not fit "
                f"even once. Use padding='same' or a smaller kernel."
            )
        raise ValueError(
            f"{window_name} ({window_size}) is larger than the padded input "
            f"({input_size} + 2*{zeros_per_side} = {padded_size}). Use more padding, "
            f"padding='same' or a smaller kernel."
        )
    count = (padded_size - window_size) // stride + 1
    return zeros_per_side, zeros_per_side, count
