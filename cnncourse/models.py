"""The course's networks by name, and tools to read them layer by layer.

`build(name)` gives every architecture a chapter uses, already built so that
`.summary()` and `count_params()` work at once. Each is named for what it is:
`mnist_convnet` (source 001's MNIST network), `vgg_style_cifar10` (source
003's pairs of 3x3 convolutions), `compact_cifar10` (source 004, the
TensorFlow tutorial's network), `dropout_maxnorm_cifar10` (source 000, with
its regularizers), `two_block_cifar10` (the overfitting chapter's network,
with a switch for each remedy), and so on; `names()` lists them.

`layer_table(model)` explains where each parameter count comes from and
`summary_quiz(model, answers)` grades a learner's hand-computed summary (their
machinery lives in `cnncourse/_summaries.py`); `cc.plots.model_diagram`
draws a model.

Only `keras`, `keras.layers` and `keras.ops` are used, so the same code runs
with the TensorFlow, JAX and PyTorch backends.
"""

from __future__ import annotations

import difflib
import inspect

import keras

from cnncourse import _keras_graph, _validate
from cnncourse._summaries import (ArithmeticTable, LayerRow, LayerTable, layer_table, multiply_adds, summary_quiz,
                                  summary_quiz_template)

__all__ = ["ArithmeticTable", "LayerRow", "LayerTable", "build", "flip_and_shift", "largest_weight_norms",
           "layer_table", "multiply_adds", "names", "random_shift", "register", "summary_quiz",
           "summary_quiz_template"]


# ---------------------------------------------------------------------------
# Checking options
# ---------------------------------------------------------------------------


def _image_shape(input_shape) -> tuple:
    """Check an image shape (height, width, channels) given without the batch dimension."""
    return _validate.positive_ints(input_shape, "input_shape", 3, example="(28, 28, 1) = (height, width, channels)")


def _class_count(num_classes) -> int:
    """Check the number of output classes of a classifier."""
    return _validate.class_count(num_classes)


def _image_input(input_shape) -> keras.KerasTensor:
    """The `Input` every builder starts from, so that its model is built at once."""
    return keras.Input(shape=_image_shape(input_shape), name="image")


# ---------------------------------------------------------------------------
# The course's architectures
# ---------------------------------------------------------------------------


def random_shift(fraction: float, *, fill_mode: str = "reflect",
                 interpolation: str = "bilinear") -> keras.layers.RandomTranslation:
    """``keras.layers.RandomTranslation(fraction, fraction, ...)`` that JAX may compile with the training step.

    The layer moves each training image by up to ``fraction`` of its height
    and width (at prediction time it does nothing). Keras marks it as unable
    to join an XLA-compiled step, because TensorFlow's XLA lacks the image
    transform it uses; a model that holds one then trains op by op on JAX,
    several times slower, although JAX's own transform compiles. So the flag
    is lifted there; TensorFlow keeps it (PyTorch compiles nothing by default).
    The flag is not part of the layer's config: a whole model saved and
    loaded again gets Keras's plain layer back (the course saves weights).
    """
    fraction = _validate.fraction(fraction, "fraction (the largest shift, as a share of the image size, e.g. 0.1)")
    layer = keras.layers.RandomTranslation(
        fraction, fraction, name="random_shift",
        fill_mode=_validate.one_of(fill_mode, ("reflect", "wrap", "constant", "nearest"), "fill_mode"),
        interpolation=_validate.one_of(interpolation, ("bilinear", "nearest"), "interpolation"))
    layer.supports_jit = keras.backend.backend() == "jax"
    return layer


def flip_and_shift(fraction: float = 0.1) -> list[keras.layers.Layer]:
    """The course's data augmentation, as the first layers of a model: a horizontal mirror (on a coin flip) and a
    shift of up to ``fraction`` of the image, drawn afresh for every training image; at prediction time both pass
    the images through unchanged. One definition, so every augmented network in the course augments alike."""
    fraction = _validate.fraction(fraction, "fraction (the largest shift, as a share of the image size, e.g. 0.1)")
    return [keras.layers.RandomFlip("horizontal", name="random_flip"), random_shift(fraction)]


