"""Looking inside a trained network: every layer's output, feature maps, kernels.

A convolutional layer turns its input into a stack of *feature maps*, one per
filter. To see them we need a second model that shares the trained layers but
returns what each of them produced: `feature_extractor(model)`. For one image
and one layer, `feature_maps(model, image, layer)` gives the stack as a NumPy
array of shape (height, width, maps), and `feature_map_figure` draws it.
`kernel_figure` draws the filters themselves.

Only `keras` and `keras.ops` are used, so this works with the TensorFlow, JAX
and PyTorch backends.
"""

from __future__ import annotations

import numbers

import keras
import matplotlib.pyplot as plt
import numpy as np

from cnncourse import plots

__all__ = [
    "feature_extractor",
    "feature_map_figure",
    "feature_map_grid",
    "feature_maps",
    "kernel_figure",
    "layer_names",
    "map_statistics",
]


# ---------------------------------------------------------------------------
# Making sure the model is a graph of layers with a known input
# ---------------------------------------------------------------------------


def _check_model(model) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"expected a Keras model (keras.Sequential or a Functional keras.Model), got {type(model).__name__}."
        )


def _check_input_shape(input_shape) -> tuple:
    """An image shape without the batch axis, e.g. (32, 32, 3); None allowed for a free size."""
    if isinstance(input_shape, (int, np.integer)) and not isinstance(input_shape, bool):
        input_shape = (input_shape,)
    if not isinstance(input_shape, (tuple, list)) or not input_shape:
        raise TypeError(
            f"input_shape must be a tuple such as (32, 32, 3) = (height, width, channels), "
            f"without the batch axis; got {input_shape!r}."
        )
    for size in input_shape:
        if size is not None and (isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1):
            raise ValueError(
                f"input_shape must contain positive integers (or None for a free size), such as (32, 32, 3); "
                f"got {input_shape!r}."
            )
    return tuple(None if size is None else int(size) for size in input_shape)


