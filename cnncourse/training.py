"""Training runs: fit, time, evaluate, and tabulate the results.

The training chapters compare several networks, so every run is measured
the same way: the same clock around ``model.fit`` only, the same device
report, accuracy computed from the same predictions that feed the confusion
matrix. ``fit_and_evaluate`` does that once for all of them and returns a
``TrainingRun`` that knows how to become a row of a results table.

A chapter can skip training: with ``train=False`` it reloads a saved run of
the same recipe (the course ships some, every training saves one) and
reaches the same plots in seconds. A long training that is interrupted goes
on from its last finished epoch the next time. How runs are stored is the
course's machinery, in ``cnncourse/_runs.py``.

Only ``keras`` and NumPy are used, so this works with every Keras backend.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import time

import keras
import numpy as np

from cnncourse import config, data, _keras_graph, _runs, _tables, _text, _validate

__all__ = [
    "EpochProgress",
    "ResultsTable",
    "TrainingRun",
    "describe_source",
    "class_probabilities",
    "class_report",
    "data_identity",
    "fit_and_evaluate",
    "generalization_gap",
    "most_confident_mistakes",
    "per_class_accuracy",
    "precision_recall_f1",
    "recorded_run",
    "results_table",
    "saved_result",
    "uses_carved_test_split",
]

# ---------------------------------------------------------------- a training run


@dataclasses.dataclass
class TrainingRun:
    """One trained (or reloaded) model with what the chapters report about it.

    ``seconds`` and ``device`` describe the run that produced the weights:
    for a reloaded run they are the recorded ones, and ``loaded_from`` says so.
    A run *replayed* from a record that ships without weights has no network
    (``model`` is None): only its history, scores and what was measured on it
    when it was trained (``measured``).
    """

    name: str
    model: keras.Model | None
    history: dict
    test_accuracy: float
    test_probabilities: np.ndarray
    test_predictions: np.ndarray
    test_labels: np.ndarray
    seconds: float | None
    device: str
    profile: str | None
    train_size: int
    details: dict = dataclasses.field(default_factory=dict)
    loaded_from: str | None = None
    resumed_after_epoch: int | None = None  # the training was interrupted then and went on from a checkpoint
    backend: str | None = None  # the Keras backend that trained it
    record_path: object = None  # the saved record, where measurements are kept (None: not saved)
    parameters: int | None = None  # the network's size, known even when a replay has no network
    measurements: dict = dataclasses.field(default_factory=dict)  # what ``measured`` computed and kept

    def __post_init__(self):
        if self.parameters is None and self.model is not None:
            self.parameters = self.model.count_params()

    @property
    def epochs(self) -> int:
        return len(next(iter(self.history.values())))

    def measured(self, key: str, measure):
        """``measure(model)``, computed once on the trained network and kept in the run's record.

        A later replay of the run without its weights reads the kept value, so
        a chapter shows the same numbers whether it trained, reloaded or replayed.
        """
        if not callable(measure):
            raise TypeError(f"measure must be a function of the trained model, got {measure!r}")
        if key in self.measurements:
            return self.measurements[key]
        if self.model is None:
            raise ValueError(f"the run {self.name!r} was replayed from its record, which has no {key!r} and no "
                             "weights to measure it on: train it (train=True), then measure it")
        value = measure(self.model)
        self.measurements[key] = value
        if self.record_path is not None:
            _runs.keep_in_record(self.record_path, measured=self.measurements)
        return value

    def row(self) -> dict:
        """This run as a row of ``results_table``."""
        return {
            "model": self.name,
            **self.details,
            "epochs": self.epochs,
            "train images": self.train_size,
            "test images": len(self.test_labels),
            "parameters": self.parameters,
            "test accuracy": self.test_accuracy,
            "time (s)": self.seconds,
            "device": self.device,
            "run": "trained now" if self.loaded_from is None else f"loaded ({self.profile} profile)",
        }


def _pair(value, what: str):
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(f"{what} must be an (images, labels) pair, got {type(value).__name__}")
    images, labels = value
    for part, name in ((images, "images"), (labels, "labels")):
        if isinstance(part, (str, bytes)) or not hasattr(part, "__len__"):
            raise TypeError(f"{what} {name} must be an array, got {part!r}")
    if len(images) != len(labels):
        raise ValueError(f"{what} has {len(images)} images but {len(labels)} labels")
    if len(images) == 0:
        raise ValueError(f"{what} is empty")
    return images, labels


def _checked_pair(value, what: str, model):
    """An (images, labels) pair that fits ``model``: input shape, finite pixels, labels within its classes."""
    images, labels = _pair(value, what)
    images = _validate.model_inputs(images, model, f"{what} images")
    classes = _class_count(model)
    _validate.class_labels(labels, f"{what} labels", num_classes=classes)
    if np.ndim(labels) == 2 and np.shape(labels)[1] > 1 and np.shape(labels)[1] != classes:
        raise ValueError(f"{what} labels are one-hot with {np.shape(labels)[1]} columns, but {model.name!r} has "
                         f"{classes} outputs")
    return images, labels


def _class_count(model) -> int:
    """How many classes a classifier tells apart: one sigmoid unit decides between two."""
    return max(2, model.output_shape[-1])


def class_probabilities(model, images, outputs: str = "probabilities") -> np.ndarray:
    """The model's probability for every class, one row per image, rows summing to 1.

    A softmax output gives them directly; logits go through a softmax first;
    a single sigmoid unit (a two-class network such as source 002's) gives
    p for class 1, so class 0 gets 1 - p. Every prediction in the course goes
    through here, so a binary network is scored like any other.
    """
    _keras_graph.built_model(model)
    _validate.one_of(outputs, ("probabilities", "logits"), "outputs")
    images = _validate.model_inputs(images, model, "images")
    if len(images) == 0:
        raise ValueError("images is empty: pass at least one image to predict")
    with _quiet_tensorflow_retracing():
        raw = np.asarray(model.predict(images, batch_size=256, verbose=0)).astype(np.float32)
    if outputs == "logits":
        raw = np.asarray(keras.ops.convert_to_numpy(keras.ops.softmax(raw)))
    if raw.ndim == 2 and raw.shape[1] == 1:
        raw = np.concatenate([1.0 - raw, raw], axis=1)
    return raw


def fit_and_evaluate(model, train_data, validation_data, test_data, *, epochs: int, batch_size: int,
                     name: str | None = None, train: bool = True, save: bool = True,
                     weights_dtype: str = "float32", profile: str | None = None,
                     details: dict | None = None, verbose: bool = True, callbacks=(), outputs: str = "probabilities",
                     measure=None) -> TrainingRun:
    """Train a compiled model (or reload a saved run of the same recipe), then predict the test set.

    - ``train_data``, ``validation_data``, ``test_data``: ``(images, labels)``
      pairs; labels may be integers or one-hot, matching the compiled loss.
      Validation data comes from the training images: the test set is only
      looked at once, at the end, so its accuracy stays an honest estimate.
    - ``train=False`` reloads the saved run named ``name`` that used the same
      recipe (profile, epochs, batch size, training images, optimizer); if
      there is none it trains after all and says so.
    - An interrupted training of the same recipe goes on from its last
      finished epoch (a checkpoint is written after every epoch).
    - ``profile``: defaults to the one of the chapter's ``cc.config.settings``.
    - ``details``: extra columns for the results table (optimizer, scaling...).
    - ``verbose``: one line per epoch with the time left (instead of Keras's
      log), where the run was loaded from, its test accuracy. ``False`` keeps
      only the warnings, for callers that print their own summary.
    - ``callbacks``: more Keras callbacks, such as ``EarlyStopping``; give the
      run its own ``name``, since they change what is trained. A resumed run
      starts them afresh (an early stop counts its patience again).
    - ``train_data`` may also be a ``keras.utils.PyDataset`` that makes new
      (augmented) batches each epoch, with ``num_images`` and ``batch_size``.
    - ``outputs="logits"``: the model ends without a softmax; the test
      probabilities are the softmax of its outputs.
    - ``measure``: a function of the trained model returning more numbers
      (``{"tta accuracy": 0.94}``); they are stored with the run and, on a
      reload, read back instead of being measured again.

    Only ``model.fit`` is timed: data loading and prediction are not training.
    """
    job = _checked_job(model, train_data, validation_data, test_data, epochs=epochs, batch_size=batch_size,
                       name=name, flags={"train": train, "save": save, "verbose": verbose}, profile=profile,
                       details=details, callbacks=callbacks, outputs=outputs, measure=measure)
    say = _text.say if verbose else _say_nothing
    saved = None if train else _runs.reusable(job.name, job.recipe, job.data)  # same recipe, same data
    replayed = saved is not None and not saved[1].get("weights")  # a record without weights: no network
    if saved is None:
        history, origin = _train(job, progress=verbose)
        record = None
    else:
        history, origin, record = _reload(job, saved, replayed, say)
    if replayed:  # the scores its record kept
        model, probabilities, accuracy = None, None, float(record["test_accuracy"])
        predictions = _runs.recorded_predictions(record, saved[0])
    else:
        probabilities = class_probabilities(model, job.test_images, outputs)
        predictions = probabilities.argmax(axis=1)
        accuracy = float(np.mean(predictions == job.test_labels))
    if measure is not None and record is None:
        job.details.update(_measured(measure, model))
    run = TrainingRun(name=job.name, model=model, history=history, test_accuracy=accuracy,
                      test_probabilities=probabilities, test_predictions=predictions, test_labels=job.test_labels,
                      profile=job.recipe["profile"], train_size=job.recipe["train_size"], details=job.details,
                      parameters=job.model.count_params(), measurements=dict((record or {}).get("measured", {})),
                      **origin)
    _keep(run, job, record, save=save, weights_dtype=weights_dtype)
    _log_run(run, record=record)
    say(f"{job.name}: test accuracy {accuracy:.4f} on {len(job.test_labels):,} test images ({run.epochs} epochs; "
        f"{'trained now' if record is None else 'recorded run'}: {_text.duration(run.seconds)} on {run.device})")
    return run


def _say_nothing(text: str) -> None:
    """``say`` for a quiet run."""


@dataclasses.dataclass
class _Job:
    """What ``fit_and_evaluate`` was asked, checked: the network, its data, and what a saved run must match."""

    model: keras.Model
    name: str
    recipe: dict  # what makes two runs the same run (``_runs.same_recipe``)
    data: dict  # ``data_identity`` of the very arrays
    train_images: object  # an array, or a PyDataset that makes its own batches
    train_labels: object  # None for a PyDataset
    validation: tuple | None
    test_images: np.ndarray
    test_labels: np.ndarray  # class indices, whatever the compiled loss wants
    details: dict
    callbacks: list


def _checked_job(model, train_data, validation_data, test_data, *, epochs, batch_size, name, flags, profile,
                 details, callbacks, outputs, measure) -> _Job:
    """Every argument of ``fit_and_evaluate`` checked, before anything trains or loads."""
    _keras_graph.built_model(model)
    if not model.compiled:
        raise ValueError(f"compile {model.name!r} first (optimizer, loss, metrics=['accuracy']), then train it")
    epochs = _validate.positive_int(epochs, "epochs", example="10")
    batch_size = _validate.positive_int(batch_size, "batch_size", example="32")
    for what, value in flags.items():
        _validate.flag(value, what)
    name = _validate.run_name(name if name is not None else model.name)
    callbacks = list(callbacks)
    if not all(isinstance(callback, keras.callbacks.Callback) for callback in callbacks):
        raise TypeError("callbacks must be a list of Keras callbacks, such as "
                        "[keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)]")
    if isinstance(train_data, keras.utils.PyDataset):
        train_images, train_labels = train_data, None
        if getattr(train_data, "batch_size", batch_size) != batch_size:
            raise ValueError(f"batch_size is {batch_size} but the PyDataset makes batches of {train_data.batch_size}")
        train_size = _validate.positive_int(getattr(train_data, "num_images", len(train_data) * batch_size),
                                            "train_data.num_images")
    else:
        train_images, train_labels = _checked_pair(train_data, "train_data", model)
        train_size = len(train_labels)
    _validate.one_of(outputs, ("probabilities", "logits"), "outputs")
    if measure is not None and not callable(measure):
        raise TypeError(f"measure must be a function of the trained model returning a dict, got {measure!r}")
    validation = _checked_pair(validation_data, "validation_data", model) if validation_data is not None else None
    test_images, test_labels = _checked_pair(test_data, "test_data", model)
    profile = profile if profile is not None else config.current_profile()
    recipe = _recipe(model, epochs=epochs, batch_size=batch_size, train_size=train_size, profile=profile)
    details = dict(details or {})
    data_used = data_identity(train_data, (test_images, test_labels), source=details.get("data") or data.source_of(
        test_images, _validate.class_labels(test_labels, "test labels")))
    return _Job(model=model, name=name, recipe=recipe, data=data_used, train_images=train_images,
                train_labels=train_labels, validation=validation, test_images=test_images,
                test_labels=_validate.class_labels(test_labels, "test labels"), details=details, callbacks=callbacks)


def _reload(job: _Job, saved, replayed: bool, say):
    """A saved run's history, where it came from, and its record; its weights go into the model unless replayed.

    The details the run was recorded with join ``job.details`` (today's win where both have a key).
    """
    record_path, _ = saved
    loaded = _runs.load(job.name, None if replayed else job.model, recipe=job.recipe)
    history, record = loaded["history"], loaded["run"]
    origin = {"loaded_from": _runs.describe_origin(record_path), "record_path": record_path,
              "seconds": record.get("seconds"), "device": record.get("device", "?"),
              "resumed_after_epoch": record.get("resumed_after_epoch"), "backend": record.get("backend")}
    recorded = record.get("details", {})
    for key in sorted(set(recorded) & set(job.details)):
        if recorded[key] != job.details[key]:
            _text.say(f"note: the saved run of {job.name!r} was recorded with {key} = {recorded[key]!r}, this run "
                      f"has {key} = {job.details[key]!r}; its test accuracy here may not be comparable (the saved "
                      "model may even have trained on some of today's test images)")
    job.details = {**recorded, **job.details}
    say(f"{'replayed' if replayed else 'loaded'} {job.name!r} from {origin['loaded_from']}: "
        f"{len(next(iter(history.values())))} epochs of the {job.recipe['profile']} profile on "
        f"{record.get('train_size', '?'):,} images, trained on {origin['device']} with {record.get('backend', '?')} "
        f"in {_text.duration(origin['seconds'])} ({record.get('saved_at', '?')[:10]})")
    return history, origin, record


def _measured(measure, model) -> dict:
    """What ``measure`` found on the trained network, checked to be a dict."""
    measured = measure(model)
    if not isinstance(measured, dict):
        raise TypeError(f"measure must return a dict of numbers, got {type(measured).__name__}")
    return measured


def _keep(run: TrainingRun, job: _Job, record: dict | None, *, save: bool, weights_dtype: str) -> None:
    """Save a run trained now with its record; give a reloaded record the test predictions it lacked."""
    if run.model is None:
        return
    scores = {"test_predictions": _runs.encode_labels(run.test_predictions),  # None beyond 10 classes
              "test_labels": _runs.encode_labels(run.test_labels)}
    if record is None and save:
        run.record_path = _runs.save(run.model, run.history, run.name, dtype=weights_dtype, record={
            **job.recipe, "data": job.data, "test_size": len(run.test_labels), "test_accuracy": run.test_accuracy,
            "seconds": round(run.seconds, 1), "resumed_after_epoch": run.resumed_after_epoch, "device": run.device,
            "backend": keras.backend.backend(), "keras": keras.__version__, "details": run.details,
            **{key: value for key, value in scores.items() if value is not None}})
    elif record is not None and "test_predictions" not in record and scores["test_predictions"] is not None:
        _runs.keep_in_record(run.record_path, **scores)  # a run saved before records kept their predictions


def has_saved_run(model, name: str, *, epochs: int, batch_size: int, train_size: int, profile=None) -> bool:
    """Whether ``fit_and_evaluate(train=False)`` would find a saved run of this compiled model and recipe."""
    return _runs.find(name, _recipe(model, epochs=epochs, batch_size=batch_size, train_size=train_size,
                                    profile=profile)) is not None


def _recipe(model, *, epochs: int, batch_size: int, train_size: int, profile=None) -> dict:
    """What makes two runs the same run: a saved run is reused only for the same recipe."""
    profile = profile if profile is not None else config.current_profile()
    return {"profile": profile, "epochs": epochs, "batch_size": batch_size, "train_size": train_size,
            "optimizer": _runs.optimizer_description(model)}


def _arrays_sha256(*arrays) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.data)
    return digest.hexdigest()


def data_identity(train_data, test_data, source: str | None = None) -> dict:
    """What a run trains and is tested on: the data's name and a SHA-256 of the very arrays.

    Kept in every run's record, so a run is reloaded or replayed only on the
    data it was trained and scored on: the same accuracy on other pixels (a
    lossy copy, another subset, another split) would be a different result.
    A ``PyDataset`` counts by the images and labels it augments.
    """
    if source is not None and not isinstance(source, str):
        raise TypeError(f"source must be a description in words (a str) or None, got {source!r}")
    if isinstance(train_data, keras.utils.PyDataset):
        arrays = (getattr(train_data, "images", None), getattr(train_data, "labels", None))
        train = _arrays_sha256(*arrays) if all(array is not None for array in arrays) else None
    else:
        train = _arrays_sha256(*_pair(train_data, "train_data"))
    return {"source": source, "train sha256": train, "test sha256": _arrays_sha256(*_pair(test_data, "test_data"))}


def _log_run(run: TrainingRun, record: dict | None) -> None:
    """Tell a recording (``python -m cnncourse``) which runs the chapter trained or reloaded, and their cost."""
    log = os.environ.get(_runs.RUN_LOG_ENVIRONMENT_VARIABLE)
    if not log:
        return
    entry = {"name": run.name, "epochs": run.epochs, "seconds": run.seconds, "device": run.device,
             "reloaded": record is not None,
             "backend": (record or {}).get("backend", keras.backend.backend()),
             "date": (record or {}).get("saved_at", time.strftime("%Y-%m-%d"))[:10]}
    with open(log, "a") as stream:
        stream.write(json.dumps(entry) + "\n")


def _train(job: _Job, progress: bool):
    """``model.fit`` with an epoch checkpoint: goes on where an interrupted run of the same recipe stopped.

    Returns the history, and where the run comes from: this machine, now.
    """
    recipe = {**job.recipe, "data": job.data}
    done, history, seconds_before = _runs.resume(job.model, job.name, recipe)
    if done:
        _text.say(f"resuming {job.name!r} after epoch {done} of {recipe['epochs']} (checkpoint of an interrupted run)")
    checkpoint = _runs.Checkpoint(job.name, recipe, history, seconds_before)
    callbacks = [checkpoint, *([EpochProgress(recipe["epochs"], job.name)] if progress else []), *job.callbacks]
    started = time.perf_counter()
    if done < recipe["epochs"]:
        batching = {} if job.train_labels is None else {"batch_size": recipe["batch_size"]}  # a PyDataset: its own
        job.model.fit(job.train_images, job.train_labels, validation_data=job.validation, epochs=recipe["epochs"],
                      initial_epoch=done, verbose=0, callbacks=callbacks, **batching)
    seconds = seconds_before + time.perf_counter() - started
    checkpoint.remove()
    return _validate.history(checkpoint.history), {
        "loaded_from": None, "record_path": None, "seconds": seconds, "resumed_after_epoch": done or None,
        "device": config.device_description(), "backend": keras.backend.backend()}


class EpochProgress(keras.callbacks.Callback):
    """One short line per epoch (under 100 characters): the metrics, the epoch's time and the time left."""

    def __init__(self, epochs: int, name: str = ""):
        super().__init__()
        if not isinstance(name, str):
            raise TypeError(f"name must be the run's name (a str), got {name!r}")
        self.epochs, self.name = _validate.positive_int(epochs, "epochs", example="10"), name
        self.times = []

    def on_train_begin(self, logs=None):
        if self.name:
            print(f"training {self.name}:", flush=True)

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.started)
        logs = logs or {}
        metrics = "  ".join(f"{key} {logs[key]:.4f}" for key in ("loss", "accuracy", "val_loss", "val_accuracy")
                            if key in logs)
        left = (self.epochs - epoch - 1) * float(np.mean(self.times[-3:]))
        estimate = f", {_text.duration(left)} left" if epoch + 1 < self.epochs else ""
        width = len(str(self.epochs))
        print(f"  epoch {epoch + 1:>{width}}/{self.epochs}  {metrics}  {self.times[-1]:.0f} s{estimate}", flush=True)


@contextlib.contextmanager
def _quiet_tensorflow_retracing():
    """Hide TensorFlow's "triggered tf.function retracing" warning while predicting.

    A chapter that trains several models calls ``predict`` on each, and
    TensorFlow warns about the new function it traces for every new model:
    expected here, and noise on the page. Only the Python logger named
    "tensorflow" is touched (no TensorFlow import), and only for this call.
    """
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# ---------------------------------------------------------------- reading the results


def per_class_accuracy(true_labels, predicted_labels, num_classes: int) -> np.ndarray:
    """Share of each class's images that were classified correctly (recall per class).

    A single accuracy hides that a model may be good at ships and poor at
    cats; this splits it up. A class without test images gets NaN.
    """
    num_classes = _validate.positive_int(num_classes, "num_classes", example="10")
    true_labels = _validate.class_labels(true_labels, "true_labels", num_classes)
    predicted_labels = _validate.class_labels(predicted_labels, "predicted_labels", num_classes)
    _validate.same_length(predicted_labels, true_labels, "predicted_labels", "true_labels")
    totals = np.bincount(true_labels, minlength=num_classes).astype(float)
    right = np.bincount(true_labels[true_labels == predicted_labels], minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, right / totals, np.nan)


def precision_recall_f1(true_labels, predicted_labels, num_classes: int) -> dict:
    """Per-class precision, recall, F1 and support, as arrays of length ``num_classes``.

    Accuracy counts all mistakes alike. For one class, *precision* asks "when
    the model says cat, how often is it a cat?" (a column of the confusion
    matrix), *recall* "how many of the cats does it find?" (a row), and F1 is
    their harmonic mean, high only when both are. A class the model never
    predicts has no precision: NaN, not 0, so an average cannot hide it.
    """
    num_classes = _validate.positive_int(num_classes, "num_classes", example="10")
    true_labels = _validate.class_labels(true_labels, "true_labels", num_classes)
    predicted_labels = _validate.class_labels(predicted_labels, "predicted_labels", num_classes)
    _validate.same_length(predicted_labels, true_labels, "predicted_labels", "true_labels")
    hits = np.bincount(true_labels[true_labels == predicted_labels], minlength=num_classes).astype(float)
    predicted = np.bincount(predicted_labels, minlength=num_classes).astype(float)
    support = np.bincount(true_labels, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, hits / predicted, np.nan)
        recall = np.where(support > 0, hits / support, np.nan)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    f1 = np.where(np.isnan(precision) | np.isnan(recall), np.nan, f1)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def class_report(true_labels, predicted_labels, class_names) -> ResultsTable:
    """``precision_recall_f1`` as a table: one row per class, then the macro average and the accuracy."""
    for labels, what in ((true_labels, "true_labels"), (predicted_labels, "predicted_labels")):
        _validate.class_names(class_names, labels=_validate.class_labels(labels, what), labels_what=what)
    scores = precision_recall_f1(true_labels, predicted_labels, len(class_names))
    rows = [{"class": name, **{key: scores[key][index] for key in ("precision", "recall", "f1", "support")}}
            for index, name in enumerate(class_names)]
    rows.append({"class": "macro average",
                 **{key: float(np.nanmean(scores[key])) for key in ("precision", "recall", "f1")},
                 "support": int(scores["support"].sum())})
    accuracy = float(np.mean(_validate.class_labels(true_labels, "true_labels")
                             == _validate.class_labels(predicted_labels, "predicted_labels")))
    rows.append({"class": "accuracy", "f1": accuracy, "support": int(scores["support"].sum())})
    return results_table(rows, columns=["class", "precision", "recall", "f1", "support"])


def generalization_gap(run: TrainingRun, training_data, validation_data) -> float:
    """Training accuracy minus validation accuracy of a run's final weights, measured once and kept with the run.

    The training accuracy in ``history`` is an average over an epoch during
    which the weights kept changing, with dropout and augmentation switched
    on: not what the final model scores on its training images. So both sides
    of the gap are measured here, on clean images, with the final weights. The numbers are also added to ``run.details``
    ("train accuracy", "validation accuracy", "gap", "best epoch": the epoch
    of the lowest validation loss) for ``results_table``.
    """
    if not isinstance(run, TrainingRun):
        raise TypeError(f"run must be a TrainingRun from fit_and_evaluate, got {type(run).__name__}")
    for pair, what in ((training_data, "training_data"), (validation_data, "validation_data")):
        if run.model is not None:
            _checked_pair(pair, what, run.model)  # images the model takes, labels within its classes
        else:
            images, labels = _pair(pair, what)
            _validate.finite_array(images, f"{what} images")
            _validate.class_labels(labels, f"{what} labels")

    def measure(model):
        accuracies = []
        for pair, what in ((training_data, "training_data"), (validation_data, "validation_data")):
            images, labels = _pair(pair, what)
            predictions = class_probabilities(model, images).argmax(axis=1)
            accuracies.append(float(np.mean(predictions == _validate.class_labels(labels, f"{what} labels"))))
        return {"train accuracy": accuracies[0], "validation accuracy": accuracies[1],
                "gap": accuracies[0] - accuracies[1], "measured on": [len(training_data[1]), len(validation_data[1])]}

    measured = run.measured("generalization", measure)
    wanted = [len(_pair(training_data, "training_data")[1]), len(_pair(validation_data, "validation_data")[1])]
    if list(measured["measured on"]) != wanted:
        raise ValueError(f"the gap of {run.name!r} was measured on {measured['measured on'][0]:,} training and "
                         f"{measured['measured on'][1]:,} validation images, not on these {wanted[0]:,} and "
                         f"{wanted[1]:,}: pass the data the run was trained and validated on")
    run.details.update({key: measured[key] for key in ("train accuracy", "validation accuracy", "gap")})
    if "val_loss" in run.history:
        run.details["best epoch"] = int(np.argmin(run.history["val_loss"])) + 1
    return measured["gap"]


def most_confident_mistakes(true_labels, probabilities, count: int = 16) -> np.ndarray:
    """Indices of the wrong predictions the model was surest about, surest first.

    These are the most instructive errors: ambiguous images, odd writing,
    sometimes a wrong label in the dataset itself.
    """
    probabilities = _validate.probabilities(probabilities, "probabilities")
    true_labels = _validate.class_labels(true_labels, "true_labels", probabilities.shape[1])
    _validate.same_length(true_labels, probabilities, "true_labels", "probabilities")
    count = _validate.positive_int(count, "count", example="16")
    predictions = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predictions != true_labels)
    confidence = probabilities[wrong, predictions[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")][:count]


# ---------------------------------------------------------------- results table


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return f"{value:.4f}" if abs(value) < 1 else f"{value:,.1f}"
    return str(value)


@dataclasses.dataclass
class ResultsTable:
    """Rows of results as a plain fixed-width table (``print``) or HTML in a notebook."""

    rows: list
    columns: list

    def _cells(self) -> list[list[str]]:
        return [[_cell(row.get(column)) for column in self.columns] for row in self.rows]

    def _right_aligned(self) -> tuple:
        cells = self._cells()
        return tuple(column for column in range(len(self.columns))
                     if cells and all(re.fullmatch(r"[-–\d.,]+|nan", row[column]) for row in cells))

    def to_text(self) -> str:
        return _tables.text(self.columns, self._cells(), self._right_aligned())

    __str__ = to_text
    __repr__ = to_text  # what a plain-text view of the notebook shows

    def _repr_html_(self) -> str:
        return _tables.html_table(self.columns, self._cells(), self._right_aligned(), css_class="cnncourse-results")


def results_table(runs, columns=None) -> ResultsTable:
    """One row per run (``TrainingRun`` or dict), in the given column order.

    Without ``columns`` it shows every column any row has, in first-seen order.
    """
    if isinstance(runs, (str, bytes, dict)) or not hasattr(runs, "__iter__"):
        raise TypeError(f"runs must be a list of TrainingRun objects or dicts, got {type(runs).__name__}")
    rows = [run.row() if isinstance(run, TrainingRun) else run for run in runs]
    if not rows or not all(isinstance(row, dict) for row in rows):
        raise TypeError("runs must be a non-empty list of TrainingRun objects or dicts")
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    elif isinstance(columns, (str, bytes)) or not isinstance(columns, (list, tuple)) or not columns:
        raise TypeError(f"columns must be a list of column names such as ['model', 'test accuracy'], got {columns!r}")
    unknown = [column for column in columns if not any(column in row for row in rows)]
    if unknown:
        available = list(dict.fromkeys(key for row in rows for key in row))
        raise ValueError(f"columns {unknown} are in no row; the rows have {available}")
    return ResultsTable(rows=rows, columns=list(columns))


def saved_result(name: str, profile: str = "full") -> dict:
    """What a saved run's record says (no weights needed): its test accuracy, training time and where it ran.

    For comparing runs across chapters, such as in a figure of accuracy
    against training time. Raises ``FileNotFoundError`` if no run of that
    name and profile was saved or shipped.
    """
    run = recorded_run(name, profile)
    record = _runs.read_record(run.record_path)["run"]
    return {"name": name, "test accuracy": run.test_accuracy, "minutes": run.seconds / 60, "epochs": run.epochs,
            "train images": run.train_size, "test images": record["test_size"], "device": run.device,
            "backend": run.backend, "saved": record["saved_at"][:10]}


def recorded_run(name: str, profile: str = "full") -> TrainingRun:
    """The saved run ``name`` of ``profile``, read from its record: what the text of a chapter discusses.

    Whatever profile a chapter runs in, a cell can print the numbers of the
    recorded full-profile run beside the learner's own. The run has no network
    (``model`` is None); its test predictions are there when the record kept them.
    """
    profile = _validate.one_of(profile, ("quick", "full"), "profile")
    found = [(path, content) for path, content in _runs.saved(name)
             if content.get("run", {}).get("profile") == profile and "test_accuracy" in content.get("run", {})]
    if not found:
        raise FileNotFoundError(f"no saved {profile}-profile run named {name!r}: train it with its chapter "
                                "(train=True), or check the name")
    path, content = found[0]  # your folder's first
    record = content["run"]
    predictions = _runs.recorded_predictions(record, path)
    labels = _runs.decode_labels(record["test_labels"], path) if "test_labels" in record else None
    run = TrainingRun(
        name=name, model=None, history=content["history"], test_accuracy=float(record["test_accuracy"]),
        test_probabilities=None, test_predictions=predictions, test_labels=labels, seconds=record.get("seconds"),
        device=record.get("device", "?"), profile=profile, train_size=record.get("train_size"),
        details=dict(record.get("details", {})), loaded_from=_runs.describe_origin(path),
        resumed_after_epoch=record.get("resumed_after_epoch"), backend=record.get("backend"), record_path=path,
        measurements=dict(record.get("measured", {})))
    if config.current_profile() == profile:  # a page of this profile shows it: count its training time too
        _log_run(run, record=record)  # (a quick page quoting a full run did not need that training)
    return run


def uses_carved_test_split(dataset) -> bool:
    """True when the loader had only the official test split and cut it in two (offline MNIST).

    Such a run trains on a few thousand images instead of the official
    training set, so it cannot be held to published accuracies.
    """
    if not isinstance(dataset, data.Dataset):
        raise TypeError("uses_carved_test_split takes a dataset returned by cc.data.load")
    return dataset.carved_from_test_split


def describe_source(dataset) -> str:
    """A few words on where a loaded dataset came from, for a results table.

    Numbers measured on the lossy CIFAR-10 JPEG copy, or on MNIST's test split
    carved in two, are not comparable with published ones: the table says so.
    """
    if not isinstance(dataset, data.Dataset):
        raise TypeError("describe_source takes a dataset returned by cc.data.load")
    if dataset.carved_from_test_split:
        return f"{dataset.name}: official test split, carved in two"
    if dataset.lossy:
        return f"{dataset.name}: JPEG re-encoding (lossy)"
    return f"{dataset.name}: original files"
