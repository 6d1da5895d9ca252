"""Every public function of cnncourse refuses bad input with a clear error of its own.

For each function: valid arguments, and for each argument the *kind* of
value it takes. Hypothesis replaces one argument at a time with a bad value
of that kind (generated, plus the classic mistakes listed in ``CLASSICS``)
and the call must raise a ``TypeError`` or ``ValueError``:

- raised by cnncourse itself (the last frame of the traceback is in
  ``cnncourse/``), not from deep inside Keras, NumPy or matplotlib;
- whose message names the argument, so the learner knows what to fix.

A value that a function documents as acceptable is not drawn for it. The
regression cases of issue "Nothing silent" are at the end of the file.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import traceback
from pathlib import Path

import keras
import matplotlib
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cnncourse as cc
from conftest import tiny_convnet
from cnncourse import modern, recipe_runs

matplotlib.use("Agg")
PACKAGE = Path(cc.__file__).parent


# ---------------------------------------------------------------- bad values, by kind of argument

def _arrays_with(value, shape=(3, 8, 8, 1)):
    array = np.random.default_rng(0).random(shape).astype("float32")
    array.flat[5] = value
    return array


NOT_A_NUMBER = st.one_of(st.text(max_size=5), st.none(), st.lists(st.integers(), max_size=2), st.just(object()))
CLASSICS = {
    # a positive count: images, epochs, columns, filters...
    "count": st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.booleans(), st.text(max_size=3),
                       st.just("3"), st.just(None), st.just(np.float64(3.0)), st.just([3])),
    "count_or_none": st.one_of(st.integers(max_value=0), st.floats(allow_nan=True), st.booleans(),
                               st.text(max_size=3)),
    "seed": st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32), st.floats(allow_nan=True),
                      st.booleans(), st.text(max_size=3)),
    # a share strictly between 0 and 1
    "fraction": st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0), st.just(math.nan), st.booleans(),
                          st.text(max_size=3)),
    # a probability or accuracy in [0, 1]
    "probability": st.one_of(st.floats(max_value=-1e-3, allow_infinity=True),
                             st.floats(min_value=1.001, allow_infinity=True), st.just(math.nan), st.booleans(),
                             st.just("0.2")),
    "number": st.one_of(st.just(math.nan), st.just(math.inf), st.just(-math.inf), st.booleans(), NOT_A_NUMBER),
    "positive_number": st.one_of(st.floats(max_value=0.0), st.just(math.nan), st.just(math.inf), st.booleans(),
                                 NOT_A_NUMBER),
    # images (N, H, W, C) for the course's small test model (8x8x1 here)
    "images": st.one_of(
        st.sampled_from([math.nan, math.inf, -math.inf]).map(_arrays_with),
        st.just(np.zeros((0, 8, 8, 1), "float32")), st.just(np.zeros((8, 8), "float32")),
        st.just(np.zeros((3, 8, 8), "float32")), st.just("images"), st.just(None), st.just(np.zeros((3, 8, 8, 1), bool)),
        st.just(np.zeros((3, 5, 5, 1), "float32")), st.just(np.zeros((3, 8, 8, 3), "float32"))),
    # one grey image (H, W)
    "image": st.one_of(
        st.sampled_from([math.nan, math.inf]).map(lambda value: _arrays_with(value, (8, 8))),
        st.just(np.zeros((0, 0))), st.just(np.zeros(8)), st.just("image"), st.just(None)),
    # images of any size and channels (whitening, standardizing, augmenting)
    "any_images": st.one_of(
        st.sampled_from([math.nan, math.inf]).map(_arrays_with), st.just(np.zeros((0, 8, 8, 1), "float32")),
        st.just(np.zeros((3, 8, 8), "float32")), st.just("images"), st.just(None),
        st.just(np.zeros((3, 8, 8, 1), bool))),
    # a batch of any layout: (N, H, W), (N, H, W, C), bool or numbers
    "batch": st.one_of(st.sampled_from([math.nan, math.inf]).map(_arrays_with),
                       st.just(np.zeros((0, 8, 8, 1), "float32")), st.just("images"), st.just(None)),
    "padding": st.one_of(st.just("nope"), st.integers(max_value=-1), st.just(1.5), st.just(None)),
    # values to show as pixels: any shape, but numbers
    "values": st.one_of(st.sampled_from([math.nan, math.inf]).map(lambda value: _arrays_with(value, (8, 8))),
                        st.just(np.zeros(0)), st.just("pixels"), st.just(None), st.just(np.array(["a"]))),
    # class labels for the 3 images, 10 classes
    "labels": st.one_of(st.just(np.array([0, 1, 12])), st.just(np.array([0, -1, 2])), st.just(np.array([0.5, 1, 2])),
                        st.just(np.array([0, 1])), st.just(np.array(["a", "b", "c"])), st.just("labels"),
                        st.just(np.array([0, 1, math.nan])), st.just(np.zeros((3, 2, 2)))),
    # class numbers where any class is fine (no number of classes to exceed)
    "class_numbers": st.one_of(st.just(np.array([0, -1, 2])), st.just(np.array([0.5, 1, 2])), st.just(np.array([0, 1])),
                               st.just(np.array(["a", "b", "c"])), st.just("labels"), st.just(np.zeros((3, 2, 2)))),
    "name": st.one_of(st.text(min_size=1, max_size=8).filter(lambda text: text.isalpha()).map(lambda t: t + "_x"),
                      st.integers(), st.just(None), st.just(["cifar10"])),
    "model": st.one_of(st.just("small_convnet"), st.integers(), st.just(None), st.just(np.zeros(3)),
                       st.just(keras.layers.Dense(3)), st.just(keras.Sequential([keras.layers.Dense(3)], name="unbuilt"))),
    "model_or_name": st.one_of(st.just("no_such_model"), st.integers(), st.just(None), st.just(np.zeros(3))),
    "integer": st.one_of(st.floats(allow_nan=True).filter(lambda value: not float(value).is_integer()),
                         st.just("1"), st.just(None), st.booleans()),
    "level": st.one_of(st.integers(min_value=3), st.integers(max_value=-1), st.just("2"), st.just(None),
                       st.just(1.5)),
    "layers": st.one_of(st.just(456), st.just("block3_conv1"), st.just([]), st.just(["no_such_layer"]),
                        st.just([3]), st.just({"conv"})),
    # names of things where order matters or each must exist: arms of a comparison, classes to keep
    "names": st.one_of(st.just("frozen"), st.just({"frozen"}), st.just([]), st.just(["thawed"]), st.integers(),
                       st.just([1.5])),
    "non_negative": st.one_of(st.floats(max_value=-1e-9), st.sampled_from([math.nan, math.inf]), st.booleans(),
                              st.text(max_size=3)),
    "sizes": st.one_of(st.just({10, 50}), st.just("10"), st.just([0.5]), st.just([0]), st.just([]), st.just([-1]),
                       st.integers(max_value=0)),
    "class_list": st.one_of(st.just({1, 0}), st.just("01"), st.just([0.5, 1]), st.just([0, 0]), st.just([]),
                            st.just([-1]), st.integers()),
    # class labels where indices belong: one-hot of the wrong width, fractions, out of range
    "index_labels": st.one_of(st.just(np.eye(4)[[0, 1, 2]]), st.just(np.array([0.5, 1, 2])),
                              st.just(np.array([0, 1, 12])), st.just(np.array(["a", "b", "c"]))),
    "path": st.one_of(st.integers(), st.just(["data"]), st.just(""), st.just(3.5)),
    "table_rows": st.one_of(st.just([]), st.just("rows"), st.just([1, 2]), st.just(None), st.just({"a": 1})),
    "text": st.one_of(st.integers(), st.just(["a"]), st.just(b"x"), st.just(3.5)),
    # (kernel_size, stride) pairs from input to output
    "windows": st.one_of(st.just([(3,)]), st.just([(3, 0)]), st.just([(0, 1)]), st.just("3x3"), st.just([(3.5, 1)]),
                         st.just(3), st.just(None)),
    "slider": st.one_of(st.just((5, 1)), st.just((3, 3)), st.just((2.0, -2.0))),
    "choice": st.one_of(st.text(max_size=6).map(lambda text: text + "?"), st.integers(), st.just(None)),
    "flag": st.one_of(st.just("False"), st.just("yes"), st.integers(), st.just(None), st.floats()),
    "class_names": st.one_of(st.just("cat"), st.just([1, 2, 3]), st.just(["a", "b"]), st.just(None), st.integers()),
    "names_for_labels": st.one_of(st.just("cat"), st.just([1, 2, 3]), st.just(["a", "b"]), st.integers()),
    "history": st.one_of(st.just({}), st.just([]), st.just("loss"), st.just({"loss": ["x", "y"]}),
                         st.just({"loss": [math.nan, 1.0]}), st.just(None), st.integers()),
    "histories": st.one_of(st.just({}), st.just([]), st.just("runs"), st.just({"a": "x"}), st.just(None)),
    "kernel": st.one_of(st.just(np.full((3, 3), math.nan)), st.just(np.zeros((0, 0))), st.just(np.zeros(3)),
                        st.just("kernel"), st.just(None)),
    "probabilities": st.one_of(st.just(np.full((3, 10), math.nan)), st.just(np.zeros((3,))), st.just("p"),
                               st.just(np.zeros((2, 10))), st.just(-np.ones((3, 10))), st.just(None)),
    "shape": st.one_of(st.just((0, 8, 1)), st.just((8, 8)), st.just("8x8"), st.just((8.5, 8, 1)),
                       st.just((-8, 8, 1)), st.just(None), st.just(8)),
    "layer": st.one_of(st.just("no_such_layer"), st.integers(min_value=50), st.just(None), st.just(2.5)),
    "dataset": st.one_of(st.just("cifar10"), st.integers(), st.just(None), st.just({"train": 1})),
    "run": st.one_of(st.just("run"), st.integers(), st.just(None), st.just({})),
    "rows": st.one_of(st.just([]), st.just("rows"), st.just([{"k": 0, "arm": "frozen", "test accuracy": 0.5}]),
                      st.just([{"k": 10, "arm": "frozen", "test accuracy": 1.5}]), st.just([1, 2]), st.just(None)),
    "recipe": st.one_of(st.just({"widht": 3}), st.just({"epochs": 0}), st.just({"flip": "always"}), st.just("fast"),
                        st.just({"momentum": 1.5})),
}


# ---------------------------------------------------------------- the public functions

tiny_model = tiny_convnet


def compiled_model():
    model = tiny_model()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


IMAGES = np.random.default_rng(0).random((3, 8, 8, 1)).astype("float32")
LABELS = np.array([0, 1, 2])
IMAGE = np.random.default_rng(1).random((8, 8))
CLASSES = tuple("abcdefghij")
PROBABILITIES = np.full((3, 10), 0.1)


def a_run():
    """A finished tiny run, trained once and reused (its gap is measured afresh for each pair of arrays)."""
    if not hasattr(a_run, "run"):
        a_run.run = cc.training.fit_and_evaluate(compiled_model(), (IMAGES, LABELS), None, (IMAGES, LABELS), epochs=1,
                                                 batch_size=2, save=False, verbose=False, profile="quick")
    a_run.run.measurements.clear()
    return a_run.run


def bn_model():
    """A tiny backbone with a BatchNormalization layer, for target_statistics."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="conv"),
                             keras.layers.BatchNormalization(name="conv_bn"), keras.layers.GlobalAveragePooling2D()],
                            name="tiny_backbone")


