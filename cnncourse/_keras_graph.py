"""Keras graph plumbing behind ``cc.features``: building a model's graph and tapping a layer's output.

Course machinery; a learner reading ``features.py`` does not need it. Some of
it reads private Keras attributes, defensively, where Keras has no public
way to ask (which calls of a shared layer belong to a graph, the input shape
a layer was built with).
"""

from __future__ import annotations

import keras
import numpy as np

from cnncourse import _validate


def built_model(model, what: str = "model"):
    """A Keras model whose weights exist: an unbuilt one has no shapes and no weights to read or train."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"{what} must be a Keras model, got {type(model).__name__}")
    if not model.built:
        raise ValueError(f"{what} {model.name!r} is not built yet, so it has no weights: start it with "
                         "keras.Input(shape=...) or call it once on a batch of images")
    return model


def check_model(model) -> None:
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"expected a Keras model (keras.Sequential or a Functional keras.Model), got {type(model).__name__}."
        )


def _input_shape(input_shape) -> tuple:
    """An image shape without the batch axis, e.g. (32, 32, 3); None allowed for a free size."""
    if _validate.is_integer(input_shape):
        input_shape = (input_shape,)
    if not isinstance(input_shape, (tuple, list)) or not input_shape:
        raise TypeError(
            f"input_shape must be a tuple such as (32, 32, 3) = (height, width, channels), "
            f"without the batch axis; got {input_shape!r}."
        )
    for size in input_shape:
        if size is not None and (not _validate.is_integer(size) or size < 1):
            raise ValueError(
                f"input_shape must contain positive integers (or None for a free size), such as (32, 32, 3); "
                f"got {input_shape!r}."
            )
    return tuple(None if size is None else int(size) for size in input_shape)


def model_input_shape(model) -> tuple | None:
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


def ensure_graph(model, input_shape=None) -> None:
    """Give the model a graph of layers (inputs and each layer's output), building it if needed.

    A `keras.Sequential` made without `keras.Input(...)` has no inputs until it
    is called once or built: Keras does not yet know the image size, so its
    layers have no weights and no outputs to tap. Here it is built from
    `input_shape`, or from the shape its first layer was already built with;
    if neither exists, the error says how to fix it.
    """
    check_model(model)
    requested = None if input_shape is None else _input_shape(input_shape)
    known = model_input_shape(model)
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
    if model_input_shape(model) is None:
        raise ValueError(
            f"Keras could not build Sequential model {model.name!r} for input_shape={shape}: one of its layers "
            "cannot infer its output shape. Call the model once on a batch of images instead."
        )


def tapped_layers(model) -> list:
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


def layer_output(model, layer):
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


def layer_position(names: list[str], layer, model_name: str) -> int:
    """Turn a layer name or index into a position in `names`, or say which ones exist."""
    listing = ", ".join(f"{index}: {name!r}" for index, name in enumerate(names))
    if isinstance(layer, str):
        if layer not in names:
            raise ValueError(f"model {model_name!r} has no layer named {layer!r}. Its layers are {listing}.")
        return names.index(layer)
    if not _validate.is_integer(layer):
        raise TypeError(f"layer must be a layer name (str) or an index (int); got {layer!r}. Layers: {listing}.")
    if not -len(names) <= layer < len(names):
        raise ValueError(
            f"layer index {layer} is out of range: model {model_name!r} has {len(names)} layers "
            f"(indices 0 to {len(names) - 1}, or negative from the end). Its layers are {listing}."
        )
    return int(layer) % len(names)


def one_image_batch(image, expected_shape: tuple) -> np.ndarray:
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



def map_extractor(model, layer, *, input_shape=None) -> tuple[str, keras.Model]:
    """A model from ``model``'s input to the feature maps of ``layer`` (a name or an index)."""
    ensure_graph(model, input_shape)
    tapped = tapped_layers(model)
    names = [each.name for each in tapped]
    chosen = tapped[layer_position(names, layer, model.name)]
    output = layer_output(model, chosen)
    if len(output.shape) != 4:
        with_maps = [each.name for each in tapped if len(layer_output(model, each).shape) == 4]
        raise ValueError(
            f"layer {chosen.name!r} outputs shape {tuple(output.shape[1:])}, not a stack of 2-D maps "
            f"(height, width, maps). Layers with feature maps: {', '.join(map(repr, with_maps)) or 'none'}."
        )
    return chosen.name, keras.Model(inputs=model.inputs[0], outputs=output)