def _model_input_shape(model) -> tuple | None:
    """The per-sample input shape of a model that has a graph, else None."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None
    if not inputs:
        return None
    if len(inputs) != 1:
        raise ValueError(
            f"model {model.name!r} has {len(inputs)} inputs; feature maps of one image need a model with one input."
        )
    return tuple(inputs[0].shape[1:])


def _shape_from_first_layer(model) -> tuple | None:
    """The input shape a Sequential model's first layer was built with, if it was built on its own.

    Keras records the shape a layer's `build()` received (a private detail, so
    it is read defensively); a layer built before being put into the model
    tells us what the model expects.
    """
    if not model.layers:
        return None
    recorded = getattr(model.layers[0], "_build_shapes_dict", None)
    if not isinstance(recorded, dict) or len(recorded) != 1:
        return None
    shape = next(iter(recorded.values()))
    if not isinstance(shape, (tuple, list)) or len(shape) < 2:
        return None
    return tuple(shape[1:])


def _ensure_graph(model, input_shape=None) -> None:
    """Give the model a graph of layers (inputs and each layer's output), building it if needed.

    A `keras.Sequential` made without `keras.Input(...)` has no inputs until it
    is called once or built: Keras does not yet know the image size, so its
    layers have no weights and no outputs to tap. Here it is built from
    `input_shape`, or from the shape its first layer was already built with;
    if neither exists, the error says how to fix it.
    """
    _check_model(model)
    requested = None if input_shape is None else _check_input_shape(input_shape)
    known = _model_input_shape(model)
    if known is not None:
        mismatch = requested is not None and (
            len(requested) != len(known)
            or any(want is not None and have is not None and want != have for want, have in zip(requested, known))
        )
        if mismatch:
            raise ValueError(
                f"input_shape={requested} does not match the input shape {known} that model {model.name!r} "
                "already has; leave input_shape out for a model that is already built."
            )
        return
    if not isinstance(model, keras.Sequential):
        raise TypeError(
            f"model {model.name!r} ({type(model).__name__}) is a subclassed model: its layers are used inside "
            "Python code in call(), so Keras has no graph of layers whose outputs could be tapped. Rebuild it "
            "as keras.Sequential or with the functional API (keras.Input → layers → keras.Model)."
        )
    shape = requested or _shape_from_first_layer(model)
    if shape is None:
        raise ValueError(
            f"Sequential model {model.name!r} has never been built, so its input shape is unknown and its "
            "layers have no outputs yet. Pass input_shape=(height, width, channels), e.g. "
            "feature_extractor(model, input_shape=(32, 32, 3)), or call the model once on a batch of images, "
            "or start it with keras.Input(shape=...)."
        )
    model.build((None, *shape))
    if _model_input_shape(model) is None:
        raise ValueError(
            f"Keras could not build Sequential model {model.name!r} for input_shape={shape}: one of its layers "
            "cannot infer its output shape. Call the model once on a batch of images instead."
        )


def _tapped_layers(model) -> list:
    """The layers whose outputs an extractor returns: all of them except the input placeholder."""
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def _graph_node_indices(model, layer) -> list[int] | None:
    """Which calls of `layer` belong to `model`'s graph, or None where Keras does not tell.

    `layer.output` is the output of the layer's *first* call. That is wrong
    for a layer used twice in one graph, and for a layer whose model was later
    called inside another model. Keras keeps the keys of a graph's nodes in a
    private attribute, so it is read defensively.
    """
    graph = getattr(model, "_functional", None) or model
    keys = getattr(graph, "_nodes", None)
    nodes = getattr(layer, "_inbound_nodes", None)
    if not isinstance(keys, (set, frozenset)) or not isinstance(nodes, list):
        return None
    return [index for index in range(len(nodes)) if f"{id(layer)}_ib-{index}" in keys]


def _layer_output(model, layer):
    """The symbolic output of `layer` inside `model`'s graph, with a clear error for a shared layer."""
    indices = _graph_node_indices(model, layer)
    if indices is not None and len(indices) > 1:
        raise ValueError(
            f"layer {layer.name!r} is used {len(indices)} times in model {model.name!r}, so it has no single "
            "output to show. Build the extractor yourself with keras.Model(model.inputs, [the tensors you want])."
        )
    if indices:
        outputs = layer._inbound_nodes[indices[0]].output_tensors
        return outputs[0] if len(outputs) == 1 else list(outputs)
    try:
        return layer.output
    except (AttributeError, ValueError, RuntimeError) as error:
        raise ValueError(f"cannot tap layer {layer.name!r} of model {model.name!r}: {error}") from None


def layer_names(model, *, input_shape=None) -> list[str]:
    """The names of the layers `feature_extractor` taps, in the order of its outputs.

    Index `i` of this list is the `layer=i` of `feature_maps` and the `i`-th
    output of the extractor (the input placeholder is not counted, as in
    `model.layers` of a Sequential model).
    """
    _ensure_graph(model, input_shape)
    return [layer.name for layer in _tapped_layers(model)]


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
    _ensure_graph(model, input_shape)
    outputs = [_layer_output(model, layer) for layer in _tapped_layers(model)]
    if not outputs:
        raise ValueError(f"model {model.name!r} has no layers to tap.")
    inputs = model.inputs[0]
    return keras.Model(inputs=inputs, outputs=outputs, name=f"{model.name}_features")


# ---------------------------------------------------------------------------
# The feature maps of one image
# ---------------------------------------------------------------------------


def _layer_position(names: list[str], layer, model_name: str) -> int:
    """Turn a layer name or index into a position in `names`, or say which ones exist."""
    listing = ", ".join(f"{index}: {name!r}" for index, name in enumerate(names))
    if isinstance(layer, str):
        if layer not in names:
            raise ValueError(f"model {model_name!r} has no layer named {layer!r}. Its layers are {listing}.")
        return names.index(layer)
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral):
        raise TypeError(f"layer must be a layer name (str) or an index (int); got {layer!r}. Layers: {listing}.")
    if not -len(names) <= layer < len(names):
        raise ValueError(
            f"layer index {layer} is out of range: model {model_name!r} has {len(names)} layers "
            f"(indices 0 to {len(names) - 1}, or negative from the end). Its layers are {listing}."
        )
    return int(layer) % len(names)


def _one_image_batch(image, expected_shape: tuple) -> np.ndarray:
    """A batch of one image, checked against the model's input shape."""
    image = np.asarray(image, dtype="float32")
    if image.ndim == len(expected_shape) + 1 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != len(expected_shape) or any(
        want is not None and have != want for have, want in zip(image.shape, expected_shape)
    ):
        wanted = "(" + ", ".join("any" if size is None else str(size) for size in expected_shape) + ")"
        raise ValueError(
            f"image must be ONE image of shape {wanted} (without a batch axis, or with a batch axis of 1), "
            f"as the model expects; got shape {image.shape}."
        )
    return image[np.newaxis]


def feature_maps(model, image, layer, *, input_shape=None) -> np.ndarray:
    """The maps `layer` produces for one `image`, as a NumPy array (height, width, maps).

    `layer` is a name (`"conv1"`) or an index into `layer_names(model)`;
    `image` is one image prepared as the model was trained on it (for the
    course's CIFAR-10 models: pixels divided by 255). Only layers whose output
    is a stack of 2-D maps qualify (convolution, pooling, dropout between
    them), not flatten or dense layers.
    """
    names = layer_names(model, input_shape=input_shape)
    position = _layer_position(names, layer, model.name)
    tapped = _tapped_layers(model)[position]
    output = _layer_output(model, tapped)
    if len(output.shape) != 4:
        with_maps = [name for name, each in zip(names, _tapped_layers(model))
                     if len(_layer_output(model, each).shape) == 4]
        raise ValueError(
            f"layer {tapped.name!r} outputs shape {tuple(output.shape[1:])}, not a stack of 2-D maps "
            f"(height, width, maps). Layers with feature maps: {', '.join(map(repr, with_maps)) or 'none'}."
        )
    batch = _one_image_batch(image, _model_input_shape(model))
    extractor = keras.Model(inputs=model.inputs[0], outputs=output)
    return keras.ops.convert_to_numpy(extractor(batch, training=False))[0]


