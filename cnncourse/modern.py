"""How convnets are trained today: a fast CIFAR-10 recipe, one idea per function.

This is a Keras 3 port of ``airbench94`` (Jordan, 2024), which reaches 94 %
on CIFAR-10 in under 10 epochs. Every hyperparameter sits in ``RECIPE``; each
trick is one small function or class below, in the order chapter 12 teaches
them:

- ``standardize`` and ``whitening_kernel``: a frozen first convolution whose
  filters decorrelate 2x2 patches (eigenvectors of their covariance);
- ``IdentityInit``: 3x3 convolutions that start as the identity;
- ``ScaledBias``: BatchNorm biases that learn 64 times faster (Keras has
  no per-variable learning rate, so the bias is reparametrised);
- ``TriangleSchedule``: linear warm-up, then linear decay, per step;
- ``AugmentedBatches``: alternating flips and reflect-padded translations;
- ``Lookahead``: weight averaging that grows stronger towards the end;
- ``predict_logits``: test-time augmentation (flip and 1-pixel shifts).

``build_network`` assembles the network (``cc.models.build("airbench_cifar10")``
calls it), ``compile_network`` the optimizer and loss (``Muon`` for the 2024
recipe, ``MUON_CHANGES``), and ``run_recipe`` puts everything together for
one run, as airbench's ``main`` does. The bookkeeping of the chapter's many
runs is in ``cc.recipe_runs``. Only ``keras``, ``keras.ops`` and NumPy are
used: every backend runs it.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from cnncourse import _keras_graph, _validate, config, data as datasets, models, training

__all__ = ["ABLATIONS", "MUON_CHANGES", "RECIPE", "AugmentedBatches", "IdentityInit", "Lookahead", "Muon", "ScaledBias",
           "TriangleSchedule", "build_network", "compile_network", "kernel_gradient", "newton_schulz", "predict_logits",
           "optimizer", "prepare", "recipe_changes", "recipe_with", "run_recipe", "run_name", "standardize",
           "whitening_kernel"]

# airbench94's hyperparameters, in the course's words. Rates and decay are per
# 1024 images and independent of the momentum, as in the paper (see compile_network).
RECIPE = {
    "epochs": 10,
    "batch_size": 1024,
    "learning_rate": 11.5,            # per 1024 images, momentum taken out (airbench's convention)
    "momentum": 0.85,                 # Nesterov
    "weight_decay": 0.0153,           # per 1024 images, coupled with the gradient as in PyTorch's SGD
    "bias_lr_multiplier": 64.0,       # BatchNorm biases learn this much faster
    "label_smoothing": 0.2,
    "schedule": (0.2, 0.23, 0.07),    # learning rate: starts at 0.2x, peaks (1x) at 23 % of the steps, ends at 0.07x
    "whiten_bias_epochs": 3,          # the whitening layer's bias learns for this many epochs, then stops
    "flip": "alternating",            # "alternating" (every image mirrored every other epoch), "random" or "none"
    "translate": 2,                   # random shifts of up to this many pixels, reflect-padded
    "lookahead": True,                # weight averaging from epoch 3 on, every 5 steps
    "tta_level": 2,                   # test-time augmentation: 0 none, 1 mirror, 2 mirror and 1-pixel shifts
    "widths": (64, 256, 256),         # filters of the three blocks
    "convs_per_block": 2,
    "batchnorm_momentum": 0.6,        # Keras convention: the share of the old running average kept
    "logit_scale": 1 / 9,             # the output layer's logits are multiplied by this
    "whitening": True,
    "identity_init": True,
    "residual": False,                # the skip-connection variant of chapter 12
    "optimizer": "sgd",               # "sgd" (airbench94) or "muon" (airbench94_muon: see Muon)
    "head_std": None,                 # None: the head starts as PyTorch's default; a number: rescaled to that std
    "precision": "float32",           # or "mixed_bfloat16": bfloat16 arithmetic, float32 weights and logits
}

# airbench94_muon (Jordan, 2024): the same network trained by Muon, in fewer, larger steps. Its rates and
# weight decay are Muon's defaults; here is what else differs from RECIPE.
MUON_CHANGES = {
    "optimizer": "muon",
    "epochs": 8,
    "batch_size": 2000,
    "lookahead": False,
    "logit_scale": 1 / 256,           # the head's output divided by its 256 inputs
    "head_std": 1.0,
    "bias_lr_multiplier": 1.0,        # Muon gives the biases their own rate
}

# One ingredient removed at a time (chapter 12's ablation table).
ABLATIONS = {
    "no_whitening": {"whitening": False},
    "no_identity_init": {"identity_init": False},
    "no_bias_lr": {"bias_lr_multiplier": 1.0},
    "no_label_smoothing": {"label_smoothing": 0.0},
    "random_flip": {"flip": "random"},
    "no_translate": {"translate": 0},
    "no_lookahead": {"lookahead": False},
}

LOOKAHEAD = {"start_epoch": 3, "every": 5, "decay": 0.95, "power": 3.0}
WHITENING_PATCH = 2
WHITENING_EPSILON = 5e-4


def _checked_recipe(recipe) -> dict:
    """A whole recipe passed as a dict (as ``recipe_with`` returns it), checked entry by entry."""
    if not isinstance(recipe, dict):
        raise TypeError(f"recipe must be a dict of recipe entries (see cc.modern.RECIPE), got {recipe!r}")
    return recipe_with(**recipe)


def recipe_with(**changes) -> dict:
    """``RECIPE`` with some entries changed; an unknown or misspelt key is an error, not ignored."""
    unknown = sorted(set(changes) - set(RECIPE))
    if unknown:
        raise ValueError(f"unknown recipe entries {', '.join(map(repr, unknown))}; the recipe has: "
                         f"{', '.join(RECIPE)}")
    recipe = {**RECIPE, **changes}
    _validate.one_of(recipe["flip"], ("alternating", "random", "none"), "recipe['flip']")
    _validate.integer(recipe["translate"], "recipe['translate']", minimum=0, example="2")
    _validate.one_of(recipe["tta_level"], (0, 1, 2), "recipe['tta_level']")
    recipe["widths"] = _validate.positive_ints(recipe["widths"], "recipe['widths']", 3, example="(64, 256, 256)")
    for key in ("epochs", "batch_size", "convs_per_block"):
        _validate.positive_int(recipe[key], f"recipe[{key!r}]")
    for key in ("learning_rate", "bias_lr_multiplier", "logit_scale"):
        if _validate.number(recipe[key], f"recipe[{key!r}]") <= 0:
            raise ValueError(f"recipe[{key!r}] must be positive, got {recipe[key]!r}")
    _validate.number(recipe["momentum"], "recipe['momentum']", minimum=0.0, maximum=0.99)
    _validate.number(recipe["weight_decay"], "recipe['weight_decay']", minimum=0.0)
    _validate.number(recipe["label_smoothing"], "recipe['label_smoothing']", minimum=0.0, maximum=0.99)
    _validate.one_of(recipe["optimizer"], ("sgd", "muon"), "recipe['optimizer']")
    _validate.one_of(recipe["precision"], ("float32", "mixed_bfloat16"), "recipe['precision']")
    if recipe["head_std"] is not None:
        _validate.positive_number(recipe["head_std"], "recipe['head_std']")
    return recipe


# ---------------------------------------------------------------- whitening


def standardize(images, mean=None, std=None):
    """Images with each colour channel at mean 0 and standard deviation 1.

    Returns ``(standardized, mean, std)``; pass the training images' ``mean``
    and ``std`` when standardizing the test images, so both see one scale.
    """
    images = _validate.images(images, "images", channels=None)
    if mean is None:
        # accumulated in float64: a float32 sum stops growing near 2**24, so over CIFAR-10's 51 million values a
        # channel the float32 mean comes out as 0.33 instead of 0.49
        mean = images.mean(axis=(0, 1, 2), dtype=np.float64)
        centred = images - mean.astype(images.dtype)
        std = np.sqrt(np.square(centred, out=centred).mean(axis=(0, 1, 2), dtype=np.float64))
        del centred  # as large as the images: gone before the result below is made
    mean, std = np.asarray(mean, dtype=np.float32), np.asarray(std, dtype=np.float32)
    if np.any(std == 0) and mean.shape == (images.shape[-1],):
        raise ValueError(f"images have a channel with no variation at all (std {std}); standardizing would "
                         "divide by zero: are the images blank?")
    if mean.shape != (images.shape[-1],) or std.shape != (images.shape[-1],) or np.any(std <= 0):
        raise ValueError(f"mean and std must hold one value per channel ({images.shape[-1]}) and std must be "
                         f"positive; got mean {mean!r}, std {std!r}")
    standardized = images - mean  # float32, like images, mean and std: the division works in place
    standardized /= std
    return standardized, mean, std


def patches(images, size: int = WHITENING_PATCH) -> np.ndarray:
    """Every ``size`` x ``size`` patch of every image, flattened in (row, column, channel) order."""
    images = _validate.images(images, "images", channels=None)
    windows = np.lib.stride_tricks.sliding_window_view(images, (size, size), axis=(1, 2))
    # (N, rows, columns, channels, size, size) -> (patches, size * size * channels)
    return windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, size * size * images.shape[-1])


def whitening_kernel(images, size: int = WHITENING_PATCH, epsilon: float = WHITENING_EPSILON) -> np.ndarray:
    """Filters that make image patches uncorrelated, with unit variance: a (size, size, C, 2 * size² * C) kernel.

    The covariance of the training images' patches has eigenvectors (the
    directions in which patches vary) and eigenvalues (how much). A filter
    along each eigenvector, divided by the square root of its eigenvalue,
    gives outputs that are uncorrelated and of variance 1: every direction
    starts on an equal footing. The negated filters follow, so that a GELU
    after them keeps both signs of each direction.
    """
    size = _validate.positive_int(size, "size", example="2")
    epsilon = _validate.number(epsilon, "epsilon", minimum=0.0)
    flat = patches(images, size).astype(np.float64)
    covariance = flat.T @ flat / len(flat)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending
    eigenvalues, eigenvectors = eigenvalues[::-1], eigenvectors[:, ::-1]
    filters = eigenvectors / np.sqrt(np.maximum(eigenvalues, 0) + epsilon)
    channels = flat.shape[1] // (size * size)
    kernel = filters.reshape(size, size, channels, -1)
    return np.concatenate([kernel, -kernel], axis=-1).astype(np.float32)


# ---------------------------------------------------------------- layers and initializers


class IdentityInit(keras.initializers.Initializer):
    """A convolution kernel whose first filters copy their input channel through unchanged.

    Filter ``i`` (for ``i`` below the number of input channels) has a single 1
    at its centre, on channel ``i``: a fresh convolution then passes its input
    on, like a skip connection, and learning starts from "change nothing".
    The other filters are random, as PyTorch initialises a convolution.
    """

    def __call__(self, shape, dtype=None):
        height, width, channels_in, channels_out = shape
        kernel = ops.convert_to_numpy(_torch_like_uniform()(shape, dtype="float32")).copy()
        identity = min(channels_in, channels_out)
        kernel[:, :, :, :identity] = 0
        kernel[height // 2, width // 2, np.arange(identity), np.arange(identity)] = 1
        return ops.convert_to_tensor(kernel, dtype=dtype or "float32")


def _torch_like_uniform():
    """PyTorch's default weights for a convolution or dense layer: uniform in ±1/sqrt(fan_in)."""
    return keras.initializers.VarianceScaling(scale=1 / 3, mode="fan_in", distribution="uniform")


