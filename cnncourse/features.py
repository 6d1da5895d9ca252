"""Looking inside a trained network: every layer's output, feature maps, kernels.

A convolutional layer turns its input into a stack of *feature maps*, one per
filter. To see them we need a second model that shares the trained layers but
returns what each of them produced: `feature_extractor(model)`. For one image
and one layer, `feature_maps(model, image, layer)` gives the stack as a NumPy
array of shape (height, width, maps); `cc.plots.feature_map_grid` draws it
and `cc.plots.kernel_figure` draws the filters themselves.

Only `keras` and `keras.ops` are used, so this works with the TensorFlow, JAX
and PyTorch backends.
"""

from __future__ import annotations

import keras
import numpy as np

from cnncourse import _keras_graph, _validate

__all__ = ["feature_extractor", "feature_maps", "layer_names", "map_likeness", "map_statistics"]


def layer_names(model, *, input_shape=None) -> list[str]:
    """The names of the layers `feature_extractor` taps, in the order of its outputs.

    Index `i` of this list is the `layer=i` of `feature_maps` and the `i`-th
    output of the extractor (the input placeholder is not counted, as in
    `model.layers` of a Sequential model).
    """
    _keras_graph.ensure_graph(model, input_shape)
    return [layer.name for layer in _keras_graph.tapped_layers(model)]


def feature_extractor(model, *, input_shape=None) -> keras.Model:
    """A model with the same input as `model` that returns every layer's output.

    The extractor *shares* the layers (and so the trained weights) of `model`;
    nothing is copied. Its outputs are a list in the order of
    `layer_names(model)`. Dropout layers pass their input through unchanged
    when the extractor is called normally (inference mode), which is also how
    the trained model classifies.

    A Sequential model that was never built is built first (as calling it once
    would do), from `input_shape=(height, width, channels)` or from the shape
    its first layer already has; without either a ValueError says what to do.
    """
    _keras_graph.ensure_graph(model, input_shape)
    outputs = [_keras_graph.layer_output(model, layer) for layer in _keras_graph.tapped_layers(model)]
    if not outputs:
        raise ValueError(f"model {model.name!r} has no layers to tap.")
    inputs = model.inputs[0]
    return keras.Model(inputs=inputs, outputs=outputs, name=f"{model.name}_features")


# ---------------------------------------------------------------------------
# The feature maps of one image, and of many
# ---------------------------------------------------------------------------


def feature_maps(model, image, layer, *, input_shape=None) -> np.ndarray:
    """The maps `layer` produces for one `image`, as a NumPy array (height, width, maps).

    `layer` is a name (`"conv1"`) or an index into `layer_names(model)`;
    `image` is one image prepared as the model was trained on it (for the
    course's CIFAR-10 models: pixels divided by 255). Only layers whose output
    is a stack of 2-D maps qualify (convolution, pooling, dropout between
    them), not flatten or dense layers.
    """
    _, extractor = _keras_graph.map_extractor(model, layer, input_shape=input_shape)
    batch = _keras_graph.one_image_batch(image, _keras_graph.model_input_shape(model))
    return keras.ops.convert_to_numpy(extractor(batch, training=False))[0]