def _block_average(pictures: np.ndarray, height: int, width: int) -> np.ndarray:
    """Shrink (N, H, W) pictures to (N, height, width) by averaging blocks, to line up with pooled maps."""
    count, picture_height, picture_width = pictures.shape
    if picture_height % height or picture_width % width:
        raise ValueError(
            f"maps of {height}×{width} do not tile images of {picture_height}×{picture_width}, so they cannot "
            "be compared pixel by pixel; choose a layer whose maps divide the image size evenly."
        )
    rows, columns = picture_height // height, picture_width // width
    return pictures.reshape(count, height, rows, width, columns).mean(axis=(2, 4))


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
    images = np.asarray(images, dtype="float32")
    names = layer_names(model)
    position = _layer_position(names, layer, model.name)
    expected = _model_input_shape(model)
    if images.ndim != len(expected) + 1 or images.shape[0] < 1:
        raise ValueError(f"images must be a batch (N, {', '.join(map(str, expected))}); got shape {images.shape}.")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    _one_image_batch(images[0], expected)  # checks the image shape with the usual message
    output = _layer_output(model, _tapped_layers(model)[position])
    if len(output.shape) != 4:
        raise ValueError(f"layer {names[position]!r} outputs shape {tuple(output.shape[1:])}, not feature maps.")
    extractor = keras.Model(inputs=model.inputs[0], outputs=output)
    maps = np.concatenate([
        keras.ops.convert_to_numpy(extractor(images[start:start + batch_size], training=False))
        for start in range(0, len(images), batch_size)
    ])
    count, height, width, channels = maps.shape
    brightness = _block_average(images.mean(axis=-1), height, width).reshape(count, -1)
    flat = maps.reshape(count, height * width, channels)
    centred_maps = flat - flat.mean(axis=1, keepdims=True)
    centred_brightness = (brightness - brightness.mean(axis=1, keepdims=True))[:, :, np.newaxis]
    spread = np.sqrt((centred_maps ** 2).sum(axis=1) * (centred_brightness ** 2).sum(axis=1))
    varying = spread > 0
    correlation = (centred_maps * centred_brightness).sum(axis=1)[varying] / spread[varying]
    silent = ~np.any(maps != 0, axis=(0, 1, 2))
    return {
        "zero_fraction": float(np.mean(maps == 0)),
        "silent_maps": int(silent.sum()),
        "zero_fraction_of_active_maps": float(np.mean(maps[..., ~silent] == 0)) if not silent.all() else float("nan"),
        "brightness_correlation": float(np.mean(np.abs(correlation))) if correlation.size else float("nan"),
    }


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def feature_map_grid(maps, *, columns: int = 8, size: float = 1.1, cmap: str = "viridis", title: str | None = None):
    """Draw a stack of maps (height, width, maps) as a grid, each map on its own colour scale.

    Each map is scaled on its own so that a weak map still shows its pattern;
    a map that is zero everywhere (a filter that found nothing in this image,
    after ReLU) is drawn as one flat colour and titled "n: off".
    """
    maps = np.asarray(maps)
    if maps.ndim != 3 or 0 in maps.shape:
        raise ValueError(
            f"maps must be one image's feature maps of shape (height, width, maps), got shape {maps.shape}; "
            "for a batch, pass maps[0]."
        )
    titles = [f"{index}: off" if not np.any(maps[:, :, index]) else str(index) for index in range(maps.shape[-1])]
    return plots.matrix_grid([maps[:, :, index] for index in range(maps.shape[-1])], titles=titles,
                             columns=columns, size=size, cmap=cmap, title=title)


def feature_map_figure(model, image, layer, *, columns: int = 8, size: float = 1.1, cmap: str = "viridis",
                       title: str | None = None):
    """`feature_maps` of one image and layer, drawn with `feature_map_grid` (the explorers use this)."""
    maps = feature_maps(model, image, layer)
    if title is None:
        names = layer_names(model)
        name = layer if isinstance(layer, str) else names[_layer_position(names, layer, model.name)]
        height, width, count = maps.shape
        title = f"{name}: {count} feature maps of {height}×{width}"
    return feature_map_grid(maps, columns=columns, size=size, cmap=cmap, title=title)


def _kernel_array(kernel) -> np.ndarray:
    """Accept a (kh, kw, C_in, C_out) array or a Conv2D layer (its `kernel`)."""
    if isinstance(kernel, keras.layers.Layer):
        if not hasattr(kernel, "kernel"):
            raise TypeError(f"layer {kernel.name!r} has no kernel; pass a Conv2D layer or its kernel array.")
        kernel = keras.ops.convert_to_numpy(kernel.kernel)
    kernel = np.asarray(kernel, dtype="float64")
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
        return plots.image_grid(np.stack(pictures), labels=chosen, columns=columns, size=size, title=title)
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
