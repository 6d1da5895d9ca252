"""Transfer learning that runs offline, with backbones the course pretrained itself.

The usual tutorials download ImageNet weights at run time. This module gives
the chapter a backbone of its own: a small convnet pretrained on five CIFAR-10
classes (airplane, automobile, bird, cat, deer), shipped with the package as a
standard ``.keras`` file with a record of how it was trained and a checksum.
The target task is the other five classes (dog, frog, horse, ship, truck).
A second backbone, pretrained on Fashion-MNIST, is the distant source task
for which transfer should not help.

``pretrain_backbone`` is the code that produced the shipped files; run it
again with ``python -m cnncourse.transfer pretrain cifar5`` (resumable, one
line per epoch). ``imagenet_backbone`` is the real ImageNet path through
``keras.applications``: it works wherever the weights can be downloaded and
stops with a clear message where they cannot.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import os
import re
import tempfile
import zipfile
from pathlib import Path

import keras
import numpy as np

from cnncourse import config, data, models, _keras_graph, _runs, _text, training, _validate

__all__ = [
    "ARMS",
    "BACKBONES",
    "SOURCE_CLASSES",
    "TARGET_CLASSES",
    "BestEpoch",
    "WeightsUnavailable",
    "backbone_record",
    "class_subset",
    "classifier",
    "compare_arms",
    "unfreeze",
    "few_shot",
    "imagenet_backbone",
    "imagenet_classifier",
    "load_backbone",
    "pretrain_backbone",
    "summarize",
    "target_statistics",
    "to_cifar_shape",
]

SOURCE_CLASSES = (0, 1, 2, 3, 4)  # airplane, automobile, bird, cat, deer: the backbone's task
TARGET_CLASSES = (5, 6, 7, 8, 9)  # dog, frog, horse, ship, truck: the few-label task

# name: (dataset, its classes, training images, epochs of the full pretraining)
BACKBONES = {
    "cifar5": ("cifar10", SOURCE_CLASSES, 22_500, 15),
    "fashion": ("fashion_mnist", tuple(range(10)), 22_500, 15),
}


class WeightsUnavailable(RuntimeError):
    """Pretrained weights could not be found or downloaded."""


# ---------------------------------------------------------------- data


def class_subset(images, labels, classes):
    """The images of the given classes, relabelled 0, 1, ... in the order of ``classes``."""
    labels = _validate.class_labels(labels, "labels")
    images = _validate.finite_array(images, "images", as_float=False)
    _validate.same_length(images, labels, "images", "labels")
    if isinstance(classes, (str, bytes, set, frozenset, dict)) or not hasattr(classes, "__iter__"):
        raise TypeError(f"classes must be a list or tuple of class numbers, such as (5, 6, 7, 8, 9): their order "
                        f"gives the new labels 0, 1, ...; got {classes!r}")
    classes = [_validate.integer(value, "a class", minimum=0) for value in classes]
    if len(set(classes)) != len(classes) or not classes:
        raise ValueError(f"classes must be distinct class numbers, such as (5, 6, 7, 8, 9); got {classes}")
    keep = np.isin(labels, classes)
    relabel = np.full(max(max(classes), labels.max()) + 1, -1)
    relabel[classes] = np.arange(len(classes))
    return images[keep], relabel[labels[keep]]


def few_shot(labels, per_class: int, seed: int = 0) -> np.ndarray:
    """Indices of ``per_class`` examples of every class, nested: the 10-shot set is inside the 50-shot set.

    Nesting makes the points of an accuracy-versus-k curve comparable: a
    larger k adds images, it does not draw a new sample.
    """
    labels = _validate.class_labels(labels, "labels")
    per_class = _validate.positive_int(per_class, "per_class", example="50")
    seed = _validate.seed(seed)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if per_class > len(members):
            raise ValueError(f"labels have only {len(members)} image(s) of class {label}, fewer than "
                             f"per_class={per_class}")
        chosen.append(rng.permutation(members)[:per_class])
    return np.random.default_rng(seed + 1).permutation(np.concatenate(chosen))


def to_cifar_shape(images) -> np.ndarray:
    """28x28 grey images as 32x32x3: zero-padded by 2 pixels, the grey copied into R, G and B."""
    images = _validate.finite_array(images, "images", as_float=False)  # dtype kept
    if images.ndim == 3:
        images = images[..., None]
    if images.shape[1:] != (28, 28, 1):
        raise ValueError(f"expected 28x28 grey images, got shape {images.shape}")
    return np.repeat(np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0))), 3, axis=-1)


# ---------------------------------------------------------------- the course's backbones


def _folders() -> list[Path]:
    return [_runs.user_folder(), _runs.shipped_folder()]


def _paths(name: str, folder: Path) -> tuple[Path, Path]:
    return folder / f"{name}_backbone.keras", folder / f"{name}_backbone.json"


def backbone_record(name: str = "cifar5") -> dict:
    """How a backbone was trained: data, epochs, source-task accuracy, hardware, time, checksum."""
    for folder in _folders():
        model_path, record_path = _paths(_backbone_name(name), folder)
        if model_path.exists() and record_path.exists():
            return {**_runs.read_signed(record_path), "place": "shipped with the course"
                    if folder == _runs.shipped_folder() else "your cache"}
    raise WeightsUnavailable(_missing_message(name))


def _backbone_name(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a backbone's name such as 'cifar5', got {name!r}")
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone name {name!r}; the course has {', '.join(map(repr, BACKBONES))}")
    return name


def _missing_message(name: str) -> str:
    places = ", ".join(f"{_paths(name, folder)[0].name} in {where}" for folder, where in
                       zip(_folders(), ("your cache (CNNCOURSE_CACHE)", "the installed package")))
    return (f"the {name!r} backbone was not found: looked for {places}. Train it with "
            f"`python -m cnncourse.transfer pretrain {name}`.")


def load_backbone(name: str = "cifar5") -> keras.Model:
    """The pretrained backbone ``name`` (a Keras model from images to features), checked against its record.

    Looks in your cache first (where ``pretrain_backbone`` saves), then in the
    files shipped with the package. A file whose checksum does not match its
    record is refused rather than loaded.
    """
    name = _backbone_name(name)
    for folder in _folders():
        model_path, record_path = _paths(name, folder)
        if not (model_path.exists() and record_path.exists()):
            continue
        record = _runs.read_signed(record_path)
        if data.sha256_of(model_path) != record.get("sha256"):
            raise WeightsUnavailable(f"{model_path.name} does not match the checksum in {record_path.name}: "
                                     "the file is damaged or was replaced; train it again or reinstall the course")
        try:
            return keras.saving.load_model(model_path, compile=False)
        except (TypeError, ValueError):  # written by a newer Keras (Colab may lag behind): same weights, rebuilt
            return _rebuilt(model_path, record)
    raise WeightsUnavailable(_missing_message(name))


def _rebuilt(model_path: Path, record: dict) -> keras.Model:
    """The network named in the record, built by this Keras, with the weights stored inside the ``.keras`` file.

    A ``.keras`` file holds the model's configuration and ``model.weights.h5``.
    An older Keras may not understand a configuration written by a newer one
    (an initializer argument it does not know), but the weights are the same
    arrays, so the course builds its own architecture and loads those.
    """
    model = models.build(record["architecture"])
    with zipfile.ZipFile(model_path) as archive, tempfile.TemporaryDirectory() as folder:
        archive.extract("model.weights.h5", folder)
        model.load_weights(Path(folder) / "model.weights.h5")
    return model


def _size(value, what: str, available: int, default):
    """A subset size: None for the default, else a count from 10 to what is available (never "all but N")."""
    if value is None:
        return default
    value = _validate.integer(value, what, minimum=10, example="2000")
    if available is not None and value > available:
        raise ValueError(f"{what}={value} is more than the {available:,} images available; choose at most that")
    return value


def _pretraining_data(name: str, seed: int, train_size: int | None, test_size: int | None):
    dataset_name, classes, default_size, _ = BACKBONES[name]
    loaded = data.load(dataset_name, scale="none", seed=seed, verbose=False)  # scaled once chosen: less memory
    pool_images, pool_labels, validation_images, validation_labels = loaded.validation_split(0.1, seed=seed)
    splits = [class_subset(pool_images, pool_labels, classes),
              class_subset(validation_images, validation_labels, classes),
              class_subset(loaded.test_images, loaded.test_labels, classes)]
    test_order = np.random.default_rng(seed).permutation(len(splits[2][1]))  # test files may be sorted by class
    splits[2] = (splits[2][0][test_order], splits[2][1][test_order])
    limits = (_size(train_size, "train_size", len(splits[0][1]), default_size), None,
              _size(test_size, "test_size", len(splits[2][1]), None))  # the pool is shuffled already
    splits = [(data.scale_pixels(images[:limit]), labels[:limit]) for (images, labels), limit in zip(splits, limits)]
    if dataset_name == "fashion_mnist":
        splits = [(to_cifar_shape(images), labels) for images, labels in splits]
    return splits, loaded.class_names, classes, loaded.describe()


def pretrain_backbone(name: str = "cifar5", *, epochs: int | None = None, train_size: int | None = None,
                      test_size: int | None = None, seed: int = 0, folder=None, train: bool = True) -> dict:
    """Pretrain the backbone ``name`` on its source task and save it as ``<name>_backbone.keras`` with a record.

    The backbone (``models.build("transfer_backbone")``) gets a dropout and a
    softmax head for the source classes, and random flips and shifts; after
    training only the backbone is saved, in Keras's own format. The training
    goes through ``fit_and_evaluate``, so it resumes after an interruption and
    ``train=False`` reuses a finished run. Returns the record.
    """
    name = _backbone_name(name)
    for size, what in ((train_size, "train_size"), (test_size, "test_size")):
        _size(size, what, available=None, default=None)  # the kind of value now, before loading the data
    _, classes, _, default_epochs = BACKBONES[name]
    epochs = _validate.positive_int(epochs if epochs is not None else default_epochs, "epochs", example="15")
    (train_data, validation_data, test_data), class_names, classes, described = _pretraining_data(
        name, seed, train_size, test_size)
    config.seed_everything(seed)
    backbone = models.build("transfer_backbone")
    inputs = keras.Input(shape=(32, 32, 3), name="image")
    augmented = inputs
    for layer in models.flip_and_shift(0.1):  # one by one, not in a Sequential: saved runs keep their layout
        augmented = layer(augmented)
    features = backbone(augmented)
    outputs = keras.layers.Dense(len(classes), activation="softmax", name="source_head")(
        keras.layers.Dropout(0.3, name="head_dropout")(features))
    model = keras.Model(inputs, outputs, name=f"{name}_pretraining")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    run = training.fit_and_evaluate(model, train_data, validation_data, test_data, epochs=epochs, batch_size=64,
                                    name=f"{name}_pretraining", train=train, profile="full")
    folder = Path(folder) if folder is not None else _runs.user_folder()
    folder.mkdir(parents=True, exist_ok=True)
    model_path, record_path = _paths(name, folder)
    keras.saving.save_model(model.get_layer("transfer_backbone"), model_path)
    record = {
        "backbone": name, "architecture": "transfer_backbone", "parameters": backbone.count_params(),
        "source task": f"{BACKBONES[name][0]}, classes {[class_names[index] for index in classes]}",
        "train images": len(train_data[1]), "validation images": len(validation_data[1]),
        "epochs": run.epochs, "batch size": 64, "optimizer": "Adam(0.001)", "augmentation": "flip, shift 10 %",
        "source test accuracy": round(run.test_accuracy, 4), "source test images": len(run.test_labels),
        "data": training.data_identity(train_data, test_data, source=f"{described}; classes {list(classes)}"),
        "seconds": round(run.seconds, 1), "device": run.device, "backend": keras.backend.backend(),
        "keras": keras.__version__, "date": datetime.date.today().isoformat(),
        "command": f"python -m cnncourse.transfer pretrain {name}", "sha256": data.sha256_of(model_path),
    }
    _runs.write_signed(record_path, record)
    print(f"saved {model_path.name} ({model_path.stat().st_size / 1e6:.2f} MB) and its record")
    return record


# ---------------------------------------------------------------- three ways to use a backbone

ARMS = ("scratch", "frozen", "fine-tuned", "fine-tuned, BN in training mode", "frozen, target BN statistics")


def classifier(backbone: keras.Model, num_classes: int) -> keras.Model:
    """The backbone with a new head: dropout and a softmax layer for ``num_classes`` classes.

    The backbone is called with ``training=False``, as the Keras guide
    advises. In Keras 3 that alone does not keep its BatchNormalization layers
    in inference mode once the backbone is unfrozen (``fit`` passes
    ``training=True`` down to them): ``unfreeze`` is what does.
    """
    _keras_graph.built_model(backbone, "backbone")
    num_classes = _validate.class_count(num_classes)
    inputs = keras.Input(shape=backbone.input_shape[1:], name="image")
    features = backbone(inputs, training=False)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="new_head")(
        keras.layers.Dropout(0.3, name="head_dropout")(features))
    return keras.Model(inputs, outputs, name="transfer_classifier")


def unfreeze(backbone: keras.Model, layers=None, *, batch_norm: bool = False) -> list[str]:
    """Make the backbone's layers trainable again for fine-tuning: all, or those named in ``layers``.

    BatchNormalization layers stay frozen unless ``batch_norm=True``. Frozen,
    such a layer always normalises with the statistics it learned on the
    source task. Unfrozen (the pitfall), it normalises each small target batch
    with that batch's own statistics during training and overwrites its
    running ones, so the network is trained in one regime and tested in
    another. Returns the names of the layers that are now trainable.
    """
    chosen = _layer_names(backbone, layers)
    _validate.flag(batch_norm, "batch_norm")
    backbone.trainable = True
    for layer in backbone.layers:
        is_batch_norm = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = layer.name in chosen and (batch_norm or not is_batch_norm)
    trainable = [layer.name for layer in backbone.layers if layer.trainable and layer.weights]
    if not trainable:
        backbone.trainable = False
        raise _nothing_to_unfreeze(backbone, layers)
    return trainable


def _layer_names(backbone, layers) -> list[str]:
    """The names of the layers ``unfreeze`` was asked for (all, for ``None``), checked against the backbone."""
    if not isinstance(backbone, keras.Model):
        raise TypeError(f"backbone must be a Keras model, got {type(backbone).__name__}")
    names = [layer.name for layer in backbone.layers]
    if layers is None:
        return names
    if isinstance(layers, str) or not isinstance(layers, (list, tuple)) or not layers \
            or not all(isinstance(name, str) for name in layers):
        raise TypeError(f"layers must be a non-empty list of layer names such as ['block3_conv2'] (or None "
                        f"for all), got {layers!r}")
    unknown = sorted(set(layers) - set(names))
    if unknown:
        raise ValueError(f"the backbone has no layer(s) {unknown}; its layers are {names}")
    return list(layers)


def _nothing_to_unfreeze(backbone, layers) -> ValueError:
    convolutions = [layer.name for layer in backbone.layers if "conv" in layer.name][-2:]
    return ValueError(f"none of the layers {layers} has weights that could learn (pooling, activation and frozen "
                      f"BatchNormalization layers have none): the backbone stays frozen. Name convolution "
                      f"layers, such as {convolutions}")


def target_statistics(backbone: keras.Model, images) -> list[str]:
    """Re-estimate the backbone's BatchNormalization statistics on the target images (no labels needed).

    A frozen BatchNormalization layer normalises with the mean and variance it
    saw on the source task. For a distant source (grey, padded Fashion-MNIST
    against colour photos) those statistics are wrong for the new images, and
    a frozen backbone then fails for two reasons at once: its features, and
    its normalisation. Setting each layer's statistics to those of its inputs
    on the target images (first layer first, since each changes what the next
    one sees) separates the two. Returns the names of the layers reset.
    """
    _keras_graph.built_model(backbone, "backbone")
    images = _validate.model_inputs(images, backbone, "images")
    if len(images) < 2:
        raise ValueError(f"images holds {len(images)} image(s): statistics need at least 2 (the k-shot set)")
    reset = []
    for layer in backbone.layers:
        if not isinstance(layer, keras.layers.BatchNormalization):
            continue
        probe = keras.Model(backbone.inputs[0], layer.input)
        inputs = np.concatenate([keras.ops.convert_to_numpy(probe(images[start:start + 256], training=False))
                                 for start in range(0, len(images), 256)]).astype(np.float64)
        axes = tuple(range(inputs.ndim - 1))
        layer.moving_mean.assign(inputs.mean(axis=axes).astype("float32"))
        layer.moving_variance.assign(inputs.var(axis=axes).astype("float32"))
        reset.append(layer.name)
    if not reset:
        raise ValueError(f"{backbone.name!r} has no BatchNormalization layer: there are no statistics to re-estimate")
    return reset


class BestEpoch(keras.callbacks.Callback):
    """End training with the weights of the epoch of highest validation accuracy (the earliest of equals).

    Every arm of the comparison is scored this way, so that none is judged on
    whatever its last step left (a few noisy batches can move a small set's
    BatchNormalization statistics a long way), and the choice is made on
    validation images, never on the test set.
    """

    def on_train_begin(self, logs=None):
        self.best, self.weights = -1.0, None

    def on_epoch_end(self, epoch, logs=None):
        if "val_accuracy" not in (logs or {}):
            raise ValueError("BestEpoch needs validation_data: it chooses the epoch by validation accuracy")
        if logs["val_accuracy"] > self.best:
            self.best, self.weights = logs["val_accuracy"], self.model.get_weights()

    def on_train_end(self, logs=None):
        if self.weights is not None:
            self.model.set_weights(self.weights)


def _compiled(model, learning_rate):
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def compare_arms(backbone_name: str, train_data, validation_data, test_data, *, shots, seeds, epochs_for,
                 train: bool = True, arms=ARMS[:3], bn_pitfall_shots=(),
                 fine_tune_learning_rate: float = 1e-4) -> list[dict]:
    """Train every arm on the same k-shot subsets and return one row per (k, seed, arm) with its test accuracy.

    Every arm trains for the same ``epochs_for(k)`` epochs in all, validates on
    the same ``validation_data`` after each, and is scored on the test set with
    the weights of its best validation epoch (``BestEpoch``):

    - **scratch**: the backbone's architecture with random weights, all trained
      (BatchNormalization momentum 0.9, so that its running statistics settle
      even on a few dozen images);
    - **frozen**: the pretrained backbone, ``trainable = False``, only the new head trains;
    - **fine-tuned**: the head trained on the frozen backbone for the first half
      of the epochs, then the backbone unfrozen (``unfreeze``: all but
      BatchNormalization) for the second half at ``fine_tune_learning_rate``;
    - **fine-tuned, BN in training mode** (for k in ``bn_pitfall_shots``): the
      same with the BatchNormalization layers unfrozen too;
    - **frozen, target BN statistics**: the frozen arm after ``target_statistics``
      re-estimated the backbone's normalisation on the k-shot images.

    Every run is saved; ``train=False`` reloads them. One line is printed per (k, seed).
    """
    _backbone_name(backbone_name)
    images, labels = _pair_of_arrays(train_data, "train_data")
    validation = _pair_of_arrays(validation_data, "validation_data")
    _pair_of_arrays(test_data, "test_data")
    shots = _validate.positive_ints(shots, "shots", None, example="(10, 50, 200)")
    seeds = [_validate.seed(seed, "seeds") for seed in _sequence(seeds, "seeds", "(0, 1, 2)")]
    bn_pitfall_shots = _validate.positive_ints(bn_pitfall_shots, "bn_pitfall_shots", None, example="(10, 200)") \
        if bn_pitfall_shots else ()
    if not callable(epochs_for):
        raise TypeError(f"epochs_for must be a function of k giving the epochs, such as lambda k: 20; got "
                        f"{epochs_for!r}")
    train = _validate.flag(train, "train")
    fine_tune_learning_rate = _validate.positive_number(fine_tune_learning_rate, "fine_tune_learning_rate")
    if isinstance(arms, str) or not isinstance(arms, (list, tuple)) or not arms:
        raise TypeError(f"arms must be a list of arm names from {ARMS}, got {arms!r}")
    unknown = [arm for arm in arms if arm not in ARMS]
    if unknown:
        raise ValueError(f"unknown arm(s) {unknown}; the arms are {list(ARMS)}")
    rows = []
    for seed in seeds:
        for shots_per_class in shots:
            chosen = few_shot(labels, shots_per_class, seed)
            subset = (images[chosen], labels[chosen])
            epochs = _validate.positive_int(epochs_for(shots_per_class), "epochs_for(k)", example="20")
            if epochs < 2:
                raise ValueError(f"epochs_for({shots_per_class}) is {epochs}: the fine-tuned arm needs at least 2 "
                                 "epochs (half with the backbone frozen, half unfrozen)")
            stem = f"transfer_{backbone_name}_k{shots_per_class}_s{seed}"
            wanted = list(arms) + ([ARMS[3]] if shots_per_class in bn_pitfall_shots and ARMS[3] not in arms else [])
            results = _arms(backbone_name, subset, validation, test_data, wanted, epochs, seed, stem, train,
                            fine_tune_learning_rate)  # quiet runs: one summary line instead of four runs' notes
            for arm in wanted:
                run, seconds = results[arm]
                rows.append({"backbone": backbone_name, "k": shots_per_class, "seed": seed, "arm": arm,
                             "train images": len(chosen), "epochs": epochs,
                             "best epoch": _best_epoch(run, epochs), "test accuracy": run.test_accuracy,
                             "time (s)": seconds, "reloaded": run.loaded_from is not None})
            _text.say(f"{backbone_name} backbone, k = {shots_per_class:>4}, seed {seed}: " + ", ".join(
                f"{arm} {results[arm][0].test_accuracy:.3f}" for arm in wanted))
    return rows


def _sequence(value, what: str, example: str) -> list:
    """A non-empty list or tuple (a set has no order; a string would be read letter by letter)."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise TypeError(f"{what} must be a non-empty list or tuple such as {example}, got {value!r}")
    return list(value)


