"""Tests for cnncourse.ops: the NumPy reference must match Keras exactly.

Every layer-like function is compared with the Keras layer it explains, on a
grid of odd/even sizes, kernels, strides and paddings, so that a wrong
formula (or a wrong guess about which side "same" pads) makes a test fail.
The numbers quoted in the course text are checked literally.
"""

import ast
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow quiet if it is the backend

import keras
import numpy as np
import pytest

from cnncourse import ops
from cnncourse.ops import (
    conv2d,
    global_pool2d,
    output_size,
    patch_positions,
    pool2d,
    receptive_field,
    same_padding,
)

TOLERANCE = dict(rtol=1e-5, atol=1e-5)


def run_keras_layer(layer, image):
    """Call a Keras layer on a batch of one channels-last image, return a NumPy array."""
    batch = np.asarray(image, dtype="float32")[np.newaxis]
    return keras.ops.convert_to_numpy(layer(batch))[0]


def as_pair(value):
    return value if isinstance(value, tuple) else (value, value)


# --------------------------------------------------------------------------
# conv2d and output_size against keras.layers.Conv2D
# --------------------------------------------------------------------------

# (height, width, in_channels, (kernel_h, kernel_w), out_channels, stride, padding)
CONV_CASES = [
    (5, 5, 1, (3, 3), 1, 1, "valid"),
    (5, 5, 1, (3, 3), 1, 1, "same"),
    (5, 5, 1, (3, 3), 1, 2, "valid"),
    (5, 5, 3, (3, 3), 4, 2, "same"),
    (5, 5, 1, (5, 5), 4, 1, "valid"),  # kernel as large as the input: 1x1 output
    (6, 6, 1, (3, 3), 1, 2, "same"),  # odd total padding: extra zero at bottom/right
    (6, 6, 3, (2, 2), 4, 1, "same"),  # even kernel: (0, 1) zeros
    (6, 6, 3, (2, 2), 4, 2, "valid"),
    (7, 7, 3, (5, 5), 4, 1, "valid"),
    (7, 7, 3, (5, 5), 4, 1, "same"),
    (7, 7, 1, (5, 5), 1, 3, "same"),
    (7, 7, 3, (3, 3), 1, 3, "valid"),
    (8, 8, 1, (1, 1), 4, 1, "valid"),
    (8, 8, 3, (1, 1), 4, 2, "same"),
    (8, 8, 3, (3, 3), 4, 2, "same"),
    (8, 8, 1, (5, 5), 1, 3, "valid"),
    (8, 8, 3, (2, 2), 1, 3, "same"),
    (11, 11, 3, (3, 3), 4, 1, "valid"),
    (11, 11, 1, (5, 5), 4, 2, "same"),
    (11, 11, 3, (2, 2), 1, 3, "valid"),
    (11, 11, 3, (5, 5), 1, 3, "same"),
    (28, 28, 1, (3, 3), 4, 1, "valid"),
    (28, 28, 1, (5, 5), 4, 1, "same"),
    (28, 28, 3, (3, 3), 1, 2, "same"),
    # non-square inputs, kernels and strides
    (5, 8, 1, (3, 3), 1, 1, "valid"),
    (6, 11, 3, (3, 5), 4, (1, 2), "same"),
    (7, 5, 1, (2, 3), 4, (2, 1), "valid"),
    (8, 6, 3, (5, 2), 1, (3, 2), "same"),
    (11, 7, 3, (1, 3), 4, (2, 3), "same"),
    (28, 11, 1, (3, 3), 1, (2, 2), "valid"),
    (6, 7, 3, (3, 3), 4, (3, 1), "same"),
    (4, 6, 1, (5, 5), 1, 1, "same"),  # kernel taller than the image is fine with "same"
]


