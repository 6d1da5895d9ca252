"""The course's networks by name, and tools to read them layer by layer.

`build(name)` gives every architecture a chapter uses, already built so that
`.summary()` and `count_params()` work at once. `layer_table(model)` explains
where each parameter count comes from, `summary_quiz(model, answers)` grades
a learner's hand-computed summary, and `plot_diagram(model)` draws the graph.

Only `keras`, `keras.layers` and `keras.ops` are used, so the same code runs
with the TensorFlow, JAX and PyTorch backends.
"""

from __future__ import annotations

import difflib
import html
import inspect
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import keras

__all__ = [
    "LayerRow",
    "LayerTable",
    "build",
    "layer_table",
    "names",
    "plot_diagram",
    "summary_quiz",
    "summary_quiz_template",
]


# ---------------------------------------------------------------------------
# Checking options
# ---------------------------------------------------------------------------


def _positive_ints(value, option: str, length: int | None, example: str) -> tuple:
    """Return `value` as a tuple of positive ints, or say clearly what is wrong.

    Accepting a bare int for a one-element option spares learners the
    `(64,)` trailing-comma trap.
    """
    if isinstance(value, int) and not isinstance(value, bool) and length in (None, 1):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not value:
        raise TypeError(f"{option} must be a tuple of positive integers such as {example}; got {value!r}.")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise ValueError(f"{option} must contain only positive integers, such as {example}; got {value!r}.")
    if length is not None and len(value) != length:
        raise ValueError(f"{option} must have {length} entries, such as {example}; got {value!r}.")
    return tuple(value)


def _image_shape(input_shape) -> tuple:
    """Check an image shape (height, width, channels) given without the batch dimension."""
    return _positive_ints(input_shape, "input_shape", 3, "(28, 28, 1) = (height, width, channels)")


def _class_count(num_classes) -> int:
    """Check the number of output classes of a classifier."""
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise TypeError(f"num_classes must be an integer such as 10; got {num_classes!r}.")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2 for a softmax classifier; got {num_classes}.")
    return num_classes


def _image_input(input_shape) -> keras.KerasTensor:
    """The `Input` every builder starts from, so that its model is built at once."""
    return keras.Input(shape=_image_shape(input_shape), name="image")


# ---------------------------------------------------------------------------
# The course's architectures
# ---------------------------------------------------------------------------


def _seed000_cifar10(*, input_shape=(32, 32, 3), num_classes=10, output_activation="softmax"):
    """CIFAR-10 convnet of the source seed000, with MaxNorm(3) weight constraints.

    The source ends in a sigmoid, which scores the 10 classes as independent
    yes/no questions instead of one choice among 10; the course corrects it to
    softmax. `output_activation="sigmoid"` reproduces the source's defect.
    """
    if output_activation not in ("softmax", "sigmoid"):
        raise ValueError(
            f"output_activation must be 'softmax' (the course's correction) or 'sigmoid' "
            f"(the source's defect); got {output_activation!r}."
        )
    layers = keras.layers
    max_norm = keras.constraints.MaxNorm(3)
    return keras.Sequential(
        [
            _image_input(input_shape),
            layers.Conv2D(32, 3, padding="same", activation="relu", kernel_constraint=max_norm, name="conv1"),
            layers.Dropout(0.3, name="dropout1"),
            layers.Conv2D(32, 3, padding="same", activation="relu", kernel_constraint=max_norm, name="conv2"),
            layers.MaxPooling2D(2, name="pool"),
            layers.Flatten(name="flatten"),
            layers.Dense(512, activation="relu", kernel_constraint=max_norm, name="dense"),
            layers.Dropout(0.5, name="dropout2"),
            layers.Dense(_class_count(num_classes), activation=output_activation, name="output"),
        ],
        name="seed000_cifar10",
    )