class ScaledBias(layers.Layer):
    """Adds a learned bias per channel that learns ``multiplier`` times faster than the other weights.

    Keras optimizers have one learning rate for every weight. Storing the bias
    as ``b / sqrt(m)`` and multiplying it back by ``sqrt(m)`` in the forward
    pass changes nothing in what the layer computes, but the gradient with
    respect to the stored number is ``sqrt(m)`` times larger and a step in it
    moves the bias ``sqrt(m)`` times further: ``m`` times the plain step. The
    weight decay (an L2 penalty on the stored number) shrinks ``b`` by the
    same fraction as any other weight.

    ``learning`` is a switch the ``FreezeBias`` callback turns off: the bias
    then keeps its value and gets no more gradient.
    """

    def __init__(self, multiplier: float = 1.0, l2: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.multiplier = _validate.positive_number(multiplier, "multiplier")
        self.l2 = _validate.number(l2, "l2", minimum=0.0)

    def build(self, input_shape):
        self.stored = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="stored_bias",
                                      regularizer=keras.regularizers.L2(self.l2) if self.l2 else None)
        self.learning = self.add_weight(shape=(), initializer="ones", trainable=False, name="learning")

    def call(self, inputs):
        stored = self.learning * self.stored + (1 - self.learning) * ops.stop_gradient(self.stored)
        return inputs + math.sqrt(self.multiplier) * stored

    @property
    def bias(self):
        """The bias the layer adds (what a plain bias variable would hold)."""
        return math.sqrt(self.multiplier) * ops.convert_to_numpy(self.stored)

    def get_config(self):
        return {**super().get_config(), "multiplier": self.multiplier, "l2": self.l2}