@pytest.mark.parametrize("height, width, in_channels, kernel_size, out_channels, stride, padding", CONV_CASES)
def test_conv2d_matches_keras(height, width, in_channels, kernel_size, out_channels, stride, padding):
    rng = np.random.default_rng(height * 1000 + width)
    image = rng.uniform(-1, 1, size=(height, width, in_channels))
    kernels = rng.uniform(-1, 1, size=(*kernel_size, in_channels, out_channels))
    bias = rng.uniform(-1, 1, size=out_channels)

    layer = keras.layers.Conv2D(out_channels, kernel_size, strides=stride, padding=padding)
    layer.build((1, height, width, in_channels))
    layer.set_weights([kernels.astype("float32"), bias.astype("float32")])
    expected = run_keras_layer(layer, image)

    result = conv2d(image, kernels, bias, stride=stride, padding=padding)

    stride_height, stride_width = as_pair(stride)
    predicted_shape = (
        output_size(height, kernel_size[0], stride_height, padding),
        output_size(width, kernel_size[1], stride_width, padding),
        out_channels,
    )
    assert expected.shape == predicted_shape
    assert result.dtype == np.float64
    np.testing.assert_allclose(result, expected, **TOLERANCE)


@pytest.mark.parametrize("size, kernel_size, stride, padding", [(5, 3, 1, "valid"), (6, 3, 2, "same"), (7, 2, 1, "same")])
def test_conv2d_single_channel_2d_arrays_match_keras(size, kernel_size, stride, padding):
    """A (H, W) image with a (kh, kw) kernel gives a (H_out, W_out) map."""
    rng = np.random.default_rng(size)
    image = rng.uniform(-1, 1, size=(size, size))
    kernel = rng.uniform(-1, 1, size=(kernel_size, kernel_size))
    layer = keras.layers.Conv2D(1, kernel_size, strides=stride, padding=padding, use_bias=False)
    layer.build((1, size, size, 1))
    layer.set_weights([kernel[:, :, np.newaxis, np.newaxis].astype("float32")])

    result = conv2d(image, kernel, stride=stride, padding=padding)

    assert result.ndim == 2
    np.testing.assert_allclose(result, run_keras_layer(layer, image[:, :, np.newaxis])[:, :, 0], **TOLERANCE)


def test_output_size_matches_keras_shape_rule_on_a_wide_grid():
    """Shapes only (cheap): every size 1..12, kernel 1..5, stride 1..3, both paddings."""
    for kernel_size in range(1, 6):
        for stride in range(1, 4):
            for padding in ("valid", "same"):
                layer = keras.layers.Conv2D(1, kernel_size, strides=stride, padding=padding)
                for size in range(1, 13):
                    try:
                        keras_shape = layer.compute_output_shape((1, size, size, 1))
                    except ValueError:  # Keras 3.14+ refuses a kernel that does not fit
                        keras_shape = None
                    if keras_shape is None or min(keras_shape[1:3]) <= 0:  # Keras 3.13 returns an empty shape
                        with pytest.raises(ValueError, match="larger than"):
                            output_size(size, kernel_size, stride, padding)
                        continue
                    ours = output_size(size, kernel_size, stride, padding)
                    assert keras_shape[1:3] == (ours, ours), (size, kernel_size, stride, padding)


def test_conv2d_hand_worked_example():
    """4x4 image, 3x3 vertical-edge kernel, worked out by hand.

    Top-left window: left column 1+0+2 = 3, right column 0+3+0 = 3 -> 3 - 3 = 0.
    Top-right:       left column 2+1+1 = 4, right column 1+1+0 = 2 -> 2.
    Bottom-left:     left column 0+2+1 = 3, right column 3+0+1 = 4 -> -1.
    Bottom-right:    left column 1+1+0 = 2, right column 1+0+2 = 3 -> -1.
    A true (flipped) convolution would give the opposite signs, so this also
    checks that conv2d is a cross-correlation like Keras.
    """
    image = np.array(
        [
            [1, 2, 0, 1],
            [0, 1, 3, 1],
            [2, 1, 0, 0],
            [1, 0, 1, 2],
        ]
    )
    kernel = np.array(
        [
            [1, 0, -1],
            [1, 0, -1],
            [1, 0, -1],
        ]
    )
    expected = np.array(
        [
            [0.0, 2.0],
            [-1.0, -1.0],
        ]
    )
    np.testing.assert_array_equal(conv2d(image, kernel), expected)
    np.testing.assert_array_equal(conv2d(image, kernel, bias=0.5), expected + 0.5)


