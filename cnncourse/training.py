"""Training runs: fit, time, evaluate, save, reload and tabulate.

The training chapters compare several networks, so every run must be
measured the same way: the same clock around ``model.fit`` only, the same
device report, accuracy computed from the same predictions that feed the
confusion matrix. ``fit_and_evaluate`` does that once for all of them and
returns a ``TrainingRun`` that knows how to become a row of a results table.

Saving exists so that a chapter can skip training: with ``train=False`` it
reloads the weights and history of the last run and reaches the same plots
in seconds on a laptop. Runs are saved in a folder of your own (the cache,
``CNNCOURSE_CACHE``/weights, default ``~/.cache/cnncourse/weights``); the
course ships a few recorded runs in ``data/weights/`` of the repository,
copied there on purpose with ``cc.training.ship([NAME, ...])``
so that no test run ever changes a committed file. When both exist, a run
of the ``full`` profile is preferred to a ``quick`` one, then the newer.

Only ``keras`` and NumPy are used, so this works with every Keras backend.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import html
import json
import logging
import re
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from cnncourse import config, data

REPOSITORY = Path(__file__).resolve().parent.parent
WEIGHTS_SUFFIX = ".weights.h5"
HISTORY_SUFFIX = ".history.json"
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_WEIGHT_DTYPES = ("float32", "float16")

# ---------------------------------------------------------------- where runs live


def user_weights_folder() -> Path:
    """Where this machine's runs are saved: ``<cache>/weights`` (see ``cc.data``)."""
    return data._cache_folder() / "weights"


def course_weights_folder() -> Path | None:
    """``data/weights`` of the course repository, or None when the package is installed without it."""
    folder = REPOSITORY / "data" / "weights"
    return folder if (REPOSITORY / "chapters").is_dir() else None


def _check_name(name) -> str:
    if not isinstance(name, str):
        raise TypeError(f"a run name must be a string such as 'seed001_mnist', got {name!r}")
    if not _NAME_PATTERN.match(name):
        raise ValueError(
            f"run name {name!r} must use only letters, digits, '_', '.' and '-' (it becomes a file name)"
        )
    return name


def _history_dict(history) -> dict:
    """The per-epoch metrics of a ``History`` (or its dict) as plain Python floats."""
    values = getattr(history, "history", history)
    if not isinstance(values, dict) or not values:
        raise TypeError("history must be what model.fit returns, or its non-empty .history dict")
    return {str(key): [float(value) for value in series] for key, series in values.items()}


# ---------------------------------------------------------------- saving and loading