def _pair_of_arrays(value, what: str):
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(f"{what} must be an (images, labels) pair, such as target_train")
    images, labels = np.asarray(value[0]), _validate.class_labels(value[1], f"{what} labels")
    _validate.same_length(images, labels, f"{what} images", f"{what} labels")
    return images, labels


def _best_epoch(run, epochs: int) -> int:
    """The epoch whose weights were scored: of the run's own epochs, counted within the arm's whole budget."""
    own = int(np.argmax(run.history["val_accuracy"])) + 1
    return own + (epochs - run.epochs)  # a fine-tuning run starts after the frozen half


def _arms(backbone_name, subset, validation, test_data, wanted, epochs, seed, stem, train, fine_tune_learning_rate):
    """Train (or reload) the wanted arms: ``{arm: (run, seconds of all its phases)}``."""
    results = {}
    num_classes = int(np.max(subset[1])) + 1

    def fit(model, name, epochs_here):
        return training.fit_and_evaluate(model, subset, validation, test_data, epochs=epochs_here, batch_size=32,
                                         name=name, train=train, verbose=False, callbacks=[BestEpoch()])

    def pretrained(frozen=True, statistics=False):
        config.seed_everything(seed)
        backbone = load_backbone(backbone_name)
        if statistics:
            target_statistics(backbone, subset[0])
        backbone.trainable = not frozen
        return backbone

    if "scratch" in wanted:
        config.seed_everything(seed)
        scratch = _compiled(classifier(models.build("transfer_backbone", batch_norm_momentum=0.9), num_classes), 1e-3)
        run = fit(scratch, f"{stem}_scratch", epochs)
        results["scratch"] = (run, run.seconds)
    for arm, statistics, suffix in (("frozen", False, "frozen"),
                                    ("frozen, target BN statistics", True, "frozen_target_bn")):
        if arm in wanted:
            run = fit(_compiled(classifier(pretrained(statistics=statistics), num_classes), 1e-3), f"{stem}_{suffix}",
                      epochs)
            results[arm] = (run, run.seconds)
    tuned_arms = [arm for arm in ("fine-tuned", "fine-tuned, BN in training mode") if arm in wanted]
    if not tuned_arms:
        return results
    head_epochs = epochs // 2
    head = fit(_compiled(classifier(pretrained(), num_classes), 1e-3), f"{stem}_finetuned_head", head_epochs)
    for arm in tuned_arms:
        batch_norm = arm != "fine-tuned"
        suffix = "finetuned_bn_training" if batch_norm else "finetuned"
        tuned_backbone = pretrained()
        model = classifier(tuned_backbone, num_classes)
        if head.model is not None:
            model.set_weights(head.model.get_weights())  # start where the head's half ended: the head has settled
        unfreeze(tuned_backbone, batch_norm=batch_norm)
        _compiled(model, fine_tune_learning_rate)
        if head.model is None and not training.has_saved_run(model, f"{stem}_{suffix}", epochs=epochs - head_epochs,
                                                             batch_size=32, train_size=len(subset[1])):
            raise ValueError(f"the head run {stem}_finetuned_head was replayed from a record without weights, so "
                             f"there is no trained head for {stem}_{suffix} to start from: run with train=True")
        run = fit(model, f"{stem}_{suffix}", epochs - head_epochs)
        results[arm] = (run, (run.seconds or 0) + (head.seconds or 0))
    return results


