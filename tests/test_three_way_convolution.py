"""By hand (explicit loops), cc.ops.conv2d and keras.layers.Conv2D agree.

The convolution chapter shows this equality on one worked example; here it
is checked on random images, kernels and channel counts.
"""

import keras
import numpy as np
import pytest

from cnncourse import data, ops


def convolve_by_hand(image, kernel):
    """The definition, spelled out: slide, multiply element-wise, sum."""
    kernel_height, kernel_width, channels, filters = kernel.shape
    height, width = image.shape[0] - kernel_height + 1, image.shape[1] - kernel_width + 1
    output = np.zeros((height, width, filters))
    for n in range(filters):
        for row in range(height):
            for column in range(width):
                for c in range(channels):
                    window = image[row:row + kernel_height, column:column + kernel_width, c]
                    output[row, column, n] += np.sum(window * kernel[:, :, c, n])
    return output


@pytest.mark.parametrize("size, kernel_size, channels, filters", [(5, 3, 1, 1), (7, 3, 3, 4), (8, 5, 2, 3), (6, 2, 3, 1)])
def test_by_hand_cc_ops_and_keras_are_equal(size, kernel_size, channels, filters):
    rng = np.random.default_rng(size * 100 + kernel_size)
    image = rng.integers(0, 10, (size, size, channels)).astype("float32")
    kernel = rng.integers(-2, 3, (kernel_size, kernel_size, channels, filters)).astype("float32")
    by_hand = convolve_by_hand(image, kernel)
    with_ops = ops.conv2d(image, kernel)
    layer = keras.layers.Conv2D(filters, kernel_size, use_bias=False)
    layer.build((None, size, size, channels))
    layer.set_weights([kernel])
    with_keras = keras.ops.convert_to_numpy(layer(image[np.newaxis]))[0]
    np.testing.assert_array_equal(by_hand, with_ops)
    np.testing.assert_allclose(with_keras, by_hand, atol=1e-4)


def test_sample_photograph_is_available_offline():
    photo = data.sample_photograph()
    grey = data.sample_photograph(grayscale=True)
    assert photo.dtype == np.uint8 and photo.ndim == 3 and photo.shape[2] == 3
    assert grey.shape == photo.shape[:2]