def tiny_airbench():
    return modern.build_network({"widths": (2, 2, 2)}, input_shape=(12, 12, 3), num_classes=3)


def a_dataset():
    return cc.data.Dataset("toy", IMAGES, LABELS, IMAGES, LABELS, CLASSES, "made in the test")


def a_colour_dataset():  # large enough for airbench's network
    images = np.random.default_rng(2).random((4, 12, 12, 3)).astype("float32")
    return cc.data.Dataset("toy", images, np.array([0, 1, 2, 0]), images, np.array([0, 1, 2, 0]), CLASSES[:3],
                           "made in the test")


@dataclasses.dataclass
class Case:
    function: object
    valid: dict  # argument name -> a valid value, or a function making one
    kinds: dict  # argument name -> kind of bad values (a key of CLASSICS)
    also_named: tuple = ()  # words the message may use for an argument instead of its name

    @property
    def id(self):
        return f"{self.function.__module__.split('.')[-1]}.{getattr(self.function, '__qualname__', '?')}"

    def call(self, argument, bad):
        arguments = {name: value() if callable(value) and not isinstance(value, type) else value
                     for name, value in self.valid.items()}
        arguments[argument] = bad
        return self.function(**arguments)


def mean_is(values):  # a fixed callable argument for Case.valid (functions are called to make values)
    return lambda: values