def _mnist_base_layers() -> list:
    """Fresh layers of the seed001 convolutional base, shared by both seed001 builders."""
    layers = keras.layers
    return [
        layers.Conv2D(32, 3, activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(64, 3, activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Conv2D(64, 3, activation="relu", name="conv3"),
    ]


def _seed001_mnist_base(*, input_shape=(28, 28, 1)):
    """Convolutional base of the source seed001 (MNIST), without its classifier.

    The same base as the first convnet of Chollet's *Deep Learning with Python*
    (1st edition, section 5.1); a chapter shows it alone to follow the shapes.
    """
    return keras.Sequential([_image_input(input_shape), *_mnist_base_layers()], name="seed001_mnist_base")


def _seed001_mnist(*, input_shape=(28, 28, 1), num_classes=10):
    """The seed001 MNIST convnet: the base of `seed001_mnist_base` plus a dense classifier."""
    layers = keras.layers
    return keras.Sequential(
        [
            _image_input(input_shape),
            *_mnist_base_layers(),
            layers.Flatten(name="flatten"),
            layers.Dense(64, activation="relu", name="dense"),
            layers.Dense(_class_count(num_classes), activation="softmax", name="output"),
        ],
        name="seed001_mnist",
    )


def _seed002_horses_humans(*, input_shape=(100, 100, 3)):
    """Binary horses-or-humans convnet of the source seed002 (100x100 images).

    One sigmoid unit gives the probability of "human", so there is no
    `num_classes` option.
    """
    layers = keras.layers
    blocks = []
    for number, filters in enumerate((32, 64, 128, 256), start=1):
        blocks.append(layers.Conv2D(filters, 3, activation="relu", name=f"conv{number}"))
        blocks.append(layers.MaxPooling2D(2, name=f"pool{number}"))
    return keras.Sequential(
        [
            _image_input(input_shape),
            *blocks,
            layers.Flatten(name="flatten"),
            layers.Dense(512, activation="relu", name="dense1"),
            layers.Dense(256, activation="relu", name="dense2"),
            layers.Dense(1, activation="sigmoid", name="output"),
        ],
        name="seed002_horses_humans",
    )


def _seed003_dimension_walk(*, input_shape=(32, 32, 3), num_classes=10):
    """Small network of the source seed003 built to walk through the output-size rules.

    It mixes a 5x5 valid convolution, a same-padded one and a 3x3 valid one so
    that every rule (W - F + 1, W, floor(W / 2)) appears once.
    """
    layers = keras.layers
    return keras.Sequential(
        [
            _image_input(input_shape),
            layers.Conv2D(16, 5, padding="valid", activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(8, 3, padding="same", activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Conv2D(4, 3, padding="valid", activation="relu", name="conv3"),
            layers.Flatten(name="flatten"),
            layers.Dense(50, activation="relu", name="dense"),
            layers.Dense(_class_count(num_classes), activation="softmax", name="output"),
        ],
        name="seed003_dimension_walk",
    )


def _seed003_cifar10(*, input_shape=(32, 32, 3), num_classes=10):
    """CIFAR-10 convnet of the source seed003: three pairs of same-padded 3x3 convolutions."""
    layers = keras.layers
    stack = []
    for block, filters in enumerate((64, 32, 16), start=1):
        if block > 1:
            stack.append(layers.MaxPooling2D(2, name=f"pool{block - 1}"))
        for number in (1, 2):
            stack.append(layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{block}_{number}"))
    return keras.Sequential(
        [
            _image_input(input_shape),
            *stack,
            layers.Flatten(name="flatten"),
            layers.Dense(512, activation="relu", name="dense1"),
            layers.Dense(64, activation="relu", name="dense2"),
            layers.Dense(_class_count(num_classes), activation="softmax", name="output"),
        ],
        name="seed003_cifar10",
    )


def _seed004_cifar10(*, input_shape=(32, 32, 3), num_classes=10):
    """CIFAR-10 convnet of the source seed004.

    The same network as TensorFlow's "Convolutional Neural Network (CNN)"
    tutorial: 122,570 parameters.
    """
    layers = keras.layers
    return keras.Sequential(
        [
            _image_input(input_shape),
            layers.Conv2D(32, 3, activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(64, 3, activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Conv2D(64, 3, activation="relu", name="conv3"),
            layers.Flatten(name="flatten"),
            layers.Dense(64, activation="relu", name="dense"),
            layers.Dense(_class_count(num_classes), activation="softmax", name="output"),
        ],
        name="seed004_cifar10",
    )


def _dense_stack(name: str, input_shape, hidden_units, num_classes) -> keras.Model:
    """Flatten, then relu Dense layers, then softmax: the dense baselines share this shape."""
    layers = keras.layers
    hidden = [
        layers.Dense(units, activation="relu", name=f"dense{number}")
        for number, units in enumerate(_positive_ints(hidden_units, "hidden_units", None, "(512, 256)"), start=1)
    ]
    return keras.Sequential(
        [
            _image_input(input_shape),
            layers.Flatten(name="flatten"),
            *hidden,
            layers.Dense(_class_count(num_classes), activation="softmax", name="output"),
        ],
        name=name,
    )


def _dense_cifar10(*, input_shape=(32, 32, 3), num_classes=10, hidden_units=(512, 256)):
    """Dense baseline for CIFAR-10, after the source's dense network (about 47% test accuracy).

    It shows what a network that ignores the image's 2-D layout achieves,
    before the convnets beat it.
    """
    return _dense_stack("dense_cifar10", input_shape, hidden_units, num_classes)


def _small_dense(*, input_shape=(28, 28, 1), num_classes=10, hidden_units=(64,)):
    """Course-made dense network for the "why convnets" chapter: 50,890 parameters by default.

    784·64 + 64 = 50,240 and 64·10 + 10 = 650; its budget is within 2% of
    `small_convnet` (50,186), so the comparison is about structure, not size.
    """
    return _dense_stack("small_dense", input_shape, hidden_units, num_classes)


def _small_convnet(*, input_shape=(28, 28, 1), num_classes=10, filters=(32, 64)):
    """Course-made convnet for the "why convnets" chapter: 50,186 parameters by default.

    Two same-padded 3x3 convolutions (320 + 18,496) each followed by 2x2
    pooling leave 7x7x64 = 3,136 features for the softmax layer (31,370),
    close to `small_dense`'s 50,890.
    """
    layers = keras.layers
    first, second = _positive_ints(filters, "filters", 2, "(32, 64)")
    return keras.Sequential(
        [
            _image_input(input_shape),
            layers.Conv2D(first, 3, padding="same", activation="relu", name="conv1"),
            layers.MaxPooling2D(2, name="pool1"),
            layers.Conv2D(second, 3, padding="same", activation="relu", name="conv2"),
            layers.MaxPooling2D(2, name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(_class_count(num_classes), activation="softmax", name="output"),
        ],
        name="small_convnet",
    )


_BUILDERS = {
    "seed000_cifar10": _seed000_cifar10,
    "seed001_mnist_base": _seed001_mnist_base,
    "seed001_mnist": _seed001_mnist,
    "seed002_horses_humans": _seed002_horses_humans,
    "seed003_dimension_walk": _seed003_dimension_walk,
    "seed003_cifar10": _seed003_cifar10,
    "seed004_cifar10": _seed004_cifar10,
    "dense_cifar10": _dense_cifar10,
    "small_dense": _small_dense,
    "small_convnet": _small_convnet,
}


def names() -> list[str]:
    """The names `build` accepts, in the order the course introduces them."""
    return list(_BUILDERS)


def build(name: str, **options) -> keras.Model:
    """Build one of the course's networks by name; see `names()` for the list.

    Options such as `input_shape` or `num_classes` are checked here, so a typo
    fails with the list of accepted options instead of being ignored.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"build() takes the model's name as a string; got {name!r}. Valid names: {', '.join(names())}."
        )
    if name not in _BUILDERS:
        close = difflib.get_close_matches(name, names(), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"Unknown model name {name!r}.{hint} Valid names: {', '.join(names())}.")
    builder = _BUILDERS[name]
    accepted = list(inspect.signature(builder).parameters)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(
            f"{name} does not accept the option(s) {', '.join(unknown)}; "
            f"the options it accepts are: {', '.join(accepted)}."
        )
    return builder(**options)


# ---------------------------------------------------------------------------
# Layer table: where each parameter count comes from
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerRow:
    """One layer of a `LayerTable`.

    `output_shape` leaves out the batch dimension; a layer with several
    outputs gets a tuple of shapes. `params` comes from `formula`, computed
    from the layer's configuration, not read back from Keras.
    """

    name: str
    layer_type: str
    output_shape: tuple | None
    params: int
    trainable: int
    formula: str

    @property
    def shape_text(self) -> str:
        """The output shape as the course writes it: "26×26×32"."""
        return _shape_text(self.output_shape)


@dataclass(repr=False)
class LayerTable:
    """A model's layers with their shapes, parameter counts and formulas.

    Printing gives a plain fixed-width table that is the same on every
    machine; notebooks show it as HTML.
    """

    rows: list[LayerRow] = field(default_factory=list)
    total: int = 0
    trainable: int = 0
    non_trainable: int = 0

    _HEADERS = ("Layer", "Type", "Output shape", "Params", "Formula")

    def total_line(self) -> str:
        """The closing line, e.g. "Total: 93,322 parameters (93,322 trainable)"."""
        detail = f"{self.trainable:,} trainable"
        if self.non_trainable:
            detail += f", {self.non_trainable:,} non-trainable"
        return f"Total: {self.total:,} parameters ({detail})"

    def _cells(self) -> list[tuple[str, ...]]:
        return [(row.name, row.layer_type, row.shape_text, f"{row.params:,}", row.formula) for row in self.rows]

    def to_text(self) -> str:
        """Plain text: no colours, no terminal-width guessing, so it can be compared exactly."""
        lines = [self._HEADERS, *self._cells()]
        widths = [max(len(line[column]) for line in lines) for column in range(len(self._HEADERS))]

        def render(cells):
            parts = [
                cell.rjust(width) if column == 3 else cell.ljust(width)
                for column, (cell, width) in enumerate(zip(cells, widths))
            ]
            return "  ".join(parts).rstrip()

        rule = "  ".join("-" * width for width in widths)
        body = [render(cells) for cells in lines[1:]]
        return "\n".join([render(self._HEADERS), rule, *body, rule, self.total_line()])

    __str__ = to_text
    __repr__ = to_text

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(title)}</th>" for title in self._HEADERS)
        body = []
        for cells in self._cells():
            right = ' style="text-align:right"'
            tds = [f"<td{right if column == 3 else ''}>{html.escape(cell)}</td>" for column, cell in enumerate(cells)]
            body.append(f"<tr>{''.join(tds)}</tr>")
        return (
            f'<table class="cnncourse-layer-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody>"
            f'<tfoot><tr><td colspan="5">{html.escape(self.total_line())}</td></tr></tfoot></table>'
        )


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    if shape and isinstance(shape[0], tuple):
        return ", ".join(_shape_text(part) for part in shape)
    if not shape:
        return "scalar"
    return "×".join("?" if size is None else str(size) for size in shape)


def _model_layers(model) -> list:
    """The layers a table or quiz shows: all but the InputLayer, after checking the model."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"Expected a Keras model (keras.Model or keras.Sequential); got {type(model).__name__}.")
    if not model.built:
        raise ValueError(
            f"Model {model.name!r} is not built yet, so its shapes are unknown. Start it with "
            "keras.Input(shape=...) or call model.build((None, *input_shape)) first."
        )
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def _tensor_shapes(tensors) -> tuple | None:
    shapes = [tuple(tensor.shape[1:]) for tensor in keras.tree.flatten(tensors)]
    if not shapes:
        return None
    return shapes[0] if len(shapes) == 1 else tuple(shapes)


def _output_shape(layer) -> tuple | None:
    """Output shape without the batch dimension, from the first time the layer was called."""
    try:
        return _tensor_shapes(layer.output)
    except (AttributeError, ValueError):
        return None  # a layer never called symbolically, e.g. inside a subclassed model


def _input_shape(layer) -> tuple | None:
    """Full input shape, batch dimension included, of the layer's first input."""
    try:
        tensors = keras.tree.flatten(layer.input)
    except (AttributeError, ValueError):
        return None
    return tuple(tensors[0].shape) if tensors else None


def _channels(layer, full_shape) -> int | None:
    """Number of input channels, read from the input shape according to `data_format`."""
    if full_shape is None:
        return None
    axis = 1 if getattr(layer, "data_format", "channels_last") == "channels_first" else -1
    return full_shape[axis]


def _layer_types(*type_names: str) -> tuple:
    """Public Keras layer classes by name, skipping ones an older Keras lacks."""
    return tuple(getattr(keras.layers, type_name) for type_name in type_names if hasattr(keras.layers, type_name))


_CONVOLUTIONS = _layer_types("Conv1D", "Conv2D", "Conv3D")
_TRANSPOSED_CONVOLUTIONS = _layer_types("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
_DEPTHWISE_CONVOLUTIONS = _layer_types("DepthwiseConv1D", "DepthwiseConv2D")
_SEPARABLE_CONVOLUTIONS = _layer_types("SeparableConv1D", "SeparableConv2D")
_POOLINGS = _layer_types(
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D"
)
_GLOBAL_POOLINGS = _layer_types(
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
)


def _dot(*factors) -> str:
    return "·".join(f"{factor:,}" for factor in factors)


def _count_formula(layer) -> tuple[int, int, str] | None:
    """(params, trainable params, formula) from the layer's configuration, or None for unknown types.

    The count is worked out from kernel sizes, filters, units and the input
    channels, independently of `layer.count_params()`, so comparing the two
    checks the formula that learners are taught.
    """
    full_shape = _input_shape(layer)
    if full_shape is None:
        return None
    if isinstance(layer, _CONVOLUTIONS + _TRANSPOSED_CONVOLUTIONS):
        channels = _channels(layer, full_shape)
        groups = getattr(layer, "groups", 1)
        per_filter = channels // groups
        weights = math.prod(layer.kernel_size) * per_filter
        params = (weights + layer.use_bias) * layer.filters
        terms = _dot(*layer.kernel_size, per_filter)
        formula = f"({terms} + 1)·{layer.filters:,}" if layer.use_bias else f"{terms}·{layer.filters:,}"
        formula += f" = {params:,}"
        if groups > 1:
            formula += f" ({groups} groups of {per_filter:,} input channels)"
    elif isinstance(layer, _DEPTHWISE_CONVOLUTIONS):
        channels = _channels(layer, full_shape)
        multiplier = layer.depth_multiplier
        params = (math.prod(layer.kernel_size) + layer.use_bias) * channels * multiplier
        outputs = _dot(channels) if multiplier == 1 else _dot(channels, multiplier)
        kernel = _dot(*layer.kernel_size)
        formula = f"({kernel} + 1)·{outputs}" if layer.use_bias else f"{kernel}·{outputs}"
        formula += f" = {params:,}"
    elif isinstance(layer, _SEPARABLE_CONVOLUTIONS):
        channels = _channels(layer, full_shape)
        multiplier = layer.depth_multiplier
        depthwise = math.prod(layer.kernel_size) * channels * multiplier
        pointwise = channels * multiplier * layer.filters
        params = depthwise + pointwise + (layer.filters if layer.use_bias else 0)
        middle = (channels,) if multiplier == 1 else (channels, multiplier)
        formula = f"{_dot(*layer.kernel_size, *middle)} + {_dot(*middle, layer.filters)}"
        if layer.use_bias:
            formula += f" + {layer.filters:,}"
        formula += f" = {params:,}"
    elif isinstance(layer, keras.layers.Dense):
        inputs = full_shape[-1]
        params = inputs * layer.units + (layer.units if layer.use_bias else 0)
        formula = f"{_dot(inputs, layer.units)}" + (f" + {layer.units:,}" if layer.use_bias else "")
        formula += f" = {params:,}"
    elif isinstance(layer, keras.layers.BatchNormalization):
        channels = full_shape[layer.axis]
        learned = int(layer.scale) + int(layer.center)  # gamma and beta, learned by gradient descent
        params = (learned + 2) * channels  # plus the moving mean and variance
        trainable = f"{learned}·{channels:,} = {learned * channels:,} trainable"
        formula = f"{learned + 2}·{channels:,} = {params:,} ({trainable})"
        return params, (learned * channels if layer.trainable else 0), formula
    else:
        return None
    return params, (params if layer.trainable else 0), formula


def _table_row(layer) -> LayerRow:
    counted = _count_formula(layer)
    if counted is None and not layer.weights:
        counted = (0, 0, "no weights")
    if counted is None:
        trainable = sum(math.prod(weight.shape) for weight in layer.trainable_weights)
        counted = (layer.count_params(), trainable, "from its weights")
    params, trainable, formula = counted
    return LayerRow(layer.name, type(layer).__name__, _output_shape(layer), params, trainable, formula)


def layer_table(model: keras.Model) -> LayerTable:
    """One row per layer (the InputLayer left out) with its output shape, count and formula.

    Works for any built Sequential or Functional model; layer types without a
    formula here show "from its weights".
    """
    rows = [_table_row(layer) for layer in _model_layers(model)]
    total = sum(row.params for row in rows)
    trainable = sum(row.trainable for row in rows)
    return LayerTable(rows=rows, total=total, trainable=trainable, non_trainable=total - trainable)


# ---------------------------------------------------------------------------
# "Fill in the summary" exercise
# ---------------------------------------------------------------------------


def _size_rule(size, kernel, stride, padding, pooling, dilation=1) -> str:
    """One spatial dimension's output size, spelled out with the rule that gives it."""
    if size is None:
        return "the size is unknown"
    if padding != "valid":
        if stride == 1:
            return f"{padding} padding keeps W = {size}"
        worked = f"ceil({size} / {stride}) = {math.ceil(size / stride)}"
        return f"{padding} padding, stride {stride}: ceil(W / S) = {worked}"
    span = dilation * (kernel - 1) + 1
    note = f" (dilated kernel F = {span})" if dilation > 1 else ""
    if pooling and kernel == stride:
        return f"pooling: floor(W / {kernel}) = floor({size} / {kernel}) = {size // kernel}"
    if stride == 1:
        return f"valid padding{note}: W − F + 1 = {size} − {span} + 1 = {size - span + 1}"
    out = (size - span) // stride + 1
    worked = f"floor(({size} − {span}) / {stride}) + 1 = {out}"
    return f"valid padding{note}, stride {stride}: floor((W − F) / S) + 1 = {worked}"


def _spatial_rules(layer, full_shape, pooling: bool) -> str:
    if getattr(layer, "data_format", "channels_last") == "channels_first":
        spatial = full_shape[2:]
    else:
        spatial = full_shape[1:-1]
    kernels = layer.pool_size if pooling else layer.kernel_size
    strides = layer.strides
    dilations = (1,) * len(spatial) if pooling else layer.dilation_rate
    rules = []
    for size, kernel, stride, dilation in zip(spatial, kernels, strides, dilations):
        rule = _size_rule(size, kernel, stride, layer.padding, pooling, dilation)
        if rule not in rules:
            rules.append(rule)
    return " and ".join(rules)


def _shape_rule(layer, output_shape) -> str:
    """Why the layer's output has its shape, in the words of the course's output-size rules."""
    full_shape = _input_shape(layer)
    if full_shape is None or output_shape is None or (output_shape and isinstance(output_shape[0], tuple)):
        return f"the output is {_shape_text(output_shape)}"
    channels = _channels(layer, full_shape)
    if isinstance(layer, _CONVOLUTIONS + _SEPARABLE_CONVOLUTIONS):
        return f"{_spatial_rules(layer, full_shape, pooling=False)}; depth = {layer.filters} filters"
    if isinstance(layer, _DEPTHWISE_CONVOLUTIONS):
        depth = f"{channels} channels × depth multiplier {layer.depth_multiplier}"
        return f"{_spatial_rules(layer, full_shape, pooling=False)}; depth = {depth}"
    if isinstance(layer, _POOLINGS):
        return f"{_spatial_rules(layer, full_shape, pooling=True)}; the depth stays {channels}"
    if isinstance(layer, _GLOBAL_POOLINGS):
        return f"global pooling keeps one number per channel: {_shape_text(output_shape)}"
    if isinstance(layer, keras.layers.Flatten):
        return f"Flatten multiplies the sizes: {_dot(*full_shape[1:])} = {math.prod(output_shape):,}"
    if isinstance(layer, keras.layers.Dense):
        return f"Dense gives one number per unit: {layer.units}"
    if tuple(full_shape[1:]) == tuple(output_shape):
        return f"this layer keeps the shape of its input: {_shape_text(output_shape)}"
    return f"the output is {_shape_text(output_shape)}"


def summary_quiz_template(model: keras.Model) -> list[tuple[None, None]]:
    """An empty answer sheet for `summary_quiz`: one (output_shape, param_count) pair per layer."""
    return [(None, None) for _ in _model_layers(model)]


def _answer_shape(shape, index: int):
    """Read a learner's shape: a tuple or list of ints, or one int for a flat shape such as 576."""
    if shape is None:
        return None
    if isinstance(shape, int) and not isinstance(shape, bool):
        return (shape,)
    if isinstance(shape, (tuple, list)):
        return tuple(tuple(part) if isinstance(part, list) else part for part in shape)
    raise TypeError(
        f"Answer {index}: the output shape must be a tuple such as (26, 26, 32), without the batch "
        f"dimension, or None; got {shape!r}."
    )


def summary_quiz(model: keras.Model, answers) -> bool:
    """Grade a hand-filled summary and print, per layer, why each answer is right or wrong.

    `answers` holds one (output_shape, param_count) pair per layer, in order,
    with None for what is not answered yet; start from
    `summary_quiz_template(model)`. Returns True only when every answer is
    given and right.
    """
    layers = _model_layers(model)
    if not isinstance(answers, (list, tuple)):
        raise TypeError(
            f"answers must be a list of (output_shape, param_count) pairs; got {type(answers).__name__}. "
            "Start from summary_quiz_template(model)."
        )
    if len(answers) != len(layers):
        raise ValueError(
            f"Model {model.name!r} has {len(layers)} layers (the InputLayer not counted), so answers "
            f"needs {len(layers)} (output_shape, param_count) pairs; got {len(answers)}."
        )
    right_layers = 0
    unanswered_layers = 0
    for number, (layer, answer) in enumerate(zip(layers, answers), start=1):
        if not isinstance(answer, (tuple, list)) or len(answer) != 2:
            raise TypeError(f"Answer {number} must be an (output_shape, param_count) pair; got {answer!r}.")
        shape, count = _answer_shape(answer[0], number), answer[1]
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise TypeError(f"Answer {number}: the parameter count must be an integer or None; got {count!r}.")
        row = _table_row(layer)
        print(f"Layer {number}: {row.name} ({row.layer_type})")
        if shape is None and count is None:
            print("  … not answered yet")
            unanswered_layers += 1
            continue
        layer_right = True
        if shape is None:
            print("  … output shape not answered yet")
            layer_right = False
        elif shape == row.output_shape:
            print(f"  ✅ output shape {row.shape_text} — {_shape_rule(layer, row.output_shape)}")
        else:
            rule = _shape_rule(layer, row.output_shape)
            if not rule.endswith(row.shape_text):
                rule += f" → {row.shape_text}"
            print(f"  ❌ output shape {_shape_text(shape)} is wrong — {rule}")
            layer_right = False
        if count is None:
            print("  … parameter count not answered yet")
            layer_right = False
        elif count == row.params:
            print(f"  ✅ {count:,} parameters — {row.formula}")
        else:
            reason = row.formula if row.formula != "no weights" else "no weights, so 0"
            print(f"  ❌ {count:,} parameters is wrong — {reason}")
            layer_right = False
        right_layers += layer_right
    waiting = f" ({unanswered_layers} not answered yet)" if unanswered_layers else ""
    print(f"Score: {right_layers} of {len(layers)} layers right{waiting}.")
    return right_layers == len(layers)


# ---------------------------------------------------------------------------
# Diagram
# ---------------------------------------------------------------------------


def _missing_diagram_tools() -> list[str]:
    """Install instructions for whatever `keras.utils.plot_model` needs and cannot find."""
    missing = []
    try:
        import pydot  # noqa: F401
    except ImportError:
        missing.append("the Python package pydot: `pip install pydot`")
    if shutil.which("dot") is None:
        missing.append(
            "the Graphviz program `dot`: `apt-get install graphviz` (Debian/Ubuntu), "
            "`brew install graphviz` (macOS) or `conda install graphviz`"
        )
    return missing


def plot_diagram(model: keras.Model, path=None, show_shapes: bool = True):
    """Draw the model's layer graph with `keras.utils.plot_model`.

    Inside notebooks Keras only prints a note and returns None when pydot or
    Graphviz is missing; this raises a RuntimeError that says what to install.
    With `path=None` nothing is left on disk and an `IPython.display.Image` is
    returned; with a path the file is written there and an Image of it (or,
    without IPython or for PDF/SVG, the path) is returned.
    """
    _model_layers(model)
    missing = _missing_diagram_tools()
    if missing:
        raise RuntimeError(
            "plot_diagram needs " + " and ".join(missing) + ". Google Colab has both already. "
            "Restart the kernel after installing."
        )
    if path is None:
        try:
            from IPython.display import Image
        except ImportError:
            raise RuntimeError("Without IPython, give plot_diagram a file path, e.g. path='model.png'.") from None
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "model.png"
            _write_diagram(model, target, show_shapes)
            return Image(data=target.read_bytes())
    target = Path(path)
    _write_diagram(model, target, show_shapes)
    if target.suffix.lower() in (".png", ".jpg", ".jpeg"):
        try:
            from IPython.display import Image
        except ImportError:
            return target
        return Image(filename=os.fspath(target))
    return target


def _write_diagram(model, target: Path, show_shapes: bool) -> None:
    keras.utils.plot_model(model, to_file=os.fspath(target), show_shapes=show_shapes, show_layer_names=True)
    if not target.exists():
        raise RuntimeError(
            f"keras.utils.plot_model wrote no file at {target}. If pydot or Graphviz was installed after "
            "Keras was imported, restart the kernel."
        )