# ---------------------------------------------------------------- the network


def _l2(recipe: dict) -> float:
    """The L2 penalty whose gradient is airbench's weight decay, coupled as in PyTorch's SGD.

    airbench94's PyTorch SGD adds a multiple of each weight to its gradient
    *before* the momentum; per step the weights shrink by ``weight_decay``
    (per 1024 images) times the schedule, whatever the learning rate. With
    the mean loss and the rate of ``learning_rate(recipe)``, an L2 penalty
    ``c * w**2`` gives exactly that for ``c = weight_decay / (2 * learning_rate)``.
    Keras's own ``weight_decay=`` would instead shrink the weights apart from
    the momentum step (decoupled, as AdamW does): a different optimizer.
    """
    if recipe["optimizer"] == "muon":
        return 0.0  # Muon decays the weights itself
    return recipe["weight_decay"] / (2 * recipe["learning_rate"])


def build_network(recipe: dict | None = None, *, input_shape=(32, 32, 3), num_classes: int = 10,
                  name: str = "airbench_cifar10") -> keras.Model:
    """airbench94's network: whitening, three conv-pool-BatchNorm-GELU blocks, a max and a linear layer.

    ``recipe`` entries used: ``widths``, ``convs_per_block``, ``whitening``,
    ``identity_init``, ``residual``, ``bias_lr_multiplier``,
    ``batchnorm_momentum``, ``logit_scale``, ``precision`` and the weight
    decay. The output is float32 logits (no softmax): the loss and test-time
    augmentation work on them. With ``precision="mixed_bfloat16"`` every layer
    computes in bfloat16 (7 bits of mantissa instead of 23: half the memory
    traffic, and CPUs and GPUs with bfloat16 units multiply faster) while
    the weights, the batch statistics and the logits stay float32.
    The whitening kernel is set from data afterwards, by ``set_whitening``.
    """
    recipe = recipe_with(**(recipe or {}))
    input_shape = _validate.positive_ints(input_shape, "input_shape", 3, example="(32, 32, 3)")
    smallest = WHITENING_PATCH + 2 ** len(recipe["widths"]) - 1
    if min(input_shape[:2]) < smallest:
        raise ValueError(f"input_shape {input_shape} is too small for this network: the {WHITENING_PATCH}x"
                         f"{WHITENING_PATCH} whitening and {len(recipe['widths'])} 2x2 poolings need at least "
                         f"{smallest}x{smallest} pixels")
    num_classes = _validate.integer(num_classes, "num_classes", minimum=2, example="10")
    l2 = keras.regularizers.L2(_l2(recipe)) if _l2(recipe) else None
    conv_init = IdentityInit() if recipe["identity_init"] else _torch_like_uniform()

    policy = recipe["precision"]

    def batch_norm(x, label):
        x = layers.BatchNormalization(momentum=recipe["batchnorm_momentum"], epsilon=1e-12, center=False,
                                      scale=False, dtype=policy, name=f"{label}_norm")(x)
        return ScaledBias(recipe["bias_lr_multiplier"], l2=_l2(recipe), dtype=policy, name=f"{label}_bias")(x)

    def conv(x, filters, label):
        return layers.Conv2D(filters, 3, padding="same", use_bias=False, kernel_initializer=conv_init,
                             kernel_regularizer=l2, dtype=policy, name=label)(x)

    inputs = keras.Input(shape=input_shape, name="image")
    patch_filters = 2 * WHITENING_PATCH**2 * input_shape[-1]
    x = layers.Conv2D(patch_filters, WHITENING_PATCH, use_bias=False, trainable=not recipe["whitening"],
                      kernel_initializer=_torch_like_uniform(), dtype=policy, name="whiten")(inputs)
    x = ScaledBias(1.0, dtype=policy, name="whiten_bias")(x)
    x = layers.Activation("gelu", dtype=policy, name="whiten_gelu")(x)
    for block, width in enumerate(recipe["widths"], start=1):
        label = f"block{block}"
        x = conv(x, width, f"{label}_conv1")
        x = layers.MaxPooling2D(2, dtype=policy, name=f"{label}_pool")(x)
        x = batch_norm(x, f"{label}_conv1")
        x = layers.Activation("gelu", dtype=policy, name=f"{label}_gelu1")(x)
        shortcut = x
        for index in range(2, recipe["convs_per_block"] + 1):
            x = conv(x, width, f"{label}_conv{index}")
            x = batch_norm(x, f"{label}_conv{index}")
            x = layers.Activation("gelu", dtype=policy, name=f"{label}_gelu{index}")(x)
        if recipe["residual"]:
            x = layers.Add(dtype=policy, name=f"{label}_skip")([shortcut, x])
    x = layers.GlobalMaxPooling2D(dtype=policy, name="global_max")(x)
    head_init = _torch_like_uniform() if recipe["head_std"] is None else keras.initializers.RandomUniform(
        -math.sqrt(3) * recipe["head_std"], math.sqrt(3) * recipe["head_std"])  # uniform with that std
    x = layers.Dense(num_classes, use_bias=False, kernel_initializer=head_init, kernel_regularizer=l2,
                     dtype=policy, name="logits")(x)
    outputs = layers.Rescaling(recipe["logit_scale"], dtype="float32", name="logit_scale")(x)
    return keras.Model(inputs, outputs, name=name)