def _area_weights(size: int, target: int) -> np.ndarray:
    """(target, size) weights that average ``size`` pixels down to ``target`` cells, each by the area it covers.

    Cell ``i`` covers the stretch from ``i * size / target`` to ``(i + 1) * size / target``
    of the picture; a pixel cut by a cell's edge counts with the share inside it.
    When ``target`` divides ``size`` this is a plain block average.
    """
    edges = np.arange(target + 1) * size / target
    pixels = np.arange(size)
    overlap = (np.minimum(edges[1:, None], pixels[None, :] + 1) - np.maximum(edges[:-1, None], pixels[None, :]))
    weights = np.clip(overlap, 0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def _shrunk(pictures: np.ndarray, height: int, width: int) -> np.ndarray:
    """(N, H, W) pictures averaged down to (N, height, width), to line up with smaller maps.

    A map position stands for the part of the picture it lies over: exact
    for pooled maps that tile the image, within a pixel or two for the
    border that valid convolutions lose. Crude, like the likeness it serves.
    """
    _, picture_height, picture_width = pictures.shape
    return _area_weights(picture_height, height) @ pictures @ _area_weights(picture_width, width).T


def _likeness(maps: np.ndarray, images: np.ndarray) -> np.ndarray:
    """|correlation| of each map (N, H, W, C) with its image's brightness: (N, C), NaN where a map is constant."""
    count, height, width, channels = maps.shape
    brightness = _shrunk(images.mean(axis=-1), height, width).reshape(count, -1)
    flat = maps.reshape(count, height * width, channels)
    centred_maps = flat - flat.mean(axis=1, keepdims=True)
    centred_brightness = (brightness - brightness.mean(axis=1, keepdims=True))[:, :, np.newaxis]
    spread = np.sqrt((centred_maps ** 2).sum(axis=1) * (centred_brightness ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = np.abs((centred_maps * centred_brightness).sum(axis=1)) / spread
    return np.where(spread > 0, correlation, np.nan)


def map_likeness(maps, image) -> np.ndarray:
    """How much each map of one image looks like the picture: |correlation| with its brightness, one per map.

    The per-map version of ``map_statistics``'s ``brightness_correlation``:
    1 for a map that is a (blurred, sharpened, inverted) copy of the photo,
    near 0 for one that answers to something else; NaN for a map that is
    constant (off) on this image. ``maps`` is what ``feature_maps`` returns.
    """
    maps = _validate.finite_array(maps, "maps")
    image = _validate.finite_array(image, "image")
    if maps.ndim != 3 or image.ndim != 3:
        raise ValueError(f"maps must be (height, width, maps) and image (height, width, channels), as "
                         f"feature_maps returns them for one image; got shapes {maps.shape} and {image.shape}")
    return _likeness(maps[np.newaxis], image[np.newaxis])[0]


def map_statistics(model, images, layer, *, batch_size: int = 64) -> dict:
    """Two numbers that describe a layer's maps over many images.

    - ``zero_fraction``: the share of map values that are exactly zero. After
      ReLU a value is zero wherever the filter's pattern is absent, so a higher
      share means each map answers in fewer places: it is more *selective*.
    - ``silent_maps``: how many maps are zero on *every* one of the images.
      Such "dead" filters also raise ``zero_fraction``, without being
      selective, so ``zero_fraction_of_active_maps`` leaves them out.
    - ``brightness_correlation``: the mean absolute correlation, over images and
      maps, between a map and the image's brightness (channel mean, averaged
      down to the map's size). A map that still looks like a (blurred, shifted)
      copy of the photo scores high; a map that responds to something other
      than light and dark scores low. Maps that are constant on an image have
      no correlation and are left out.

    Crude, on purpose: both can be computed for a trained and an untrained
    network alike, so they show what training changed.
    """
    _, extractor = _keras_graph.map_extractor(model, layer)
    batch_size = _validate.positive_int(batch_size, "batch_size", example="64")
    expected = _keras_graph.model_input_shape(model)
    images = _validate.finite_array(images, "images", as_float=False).astype("float32", copy=False)
    if images.ndim != len(expected) + 1 or tuple(images.shape[1:]) != tuple(expected):
        raise ValueError(f"images must be a batch (N, {', '.join(map(str, expected))}) as the model expects; "
                         f"got shape {images.shape}.")
    maps = np.concatenate([
        keras.ops.convert_to_numpy(extractor(images[start:start + batch_size], training=False))
        for start in range(0, len(images), batch_size)
    ])
    correlation = _likeness(maps, images)
    correlation = correlation[~np.isnan(correlation)]
    silent = ~np.any(maps != 0, axis=(0, 1, 2))
    return {
        "zero_fraction": float(np.mean(maps == 0)),
        "silent_maps": int(silent.sum()),
        "zero_fraction_of_active_maps": float(np.mean(maps[..., ~silent] == 0)) if not silent.all() else float("nan"),
        "brightness_correlation": float(np.mean(np.abs(correlation))) if correlation.size else float("nan"),
    }