def test_conv2d_sums_over_input_channels():
    """Each output map is the sum of the per-channel correlations plus its bias."""
    rng = np.random.default_rng(7)
    image = rng.uniform(-1, 1, size=(6, 5, 3))
    kernels = rng.uniform(-1, 1, size=(3, 3, 3, 2))
    bias = np.array([0.25, -1.5])
    result = conv2d(image, kernels, bias)
    for out_map in range(2):
        by_hand = sum(conv2d(image[:, :, c], kernels[:, :, c, out_map]) for c in range(3)) + bias[out_map]
        np.testing.assert_allclose(result[:, :, out_map], by_hand, rtol=1e-12)


def test_conv2d_explicit_padding_is_zero_padding_then_valid():
    rng = np.random.default_rng(3)
    image = rng.uniform(-1, 1, size=(5, 6, 2))
    kernels = rng.uniform(-1, 1, size=(3, 3, 2, 3))
    padded = np.pad(image, ((2, 2), (2, 2), (0, 0)))
    np.testing.assert_allclose(
        conv2d(image, kernels, stride=2, padding=2), conv2d(padded, kernels, stride=2), rtol=1e-12
    )
    assert conv2d(image, kernels, padding=1).shape == (5, 6, 3)  # 3x3 with 1 zero each side keeps the size


def test_conv2d_returns_float64_for_integer_input():
    result = conv2d(np.ones((4, 4), dtype=np.uint8), np.ones((2, 2), dtype=np.int32))
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, np.full((3, 3), 4.0))


# --------------------------------------------------------------------------
# pool2d and global_pool2d against the Keras pooling layers
# --------------------------------------------------------------------------

# (height, width, channels, pool_size, stride, padding)
POOL_CASES = [
    (4, 4, 1, 2, None, "valid"),
    (5, 5, 1, 2, None, "valid"),
    (5, 5, 1, 2, None, "same"),  # odd size: the last window hangs over the edge
    (7, 7, 3, 3, None, "same"),
    (7, 7, 3, 3, 2, "same"),
    (6, 6, 3, 3, 1, "same"),  # overlapping windows, padding on both sides
    (8, 8, 1, 3, 2, "valid"),
    (26, 26, 1, 2, None, "valid"),
    (7, 5, 3, (2, 3), None, "same"),
    (6, 9, 3, (3, 2), (1, 2), "same"),
    (11, 11, 3, 2, 1, "valid"),
    (5, 8, 3, 3, (2, 3), "valid"),
    (9, 9, 1, 4, 3, "same"),
]
KERAS_POOLING = {"max": keras.layers.MaxPooling2D, "average": keras.layers.AveragePooling2D}


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("height, width, channels, pool_size, stride, padding", POOL_CASES)
def test_pool2d_matches_keras(height, width, channels, pool_size, stride, padding, mode):
    rng = np.random.default_rng(height * 100 + width)
    layer = KERAS_POOLING[mode](pool_size=pool_size, strides=stride, padding=padding)
    image = rng.uniform(1, 2, size=(height, width, channels))
    # all-positive and all-negative images: padding with zeros (a classic bug)
    # would change the border results for one of the two
    for signed_image in (image, -image):
        expected = run_keras_layer(layer, signed_image)
        if _torch_pads_with_edge_copies(height, width, pool_size, stride, padding, mode):
            ours = _pool_edge_padded(signed_image, pool_size, stride, mode)
        else:
            ours = pool2d(signed_image, pool_size, stride, padding, mode=mode)
        np.testing.assert_allclose(ours, expected, **TOLERANCE)


def _pads(size, pool, stride):
    return same_padding(size, pool, stride)