CASES = [
    # checks
    Case(cc.checks.expect_at_least, {"value": 0.9, "quick": 0.5, "full": 0.8, "what": "accuracy", "profile": "quick"},
         {"value": "number", "quick": "number", "full": "number"}, ("accuracy",)),
    Case(cc.checks.expect_greater, {"larger": 0.9, "smaller": 0.5, "what": "accuracy"},
         {"larger": "number", "smaller": "number", "margin": "number"}, ("accuracy",)),
    Case(cc.checks.expect_recorded, {"value": 0.9, "at_least": 0.5, "what": "accuracy"},
         {"value": "number", "at_least": "number"}, ("accuracy",)),
    Case(cc.checks.check, {"label": "setup-ex-profile", "given": "quick"}, {"label": "name"}),
    # config
    Case(cc.config.resolve_profile, {"requested": "auto"}, {"requested": "choice"}, ("profile",)),
    Case(cc.config.seed_everything, {"seed": 0}, {"seed": "seed"}),
    Case(cc.config.keep_jax_compilations, {"folder": "jax-compiled"}, {"folder": "path"}),
    Case(cc.config.settings, {"profile": "quick", "quick": {"epochs": 1}, "full": {"epochs": 2}, "seed": 0},
         {"profile": "choice", "seed": "seed"}),
    # data
    Case(cc.data.load, {"name": "fashion_mnist", "verbose": False},
         {"name": "name", "train_size": "count_or_none", "test_size": "count_or_none", "scale": "choice",
          "seed": "seed", "data_dir": "path"}),
    Case(lambda x: cc.widgets.explorer(lambda x=1: matplotlib.pyplot.figure(), x=x), {"x": (1, 5)}, {"x": "slider"}),
    Case(lambda fraction, seed=0: a_dataset().validation_split(fraction, seed), {"fraction": 0.5},
         {"fraction": "fraction", "seed": "seed"}),
    # features
    Case(cc.features.feature_extractor, {"model": tiny_model}, {"model": "model"}),
    Case(cc.features.feature_maps, {"model": tiny_model, "image": IMAGES[0], "layer": "conv"},
         {"model": "model", "layer": "layer", "image": "image"}),
    Case(cc.features.map_statistics, {"model": tiny_model, "images": IMAGES, "layer": "conv"},
         {"model": "model", "images": "images", "layer": "layer", "batch_size": "count"}),
    Case(cc.features.layer_names, {"model": tiny_model}, {"model": "model"}),
    # models
    Case(cc.models.build, {"name": "small_convnet"}, {"name": "name"}),
    Case(lambda num_classes: cc.models.build("small_convnet", num_classes=num_classes), {"num_classes": 10},
         {"num_classes": "count"}),
    Case(lambda input_shape: cc.models.build("small_convnet", input_shape=input_shape), {"input_shape": (28, 28, 1)},
         {"input_shape": "shape"}),
    Case(cc.models.largest_weight_norms, {"model": tiny_model}, {"model": "model"}),
    Case(cc.models.random_shift, {"fraction": 0.1},
         {"fraction": "fraction", "fill_mode": "choice", "interpolation": "choice"}),
    Case(cc.models.flip_and_shift, {"fraction": 0.1}, {"fraction": "fraction"}),
    Case(cc.models.layer_table, {"model": tiny_model}, {"model": "model"}),
    Case(cc.models.multiply_adds, {"model": tiny_model}, {"model": "model"}),
    # ops
    Case(cc.ops.output_size, {"input_size": 8, "kernel_size": 3},
         {"input_size": "count", "kernel_size": "count", "stride": "count", "padding": "padding"}),
    Case(cc.ops.same_padding, {"input_size": 8, "kernel_size": 3},
         {"input_size": "count", "kernel_size": "count", "stride": "count"}),
    Case(cc.ops.conv2d, {"image": IMAGE, "kernels": np.ones((3, 3))},
         {"image": "image", "kernels": "kernel", "stride": "count", "padding": "padding"}),
    Case(cc.ops.pool2d, {"image": IMAGE}, {"image": "image", "pool_size": "count", "mode": "choice",
                                           "padding": "padding"}),
    Case(cc.ops.global_pool2d, {"image": IMAGE[..., None]}, {"mode": "choice"}),
    Case(cc.ops.patch_positions, {"input_size": 8, "kernel_size": 3},
         {"input_size": "count", "kernel_size": "count", "stride": "count", "padding": "padding"}),
    Case(cc.ops.shift_images, {"images": IMAGES, "dx": 1, "dy": 0}, {"images": "batch", "dx": "integer"}),
    # plots
    Case(cc.plots.displayable, {"values": IMAGE}, {"values": "values", "method": "choice"}),
    Case(cc.plots.image_grid, {"images": IMAGES, "labels": LABELS, "class_names": CLASSES},
         {"images": "batch", "labels": "labels", "class_names": "names_for_labels", "columns": "count",
          "size": "positive_number"}, ("label",)),
    Case(cc.plots.training_curves, {"history": {"loss": [1.0, 0.5], "accuracy": [0.5, 0.7]}},
         {"history": "history"}),
    Case(cc.plots.compare_histories, {"histories": {"a": {"val_accuracy": [0.5, 0.6]}}},
         {"histories": "histories", "chance": "probability"}),
    Case(cc.plots.accuracy_vs_shots, {"rows": [{"k": 10, "arm": "frozen", "test accuracy": 0.5}]},
         {"rows": "rows", "chance": "probability"}),
    Case(cc.plots.confusion_matrix, {"true_labels": LABELS, "predicted_labels": LABELS, "class_names": CLASSES},
         {"true_labels": "labels", "predicted_labels": "labels", "class_names": "class_names"}),
    Case(cc.plots.mistakes_grid, {"images": IMAGES, "true_labels": LABELS, "probabilities": PROBABILITIES,
                                  "class_names": CLASSES},
         {"images": "batch", "true_labels": "labels", "probabilities": "probabilities", "count": "count"}),
    Case(cc.plots.class_bars, {"values": {"run": [0.5] * 10}, "class_names": CLASSES},
         {"class_names": "class_names"}),
    Case(cc.plots.kernel_figure, {"kernel": np.ones((3, 3, 1, 2))}, {"kernel": "kernel", "columns": "count"}),
    Case(cc.plots.filter_gallery, {"image": IMAGE, "kernels": {"blur": np.ones((3, 3)) / 9}},
         {"image": "image", "method": "choice"}),
    Case(cc.plots.pooling_windows, {"image": IMAGE}, {"image": "image", "pool_size": "count", "mode": "choice"}),
    Case(cc.plots.sliding_windows, {}, {"input_size": "count", "kernel_size": "count", "stride": "count"}),
    Case(cc.plots.feature_map_grid, {"maps": np.random.default_rng(0).random((6, 6, 4))},
         {"maps": "kernel", "columns": "count"}),
    Case(cc.plots.feature_hierarchy, {"model": tiny_model, "image": IMAGE, "layers": ["conv"]},
         {"model": "model", "image": "image", "layers": "layers", "maps": "count", "size": "positive_number"}),
    Case(cc.plots.parameter_bars, {"model": tiny_model}, {"model": "model_or_name"}),
    Case(cc.plots.model_diagram, {"model": tiny_model}, {"model": "model", "per_row": "count"}),
    # training
    Case(cc.training.per_class_accuracy, {"true_labels": LABELS, "predicted_labels": LABELS, "num_classes": 10},
         {"true_labels": "labels", "predicted_labels": "labels", "num_classes": "count"}),
    Case(cc.training.precision_recall_f1, {"true_labels": LABELS, "predicted_labels": LABELS, "num_classes": 10},
         {"true_labels": "labels", "predicted_labels": "labels", "num_classes": "count"}),
    Case(cc.training.class_report, {"true_labels": LABELS, "predicted_labels": LABELS, "class_names": CLASSES},
         {"true_labels": "labels", "predicted_labels": "labels", "class_names": "class_names"}),
    Case(cc.training.most_confident_mistakes, {"true_labels": LABELS, "probabilities": PROBABILITIES},
         {"true_labels": "labels", "probabilities": "probabilities", "count": "count"}),
    Case(cc.training.fit_and_evaluate, {"model": compiled_model, "train_data": (IMAGES, LABELS),
                                        "validation_data": None, "test_data": (IMAGES, LABELS), "epochs": 1,
                                        "batch_size": 2, "save": False, "verbose": False, "profile": "quick"},
         {"model": "model", "epochs": "count", "batch_size": "count"}),
    Case(lambda images: cc.training.fit_and_evaluate(compiled_model(), (images, LABELS), None, (IMAGES, LABELS),
                                                     epochs=1, batch_size=2, save=False, profile="quick"),
         {"images": IMAGES}, {"images": "images"}, ("train_data",)),
    Case(lambda labels: cc.training.fit_and_evaluate(compiled_model(), (IMAGES, LABELS), None, (IMAGES, labels),
                                                     epochs=1, batch_size=2, save=False, profile="quick"),
         {"labels": LABELS}, {"labels": "labels"}, ("test_data",)),
    Case(cc.training.class_probabilities, {"model": tiny_model, "images": IMAGES},
         {"model": "model", "images": "images", "outputs": "choice"}),
    Case(cc.data.jpeg_copy, {"dataset": a_dataset}, {"dataset": "dataset", "quality": "count",
                                                      "chroma_subsampling": "choice"}),
    Case(cc.data.scale_pixels, {"images": np.zeros((3, 8, 8, 1), "uint8")}, {"images": "batch", "scale": "choice"}),
    Case(cc.data.source_of, {"test_images": IMAGES, "test_labels": LABELS},
         {"test_images": "batch", "test_labels": "class_numbers"}),
    Case(cc.features.map_likeness, {"maps": np.random.default_rng(0).random((6, 6, 4)), "image": IMAGE[:6, :6, None]},
         {"maps": "kernel", "image": "values"}),
    Case(cc.plots.feature_map_figure, {"model": tiny_model, "image": IMAGE[:, :, None], "layer": "conv"},
         {"model": "model", "image": "image", "layer": "layer", "columns": "count", "size": "positive_number"}),
    Case(cc.plots.matrix_grid, {"matrices": [np.eye(3), np.ones((3, 3))]},
         {"matrices": "histories", "columns": "count", "size": "positive_number", "value_range": "slider"}),
    Case(cc.plots.remedy_curves, {"histories": {"baseline": {"val_accuracy": [0.1, 0.2]},
                                                "dropout": {"val_accuracy": [0.1, 0.3]}}, "baseline": "baseline"},
         {"histories": "histories", "baseline": "choice", "metric": "choice", "columns": "count"}),
    Case(cc.plots.accuracy_vs_shift, {"shifts": [0, 1, 2], "accuracies": {"dense": [0.9, 0.8, 0.7]}},
         {"shifts": "values", "accuracies": "histories", "chance": "probability"}),
    Case(cc.training.results_table, {"runs": [{"a": 1}]}, {"runs": "table_rows", "columns": "names"}),
    Case(cc.training.data_identity, {"train_data": (IMAGES, LABELS), "test_data": (IMAGES, LABELS)},
         {"train_data": "run", "test_data": "run", "source": "text"}),
    Case(cc.ops.receptive_field, {"layers": [(3, 1), (2, 2)]}, {"layers": "windows"}, ("layer",)),
    Case(modern.newton_schulz, {"matrix": np.random.default_rng(0).normal(size=(4, 6))},
         {"matrix": "kernel", "steps": "count"}),
    Case(cc.training.describe_source, {"dataset": a_dataset}, {"dataset": "dataset"}),
    Case(cc.training.generalization_gap, {"run": None, "training_data": (IMAGES, LABELS),
                                          "validation_data": (IMAGES, LABELS)}, {"run": "run"}),
    Case(lambda images: cc.training.generalization_gap(a_run(), (images, LABELS), (IMAGES, LABELS)),
         {"images": IMAGES}, {"images": "images"}, ("training_data",)),
    Case(lambda labels: cc.training.generalization_gap(a_run(), (IMAGES, LABELS), (IMAGES, labels)),
         {"labels": LABELS}, {"labels": "labels"}, ("validation_data",)),
    Case(lambda labels: cc.training.class_report(labels, LABELS, CLASSES), {"labels": LABELS},
         {"labels": "index_labels"}, ("true_labels",)),
    Case(lambda flag: cc.training.fit_and_evaluate(compiled_model(), (IMAGES, LABELS), None, (IMAGES, LABELS),
                                                   epochs=1, batch_size=2, save=False, profile="quick", train=flag),
         {"flag": True}, {"flag": "flag"}, ("train",)),
    # transfer
    Case(cc.transfer.classifier, {"backbone": tiny_model, "num_classes": 3}, {"backbone": "model",
                                                                              "num_classes": "count"}),
    Case(cc.transfer.few_shot, {"labels": np.repeat(np.arange(10), 5), "per_class": 2},
         {"labels": "labels", "per_class": "count", "seed": "seed"}),
    Case(cc.transfer.class_subset, {"images": IMAGES, "labels": LABELS, "classes": [0, 1]},
         {"images": "batch", "labels": "class_numbers", "classes": "class_list"}, ("a class",)),
    Case(cc.transfer.summarize, {"rows": [{"k": 10, "seed": 0, "arm": "frozen", "test accuracy": 0.5}]},
         {"arms": "names"}, ("arm",)),
    Case(cc.transfer.to_cifar_shape, {"images": np.zeros((2, 28, 28))}, {"images": "any_images"}),
    Case(cc.transfer.backbone_record, {"name": "cifar5"}, {"name": "name"}),
    Case(cc.transfer.pretrain_backbone, {"name": "fashion", "epochs": 1, "train": False},
         {"train_size": "count_or_none", "epochs": "count_or_none", "name": "name"}),
    Case(cc.transfer.unfreeze, {"backbone": tiny_model}, {"backbone": "model", "layers": "layers"}),
    Case(cc.transfer.target_statistics, {"backbone": bn_model, "images": IMAGES},
         {"backbone": "model", "images": "images"}),
    Case(cc.transfer.load_backbone, {"name": "cifar5"}, {"name": "name"}),
    Case(cc.training.recorded_run, {"name": "compact_cifar10"}, {"profile": "choice"}),
    Case(cc.training.uses_carved_test_split, {"dataset": a_dataset}, {"dataset": "dataset"}),
    Case(cc.models.summary_quiz_template, {"model": tiny_model}, {"model": "model"}),
    Case(cc.models.summary_quiz, {"model": tiny_model, "answers": mean_is([(None, None)] * 3)},
         {"model": "model", "answers": "table_rows"}),
    Case(modern.compile_network, {"model": tiny_airbench, "recipe": {}, "steps_per_epoch": 1},
         {"model": "model", "recipe": "recipe", "steps_per_epoch": "count"}),
    Case(modern.Muon, {"total_steps": 10, "batch_size": 4},
         {"total_steps": "count", "batch_size": "count", "filter_rate": "positive_number",
          "momentum": "probability", "newton_schulz_steps": "count"}),
    # modern
    Case(modern.recipe_with, {}, {}),  # keyword changes: see the recipe cases below
    Case(lambda recipe: modern.build_network(recipe, input_shape=(16, 16, 3)), {"recipe": {}}, {"recipe": "recipe"}),
    Case(modern.whitening_kernel, {"images": IMAGES}, {"images": "any_images", "size": "count",
                                                       "epsilon": "number"}),
    Case(modern.standardize, {"images": IMAGES}, {"images": "any_images"}),
    Case(modern.AugmentedBatches, {"images": IMAGES, "labels": LABELS, "batch_size": 2},
         {"images": "any_images", "labels": "labels", "batch_size": "count", "flip": "choice", "translate": "seed",
          "seed": "seed"}),
    Case(modern.TriangleSchedule, {"peak_rate": 0.1, "total_steps": 100},
         {"peak_rate": "positive_number", "total_steps": "count", "peak_at": "probability"}),
    Case(modern.Lookahead, {"total_steps": 100, "steps_per_epoch": 10},
         {"total_steps": "count", "steps_per_epoch": "count", "every": "count", "decay": "probability"}),
    Case(modern.predict_logits, {"model": tiny_model, "images": IMAGES},
         {"model": "model", "images": "images", "level": "level"}),
    Case(modern.kernel_gradient, {"images": np.random.default_rng(0).random((3, 10, 10, 3)).astype("float32"),
                                  "labels": LABELS, "layer": "block1_conv1", "widths": (2, 2, 2)},
         {"images": "any_images", "labels": "labels", "layer": "layer", "num_classes": "count", "seed": "seed"}),
    Case(cc.plots.singular_values, {"matrices": {"a": np.eye(3)}}, {"matrices": "histories"}),
    Case(modern.optimizer, {"recipe": {}, "steps_per_epoch": 1}, {"recipe": "recipe", "steps_per_epoch": "count"}),
    Case(modern.recipe_changes, {"recipe": {}}, {"recipe": "recipe"}),
    Case(modern.prepare, {"data": a_colour_dataset, "recipe": {"widths": (2, 2, 2), "batch_size": 2}, "seed": 0},
         {"data": "dataset", "recipe": "recipe", "seed": "seed"}),
    Case(cc.models.register, {"name": "extra_net", "builder": mean_is(lambda: None)},
         {"name": "text", "builder": "text"}),
    Case(recipe_runs.chapter_runs, {"profile": "quick"}, {"profile": "choice", "seed": "seed"}),
    Case(recipe_runs.epoch_comparison, {}, {"folder": "path"}),
    Case(recipe_runs.epoch_times, {}, {"folder": "path"}),
    Case(recipe_runs.time_epoch, {"data": a_colour_dataset}, {"data": "dataset"}),
    Case(recipe_runs.compare_epochs, {"data": a_colour_dataset}, {"data": "dataset"}),
    Case(modern.run_recipe, {"data": a_colour_dataset}, {"data": "dataset", "seed": "seed"}),
    Case(modern.run_name, {}, {"variant": "text", "seed": "seed"}),
    Case(recipe_runs.row, {"run": None}, {"run": "run"}),
    Case(recipe_runs.permutation_p, {"values": [0.5, 0.6], "reference": [0.7, 0.8], "lower": True},
         {"values": "values", "reference": "values", "lower": "flag"}),
    Case(recipe_runs.recorded, {"variant": "recipe", "seed": 0}, {"seed": "seed"}),
    Case(recipe_runs.ablation_table, {"rows": [{"variant": "muon_bf16", "seed": 0, "widths": "8-8-8",
                                                "test accuracy": 0.5, "tta accuracy": 0.5}]},
         {"rows": "rows", "reference": "text"}),
    Case(lambda seed: recipe_runs.result(a_dataset(), seed=seed, epochs=1, widths=(2, 2, 2), batch_size=2,
                                    profile="quick"), {"seed": 0}, {"seed": "seed"}),
    Case(cc.plots.accuracy_vs_minutes, {"points": [{"label": "a", "minutes": 1.0, "test accuracy": 0.5,
                                                    "chapter": "8"}]}, {"points": "rows"}),
    Case(cc.plots.confidence_histograms, {"histograms": {"a": [1, 2, 3]}}, {"histograms": "histories"}),
    Case(cc.training.saved_result, {"name": "compact_cifar10"}, {"profile": "choice"}),
    Case(cc.training.EpochProgress, {"epochs": 3}, {"epochs": "count", "name": "text"}),
    Case(cc.checks.answer, {"given": 1, "expected": 1}, {"explanation": "text", "hint": "text",
                                                               "tolerance": "non_negative"}),
    Case(cc.data.sha256_of, {"path": __file__}, {"path": "path"}),
    Case(cc.data.locate, {"name": "mnist", "allow_download": False},
         {"name": "name", "data_dir": "path", "test_only_fallback": "flag"}),
    Case(cc.data.arrays_sha256, {"decoded": {"train": (IMAGES, LABELS), "test": (IMAGES, LABELS)}},
         {"decoded": "dataset"}),
    Case(cc.data.sample_photograph, {}, {"grayscale": "flag"}),
    Case(cc.data.cache_all, {"names": ["mnist"]}, {"names": "names"}),
    Case(modern.ScaledBias, {}, {"multiplier": "positive_number", "l2": "number"}),
    Case(cc.transfer.imagenet_classifier, {"backbone": tiny_model, "num_classes": 3},
         {"backbone": "model", "num_classes": "count", "image_shape": "shape"}),
    Case(cc.transfer.compare_arms, {"backbone_name": "cifar5", "train_data": (IMAGES, LABELS),
                                    "validation_data": (IMAGES, LABELS), "test_data": (IMAGES, LABELS),
                                    "shots": (1,), "seeds": (0,), "epochs_for": mean_is(lambda k: 2)},
         {"shots": "sizes", "seeds": "names", "epochs_for": "text", "train": "flag", "arms": "names",
          "fine_tune_learning_rate": "positive_number", "test_data": "dataset"}),
    Case(cc.transfer.imagenet_backbone, {"weights": None}, {"name": "choice", "input_size": "count"}),
    Case(cc.plots.shifted_predictions, {"images": IMAGES, "models": {"tiny": None}, "class_names": CLASSES},
         {"index": "integer", "top": "count"}),
]

