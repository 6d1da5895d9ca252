"""Saved runs: where they live, how they are written, found, resumed and shipped.

Course machinery behind ``cc.training.fit_and_evaluate(train=False)``; a
learner does not need to read it.

A *run* is one model trained with one *recipe* (profile, epochs, batch size,
training images, optimizer). It is stored as two files named after the model
and the profile, ``<name>.<profile>.weights.h5`` and
``<name>.<profile>.history.json`` (per-epoch metrics plus a record: device,
backend, wall time, date... and the SHA-256 of the weights file and of the
record itself). Both are verified on every load: a damaged or truncated file
is refused with its name and how to restore it, never loaded or skipped. A run is reused only for the same recipe, so a
quick run never stands in for a full one and a 10-epoch run never for a
25-epoch one.

Places, searched in this order:
- the user's folder, ``<cache>/weights`` (``CNNCOURSE_CACHE``, default
  ``~/.cache/cnncourse``), where every training saves;
- the runs shipped inside the package, ``cnncourse/weights`` (package data,
  found with ``importlib.resources``, so a pip install and Colab see them
  too). Only ``ship`` writes there, on purpose, to be committed.

While a model trains, a checkpoint (weights *and* optimizer state, history
so far, seconds so far) is written after every epoch to
``<cache>/checkpoints``; a training of the same recipe that finds it goes on
from the next epoch instead of starting over, and deletes it when done.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.resources
import json
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from cnncourse import _text, _validate, data

WEIGHTS_SUFFIX = ".weights.h5"
HISTORY_SUFFIX = ".history.json"
WEIGHT_DTYPES = ("float32", "float16")
RECIPE_KEYS = ("profile", "epochs", "batch_size", "train_size", "optimizer")


def user_folder() -> Path:
    """Where this machine's runs are saved."""
    return data.cache_folder() / "weights"


def shipped_folder() -> Path:
    """The runs that ship with the package (``cnncourse/weights``)."""
    return Path(str(importlib.resources.files("cnncourse") / "weights"))


def checkpoint_folder() -> Path:
    return data.cache_folder() / "checkpoints"


SHIPPED_RUNS_ENVIRONMENT_VARIABLE = "CNNCOURSE_SHIPPED_RUNS"
RUN_LOG_ENVIRONMENT_VARIABLE = "CNNCOURSE_RUN_LOG"  # a recording names a file; cc.training adds a line per run


def default_folders() -> tuple[Path, ...]:
    """Your folder, then the package's; only yours while ``make train-full`` produces the runs to ship.

    ``CNNCOURSE_SHIPPED_RUNS=off`` (set by ``python -m cnncourse --train-only``)
    keeps the shipped runs from standing in for the runs being trained to replace them.
    """
    if os.environ.get(SHIPPED_RUNS_ENVIRONMENT_VARIABLE, "").strip().lower() == "off":
        return (user_folder(),)
    return (user_folder(), shipped_folder())


def _stem(name: str, profile) -> str:
    return f"{_validate.run_name(name)}.{profile or 'unknown'}"


def optimizer_description(model) -> str:
    """``"SGD(learning_rate=0.001, momentum=0.5)"``: the optimizer part of a recipe."""
    optimizer = getattr(model, "optimizer", None)
    return "none" if optimizer is None else described_optimizer(optimizer)


def described_optimizer(optimizer) -> str:
    """An optimizer's class and fixed settings (a schedule is described by its class only)."""
    config = optimizer.get_config()
    wanted = ("learning_rate", "momentum", "beta_1", "beta_2", "weight_decay", "rho")
    parts = []
    for key in wanted:
        value = config.get(key)
        if value is None or isinstance(value, dict):  # schedules are described by their class below
            continue
        parts.append(f"{key}={float(value):.6g}")
    return f"{type(optimizer).__name__}({', '.join(parts)})"


def same_recipe(record: dict, recipe: dict) -> bool:
    return all(record.get(key) == recipe.get(key) for key in RECIPE_KEYS)


def describe_recipe(record: dict) -> str:
    return ", ".join(f"{key} {record.get(key)}" for key in RECIPE_KEYS)