def summarize(rows, arms=None) -> "training.ResultsTable":
    """Mean test accuracy of each arm for each k, with the spread over seeds (min to max)."""
    if not rows or not all(isinstance(row, dict) for row in rows):
        raise TypeError("rows must be the list that compare_arms returns")
    present = list(dict.fromkeys(row.get("arm") for row in rows))
    if arms is None:
        arms = present
    elif isinstance(arms, (str, bytes)) or not isinstance(arms, (list, tuple)) or not arms:
        raise TypeError(f"arms must be a list of arm names, such as ['scratch', 'frozen']; got {arms!r}")
    elif [arm for arm in arms if arm not in present]:
        raise ValueError(f"no rows for the arm(s) {[arm for arm in arms if arm not in present]}; the rows have "
                         f"{present}")
    table = []
    for shots_per_class in sorted({row["k"] for row in rows}):
        line = {"k": shots_per_class}
        for arm in arms:
            values = [row["test accuracy"] for row in rows if row["k"] == shots_per_class and row["arm"] == arm]
            if values:
                spread = f" ({min(values):.3f}–{max(values):.3f})" if len(values) > 1 else ""
                line[arm] = f"{np.mean(values):.3f}{spread}"
        table.append(line)
    return training.results_table(table, columns=["k", *[arm for arm in arms if any(arm in line for line in table)]])