def set_whitening(model: keras.Model, images) -> np.ndarray:
    """Compute the whitening kernel from (standardized) training images and put it in the first layer."""
    layer = model.get_layer("whiten")
    kernel = whitening_kernel(images, size=layer.kernel.shape[0])
    if tuple(kernel.shape) != tuple(layer.kernel.shape):
        raise ValueError(f"the images have {kernel.shape[2]} channels but the network expects "
                         f"{layer.kernel.shape[2]}")
    layer.kernel.assign(kernel)
    return kernel


# ---------------------------------------------------------------- optimization


class TriangleSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate at each step: a straight rise to the peak, then a straight fall.

    It starts at ``start`` times the peak rate, reaches the peak after
    ``peak_at`` of the steps and ends at ``end`` times the peak at the last
    step. A short warm-up lets BatchNorm's statistics settle before the big
    steps; the long decay lets the weights settle into a minimum.
    """

    def __init__(self, peak_rate: float, total_steps: int, start: float = 0.2, peak_at: float = 0.23,
                 end: float = 0.07):
        self.peak_rate = _validate.positive_number(peak_rate, "peak_rate")
        self.total_steps = _validate.positive_int(total_steps, "total_steps", example="480")
        self.start = _validate.number(start, "start", minimum=0.0)
        self.peak_at = _validate.number(peak_at, "peak_at", minimum=0.0, maximum=1.0)
        self.end = _validate.number(end, "end", minimum=0.0)
        self.peak_step = max(1, int(self.peak_at * self.total_steps))

    def __call__(self, step):
        step = ops.cast(step, "float32")
        rising = self.start + (1 - self.start) * step / self.peak_step
        falling = 1 + (self.end - 1) * (step - self.peak_step) / max(1, self.total_steps - self.peak_step)
        return self.peak_rate * ops.where(step < self.peak_step, rising, falling)

    def get_config(self):
        return {"peak_rate": self.peak_rate, "total_steps": self.total_steps, "start": self.start,
                "peak_at": self.peak_at, "end": self.end}


def learning_rate(recipe: dict) -> float:
    """Keras's peak learning rate (for the batch's mean loss), from airbench's rate per 1024 images.

    airbench sums the loss over the batch and gives the rate per 1024
    images; we average the loss (it reads better), so the rate is
    multiplied by the batch size. With Nesterov momentum m and steady
    gradients, SGD's steps grow to about ``1 + 1 / (1 - m)`` times the
    gradient; dividing by that keeps the step independent of m.
    """
    return recipe["learning_rate"] * recipe["batch_size"] / (1024 * (1 + 1 / (1 - recipe["momentum"])))


def compile_network(model: keras.Model, recipe: dict, steps_per_epoch: int) -> keras.Model:
    """The label-smoothed cross-entropy, with Nesterov SGD on the triangle schedule (or ``Muon``, for a Muon recipe)."""
    _keras_graph.built_model(model)
    recipe = _checked_recipe(recipe)
    model.compile(
        optimizer=optimizer(recipe, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=recipe["label_smoothing"]),
        metrics=["accuracy"],
    )
    return model


def optimizer(recipe: dict, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The optimizer a recipe trains with: Nesterov SGD on the triangle schedule, or ``Muon``."""
    recipe = _checked_recipe(recipe)
    steps_per_epoch = _validate.positive_int(steps_per_epoch, "steps_per_epoch", example="48")
    total_steps = recipe["epochs"] * steps_per_epoch
    if recipe["optimizer"] == "muon":
        return Muon(total_steps, batch_size=recipe["batch_size"], momentum=recipe["momentum"],
                    bias_decay_steps={"whiten_bias": recipe["whiten_bias_epochs"] * steps_per_epoch})
    start, peak_at, end = recipe["schedule"]
    schedule = TriangleSchedule(learning_rate(recipe), total_steps, start, peak_at, end)
    return keras.optimizers.SGD(learning_rate=schedule, momentum=recipe["momentum"], nesterov=True)


# ---------------------------------------------------------------- Muon: orthogonalized updates for the filters

NEWTON_SCHULZ_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # the reference's quintic, steep at zero