def _torch_pads_with_edge_copies(height, width, pool_size, stride, padding, mode) -> bool:
    """Keras on PyTorch, "same" average pooling, more padding on one side than the other.

    PyTorch's pooling can only pad both sides equally, so Keras pads such
    inputs itself, by *copying the edge pixels*, and then averages whole
    windows: a row 1..6, pool 3, stride 2 ends with (5 + 6 + 6) / 3 = 5.667
    instead of TensorFlow's and JAX's (5 + 6) / 2 = 5.5. The course's
    reference follows TensorFlow and JAX (the padded cells do not count), and
    chapter 04 says so; this test pins the PyTorch behaviour down exactly.
    """
    if keras.backend.backend() != "torch" or padding != "same" or mode != "average":
        return False
    pools = pool_size if isinstance(pool_size, tuple) else (pool_size, pool_size)
    strides = stride if stride is not None else pools
    strides = strides if isinstance(strides, tuple) else (strides, strides)
    pads = [_pads(size, pool, step) for size, pool, step in zip((height, width), pools, strides)]
    return any(before != after for before, after in pads)


def _pool_edge_padded(image, pool_size, stride, mode):
    pools = pool_size if isinstance(pool_size, tuple) else (pool_size, pool_size)
    strides = stride if stride is not None else pools
    strides = strides if isinstance(strides, tuple) else (strides, strides)
    pads = [_pads(size, pool, step) for size, pool, step in zip(image.shape[:2], pools, strides)]
    padded = np.pad(image, [*pads, (0, 0)], mode="edge")
    return pool2d(padded, pools, strides, "valid", mode=mode)


def test_the_torch_pooling_difference_in_numbers():
    row = np.arange(1, 7, dtype=float).reshape(1, 6, 1)
    np.testing.assert_allclose(pool2d(row, (1, 3), (1, 2), "same", mode="average")[0, :, 0], [2, 4, 5.5])
    np.testing.assert_allclose(_pool_edge_padded(row, (1, 3), (1, 2), "average")[0, :, 0], [2, 4, 17 / 3])


@pytest.mark.parametrize("height, width, channels, pool_size, stride, padding", POOL_CASES)
def test_min_pooling_is_minus_max_pooling_of_minus_image(height, width, channels, pool_size, stride, padding):
    rng = np.random.default_rng(height * 100 + width)
    layer = keras.layers.MaxPooling2D(pool_size=pool_size, strides=stride, padding=padding)
    image = rng.uniform(1, 2, size=(height, width, channels))
    for signed_image in (image, -image):
        expected = -run_keras_layer(layer, -signed_image)
        np.testing.assert_allclose(
            pool2d(signed_image, pool_size, stride, padding, mode="min"), expected, **TOLERANCE
        )


def test_pool2d_keeps_2d_images_2d():
    image = np.arange(16).reshape(4, 4)
    np.testing.assert_array_equal(pool2d(image), np.array([[5.0, 7.0], [13.0, 15.0]]))
    np.testing.assert_array_equal(pool2d(image, mode="average"), np.array([[2.5, 4.5], [10.5, 12.5]]))


@pytest.mark.parametrize("mode, keras_layer", [("average", keras.layers.GlobalAveragePooling2D), ("max", keras.layers.GlobalMaxPooling2D)])
@pytest.mark.parametrize("shape", [(5, 5, 3), (7, 4, 1), (1, 1, 4), (13, 13, 8)])
def test_global_pool2d_matches_keras(shape, mode, keras_layer):
    rng = np.random.default_rng(sum(shape))
    image = rng.uniform(-3, -1, size=shape)
    result = global_pool2d(image, mode=mode)
    assert result.shape == (shape[2],)
    np.testing.assert_allclose(result, run_keras_layer(keras_layer(), image), **TOLERANCE)


# --------------------------------------------------------------------------
# Facts quoted in the course text
# --------------------------------------------------------------------------


def test_fact_5x5_input_3x3_kernel_gives_3x3_output_from_9_windows():
    assert output_size(5, 3) == 3
    assert patch_positions(5, 3) == [0, 1, 2]
    assert len(patch_positions(5, 3)) ** 2 == 9