# Public names the cases above do not call, and why (every other public callable that takes arguments has a case).
NOT_CALLED = {
    "config.Settings": "made by cc.config.settings, which has a case",
    "models.ArithmeticTable": "made by cc.models.multiply_adds, which has a case",
    "models.LayerRow": "a row of a LayerTable, made by cc.models.layer_table",
    "models.LayerTable": "made by cc.models.layer_table, which has a case",
    "data.DatasetSpec": "the registry's own records, not made by a learner",
    "data.RawFile": "the registry's own records, not made by a learner",
    "data.StoredFormat": "the registry's own records, not made by a learner",
    "training.ResultsTable": "made by cc.training.results_table, which has a case",
    "training.TrainingRun": "made by cc.training.fit_and_evaluate, which has a case",
}
CASES = [case for case in CASES if case.kinds]


def raised_by_cnncourse(error: BaseException) -> bool:
    """The error's innermost frame is in cnncourse (the package checked and refused, not a library below it)."""
    frames = traceback.extract_tb(error.__traceback__)
    return bool(frames) and Path(frames[-1].filename).resolve().is_relative_to(PACKAGE)


def test_every_public_function_that_takes_arguments_has_a_case():
    called = {case.function for case in CASES}
    source = Path(__file__).read_text()  # a case through a lambda names its function in the source
    missing = []
    for module in (cc.checks, cc.config, cc.data, cc.features, cc.models, cc.modern, cc.ops, cc.plots,
                   cc.recipe_runs, cc.training, cc.transfer, cc.widgets):
        short = module.__name__.split(".")[-1]
        for name in module.__all__:
            public = getattr(module, name)
            if not callable(public) or (isinstance(public, type) and issubclass(public, BaseException)):
                continue
            try:
                parameters = inspect.signature(public).parameters
            except (TypeError, ValueError):
                continue
            if not parameters or public in called or f"{short}.{name}" in NOT_CALLED:
                continue
            if f"{short}.{name}(" not in source and f"{short}.{name}," not in source:
                missing.append(f"{short}.{name}")
    assert not missing, f"public functions without a bad-input case (add one, or say why in NOT_CALLED): {missing}"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_bad_input_is_refused_clearly(case, data, private_cache):
    argument = data.draw(st.sampled_from(sorted(case.kinds)), label="argument")
    bad = data.draw(CLASSICS[case.kinds[argument]], label="bad value")
    try:
        case.call(argument, bad)
    except (TypeError, ValueError) as error:
        message = str(error)
        assert raised_by_cnncourse(error), f"{case.id}({argument}={bad!r}) failed inside a library: {message}"
        names = (argument, *case.also_named)
        assert any(name.replace("_", " ") in message.replace("_", " ") for name in names), \
            f"{case.id}({argument}={bad!r}): the message does not name {argument!r}: {message}"
    else:
        pytest.fail(f"{case.id} accepted {argument}={bad!r} without a word")
    finally:
        matplotlib.pyplot.close("all")


