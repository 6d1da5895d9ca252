"""The machinery behind ``cc.models.layer_table`` and ``cc.models.summary_quiz``.

For each layer it works out the parameter count from the layer's
configuration (not from Keras's own count, so the two can be compared), the
formula that gives it, and the rule that gives the output size. Course
machinery: a learner needs only what ``layer_table`` prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import keras

from cnncourse import _tables, _text, _validate


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


class _LayerByLayer:
    """How a table of layers prints: one row per layer, a count column, a formula, a closing total line."""

    _HEADERS: tuple[str, ...] = ()

    def to_text(self) -> str:
        """Plain text: the same on every machine, so CI can compare it exactly."""
        return _tables.text(self._HEADERS, self._cells(), right_aligned=(3,), footer=self.total_line())

    def __repr__(self) -> str:
        return self.to_text()

    __str__ = __repr__

    def _repr_html_(self) -> str:
        return _tables.html_table(self._HEADERS, self._cells(), right_aligned=(3,), footer=self.total_line(),
                                  css_class="cnncourse-layer-table")


@dataclass(repr=False)
class LayerTable(_LayerByLayer):
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
    elif type(layer).__name__ == "ScaledBias":  # cc.modern's bias: one per channel, plus its on/off switch
        channels = full_shape[-1]
        params = channels + 1
        formula = f"{channels:,} + 1 = {params:,} ({channels:,} trainable)"
        return params, (channels if layer.trainable else 0), formula
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
# Multiply-adds: where a network's arithmetic is
# ---------------------------------------------------------------------------


@dataclass(repr=False)
class ArithmeticTable(_LayerByLayer):
    """A model's multiply-adds per image, layer by layer, with the formula of each.

    Printing gives a plain fixed-width table, the same on every machine;
    notebooks show it as HTML.
    """

    rows: list = field(default_factory=list)  # (name, type, output shape, multiply-adds, formula)
    total: int = 0

    _HEADERS = ("Layer", "Type", "Output shape", "Multiply-adds", "Formula")

    def total_line(self) -> str:
        return (f"Total: {self.total:,} multiply-adds per image, forward (a training step adds about twice "
                "as many backward)")

    def _cells(self) -> list[tuple[str, ...]]:
        return [(name, kind, shape, f"{count:,}", formula) for name, kind, shape, count, formula in self.rows]


def _positions(shape, layer) -> tuple:
    """The spatial sizes of a (batch-less) shape, read according to ``data_format``."""
    return tuple(shape[1:] if getattr(layer, "data_format", "channels_last") == "channels_first" else shape[:-1])


def _multiply_adds(layer) -> tuple[int, str]:
    """(multiply-adds per image, formula) of one layer: products of inputs with weights, nothing else."""
    full_shape, output = _input_shape(layer), _output_shape(layer)
    if full_shape is None or output is None or (output and isinstance(output[0], tuple)):
        return 0, "not counted (several or unknown outputs)"
    channels = _channels(layer, full_shape)
    if isinstance(layer, _CONVOLUTIONS):
        positions = _positions(output, layer)
        factors = (*positions, *layer.kernel_size, channels // getattr(layer, "groups", 1), layer.filters)
        text = f"{_dot(*positions)} positions · {_dot(*factors[len(positions):])}"
    elif isinstance(layer, _TRANSPOSED_CONVOLUTIONS):
        positions = _positions(full_shape[1:], layer)  # every input pixel spreads through the kernel
        factors = (*positions, *layer.kernel_size, channels, layer.filters)
        text = f"{_dot(*positions)} input positions · {_dot(*factors[len(positions):])}"
    elif isinstance(layer, _DEPTHWISE_CONVOLUTIONS):
        positions = _positions(output, layer)
        factors = (*positions, *layer.kernel_size, channels, layer.depth_multiplier)
        text = f"{_dot(*positions)} positions · {_dot(*factors[len(positions):])}"
    elif isinstance(layer, _SEPARABLE_CONVOLUTIONS):
        positions = _positions(output, layer)
        middle = channels * layer.depth_multiplier
        count = math.prod(positions) * (math.prod(layer.kernel_size) * middle + middle * layer.filters)
        return count, (f"{_dot(*positions)} positions · ({_dot(*layer.kernel_size, middle)} + "
                       f"{_dot(middle, layer.filters)}) = {count:,}")
    elif isinstance(layer, keras.layers.Dense):
        vectors = math.prod(full_shape[1:-1])  # a Dense layer on a map applies at every position
        factors = (vectors, full_shape[-1], layer.units) if vectors > 1 else (full_shape[-1], layer.units)
        text = _dot(*factors[-2:]) if vectors == 1 else f"{vectors:,} positions · {_dot(*factors[1:])}"
    else:
        return 0, "no weights multiplied" if not layer.weights else "elementwise, not counted"
    count = math.prod(factors)
    return count, f"{text} = {count:,}"


def multiply_adds(model: keras.Model) -> ArithmeticTable:
    """One row per layer (the InputLayer left out) with its multiply-adds per image and their formula."""
    rows = []
    for layer in _model_layers(model):
        count, formula = _multiply_adds(layer)
        rows.append((layer.name, type(layer).__name__, _shape_text(_output_shape(layer)), count, formula))
    return ArithmeticTable(rows=rows, total=sum(row[3] for row in rows))


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
    if _validate.is_integer(shape):
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
        if count is not None and (not _validate.is_integer(count)):
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
            _text.say(f"  ✅ output shape {row.shape_text} — {_shape_rule(layer, row.output_shape)}")
        else:
            rule = _shape_rule(layer, row.output_shape)
            if not rule.endswith(row.shape_text):
                rule += f" → {row.shape_text}"
            _text.say(f"  ❌ output shape {_shape_text(shape)} is wrong — {rule}")
            layer_right = False
        if count is None:
            print("  … parameter count not answered yet")
            layer_right = False
        elif count == row.params:
            _text.say(f"  ✅ {count:,} parameters — {row.formula}")
        else:
            reason = row.formula if row.formula != "no weights" else "no weights, so 0"
            _text.say(f"  ❌ {count:,} parameters is wrong — {reason}")
            layer_right = False
        right_layers += layer_right
    waiting = f" ({unanswered_layers} not answered yet)" if unanswered_layers else ""
    print(f"Score: {right_layers} of {len(layers)} layers right{waiting}.")
    return right_layers == len(layers)