def test_fact_same_padding_adds_1_for_3x3_and_2_for_5x5():
    assert same_padding(5, 3) == (1, 1)
    assert same_padding(5, 5) == (2, 2)
    assert same_padding(28, 3) == (1, 1)
    assert output_size(5, 3, padding="same") == 5
    assert output_size(5, 5, padding="same") == 5


def test_same_padding_puts_the_odd_zero_after():
    assert same_padding(6, 2) == (0, 1)
    assert same_padding(6, 3, stride=2) == (0, 1)  # total = (3 - 1)*2 + 3 - 6 = 1
    assert same_padding(5, 1) == (0, 0)
    assert same_padding(5, 1, stride=3) == (0, 0)  # would be negative: clipped to 0


def test_fact_3x3_stride_2_on_5x5():
    assert output_size(5, 3, stride=2) == 2
    assert patch_positions(5, 3, stride=2) == [0, 2]
    assert conv2d(np.zeros((5, 5)), np.zeros((3, 3)), stride=2).shape == (2, 2)


def test_fact_mnist_28_to_26_then_pool_to_13():
    assert output_size(28, 3) == 26
    assert output_size(26, 2, stride=2) == 13
    assert pool2d(np.zeros((26, 26, 1))).shape == (13, 13, 1)


def test_fact_2x2_pooling_divides_pixel_count_by_4():
    pooled = pool2d(np.zeros((32, 32, 3)), pool_size=2)
    assert (32 * 32, pooled.shape[0] * pooled.shape[1]) == (1024, 256)


def test_fact_cifar_dimension_walk():
    size = 32
    size = output_size(size, 5)  # 5x5 conv, valid
    assert size == 28
    size = output_size(size, 2, stride=2)  # 2x2 max pooling
    assert size == 14
    size = output_size(size, 3, padding="same")  # 3x3 conv, same
    assert size == 14
    size = output_size(size, 2, stride=2)  # 2x2 max pooling
    assert size == 7
    size = output_size(size, 3)  # 3x3 conv, valid
    assert size == 5


def test_output_size_with_explicit_padding():
    assert output_size(5, 3, padding=1) == 5
    assert output_size(28, 5, padding=2) == 28
    assert output_size(7, 3, stride=2, padding=1) == 4  # floor((7 - 3 + 2)/2) + 1
    assert output_size(3, 5, padding=1) == 1  # fits once in the padded input


def test_receptive_field():
    assert receptive_field([]) == 1
    assert receptive_field([(3, 1)]) == 3
    assert receptive_field([(3, 1), (3, 1)]) == 5
    assert receptive_field([(3, 1), (3, 1), (3, 1)]) == 7
    assert receptive_field([(3, 1), (2, 2), (3, 1)]) == 8
    # 1 + 4*1 (5x5) + 1*1 (pool) + 2*2 (3x3 after one /2) + 1*2 (pool) + 2*4 (3x3 after two /2) = 20
    assert receptive_field([(5, 1), (2, 2), (3, 1), (2, 2), (3, 1)]) == 20


@pytest.mark.parametrize("size", [5, 6, 7, 8, 11])
@pytest.mark.parametrize("padding", ["valid", "same", 1])
def test_patch_positions_cover_the_padded_input(size, padding):
    for kernel_size in (1, 2, 3, 5):
        for stride in (1, 2, 3):
            if padding == "valid" and kernel_size > size:
                continue
            positions = patch_positions(size, kernel_size, stride, padding)
            assert len(positions) == output_size(size, kernel_size, stride, padding)
            if padding == "same":
                padded_size = size + sum(same_padding(size, kernel_size, stride))
            elif padding == "valid":
                padded_size = size
            else:
                padded_size = size + 2 * padding
            assert positions[0] == 0
            assert positions[-1] + kernel_size <= padded_size  # the last window fits


# --------------------------------------------------------------------------
# Error messages
# --------------------------------------------------------------------------

IMAGE = np.zeros((5, 5, 3))
KERNELS = np.zeros((3, 3, 3, 2))