def _dropout_maxnorm_cifar10(*, input_shape=(32, 32, 3), num_classes=10, output_activation="softmax"):
    """CIFAR-10 convnet of source 000, with MaxNorm(3) weight constraints.

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
        name="dropout_maxnorm_cifar10",
    )


def _mnist_base_layers() -> list:
    """Fresh layers of the seed001 convolutional base, shared by both MNIST-convnet builders."""
    layers = keras.layers
    return [
        layers.Conv2D(32, 3, activation="relu", name="conv1"),
        layers.MaxPooling2D(2, name="pool1"),
        layers.Conv2D(64, 3, activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool2"),
        layers.Conv2D(64, 3, activation="relu", name="conv3"),
    ]


def _mnist_convnet_base(*, input_shape=(28, 28, 1)):
    """Convolutional base of source 001 (MNIST), without its classifier.

    The same base as the first convnet of Chollet's *Deep Learning with Python*
    (1st edition, section 5.1); a chapter shows it alone to follow the shapes.
    """
    return keras.Sequential([_image_input(input_shape), *_mnist_base_layers()], name="mnist_convnet_base")


def _mnist_convnet(*, input_shape=(28, 28, 1), num_classes=10):
    """Source 001's MNIST convnet: the base of `mnist_convnet_base` plus a dense classifier."""
    layers = keras.layers
    return keras.Sequential(
        [
            _image_input(input_shape),
            *_mnist_base_layers(),
            layers.Flatten(name="flatten"),
            layers.Dense(64, activation="relu", name="dense"),
            layers.Dense(_class_count(num_classes), activation="softmax", name="output"),
        ],
        name="mnist_convnet",
    )


def _horses_humans_convnet(*, input_shape=(100, 100, 3)):
    """Binary horses-or-humans convnet of source 002 (100x100 images).

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
        name="horses_humans_convnet",
    )


def _dimension_walk(*, input_shape=(32, 32, 3), num_classes=10):
    """Small network of source 003 built to walk through the output-size rules.

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
        name="dimension_walk",
    )


def _vgg_style_cifar10(*, input_shape=(32, 32, 3), num_classes=10):
    """CIFAR-10 convnet of source 003: three pairs of same-padded 3x3 convolutions."""
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
        name="vgg_style_cifar10",
    )