def newton_schulz(matrix, steps: int = 3):
    """``matrix`` with its singular values pushed towards 1, its singular vectors kept (a few matrix products).

    A gradient matrix is dominated by a few directions (large singular
    values); most directions get tiny steps. Replacing ``U S V^T`` by about
    ``U V^T`` gives every direction of the update a step of the same size.
    Computing ``U V^T`` exactly needs an SVD; the iteration
    ``X <- a X + (b X X^T + c (X X^T)^2) X`` gets close in three products each,
    after the matrix is scaled so that no singular value exceeds 1. Its
    coefficients favour speed over precision: a singular value lands in a
    band around 1 (about 0.7 to 1.2), not on 1, and a tiny one grows only
    about 3.4-fold a step, so three steps leave the smallest directions of a
    real gradient near 0.1 (chapter 12 shows one).
    """
    steps = _validate.positive_int(steps, "steps", example="3")
    if not hasattr(matrix, "shape") or len(matrix.shape) != 2 or 0 in tuple(matrix.shape):
        raise ValueError(f"matrix must be 2-D (a kernel reshaped to (k·k·c_in, c_out)), got "
                         f"{getattr(matrix, 'shape', type(matrix).__name__)}")
    if isinstance(matrix, np.ndarray) and not np.all(np.isfinite(matrix)):  # tensors in a traced step: not here
        raise ValueError("matrix contains NaN or infinite values: an update built from it would be too")
    a, b, c = NEWTON_SCHULZ_COEFFICIENTS
    x = ops.cast(matrix, "float32")
    x = x / (ops.sqrt(ops.sum(ops.square(x))) + 1e-7)  # the largest singular value is now at most 1
    tall = matrix.shape[0] > matrix.shape[1]
    if tall:  # iterate on the wide orientation: the Gram matrix X X^T is then the small one
        x = ops.transpose(x)
    for _ in range(int(steps)):
        gram = ops.matmul(x, ops.transpose(x))
        x = a * x + ops.matmul(b * gram + c * ops.matmul(gram, gram), x)
    return ops.transpose(x) if tall else x


@keras.saving.register_keras_serializable(package="cnncourse")
class Muon(keras.optimizers.Optimizer):
    """Muon for the convolution filters, Nesterov SGD for everything else (airbench94_muon's optimizers in one).

    For a 4-D kernel ``(k, k, c_in, c_out)``, each step: the momentum of the
    gradient, as a ``(k·k·c_in, c_out)`` matrix, goes through
    ``newton_schulz``; the kernel is rescaled to norm ``sqrt(c_out)`` and
    takes the orthogonalized step. Every other weight (biases, the head) gets
    Nesterov SGD with its own rate and a weight decay coupled with the
    gradient, as PyTorch's SGD does. All rates fall linearly to 0 over
    ``total_steps`` (the whitening bias's over ``bias_decay_steps``).
    Rates are the reference's, for its summed loss: the mean loss Keras
    differentiates is multiplied back by ``batch_size``.
    """

    def __init__(self, total_steps: int, *, batch_size: int, filter_rate: float = 0.24,
                 filter_momentum: float = 0.6, momentum: float = 0.85, bias_rate: float = 0.053,
                 head_rate: float = 0.67, weight_decay: float = 2e-6, head: str = "logits",
                 bias_decay_steps: dict | None = None, newton_schulz_steps: int = 3, name: str = "muon", **kwargs):
        kwargs.pop("learning_rate", None)  # each group has its own rate; a saved config carries Keras's placeholder
        super().__init__(learning_rate=1.0, name=name, **kwargs)
        self.total_steps = _validate.positive_int(total_steps, "total_steps", example="200")
        self.batch_size = _validate.positive_int(batch_size, "batch_size", example="2000")
        self.filter_rate = _validate.positive_number(filter_rate, "filter_rate")
        self.filter_momentum = _validate.number(filter_momentum, "filter_momentum", minimum=0.0, maximum=0.99)
        self.momentum = _validate.number(momentum, "momentum", minimum=0.0, maximum=0.99)
        self.bias_rate = _validate.positive_number(bias_rate, "bias_rate")
        self.head_rate = _validate.positive_number(head_rate, "head_rate")
        self.weight_decay_per_image = _validate.number(weight_decay, "weight_decay", minimum=0.0)
        self.head = head
        self.bias_decay_steps = dict(bias_decay_steps or {})
        self.newton_schulz_steps = _validate.integer(newton_schulz_steps, "newton_schulz_steps", minimum=1,
                                                     example="3")

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.momentums = [self.add_variable_from_reference(variable, "momentum") for variable in variables]
        self.groups = [self.group(variable) for variable in variables]  # by index: a backend may hand over
        self.decay_steps = [next((steps for part, steps in self.bias_decay_steps.items()  # its own variable
                                  if part in variable.path.split("/")), self.total_steps) for variable in variables]

    def group(self, variable) -> str:
        """Which rule updates ``variable``: ``"filters"`` (Muon), ``"head"`` or ``"biases"`` (SGD)."""
        if len(variable.shape) == 4:
            return "filters"
        return "head" if self.head in variable.path.split("/") else "biases"

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        momentum_buffer, group = self.momentums[index], self.groups[index]
        gradient = ops.cast(gradient, "float32") * self.batch_size  # the reference's summed loss
        step = ops.cast(self.iterations, "float32")
        decay = ops.maximum(0.0, 1.0 - step / self.decay_steps[index])
        if group == "filters":
            self.assign(momentum_buffer, self.filter_momentum * momentum_buffer + gradient)
            nesterov = gradient + self.filter_momentum * momentum_buffer
            height, width, channels_in, channels_out = variable.shape
            matrix = ops.reshape(nesterov, (-1, channels_out))  # (k·k·c_in, c_out)
            update = newton_schulz(matrix, self.newton_schulz_steps)
            norm = ops.sqrt(ops.sum(ops.square(variable)))
            self.assign(variable, variable * (math.sqrt(channels_out) / norm)
                        - self.filter_rate * decay * ops.reshape(update, variable.shape))
            return
        rate = self.head_rate if group == "head" else self.bias_rate
        gradient = gradient + (self.weight_decay_per_image * self.batch_size / rate) * variable
        self.assign(momentum_buffer, self.momentum * momentum_buffer + gradient)
        self.assign_sub(variable, rate * decay * (gradient + self.momentum * momentum_buffer))

    def get_config(self):
        return {**super().get_config(), "total_steps": self.total_steps, "batch_size": self.batch_size,
                "filter_rate": self.filter_rate, "filter_momentum": self.filter_momentum, "momentum": self.momentum,
                "bias_rate": self.bias_rate, "head_rate": self.head_rate,
                "weight_decay": self.weight_decay_per_image, "head": self.head,
                "bias_decay_steps": self.bias_decay_steps, "newton_schulz_steps": self.newton_schulz_steps}