def imagenet_classifier(backbone: keras.Model, num_classes: int, *, image_shape=(32, 32, 3)) -> keras.Model:
    """A ``keras.applications`` backbone behind a resizing layer, with the same head as ``classifier``.

    The inputs must already be prepared by the application's own
    ``preprocess_input`` (for MobileNetV2: pixels 0-255 to [-1, 1]); the
    model resizes them to the size the backbone was built for.
    """
    _keras_graph.built_model(backbone, "backbone")
    num_classes = _validate.class_count(num_classes)
    image_shape = _validate.positive_ints(image_shape, "image_shape", 3, example="(32, 32, 3)")
    inputs = keras.Input(shape=image_shape, name="image")
    resized = keras.layers.Resizing(*backbone.input_shape[1:3], name="resize")(inputs)
    return keras.Model(inputs, classifier(backbone, num_classes)(resized), name="imagenet_transfer_classifier")


# ---------------------------------------------------------------- the ImageNet path


def imagenet_backbone(name: str = "MobileNetV2", *, weights="imagenet", input_size: int = 96) -> keras.Model:
    """A ``keras.applications`` network without its classifier, pooled to one feature vector per image.

    With ``weights="imagenet"`` Keras downloads the weights once (Colab, any
    machine online) into ``~/.keras/models``. Offline that fails; this raises
    ``WeightsUnavailable`` saying what was tried, so a chapter can go on with
    the course's own backbone. ``weights=None`` builds the same network with
    random weights, which is how the tests keep this path from rotting.
    Feed it images prepared by the application's own ``preprocess_input``.
    """
    applications = {"MobileNetV2": keras.applications.MobileNetV2,
                    "EfficientNetB0": keras.applications.EfficientNetB0}
    if name not in applications:
        raise ValueError(f"name must be one of {', '.join(applications)}, got {name!r}")
    input_size = _validate.integer(input_size, "input_size", minimum=32, example="96")
    if weights not in ("imagenet", None):
        raise ValueError(f"weights must be 'imagenet' or None, got {weights!r}")
    offline = os.environ.get(data.OFFLINE_ENVIRONMENT_VARIABLE, "") not in ("", "0")
    try:  # offline, only the Keras cache can succeed: its "Downloading data from ..." line would be noise
        with contextlib.redirect_stdout(io.StringIO()) if offline else contextlib.nullcontext():
            return applications[name](include_top=False, weights=weights, input_shape=(input_size, input_size, 3),
                                      pooling="avg")
    except Exception as error:  # Keras raises a plain Exception for a failed download
        if weights is None:
            raise
        cache = Path(keras.config.keras_home() if hasattr(keras.config, "keras_home") else "~/.keras") / "models"
        reason = re.sub(r"(https?://[^/\s]+)\S*", r"\1/...", str(error))[:160]  # the host says enough
        raise WeightsUnavailable(_text.wrap(
            f"could not get the ImageNet weights of {name}: not in the Keras cache ({cache}) and the download "
            f"failed ({type(error).__name__}: {reason}). Connect to the internet (Colab works), or go on "
            "with the course's backbone: cc.transfer.load_backbone('cifar5')."
        )) from error


# ---------------------------------------------------------------- command line


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m cnncourse.transfer",
                                     description="Pretrain the course's backbones (resumable).")
    commands = parser.add_subparsers(dest="command", required=True)
    pretrain = commands.add_parser("pretrain", help="train a backbone and save it with its record")
    pretrain.add_argument("names", nargs="+", choices=list(BACKBONES))
    pretrain.add_argument("--epochs", type=int, default=None)
    pretrain.add_argument("--ship", action="store_true", help="also copy the files into cnncourse/weights")
    arguments = parser.parse_args(argv)
    for name in arguments.names:
        record = pretrain_backbone(name, epochs=arguments.epochs, train=False)
        print(json.dumps(record, indent=1))
        if arguments.ship:
            for path in _paths(name, _runs.user_folder()):
                target = _runs.shipped_folder() / path.name
                target.write_bytes(path.read_bytes())
                print(f"shipped {target.name}")


if __name__ == "__main__":
    main()