# ---------------------------------------------------------------- writing


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot store {type(value).__name__} in a run record")


class DamagedRun(ValueError):
    """A saved run's file is unreadable or does not match its checksum."""


def _checksum(content: dict) -> str:
    """SHA-256 of a run file's content without its own checksum (keys sorted, so the layout does not matter)."""
    unsigned = {key: value for key, value in content.items() if key != "checksum"}
    return hashlib.sha256(json.dumps(unsigned, sort_keys=True, default=_json_default).encode()).hexdigest()


def _how_to_restore(path: Path) -> str:
    path = Path(path)
    if path.parent == shipped_folder():
        return (f"restore it with `git checkout -- cnncourse/weights/{path.name}` in a clone, "
                "or reinstall cnncourse")
    return (f"delete {path.name} and the run's other files from {_describe_folder(path.parent)}, then train "
            "the run again (train=True, or `make train-full` for a chapter's full runs)")


def damaged(path: Path, problem: str) -> DamagedRun:
    return DamagedRun(f"the saved run file {Path(path).name} ({_describe_folder(Path(path).parent)}) {problem}: "
                      f"{_how_to_restore(path)}.")


def read_signed(path: Path) -> dict:
    """A JSON record written by ``write_signed``, verified against the checksum it carries."""
    path = Path(path)
    try:
        content = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise damaged(path, f"cannot be read ({type(error).__name__}: {error})") from None
    if not isinstance(content, dict):
        raise damaged(path, "is not a record (a JSON object)")
    if content.get("checksum") is None:
        raise damaged(path, "has no checksum (it was saved by an older cnncourse)")
    if content["checksum"] != _checksum(content):
        raise damaged(path, "does not match its checksum (it was changed or damaged)")
    return content


def write_signed(path: Path, content: dict) -> None:
    """Write a JSON record with the checksum of its content, atomically."""
    content = {**content, "checksum": None}
    content["checksum"] = _checksum(content)
    _write_text_atomically(Path(path), json.dumps(content, indent=1, default=_json_default) + "\n")


def read_record(path: Path) -> dict:
    """A run's ``.history.json``, verified against the checksum it carries."""
    content = read_signed(path)
    if not isinstance(content.get("history"), dict):
        raise damaged(path, "is not a run record (no history)")
    return content


def keep_in_record(path: Path, **entries) -> bool:
    """Add ``entries`` to the record of a run saved in the user's folder; False for a shipped run (read-only).

    What a chapter measures on a trained network after ``fit_and_evaluate``
    (its generalization gap, its weight norms, its test predictions) is kept
    this way, so a run shipped later without its weights still has them.
    """
    path = Path(path)
    if path.parent.resolve() != user_folder().resolve():
        return False
    content = read_record(path)
    run = dict(content.get("run", {}))
    run.update(entries)
    write_signed(path, {**content, "run": run})
    return True


def encode_labels(labels) -> str | None:
    """Class labels 0-9 as one string of digits (10,000 test predictions in 10 KB of JSON); None above 9."""
    labels = np.asarray(labels)
    if labels.size == 0 or labels.min() < 0 or labels.max() > 9:
        return None
    return "".join(map(str, labels.astype(int).tolist()))


def decode_labels(text: str, path: Path) -> np.ndarray:
    if not isinstance(text, str) or not text.isdigit():
        raise damaged(path, "has test predictions that are not a string of class digits")
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) - ord("0")


def _write_text_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


def recorded_predictions(record: dict, path: Path) -> np.ndarray | None:
    """The test predictions a record kept (None for a record saved before records kept them)."""
    return decode_labels(record["test_predictions"], path) if "test_predictions" in record else None