# ---------------------------------------------------------------- the cases reported in "Nothing silent"

def refused(call, *words):
    """``call()`` raises a TypeError/ValueError from cnncourse whose message has all ``words``."""
    with pytest.raises((TypeError, ValueError)) as caught:
        call()
    assert raised_by_cnncourse(caught.value), caught.value
    for word in words:
        assert word in str(caught.value), (word, str(caught.value))
    return str(caught.value)


def test_a_check_refuses_an_accuracy_above_one(capsys):
    cc.checks.check("transfer-ex-unfreeze", 2.0, frozen=0.5)
    printed = capsys.readouterr().out
    assert "❌" in printed and "at most 1" in printed
    cc.checks.check("transfer-ex-unfreeze", 0.7, frozen=0.6)
    assert "✅" in capsys.readouterr().out


def test_a_check_without_the_chapter_data_it_needs_says_what_to_pass():
    refused(lambda: cc.checks.check("convolution-ex-window", 5), "by_hand=by_hand", "missing by_hand")


def test_weight_norms_look_inside_a_nested_backbone():
    backbone = tiny_model()
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(backbone(inputs)))
    assert sorted(cc.models.largest_weight_norms(model)) == ["head", "tiny/conv", "tiny/out"]


@pytest.mark.parametrize("row, chance, word", [
    ({"k": 0, "arm": "frozen", "test accuracy": 0.5}, None, "'k'"),
    ({"k": -5, "arm": "frozen", "test accuracy": 0.5}, None, "'k'"),
    ({"k": 10, "arm": "frozen", "test accuracy": 0.5}, "0.2", "chance"),
])
def test_accuracy_vs_shots_refuses_rows_it_cannot_draw(row, chance, word):
    refused(lambda: cc.plots.accuracy_vs_shots([row], chance=chance), word)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_displayable_refuses_broken_pixels_instead_of_drawing_them_black(value):
    refused(lambda: cc.plots.displayable(_arrays_with(value, (8, 8))), "NaN or infinite")