ERROR_CASES = [
    # output_size / same_padding / patch_positions
    (lambda: output_size(5, 3, padding="full"), ValueError, "unknown padding 'full'.*'valid'.*'same'"),
    (lambda: output_size(5, 3, padding=None), TypeError, "padding must be"),
    (lambda: output_size(5, 3, stride=0), ValueError, "stride must be at least 1"),
    (lambda: output_size(5, 3, stride=1.5), TypeError, "stride must be a whole number"),
    (lambda: output_size(5, 3, stride=True), TypeError, "stride must be a whole number.*bool"),
    (lambda: output_size(3, 5), ValueError, r"kernel_size \(5\) is larger than input_size \(3\).*padding='same' or a smaller kernel"),
    (lambda: output_size(0, 3), ValueError, "input_size must be at least 1"),
    (lambda: output_size(5, -1), ValueError, "kernel_size must be at least 1"),
    (lambda: output_size(5, 3, padding=-1), ValueError, "padding must be at least 0"),
    (lambda: output_size(2, 7, padding=1), ValueError, "larger than the padded input"),
    (lambda: same_padding(5, 3, stride=0), ValueError, "stride must be at least 1"),
    (lambda: patch_positions(5, 3, padding="SAMEISH"), ValueError, "unknown padding"),
    # conv2d
    (lambda: conv2d(IMAGE, KERNELS, padding="full"), ValueError, "unknown padding"),
    (lambda: conv2d(IMAGE, KERNELS, stride=0), ValueError, "stride must be at least 1"),
    (lambda: conv2d(IMAGE, KERNELS, stride=(1, 0)), ValueError, r"stride\[1\] \(width\) must be at least 1"),
    (lambda: conv2d(IMAGE, KERNELS, stride=(1, 2, 3)), ValueError, "stride must be an int or a .height, width. pair"),
    (lambda: conv2d(IMAGE, np.zeros((7, 3, 3, 2))), ValueError, r"kernel height \(7\) is larger than the image height \(5\).*padding='same'"),
    (lambda: conv2d(np.zeros((1, 5, 5, 3)), KERNELS), ValueError, r"image must have shape.*\(1, 5, 5, 3\).*one image at a time"),
    (lambda: conv2d(np.zeros(5), np.zeros((3, 3))), ValueError, "image must have shape"),
    (lambda: conv2d(IMAGE, np.zeros((3, 3, 3))), ValueError, r"kernels must have shape.*\(3, 3, 3\)"),
    (lambda: conv2d(IMAGE, np.zeros((3, 3))), ValueError, r"2D kernel.*\(kh, kw, 3, C_out\)"),
    (lambda: conv2d(IMAGE, np.zeros((3, 3, 1, 2))), ValueError, r"channel mismatch: the image has 3 channel\(s\) but the kernels expect 1"),
    (lambda: conv2d(np.zeros((5, 5)), np.zeros((3, 3, 3, 2))), ValueError, r"image has 1 channel\(s\) but the kernels expect 3"),
    (lambda: conv2d(np.full((5, 5), "a"), np.zeros((3, 3))), TypeError, "image must hold real numbers.*<U1"),
    (lambda: conv2d(np.zeros((5, 5)), np.array([["x"] * 3] * 3, dtype=object)), TypeError, "kernels must hold real numbers.*object"),
    (lambda: conv2d(IMAGE, KERNELS, bias=np.zeros(3)), ValueError, r"bias must have one value per output channel.*\(2,\).*\(3,\)"),
    (lambda: conv2d(IMAGE, KERNELS, bias=1.0), ValueError, r"bias must have one value per output channel"),
    # pool2d / global_pool2d
    (lambda: pool2d(IMAGE, mode="median"), ValueError, "unknown pooling mode 'median'.*'max', 'average', 'min'"),
    (lambda: pool2d(IMAGE, mode="avg"), ValueError, "choose one of 'max', 'average', 'min'"),
    (lambda: pool2d(IMAGE, padding="full"), ValueError, "unknown padding"),
    (lambda: pool2d(IMAGE, padding=1), TypeError, "padding must be 'valid' or 'same'"),
    (lambda: pool2d(IMAGE, stride=0), ValueError, "stride must be at least 1"),
    (lambda: pool2d(IMAGE, pool_size=0), ValueError, "pool_size must be at least 1"),
    (lambda: pool2d(IMAGE, pool_size=6), ValueError, r"pool height \(6\) is larger than the image height \(5\).*padding='same'"),
    (lambda: pool2d(np.zeros((1, 5, 5, 3))), ValueError, "image must have shape"),
    (lambda: pool2d(np.full((4, 4), None)), TypeError, "image must hold real numbers"),
    (lambda: global_pool2d(IMAGE, mode="min"), ValueError, "unknown pooling mode 'min'.*'average', 'max'"),
    (lambda: global_pool2d(np.zeros((5, 5))), ValueError, r"\(H, W, C\).*add a channel axis"),
    # receptive_field
    (lambda: receptive_field((3, 1)), ValueError, r"layer 0 must be a \(kernel_size, stride\) pair, got 3.*\[\(3, 1\)\]"),
    (lambda: receptive_field([(3, 1, 1)]), ValueError, r"layer 0 must be a \(kernel_size, stride\) pair"),
    (lambda: receptive_field([(3, 1), (0, 1)]), ValueError, "kernel_size of layer 1 must be at least 1"),
    (lambda: receptive_field([(3, 0)]), ValueError, "stride of layer 0 must be at least 1"),
    (lambda: receptive_field([(3.0, 1)]), TypeError, "kernel_size of layer 0 must be a whole number"),
    (lambda: receptive_field(3), TypeError, r"layers must be a list.*\[\(3, 1\)\]"),
    (lambda: receptive_field("3x3"), TypeError, "layers must be a list"),
]