class _GradientProbe(keras.optimizers.Optimizer):
    """An optimizer that takes no step: it keeps each variable's latest gradient, to be looked at."""

    def __init__(self, name: str = "gradient_probe", **kwargs):
        super().__init__(learning_rate=0.0, name=name, **kwargs)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.gradients = [self.add_variable_from_reference(variable, "gradient") for variable in variables]

    def update_step(self, gradient, variable, learning_rate):
        self.assign(self.gradients[self._get_variable_index(variable)], gradient)


def kernel_gradient(images, labels, layer: str, *, num_classes: int = 10, seed: int = 0, **changes) -> np.ndarray:
    """What an optimizer receives at the first step for one layer's kernel, as a ``(k·k·c_in, c_out)`` matrix.

    The recipe's network (with ``changes``) is built afresh after
    ``cc.config.seed_everything(seed)``, its whitening set from ``images``
    (already standardized: see ``standardize``), and the gradient of the
    recipe's loss (with its L2 penalty, for an SGD recipe) on this one batch
    is taken with respect to ``layer``'s kernel; no weight takes a step.
    This is the matrix that Muon orthogonalizes (``newton_schulz``), so a
    chapter can show what that does to a real layer's update.
    """
    recipe = recipe_with(**changes)
    seed = _validate.seed(seed)
    images = _validate.finite_array(images, "images")
    smallest = WHITENING_PATCH + 2 ** len(recipe["widths"]) - 1
    if images.ndim != 4 or min(images.shape[1:3]) < smallest:
        raise ValueError(f"images must be a batch (N, H, W, C) of at least {smallest}x{smallest} pixels (the "
                         f"network's whitening and poolings need them), got shape {images.shape}")
    num_classes = _validate.integer(num_classes, "num_classes", minimum=2, example="10")
    labels = _validate.class_labels(labels, "labels", num_classes=num_classes)
    _validate.same_length(images, labels, "images", "labels")
    config.seed_everything(seed)
    model = build_network(recipe, input_shape=images.shape[1:], num_classes=num_classes)
    names = [each.name for each in model.layers
             if len(getattr(each, "kernel", np.zeros(0)).shape) == 4 and each.kernel.trainable]
    if layer not in names:
        raise ValueError(f"layer must name a trained convolution of the network, one of {names}; got {layer!r}")
    if recipe["whitening"]:
        set_whitening(model, images)
    probe = _GradientProbe()
    model.compile(optimizer=probe, loss=keras.losses.CategoricalCrossentropy(
        from_logits=True, label_smoothing=recipe["label_smoothing"]))
    model.train_on_batch(images, np.eye(num_classes, dtype="float32")[labels])
    kernel = model.get_layer(layer).kernel
    gradient = probe.gradients[probe._get_variable_index(kernel)]
    return ops.convert_to_numpy(gradient).reshape(-1, kernel.shape[-1])


# ---------------------------------------------------------------- augmentation