def test_fit_and_evaluate_refuses_nan_images_and_labels_outside_the_models_classes():
    nan_images = _arrays_with(math.nan)
    refused(lambda: cc.training.fit_and_evaluate(compiled_model(), (nan_images, LABELS), None, (IMAGES, LABELS),
                                                 epochs=1, batch_size=2, save=False, profile="quick"),
            "train_data images", "NaN")
    refused(lambda: cc.training.fit_and_evaluate(compiled_model(), (IMAGES, LABELS), None,
                                                 (IMAGES, np.array([0, 1, 12])), epochs=1, batch_size=2,
                                                 save=False, profile="quick"),
            "test_data labels", "only 10 classes")


def test_a_one_class_classifier_is_refused_as_build_refuses_it():
    refused(lambda: cc.transfer.classifier(tiny_model(), 1), "num_classes", "at least 2")
    refused(lambda: cc.models.build("small_convnet", num_classes=1), "num_classes", "at least 2")


def test_pretrain_backbone_refuses_a_negative_size():
    refused(lambda: cc.transfer.pretrain_backbone("fashion", train_size=-22490, train=False), "train_size",
            "at least 10")


def test_a_validation_split_that_leaves_no_training_images_is_refused():
    dataset = cc.data.Dataset("toy", np.zeros((100, 8, 8, 1)), np.arange(100) % 10, IMAGES, LABELS, CLASSES, "test")
    refused(lambda: dataset.validation_split(0.999), "no training images")
    refused(lambda: dataset.validation_split(0.001), "no validation images")


def test_numpy_integers_and_too_small_inputs_get_the_courses_own_words():
    assert cc.models.build("small_convnet", num_classes=np.int64(10)).output_shape == (None, 10)
    refused(lambda: cc.models.build("small_convnet", input_shape=(3, 3, 1)), "input_shape (3, 3, 1) is too small")


def test_class_bars_draws_an_undefined_f1_as_a_missing_bar_but_refuses_infinity():
    values = np.full(10, 0.5)
    values[3] = math.nan  # a class never predicted has no precision, so no F1
    assert cc.plots.class_bars({"run": values}, CLASSES) is not None
    values[3] = math.inf
    refused(lambda: cc.plots.class_bars({"run": values}, CLASSES), "infinite")