def save(model, history, name: str, *, record: dict, folder=None, dtype: str = "float32") -> Path:
    """Save a finished run; returns the history file's path.

    ``model=None`` saves only the history. ``dtype="float16"`` halves the
    weights file (Keras reads it back into float32 weights by itself).
    """
    if dtype not in WEIGHT_DTYPES:
        raise ValueError(f"dtype must be one of {WEIGHT_DTYPES}, got {dtype!r}")
    if model is not None and not isinstance(model, keras.Model):
        raise TypeError(f"model must be a Keras model or None, got {type(model).__name__}")
    record = dict(record)
    stem = _stem(name, record.get("profile"))
    folder = Path(folder) if folder is not None else user_folder()
    folder.mkdir(parents=True, exist_ok=True)
    weights_path = folder / f"{stem}{WEIGHTS_SUFFIX}"
    if model is not None:
        with tempfile.TemporaryDirectory() as scratch:
            full_state = Path(scratch) / weights_path.name
            model.save_weights(full_state)
            _copy_without_optimizer(full_state, weights_path, dtype)
    elif weights_path.exists():
        weights_path.unlink()  # a weights file from an older run would not belong to this history
    record.setdefault("saved_at", datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    content = {
        "name": name,
        "history": _validate.history(history),
        "run": record,
        "weights": weights_path.name if model is not None else None,
        "weights_dtype": dtype if model is not None else None,
        "weights_sha256": data.sha256_of(weights_path) if model is not None else None,
    }
    history_path = folder / f"{stem}{HISTORY_SUFFIX}"
    write_signed(history_path, content)
    return history_path


def _copy_without_optimizer(source: Path, target: Path, dtype: str) -> None:
    """Copy a Keras ``.weights.h5`` file without the optimizer's state, floats stored as ``dtype``.

    ``model.save_weights`` also stores the optimizer's slots (Adam keeps two
    per weight, tripling the file). A finished run is for evaluating and
    looking inside the network; checkpoints keep the optimizer instead.
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


# ---------------------------------------------------------------- finding and loading


def saved(name: str, folders=None) -> list[tuple[Path, dict]]:
    """Every readable saved run of ``name`` in ``folders`` (your folder, then the package's), in folder order."""
    name = _validate.run_name(name)
    folders = folders if folders is not None else default_folders()
    found = []
    for folder in folders:
        for path in sorted(Path(folder).glob(f"{name}.*{HISTORY_SUFFIX}")):
            if path.name[len(name) + 1:-len(HISTORY_SUFFIX)].count(".") != 0:
                continue  # another model whose name starts with this one
            found.append((path, read_record(path)))  # a damaged file is an error, never skipped in silence
    return found


def find(name: str, recipe: dict | None = None, folders=None) -> tuple[Path, dict] | None:
    """The saved run of ``name`` made with ``recipe`` (any recipe if None), newest first.

    Without a recipe a full-profile run is preferred to a quick one.
    """
    candidates = saved(name, folders)
    if recipe is not None:
        candidates = [(path, content) for path, content in candidates if same_recipe(content.get("run", {}), recipe)]
    if not candidates:
        return None

    def preference(candidate):
        run = candidate[1].get("run", {})
        return (run.get("profile") == "full", run.get("saved_at", ""))

    return max(candidates, key=preference)


def reusable(name: str, recipe: dict, data_used: dict) -> tuple[Path, dict] | None:
    """The saved run that ``fit_and_evaluate(train=False)`` reuses: same recipe, same data; None to train.

    A quick run trained on other data (another seed's subset) is retrained in
    seconds; any other saved run on other data, or one that does not name its
    data, is refused: its scores belong to other images.
    """
    saved = find(name, recipe)
    if saved is not None and not saved[1].get("weights") and "test_accuracy" not in saved[1].get("run", {}):
        saved = None  # a history alone cannot stand in for a run
    if saved is not None and recipe["profile"] == "quick" and not _on_this_data(saved[1]["run"], data_used):
        _text.say(f"the saved quick run of {name!r} was trained on other data (another seed's subset, or an "
                  "older course version): training it now on this data, in seconds")
        saved = None
    elif saved is not None and not isinstance(saved[1].get("run", {}).get("data"), dict):
        raise ValueError(
            f"the saved run {name!r} ({describe_origin(saved[0])}) does not say which data it was trained "
            "and tested on: it was saved before runs recorded their data (the course's CIFAR-10 runs of that "
            "time used a lossy JPEG copy), so its scores may belong to other images. Train it on this data "
            "(train=True, or `make train-full CHAPTERS=...` for a chapter's full runs), or run the chapter's "
            "quick profile")
    if saved is None:
        _text.say(f"no saved run of {name!r} with this recipe ({describe_recipe(recipe)}): training it now")
    else:
        _same_data(saved[1]["run"], data_used, name)
    return saved


def _on_this_data(record: dict, data_used: dict) -> bool:
    """Whether a record names its data and it is this data (the arrays a run is about to use)."""
    recorded = record.get("data")
    return isinstance(recorded, dict) and all(
        recorded.get(key) is None or data_used[key] is None or recorded[key] == data_used[key]
        for key in ("train sha256", "test sha256"))


def _same_data(record: dict, data_used: dict, name: str) -> None:
    """Refuse to reload or replay a run on other data than it was trained and tested on."""
    recorded = record["data"]
    for split in ("train", "test"):
        key = f"{split} sha256"
        if recorded.get(key) is not None and data_used[key] is not None and recorded[key] != data_used[key]:
            raise ValueError(
                f"the saved run {name!r} was {'trained' if split == 'train' else 'tested'} on other {split} data "
                f"({recorded.get('source') or 'unnamed'}, arrays {recorded[key][:12]}) than this "
                f"({data_used.get('source') or 'unnamed'}, arrays {data_used[key][:12]}): its scores belong to "
                "that data. Load the data it names (same dataset, copy, subset and scaling), or train the run "
                "on this data (train=True)")


def others(name: str, folders=None) -> list[dict]:
    """Records of every saved run of ``name``, to explain why none matched."""
    return [content.get("run", {}) for _, content in saved(name, folders)]


def load(name: str, model=None, *, recipe: dict | None = None, folders=None) -> dict:
    """A saved run's history, record and path; its weights go into ``model`` if given."""
    folders = folders if folders is not None else default_folders()
    found = find(name, recipe, folders)
    if found is None:
        looked = " and ".join(_describe_folder(folder) for folder in folders)
        wanted = f" with {describe_recipe(recipe)}" if recipe else ""
        raise FileNotFoundError(
            f"no saved run named {name!r}{wanted} (looked in {looked}). Train it once "
            "(train=True) to save it, or check the name."
        )
    path, content = found
    if model is not None:
        if not isinstance(model, keras.Model):
            raise TypeError(f"model must be a Keras model or None, got {type(model).__name__}")
        if not content.get("weights"):
            raise ValueError(f"the saved run {name!r} ({path.name}) has a history but no weights")
        load_weights(model, path.parent / content["weights"], name, content.get("weights_sha256"))
    return {"history": content["history"], "run": content.get("run", {}), "path": path}


def _describe_folder(folder) -> str:
    folder = Path(folder)
    if folder == shipped_folder():
        return "the runs shipped with cnncourse"
    if folder == user_folder():
        return "your run folder (CNNCOURSE_CACHE/weights)"
    return str(folder)


def describe_origin(path: Path) -> str:
    """Where a run was loaded from, in words (no machine paths on a page)."""
    return _describe_folder(Path(path).parent)


def load_weights(model, weights_path: Path, name: str, sha256: str | None) -> None:
    """Load a run's weights after checking them against the SHA-256 in its record."""
    if not weights_path.is_file():
        raise damaged(weights_path, f"(the weights of the run {name!r}) is missing")
    if data.sha256_of(weights_path) != sha256:
        raise damaged(weights_path, f"(the weights of the run {name!r}) does not match the checksum in its record")
    try:
        with warnings.catch_warnings():  # finished runs leave the optimizer out on purpose
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            model.load_weights(weights_path)
    except ValueError as error:
        raise ValueError(
            f"the saved weights of {name!r} do not fit the model {model.name!r}: was the run saved "
            f"from a different architecture? Keras says: {error}"
        ) from None


def ship(names, *, profile: str = "full", source=None, target=None, with_weights: bool = True,
         with_predictions: bool = True) -> list[Path]:
    """Copy finished runs from your folder into ``cnncourse/weights`` (to commit them).

    ``with_weights=False`` ships only the history and record (a few KB, 20 KB
    with the test predictions): enough for a chapter to replay the run when no
    later cell needs the network. ``with_predictions=False`` leaves out the
    test predictions too, for runs a chapter reports only by their accuracy.
    """
    if isinstance(names, str):
        raise TypeError(f"names must be a list of run names, such as [{names!r}]")
    source = Path(source) if source is not None else user_folder()
    target = Path(target) if target is not None else shipped_folder()
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in names:
        stem = _stem(name, profile)
        history_path = source / f"{stem}{HISTORY_SUFFIX}"
        if not history_path.exists():
            raise FileNotFoundError(f"no saved {profile}-profile run {name!r} in {source}; train it first")
        content = read_record(history_path)
        if content.get("weights") and with_weights:
            shutil.copyfile(source / content["weights"], target / content["weights"])
            copied.append(target / content["weights"])
        elif content.get("weights"):
            content = {**content, "weights": None, "weights_dtype": None, "weights_sha256": None}
            (target / f"{stem}{WEIGHTS_SUFFIX}").unlink(missing_ok=True)
        if not with_predictions:
            content = {**content, "run": {key: value for key, value in content["run"].items()
                                          if key not in ("test_predictions", "test_labels")}}
        write_signed(target / history_path.name, content)
        copied.append(target / history_path.name)
        for path in copied[-2:] if content.get("weights") else copied[-1:]:
            print(f"shipped {path.name} ({path.stat().st_size / 1e6:.2f} MB)")
    return copied


# ---------------------------------------------------------------- checkpoints


class Checkpoint(keras.callbacks.Callback):
    """After an epoch, save everything needed to go on: weights, optimizer, history, seconds.

    Written at most every ``interval`` seconds: an interrupted run loses at
    most that much training, and a run of many short epochs (a few dozen
    images each) does not spend its time writing files.
    """

    interval = 30.0

    def __init__(self, name: str, recipe: dict, history: dict, seconds: float, folder=None):
        super().__init__()
        self.stem = _stem(name, recipe.get("profile"))
        self.recipe = recipe
        self.history = {key: list(values) for key, values in history.items()}
        self.seconds_before = seconds
        self.folder = Path(folder) if folder is not None else checkpoint_folder()
        self.started = None

    @property
    def weights_path(self) -> Path:
        return self.folder / f"{self.stem}{WEIGHTS_SUFFIX}"

    @property
    def state_path(self) -> Path:
        return self.folder / f"{self.stem}.checkpoint.json"

    def on_train_begin(self, logs=None):
        self.started = self.written = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if time.perf_counter() - self.written < self.interval:
            return
        self.written = time.perf_counter()
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self.weights_path.with_name("partial-" + self.weights_path.name)
        self.model.save_weights(partial)
        partial.replace(self.weights_path)
        state = {"recipe": self.recipe, "epochs_done": epoch + 1, "history": self.history,
                 "seconds": self.seconds_before + time.perf_counter() - self.started}
        _write_text_atomically(self.state_path, json.dumps(state, default=_json_default))

    def remove(self) -> None:
        for path in (self.weights_path, self.state_path):
            path.unlink(missing_ok=True)


def resume(model, name: str, recipe: dict, folder=None) -> tuple[int, dict, float]:
    """Restore an interrupted training of the same recipe: (epochs done, history, seconds).

    Returns ``(0, {}, 0.0)`` when there is nothing to resume.
    """
    checkpoint = Checkpoint(name, recipe, {}, 0.0, folder)
    if not (checkpoint.state_path.exists() and checkpoint.weights_path.exists()):
        return 0, {}, 0.0
    try:
        state = json.loads(checkpoint.state_path.read_text())
    except (OSError, json.JSONDecodeError):
        return 0, {}, 0.0
    if not same_recipe(state.get("recipe", {}), recipe) or state["recipe"].get("data") != recipe.get("data"):
        return 0, {}, 0.0  # another recipe, or other data: start afresh
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(checkpoint.weights_path)
    return int(state["epochs_done"]), state["history"], float(state["seconds"])