@pytest.mark.parametrize("call, exception, message", ERROR_CASES)
def test_bad_input_raises_a_helpful_error(call, exception, message):
    with pytest.raises(exception, match=message):
        call()


def test_numpy_integers_are_accepted_as_sizes():
    assert output_size(np.int64(28), np.int32(3)) == 26
    assert conv2d(np.zeros((6, 6)), np.zeros((3, 3)), stride=(np.int64(2), 1)).shape == (2, 4)


# --------------------------------------------------------------------------
# Project rule: ops.py stays backend-agnostic
# --------------------------------------------------------------------------


def _imports(path) -> set:
    imported = set()
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.update(f"{node.module}.{alias.name}" if node.module == "cnncourse" else node.module
                            for alias in node.names)
    return imported


def test_ops_module_imports_only_numpy_and_the_standard_library():
    """The reference maths must not lean on a deep-learning framework; its argument checks are NumPy-only too."""
    from cnncourse import _validate

    for module, allowed in ((ops, {"numpy", "cnncourse._validate"}), (_validate, {"numpy"})):
        outside = {name for name in _imports(module.__file__)
                   if name not in allowed and name.split(".")[0] not in sys.stdlib_module_names}
        assert not outside, f"{module.__name__} imports {sorted(outside)}: only NumPy and the standard library"


# --------------------------------------------------------------------------
# shift_images: moving images without wrap-around
# --------------------------------------------------------------------------


def test_shift_images_moves_right_and_down_and_fills_with_zeros():
    image = np.arange(1, 17).reshape(4, 4)
    shifted = ops.shift_images(image, 1, 2)
    expected = np.zeros((4, 4), dtype=image.dtype)
    expected[2:, 1:] = image[:2, :3]
    np.testing.assert_array_equal(shifted, expected)
    assert shifted.dtype == image.dtype


def test_shift_images_does_not_wrap_around_like_np_roll():
    image = np.zeros((5, 5))
    image[:, 4] = 1.0  # a bright right-hand column
    assert ops.shift_images(image, 1, 0).sum() == 0  # it leaves the frame ...
    assert np.roll(image, 1, axis=1)[:, 0].sum() == 5  # ... where np.roll would bring it back on the left