class AugmentedBatches(keras.utils.PyDataset):
    """Training batches with a new flip and shift for every image in every epoch (no ``tf.data``).

    - ``flip="alternating"``: half the images, chosen once, start mirrored;
      after that every image is mirrored in every other epoch. Over two
      epochs each image is seen both ways, which random flips only promise
      on average.
    - ``translate=t``: each image is padded by ``t`` pixels (reflecting its
      edge) and a random 32x32 window is cut out: shifts of -t to t pixels.

    The epoch's augmentation depends only on ``seed`` and the epoch number,
    so a resumed training sees the same images it would have seen. Keras
    tells the batches the epoch through ``follow_epochs()``, a callback.
    Labels come one-hot (the label-smoothed loss needs them so).
    """

    def __init__(self, images, labels, *, batch_size: int, num_classes: int = 10, flip: str = "alternating",
                 translate: int = 2, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.images = _validate.images(images, "images", channels=None)
        num_classes = _validate.positive_int(num_classes, "num_classes", example="10")
        labels = _validate.class_labels(labels, "labels", num_classes)
        if len(labels) != len(self.images):
            raise ValueError(f"got {len(self.images)} images but {len(labels)} labels")
        self.labels = np.eye(num_classes, dtype=np.float32)[labels]
        self.batch_size = _validate.positive_int(batch_size, "batch_size", example="1024")
        if self.batch_size > len(self.images):
            raise ValueError(f"batch_size {batch_size} is larger than the {len(self.images)} images; "
                             "every batch would be incomplete and dropped")
        self.flip = _validate.one_of(flip, ("alternating", "random", "none"), "flip")
        self.translate = _validate.integer(translate, "translate", minimum=0, example="2")
        if self.translate >= min(self.images.shape[1:3]):
            raise ValueError(f"translate={self.translate} must be smaller than the images "
                             f"({self.images.shape[1]}x{self.images.shape[2]}): a shift that large leaves no picture")
        self.seed = _validate.seed(seed)
        self.padded = np.pad(self.images, ((0, 0), (self.translate,) * 2, (self.translate,) * 2, (0, 0)),
                             mode="reflect") if self.translate else self.images
        self.starts_mirrored = np.random.default_rng([self.seed, 1]).random(len(self.images)) < 0.5
        self.epoch = 0
        self._prepare()

    def __len__(self):
        return len(self.images) // self.batch_size  # the last, incomplete batch is dropped, as in airbench

    @property
    def num_images(self) -> int:
        return len(self.images)

    def mirrored(self, epoch: int) -> np.ndarray:
        """Which images are mirrored in ``epoch`` (a boolean per image)."""
        if self.flip == "none":
            return np.zeros(len(self.images), bool)
        if self.flip == "random":
            return np.random.default_rng([self.seed, 2, epoch]).random(len(self.images)) < 0.5
        return self.starts_mirrored ^ bool(epoch % 2)

    def shifts(self, epoch: int) -> np.ndarray:
        """Each image's (down, right) shift in ``epoch``, in pixels."""
        return np.random.default_rng([self.seed, 3, epoch]).integers(
            -self.translate, self.translate + 1, size=(len(self.images), 2))

    def _prepare(self):
        rng = np.random.default_rng([self.seed, 4, self.epoch])
        self.order = rng.permutation(len(self.images))
        self.epoch_shifts = self.shifts(self.epoch) + self.translate
        self.epoch_mirrored = self.mirrored(self.epoch)

    def on_epoch_begin(self):
        self._prepare()

    def __getitem__(self, index):
        chosen = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        size = self.images.shape[1]
        rows = self.epoch_shifts[chosen, 0, None] + np.arange(size)
        columns = self.epoch_shifts[chosen, 1, None] + np.arange(size)
        columns = np.where(self.epoch_mirrored[chosen, None], columns[:, ::-1], columns)
        batch = self.padded[chosen[:, None, None], rows[:, :, None], columns[:, None, :]]
        return batch, self.labels[chosen]

    def follow_epochs(self) -> keras.callbacks.Callback:
        """A callback that tells these batches which epoch is starting (before they are drawn)."""
        batches = self

        class FollowEpochs(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                batches.epoch = epoch

        return FollowEpochs()


# ---------------------------------------------------------------- during and after training


class Lookahead(keras.callbacks.Callback):
    """Weight averaging: every few steps, the weights are pulled back towards their running average.

    From ``start_epoch`` on, every ``every`` steps the average moves towards
    the current weights by ``1 - rho`` and the weights are set to the average
    (airbench's "lookahead"). ``rho`` grows as ``(step / total) ** power``: the
    network moves freely early, and is averaged strongly at the end, which
    smooths out the noise of the last steps. BatchNorm's running statistics
    are averaged with the weights. At each epoch's end the weights are the
    average, so a checkpoint holds everything needed to go on.
    """

    def __init__(self, total_steps: int, steps_per_epoch: int, start_epoch: int = 3, every: int = 5,
                 decay: float = 0.95, power: float = 3.0):
        super().__init__()
        self.total_steps = _validate.positive_int(total_steps, "total_steps", example="480")
        self.steps_per_epoch = _validate.positive_int(steps_per_epoch, "steps_per_epoch", example="48")
        self.start_epoch = _validate.integer(start_epoch, "start_epoch", minimum=0, example="3")
        self.every = _validate.positive_int(every, "every", example="5")
        self.decay = _validate.number(decay, "decay", minimum=0.0, maximum=1.0)
        self.power = _validate.number(power, "power", minimum=0.0)
        self.average = None

    def rho(self, step: int) -> float:
        return self.decay ** self.every * (step / self.total_steps) ** self.power

    def _averaged(self):
        return [variable for variable in self.model.weights
                if variable.trainable or variable.path.endswith(("moving_mean", "moving_variance"))]

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        step = self.epoch * self.steps_per_epoch + batch + 1
        if self.epoch < self.start_epoch or step % self.every:
            return
        variables = self._averaged()
        if self.average is None:
            self.average = [ops.convert_to_numpy(variable).copy() for variable in variables]
            return
        rho = self.rho(step)
        for average, variable in zip(self.average, variables):
            average *= rho
            average += (1 - rho) * ops.convert_to_numpy(variable)
            variable.assign(average)

    def on_epoch_end(self, epoch, logs=None):
        if self.average is not None:
            for average, variable in zip(self.average, self._averaged()):
                variable.assign(average)


class FreezeBias(keras.callbacks.Callback):
    """Stops a ``ScaledBias`` layer from learning after ``epochs`` epochs (the whitening layer's bias)."""

    def __init__(self, layer_name: str, epochs: int):
        super().__init__()
        self.layer_name = layer_name
        self.epochs = _validate.integer(epochs, "epochs", minimum=0, example="3")

    def on_epoch_begin(self, epoch, logs=None):
        self.model.get_layer(self.layer_name).learning.assign(1.0 if epoch < self.epochs else 0.0)


def predict_logits(model: keras.Model, images, level: int = 2, batch_size: int = 1000) -> np.ndarray:
    """The network's logits, averaged over mirrored and shifted copies of each image (test-time augmentation).

    - ``level=0``: the images as they are;
    - ``level=1``: the mean of the image and its mirror image;
    - ``level=2``: half that, plus half the same for the image shifted one
      pixel up-left and one pixel down-right (reflect-padded): 6 views.

    The network saw flips and shifts in training; asking it about several
    views and averaging cancels part of each view's error.
    """
    _keras_graph.built_model(model)
    images = _validate.model_inputs(_validate.images(images, "images"), model, "images")
    if isinstance(level, (bool, np.bool_)) or level not in (0, 1, 2):
        raise ValueError(f"level must be 0 (none), 1 (mirror) or 2 (mirror and shifts), got {level!r}")

    def plain(views):
        return np.asarray(model.predict(views, batch_size=batch_size, verbose=0), dtype=np.float64)

    def mirror(views):
        return plain(views) if level == 0 else 0.5 * plain(views) + 0.5 * plain(views[:, :, ::-1])

    logits = mirror(images)
    if level < 2:
        return logits
    size = images.shape[1]
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
    shifted = [padded[:, :size, :size], padded[:, 2:size + 2, 2:size + 2]]
    return 0.5 * logits + 0.25 * (mirror(shifted[0]) + mirror(shifted[1]))


# ---------------------------------------------------------------- one run


def run_name(variant: str = "recipe", seed: int = 0) -> str:
    """The saved run's name: ``airbench_cifar10-recipe-seed0``, ``airbench_cifar10-no_whitening-seed1``..."""
    if not isinstance(variant, str):
        raise TypeError(f"variant must be a name (a str) such as 'recipe' or 'no_whitening', got {variant!r}")
    if not variant.isidentifier():
        raise ValueError(f"variant must be a name such as 'recipe' or 'no_whitening' (letters, digits, _), got "
                         f"{variant!r}")
    return f"airbench_cifar10-{variant}-seed{_validate.seed(seed)}"


def recipe_changes(recipe: dict) -> dict:
    """What differs from ``RECIPE``, as it reads back from a run's JSON record (tuples become lists)."""
    recipe = _checked_recipe(recipe)
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in recipe.items() if RECIPE[key] != value}


def _confidence_histogram(probabilities: np.ndarray, bins: int = 20) -> list[int]:
    return np.histogram(probabilities.max(axis=1), bins=bins, range=(0.0, 1.0))[0].tolist()


def prepare(data, recipe: dict, seed: int):
    """Everything a run needs before ``fit``: the compiled network, its training batches and callbacks, and the
    standardized test images."""
    if not isinstance(data, datasets.Dataset):
        raise TypeError(f"data must be a dataset loaded with cc.data.load, such as cc.data.load('cifar10'); got "
                        f"{type(data).__name__}")
    recipe = _checked_recipe(recipe)
    seed = _validate.seed(seed)
    train_images, mean, std = standardize(data.train_images)
    test_images, _, _ = standardize(data.test_images, mean, std)
    config.seed_everything(seed)
    model = build_network(recipe, input_shape=train_images.shape[1:], num_classes=data.num_classes,
                          name="airbench_cifar10")
    batches = AugmentedBatches(train_images, data.train_labels, batch_size=min(recipe["batch_size"], len(train_images)),
                               num_classes=data.num_classes, flip=recipe["flip"], translate=recipe["translate"],
                               seed=seed)
    compile_network(model, {**recipe, "batch_size": batches.batch_size}, len(batches))
    callbacks = [batches.follow_epochs(), FreezeBias("whiten_bias", recipe["whiten_bias_epochs"])]
    if recipe["lookahead"]:
        callbacks.append(Lookahead(recipe["epochs"] * len(batches), len(batches), **LOOKAHEAD))
    return model, batches, callbacks, test_images


def run_recipe(data, *, variant: str = "recipe", seed: int = 0, train: bool = True, verbose: bool = True,
               profile: str | None = None, **changes):
    """One run of the recipe on ``data`` (a ``cc.data.Dataset``): airbench's ``main``, in the course's words.

    Build the network, compute its whitening from the training images,
    train it (or, with ``train=False``, reload the saved run), and score the
    test images once plainly and once with test-time augmentation; both
    scores go into the run's record, with how confident the network was.
    ``variant`` names the run; ``changes`` change the recipe for it, e.g.
    ``run_recipe(cifar, variant="no_whitening", whitening=False)``.
    """
    recipe = recipe_with(**changes)
    seed = _validate.seed(seed)
    model, batches, callbacks, test_images = prepare(data, recipe, seed)
    if recipe["whitening"]:
        set_whitening(model, batches.images[:5000])

    def measure(trained):
        plain = predict_logits(trained, test_images, level=0)
        augmented = predict_logits(trained, test_images, level=recipe["tta_level"])
        probabilities = ops.convert_to_numpy(ops.softmax(plain.astype(np.float32)))
        labels = np.asarray(data.test_labels)
        return {"tta accuracy": float(np.mean(augmented.argmax(axis=1) == labels)),
                "tta level": recipe["tta_level"],
                "mean confidence": float(probabilities.max(axis=1).mean()),
                "confidence histogram": _confidence_histogram(probabilities)}

    return training.fit_and_evaluate(
        model, batches, None, (test_images, data.test_labels), epochs=recipe["epochs"],
        batch_size=batches.batch_size, name=run_name(variant, seed), train=train, weights_dtype="float16",
        profile=profile, details={"variant": variant, "seed": seed, "changes": recipe_changes(recipe),
                                  "data": data.describe()},
        verbose=verbose, callbacks=callbacks, outputs="logits", measure=measure)


def _airbench_cifar10(*, input_shape=(32, 32, 3), num_classes=10, widths=(64, 256, 256), convs_per_block=2,
                      residual=False):
    """airbench94's whitened, three-block GELU network, for ``cc.models.build``."""
    return build_network({"widths": widths, "convs_per_block": convs_per_block, "residual": residual},
                         input_shape=input_shape, num_classes=_validate.class_count(num_classes))


models.register("airbench_cifar10", _airbench_cifar10)

if __name__ == "__main__":  # the command line that was here trains many runs: it lives in recipe_runs now
    raise SystemExit("chapter 12's runs train with `python -m cnncourse.recipe_runs` (see --help)")