def _compact_cifar10(*, input_shape=(32, 32, 3), num_classes=10):
    """CIFAR-10 convnet of source 004.

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
        name="compact_cifar10",
    )


def _two_block_cifar10(*, input_shape=(32, 32, 3), num_classes=10, dropout=None, max_norm=None, l2=None,
                       batch_norm=False, augmentation=False):
    """Two blocks of two same-padded 3x3 convolutions (32, then 64 filters), 1.1 million parameters.

    The network of the overfitting chapter: big enough to memorise a few
    thousand images. Every option switches on one remedy, so each can be
    measured alone or combined, on the same network:

    - ``dropout=(after_blocks, before_output)``, for example ``(0.25, 0.5)``;
    - ``max_norm=3.0``: caps the norm of each filter (conv kernel axes
      (0, 1, 2)) and of each dense unit's incoming weights (axis 0);
    - ``l2=5e-4``: adds ``l2 * sum(w**2)`` of every kernel to the loss;
    - ``batch_norm=True``: BatchNormalization between each convolution and its
      relu, with momentum 0.9 (PyTorch's default) rather than Keras's 0.99, so
      the statistics used at inference settle within a few dozen steps, not
      hundreds: a short run on few images would otherwise be judged with
      nearly untouched ones;
    - ``augmentation=True``: random horizontal flips and shifts of up to 10 %,
      active in training only.
    """
    layers = keras.layers
    if dropout is not None:
        if not (isinstance(dropout, (tuple, list)) and len(dropout) == 2):
            raise TypeError(f"dropout must be None or a pair of rates (after_blocks, before_output) such as "
                            f"(0.25, 0.5); got {dropout!r}.")
        dropout = tuple(_validate.number(rate, "a dropout rate", minimum=0, maximum=0.95) for rate in dropout)
    for option, value in (("max_norm", max_norm), ("l2", l2)):
        if value is not None and _validate.number(value, f"{option} (None switches it off)") <= 0:
            raise ValueError(f"{option} must be None (off) or a positive number; got {value!r}.")
    for option, value in (("batch_norm", batch_norm), ("augmentation", augmentation)):
        if not isinstance(value, bool):
            raise TypeError(f"{option} must be True or False; got {value!r}.")

    def weights(kernel_axes):
        return {
            "kernel_constraint": keras.constraints.MaxNorm(max_norm, axis=kernel_axes) if max_norm else None,
            "kernel_regularizer": keras.regularizers.L2(l2) if l2 else None,
        }

    stack = [_image_input(input_shape)]
    if augmentation:
        stack += flip_and_shift(0.1)
    for block, filters in enumerate((32, 64), start=1):
        for number in (1, 2):
            name = f"conv{block}_{number}"
            stack.append(layers.Conv2D(filters, 3, padding="same", use_bias=not batch_norm, name=name,
                                       **weights([0, 1, 2])))
            if batch_norm:
                stack.append(layers.BatchNormalization(momentum=0.9, name=f"{name}_bn"))
            stack.append(layers.Activation("relu", name=f"{name}_relu"))
        stack.append(layers.MaxPooling2D(2, name=f"pool{block}"))
        if dropout:
            stack.append(layers.Dropout(dropout[0], name=f"dropout{block}"))
    stack += [layers.Flatten(name="flatten"), layers.Dense(256, activation="relu", name="dense", **weights(0))]
    if dropout:
        stack.append(layers.Dropout(dropout[1], name="dropout3"))
    stack.append(layers.Dense(_class_count(num_classes), activation="softmax", name="output", **weights(0)))
    return keras.Sequential(stack, name="two_block_cifar10")


def _transfer_backbone(*, input_shape=(32, 32, 3), batch_norm_momentum=0.99):
    """Feature extractor of the transfer-learning chapter: images in, 128 features out, 288,352 parameters.

    Three blocks of two 3x3 convolutions (32, 64, 128 filters), each followed
    by BatchNormalization and relu, 2x2 pooling after the first two blocks, and
    global average pooling at the end, so it has no classifier: the chapter
    puts its own head on top. The BatchNormalization layers are on purpose:
    fine-tuning them is the classic pitfall the chapter measures.
    ``batch_norm_momentum``: Keras's 0.99 suits the 22,500-image pretraining;
    trained from scratch on a few dozen images, the network needs 0.9, or its
    running statistics are still near their initial values when it is tested.
    """
    momentum = _validate.number(batch_norm_momentum, "batch_norm_momentum", minimum=0, maximum=0.999)
    layers = keras.layers
    stack = [_image_input(input_shape)]
    for block, filters in enumerate((32, 64, 128), start=1):
        for number in (1, 2):
            name = f"block{block}_conv{number}"
            stack += [layers.Conv2D(filters, 3, padding="same", use_bias=False, name=name),
                      layers.BatchNormalization(momentum=momentum, name=f"{name}_bn"),
                      layers.Activation("relu", name=f"{name}_relu")]
        if block < 3:
            stack.append(layers.MaxPooling2D(2, name=f"block{block}_pool"))
    stack.append(layers.GlobalAveragePooling2D(name="features"))
    return keras.Sequential(stack, name="transfer_backbone")


def _dense_stack(name: str, input_shape, hidden_units, num_classes) -> keras.Model:
    """Flatten, then relu Dense layers, then softmax: the dense baselines share this shape."""
    layers = keras.layers
    hidden_units = _validate.positive_ints(hidden_units, "hidden_units", None, example="(512, 256)")
    hidden = [layers.Dense(units, activation="relu", name=f"dense{number}")
              for number, units in enumerate(hidden_units, start=1)]
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
    first, second = _validate.positive_ints(filters, "filters", 2, example="(32, 64)")
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
    "dropout_maxnorm_cifar10": _dropout_maxnorm_cifar10,
    "mnist_convnet_base": _mnist_convnet_base,
    "mnist_convnet": _mnist_convnet,
    "horses_humans_convnet": _horses_humans_convnet,
    "dimension_walk": _dimension_walk,
    "vgg_style_cifar10": _vgg_style_cifar10,
    "compact_cifar10": _compact_cifar10,
    "two_block_cifar10": _two_block_cifar10,
    "transfer_backbone": _transfer_backbone,
    "dense_cifar10": _dense_cifar10,
    "small_dense": _small_dense,
    "small_convnet": _small_convnet,
}  # chapter 12's airbench_cifar10 joins when cc.modern, which defines it, is imported (see register)


def register(name: str, builder) -> None:
    """Add a network to ``build``'s names: a chapter's own module defines its network where its ideas are."""
    if not isinstance(name, str) or not callable(builder):
        raise TypeError(f"register takes a name (a string such as 'airbench_cifar10') and a builder (a function "
                        f"that builds the network), got name={name!r} and builder={builder!r}")
    if not name.isidentifier():
        raise ValueError(f"a network's name must be a name such as 'airbench_cifar10' (letters, digits, _), "
                         f"got {name!r}")
    existing = _BUILDERS.get(name)
    if existing is not None and existing is not builder and not _same_function(existing, builder):
        raise ValueError(f"a different network is already called {name!r}: pick another name")
    _BUILDERS[name] = builder


def _same_function(first, second) -> bool:
    """The same named function, defined again (its module re-imported): not a lambda or a closure."""
    where = [(getattr(f, "__module__", None), getattr(f, "__qualname__", "<")) for f in (first, second)]
    return where[0] == where[1] and "<" not in where[0][1]


def names() -> list[str]:
    """The names `build` accepts, in the order the course introduces them."""
    return list(_BUILDERS)


def _too_small(name: str, builder, options: dict) -> ValueError:
    """The error for an input_shape (already checked to be three sizes) that the network shrinks to nothing."""
    default_shape = inspect.signature(builder).parameters["input_shape"].default
    return ValueError(f"input_shape {tuple(options.get('input_shape', default_shape))} is too small for "
                      f"{name}: its convolutions and poolings shrink it below one pixel before the end. Use "
                      f"larger images, such as the default {default_shape}.")


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
    try:
        model = builder(**options)
    except ValueError as error:  # newer Keras refuses the shape while building
        if "output size would be zero or negative" not in str(error):
            raise
        raise _too_small(name, builder, options) from None
    if any(size is not None and size < 1 for layer in model.layers for size in layer.output.shape[1:]):
        raise _too_small(name, builder, options)  # older Keras (Colab's) builds it with an empty axis instead
    return model


def largest_weight_norms(model: keras.Model) -> dict:
    """Per convolution or dense layer, the largest norm of one filter's (or one unit's) incoming weights.

    That is the quantity ``MaxNorm(c, axis=[0, 1, 2])`` caps for a convolution
    and ``MaxNorm(c, axis=0)`` for a dense layer, so it shows whether a cap
    would ever bite, and how much a weight penalty kept the weights small.
    """
    _keras_graph.built_model(model)
    norms = {}
    for name, layer in _layers_within(model):
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            kernel = keras.ops.convert_to_numpy(layer.kernel)
            norms[name] = float(((kernel ** 2).sum(axis=tuple(range(kernel.ndim - 1))) ** 0.5).max())
    return norms


def _layers_within(model, prefix: str = ""):
    """Every layer, including those of a model nested inside (a pretrained backbone), named ``backbone/conv1``."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _layers_within(layer, f"{prefix}{layer.name}/")
        else:
            yield f"{prefix}{layer.name}", layer