@pytest.mark.parametrize("dx, dy", [(3, 0), (0, -2), (-1, 4), (2, 2)])
def test_shift_there_and_back_keeps_what_stayed_inside(dx, dy):
    images = np.random.default_rng(0).random((3, 8, 8, 2))
    back = ops.shift_images(ops.shift_images(images, dx, dy), -dx, -dy)
    rows = slice(max(0, -dy), 8 - max(0, dy))
    columns = slice(max(0, -dx), 8 - max(0, dx))
    np.testing.assert_array_equal(back[:, rows, columns], images[:, rows, columns])
    assert back.sum() < images.sum()  # the border that left the frame is gone for good


def test_shift_images_one_shift_per_image_equals_shifting_each_alone():
    images = np.random.default_rng(1).random((4, 6, 6))
    dx, dy = np.array([1, -2, 0, 1]), np.array([0, 3, -1, 0])
    together = ops.shift_images(images, dx, dy)
    for index in range(4):
        alone = ops.shift_images(images[index], int(dx[index]), int(dy[index]))
        np.testing.assert_array_equal(together[index], alone)


def test_shift_images_by_the_whole_size_or_more_gives_zeros():
    images = np.ones((2, 5, 5, 1), dtype="uint8")
    assert not ops.shift_images(images, 5, 0).any()
    assert not ops.shift_images(images, 0, -9).any()
    np.testing.assert_array_equal(ops.shift_images(images, 0, 0), images)


def test_fact_a_convolution_commutes_with_a_shift_away_from_the_border():
    """Translation equivariance: shift then convolve = convolve then shift."""
    rng = np.random.default_rng(2)
    image = np.zeros((12, 12))
    image[4:8, 3:9] = rng.random((4, 6))  # an object with a black border around it
    kernel = rng.normal(size=(3, 3))
    for dx, dy in [(1, 0), (0, 2), (-2, 1)]:
        convolve_then_shift = ops.shift_images(conv2d(image, kernel, padding="same"), dx, dy)
        shift_then_convolve = conv2d(ops.shift_images(image, dx, dy), kernel, padding="same")
        np.testing.assert_allclose(shift_then_convolve, convolve_then_shift, atol=1e-12)


def test_fact_2x2_max_pooling_commutes_only_with_even_shifts():
    rng = np.random.default_rng(3)
    image = np.zeros((12, 12))
    image[4:8, 4:8] = rng.random((4, 4))
    pooled = pool2d(image, 2)
    np.testing.assert_array_equal(pool2d(ops.shift_images(image, 2, 0), 2), ops.shift_images(pooled, 1, 0))
    assert not np.array_equal(pool2d(ops.shift_images(image, 1, 0), 2), pooled)
    assert not np.array_equal(pool2d(ops.shift_images(image, 1, 0), 2), ops.shift_images(pooled, 1, 0))


@pytest.mark.parametrize(
    "call, exception, message",
    [
        (lambda: ops.shift_images(np.zeros((2, 4, 4)), 1.5, 0), TypeError, "whole number of pixels.*RandomTranslation"),
        (lambda: ops.shift_images(np.zeros((2, 4, 4)), True, 0), TypeError, "whole number of pixels"),
        (lambda: ops.shift_images(np.zeros((2, 4, 4)), [1, 2, 3], 0), ValueError, r"shape \(2,\)"),
        (lambda: ops.shift_images(np.zeros((2, 4, 4)), 0, np.array([0.5, 1.0])), TypeError, "array of ints"),
        (lambda: ops.shift_images(np.zeros((4, 4)), np.array([1]), 0), TypeError, "one int dx"),
        (lambda: ops.shift_images(np.zeros((1, 2, 4, 4, 1)), 1, 1), ValueError, "batch"),
        (lambda: ops.shift_images(np.array([["a"]]), 1, 1), TypeError, "numbers"),
    ],
)
def test_shift_images_bad_input_raises_a_helpful_error(call, exception, message):
    with pytest.raises(exception, match=message):
        call()