def save_run(model, history, name: str, *, record: dict | None = None, folder=None,
             dtype: str = "float32") -> Path:
    """Save ``<name>.weights.h5`` and ``<name>.history.json``; returns the history file's path.

    ``model=None`` saves only the history (for a run whose curves matter but
    whose weights are not worth the disk). ``dtype="float16"`` halves the
    weights file; the network's accuracy hardly changes, which is how the
    course ships its 4.2-million-parameter CIFAR-10 model in under 9 MB.
    ``record`` holds facts about the run (profile, sizes, time, device...).
    """
    name = _check_name(name)
    if dtype not in _WEIGHT_DTYPES:
        raise ValueError(f"dtype must be one of {_WEIGHT_DTYPES}, got {dtype!r}")
    if model is not None and not isinstance(model, keras.Model):
        raise TypeError(f"model must be a Keras model or None, got {type(model).__name__}")
    record = dict(record or {})
    folder = Path(folder) if folder is not None else user_weights_folder()
    folder.mkdir(parents=True, exist_ok=True)
    history_path = folder / f"{name}{HISTORY_SUFFIX}"
    weights_path = folder / f"{name}{WEIGHTS_SUFFIX}"
    if model is not None:
        with tempfile.TemporaryDirectory() as scratch:
            full_state = Path(scratch) / weights_path.name
            model.save_weights(full_state)
            _write_weights_only(full_state, weights_path, dtype)
    elif weights_path.exists():
        weights_path.unlink()  # a weights file from an older run would not belong to this history
    record.setdefault("saved_at", datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    content = {
        "name": name,
        "history": _history_dict(history),
        "run": record,
        "weights": f"{name}{WEIGHTS_SUFFIX}" if model is not None else None,
        "weights_dtype": dtype if model is not None else None,
    }
    history_path.write_text(json.dumps(content, indent=1, default=_json_default) + "\n")
    return history_path


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a run record")


def _write_weights_only(source: Path, target: Path, dtype: str) -> None:
    """Copy a Keras ``.weights.h5`` file without the optimizer's state, floats stored as ``dtype``.

    ``model.save_weights`` also stores the optimizer's slots (Adam keeps two
    per weight, tripling the file). A saved run is for evaluating and
    looking inside the network, not for resuming training, so they are left
    out. Keras reads float16 files back into float32 weights by itself.
    """
    import h5py

    def copy(source_group, target_group):
        target_group.attrs.update(dict(source_group.attrs))
        for key in source_group:
            if source_group.name == "/" and key == "optimizer":
                continue
            item = source_group[key]
            if isinstance(item, h5py.Group):
                copy(item, target_group.create_group(key))
                continue
            values = item[()]
            if np.issubdtype(np.asarray(values).dtype, np.floating):
                values = np.asarray(values).astype(dtype)
            target_group.create_dataset(key, data=values)
            target_group[key].attrs.update(dict(item.attrs))

    partial = target.with_name(target.name + ".partial")
    with h5py.File(source, "r") as source_file, h5py.File(partial, "w") as target_file:
        copy(source_file, target_file)
    partial.replace(target)


def _candidates(name: str, folders) -> list[tuple[Path, dict]]:
    found = []
    for folder in folders:
        if folder is None:
            continue
        path = Path(folder) / f"{name}{HISTORY_SUFFIX}"
        if path.exists():
            try:
                found.append((path, json.loads(path.read_text())))
            except (OSError, json.JSONDecodeError) as error:
                print(f"ignoring the unreadable run file {path}: {error}")
    return found


def _preference(candidate) -> tuple:
    """Full-profile runs first (they are the ones the prose quotes), then the newest."""
    run = candidate[1].get("run", {})
    return (run.get("profile") == "full", run.get("saved_at", ""))


def find_run(name: str, folders=None) -> Path | None:
    """The history file ``load_run`` would use for ``name``, or None if no run is saved."""
    name = _check_name(name)
    folders = folders if folders is not None else (user_weights_folder(), course_weights_folder())
    candidates = _candidates(name, folders)
    return max(candidates, key=_preference)[0] if candidates else None


def load_run(name: str, model=None, *, folders=None) -> dict:
    """Load a saved run: its history and record, and its weights into ``model`` if given.

    Returns ``{"history": ..., "run": ..., "path": ...}``. Looks in your own
    folder and in the course's ``data/weights``, preferring a full-profile
    run, then the newest.
    """
    name = _check_name(name)
    folders = folders if folders is not None else (user_weights_folder(), course_weights_folder())
    candidates = _candidates(name, folders)
    if not candidates:
        looked = ", ".join(str(folder) for folder in folders if folder is not None)
        raise FileNotFoundError(
            f"no saved run named {name!r} (looked in {looked}). Train it once (train=True) "
            "to save it, or check the name."
        )
    path, content = max(candidates, key=_preference)
    if model is not None:
        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a Keras model or None, got {type(model).__name__}")
        if not content.get("weights"):
            raise ValueError(f"the saved run {name!r} in {path.parent} has a history but no weights")
        _load_weights(model, path.parent / content["weights"], name)
    return {"history": content["history"], "run": content.get("run", {}), "path": path}


def _load_weights(model, weights_path: Path, name: str) -> None:
    if not weights_path.exists():
        raise FileNotFoundError(f"the weights file {weights_path} of the run {name!r} is missing")
    try:
        with warnings.catch_warnings():  # saved runs leave the optimizer out on purpose
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(weights_path)
    except ValueError as error:
        raise ValueError(
            f"the saved weights of {name!r} do not fit the model {model.name!r}: was the run saved "
            f"from a different architecture? Keras says: {error}"
        ) from None


def ship(names, *, source=None, target=None) -> list[Path]:
    """Copy saved runs from your folder into the course's ``data/weights`` (to commit them).

    A quick-profile run never replaces a full-profile one there: the shipped
    files are meant to reproduce the results the book shows.
    """
    if isinstance(names, str):
        raise TypeError(f"names must be a list of run names, such as [{names!r}]")
    source = Path(source) if source is not None else user_weights_folder()
    target = Path(target) if target is not None else course_weights_folder()
    if target is None:
        raise ValueError("this package is not inside the course repository: pass target= explicitly")
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in names:
        name = _check_name(name)
        history_path = source / f"{name}{HISTORY_SUFFIX}"
        if not history_path.exists():
            raise FileNotFoundError(f"no saved run {name!r} in {source}; run its chapter first")
        content = json.loads(history_path.read_text())
        existing = target / f"{name}{HISTORY_SUFFIX}"
        if existing.exists():
            old_profile = json.loads(existing.read_text()).get("run", {}).get("profile")
            if old_profile == "full" and content.get("run", {}).get("profile") != "full":
                print(f"kept {existing}: it holds a full-profile run, the new one is not")
                continue
        files = [history_path.name] + ([content["weights"]] if content.get("weights") else [])
        for file_name in files:
            shutil.copyfile(source / file_name, target / file_name)
            copied.append(target / file_name)
            print(f"shipped {target / file_name} ({(target / file_name).stat().st_size / 1e6:.2f} MB)")
    return copied


# ---------------------------------------------------------------- a training run


@dataclasses.dataclass
class TrainingRun:
    """One trained (or reloaded) model with what the chapters report about it.

    ``seconds`` and ``device`` describe the run that produced the weights:
    for a reloaded run they are the recorded ones, and ``loaded_from`` says so.
    """

    name: str
    model: keras.Model
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

    @property
    def epochs(self) -> int:
        return len(next(iter(self.history.values())))

    def row(self) -> dict:
        """This run as a row of ``results_table``."""
        return {
            "model": self.name,
            **self.details,
            "epochs": self.epochs,
            "train images": self.train_size,
            "test images": len(self.test_labels),
            "parameters": self.model.count_params(),
            "test accuracy": self.test_accuracy,
            "time (s)": self.seconds,
            "device": self.device,
            "run": "trained now" if self.loaded_from is None else f"loaded ({self.profile} profile)",
        }


def _integer_labels(labels) -> np.ndarray:
    """Integer class labels from integer or one-hot labels."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        return labels.argmax(axis=1)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise ValueError(f"labels must be integers (N,) or one-hot (N, classes), got shape {labels.shape}")
    return labels.astype(np.int64)


def _pair(value, what: str):
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise TypeError(f"{what} must be an (images, labels) pair, got {type(value).__name__}")
    images, labels = value
    if len(images) != len(labels):
        raise ValueError(f"{what} has {len(images)} images but {len(labels)} labels")
    if len(images) == 0:
        raise ValueError(f"{what} is empty")
    return images, labels


def fit_and_evaluate(model, train_data, validation_data, test_data, *, epochs: int, batch_size: int,
                     name: str | None = None, train: bool = True, save: bool = True,
                     weights_dtype: str = "float32", profile: str | None = None,
                     details: dict | None = None, verbose: int = 2) -> TrainingRun:
    """Train a compiled model (or reload its last run), then predict the test set.

    - ``train_data``, ``validation_data``, ``test_data``: ``(images, labels)``
      pairs; labels may be integers or one-hot, matching the compiled loss.
      Validation data comes from the training images: the test set is only
      looked at once, at the end, so its accuracy stays an honest estimate.
    - ``train=False`` reloads the saved run named ``name`` (weights and
      history) instead of training; if none is saved it trains after all and
      says so.
    - ``save``: keep this run (in your folder) so ``train=False`` finds it.
    - ``details``: extra columns for the results table (optimizer, scaling...).

    Only ``model.fit`` is timed: data loading and prediction are not training.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a Keras model, got {type(model).__name__}")
    if not model.compiled:
        raise ValueError(f"compile {model.name!r} first (optimizer, loss, metrics=['accuracy']), then train it")
    for value, what in ((epochs, "epochs"), (batch_size, "batch_size")):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{what} must be a positive int, got {value!r}")
    name = _check_name(name if name is not None else model.name)
    train_images, train_labels = _pair(train_data, "train_data")
    validation = _pair(validation_data, "validation_data") if validation_data is not None else None
    test_images, test_labels = _pair(test_data, "test_data")
    details = dict(details or {})
    loaded_from = None
    if not train and find_run(name) is None:
        print(f"no saved run of {name!r} found: training it now instead of loading it")
        train = True
    if train:
        started = time.perf_counter()
        history = model.fit(train_images, train_labels, validation_data=validation, epochs=int(epochs),
                            batch_size=int(batch_size), verbose=verbose)
        seconds = time.perf_counter() - started
        history = _history_dict(history)
        device = config.device_description()
    else:
        saved = load_run(name, model)
        history, record, loaded_from = saved["history"], saved["run"], str(saved["path"])
        seconds, device, profile = record.get("seconds"), record.get("device", "?"), record.get("profile")
        train_size = record.get("train_size", len(train_labels))
        recorded = record.get("details", {})
        for key in sorted(set(recorded) & set(details)):
            if recorded[key] != details[key]:
                print(f"note: the saved run of {name!r} was recorded with {key} = {recorded[key]!r}, this run "
                      f"has {key} = {details[key]!r}; its test accuracy here may not be comparable (the saved "
                      "model may even have trained on some of today's test images)")
        details = {**recorded, **details}
        print(f"loaded {name!r} from {saved['path'].parent}: {len(next(iter(history.values())))} epochs of the "
              f"{profile} profile on {record.get('train_size', '?')} images, trained on {device} "
              f"({record.get('saved_at', 'date unknown')})")
    with _quiet_tensorflow_retracing():
        probabilities = np.asarray(model.predict(test_images, batch_size=256, verbose=0))
    predictions = probabilities.argmax(axis=1)
    true_labels = _integer_labels(test_labels)
    accuracy = float(np.mean(predictions == true_labels))
    run = TrainingRun(
        name=name, model=model, history=history, test_accuracy=accuracy,
        test_probabilities=probabilities, test_predictions=predictions, test_labels=true_labels,
        seconds=seconds, device=device, profile=profile,
        train_size=len(train_labels) if loaded_from is None else train_size,
        details=details, loaded_from=loaded_from,
    )
    if train and save:
        save_run(model, history, name, dtype=weights_dtype, record={
            "profile": profile, "epochs": run.epochs, "batch_size": int(batch_size),
            "train_size": len(train_labels), "test_size": len(true_labels), "test_accuracy": accuracy,
            "seconds": round(seconds, 1), "device": device, "backend": keras.backend.backend(),
            "keras": keras.__version__, "details": details,
        })
    timing = f"{seconds:.1f} s" if seconds is not None else "time not recorded"
    origin = "trained" if loaded_from is None else "recorded run"
    print(f"{name}: test accuracy {accuracy:.4f} on {len(true_labels):,} test images "
          f"({run.epochs} epochs; {origin}: {timing} on {device})")
    return run


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
    true_labels, predicted_labels = _integer_labels(true_labels), _integer_labels(predicted_labels)
    if true_labels.shape != predicted_labels.shape:
        raise ValueError(f"got {true_labels.shape} true labels but {predicted_labels.shape} predictions")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if true_labels.size and (true_labels.max() >= num_classes or predicted_labels.max() >= num_classes):
        raise ValueError(f"labels go up to {max(true_labels.max(), predicted_labels.max())}, "
                         f"but num_classes is {num_classes}")
    totals = np.bincount(true_labels, minlength=num_classes).astype(float)
    right = np.bincount(true_labels[true_labels == predicted_labels], minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, right / totals, np.nan)


def most_confident_mistakes(true_labels, probabilities, count: int = 16) -> np.ndarray:
    """Indices of the wrong predictions the model was surest about, surest first.

    These are the most instructive errors: ambiguous images, odd writing,
    sometimes a wrong label in the dataset itself.
    """
    probabilities = np.asarray(probabilities)
    true_labels = _integer_labels(true_labels)
    if probabilities.ndim != 2 or len(probabilities) != len(true_labels):
        raise ValueError(f"probabilities must be (N, classes) for N = {len(true_labels)} labels, "
                         f"got shape {probabilities.shape}")
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be a positive int, got {count!r}")
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

    def to_text(self) -> str:
        lines = [list(self.columns), *self._cells()]
        widths = [max(len(line[column]) for line in lines) for column in range(len(self.columns))]
        numeric = [all(re.fullmatch(r"[-–\d.,]+", line[column]) for line in lines[1:])
                   for column in range(len(self.columns))]

        def render(cells):
            return "  ".join(cell.rjust(width) if right else cell.ljust(width)
                             for cell, width, right in zip(cells, widths, numeric)).rstrip()

        rule = "  ".join("-" * width for width in widths)
        return "\n".join([render(lines[0]), rule, *(render(cells) for cells in lines[1:])])

    __str__ = to_text

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(column)}</th>" for column in self.columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>"
                       for cells in self._cells())
        return f'<table class="cnncourse-results"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def results_table(runs, columns=None) -> ResultsTable:
    """One row per run (``TrainingRun`` or dict), in the given column order.

    Without ``columns`` it shows every column any row has, in first-seen order.
    """
    rows = [run.row() if isinstance(run, TrainingRun) else run for run in runs]
    if not rows or not all(isinstance(row, dict) for row in rows):
        raise TypeError("runs must be a non-empty list of TrainingRun objects or dicts")
    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))
    unknown = [column for column in columns if not any(column in row for row in rows)]
    if unknown:
        available = list(dict.fromkeys(key for row in rows for key in row))
        raise ValueError(f"no row has the column(s) {unknown}; the rows have {available}")
    return ResultsTable(rows=rows, columns=list(columns))


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
