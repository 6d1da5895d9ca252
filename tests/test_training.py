"""Tests of cnncourse.training and its saved runs (cnncourse._runs): timing, reloading, resuming, results.

Every model here is tiny (a 4x4 image, one Dense layer) so the whole file
runs in seconds; saved runs go to a temporary folder, never to the shipped
cnncourse/weights.
"""

import json

import keras
import numpy as np
import pytest

from cnncourse import _runs, training
from cnncourse.data import Dataset
from conftest import flip_bytes, truncate


pytestmark = pytest.mark.usefixtures("private_cache")  # tests/conftest.py: never the user's saved runs


@pytest.fixture(autouse=True)
def checkpoint_every_epoch(monkeypatch):
    """Tiny runs take milliseconds per epoch: checkpoint each one, so resuming can be tested."""
    monkeypatch.setattr(_runs.Checkpoint, "interval", 0.0)


def tiny_dense(classes=2, compiled=True, loss="sparse_categorical_crossentropy"):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(4, 4, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(classes, activation="softmax"),
    ], name="tiny")
    if compiled:
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss, metrics=["accuracy"])
    return model


def tiny_data(count=200, seed=0):
    """Bright images are class 1, dark ones class 0: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, count)
    images = rng.uniform(0, 0.5, (count, 4, 4, 1)).astype("float32") + 0.5 * labels[:, None, None, None]
    return images.astype("float32"), labels


def run_tiny(**options):
    images, labels = tiny_data()
    arguments = dict(epochs=3, batch_size=32, name="tiny_run", profile="quick")
    arguments.update(options)
    model = arguments.pop("model", None) or tiny_dense()
    return training.fit_and_evaluate(model, (images[:120], labels[:120]), (images[120:160], labels[120:160]),
                                     (images[160:], labels[160:]), **arguments)


# ---------------------------------------------------------------- fit_and_evaluate


def test_fit_and_evaluate_trains_times_and_reports(capsys):
    run = run_tiny(details={"optimizer": "Adam"}, epochs=10)
    assert run.epochs == 10
    assert set(run.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert run.test_accuracy > 0.8, "bright/dark images are easy: the tiny model must learn them"
    assert run.test_probabilities.shape == (40, 2)
    assert np.array_equal(run.test_predictions, run.test_probabilities.argmax(axis=1))
    assert run.seconds > 0 and run.device and run.loaded_from is None
    row = run.row()
    assert row["model"] == "tiny_run" and row["optimizer"] == "Adam" and row["train images"] == 120
    assert row["parameters"] == 16 * 2 + 2 and row["run"] == "trained now"
    assert "tiny_run: test accuracy" in capsys.readouterr().out


def test_the_epoch_lines_name_the_run_once_and_stay_short(capsys):
    run_tiny(name="a_run_with_a_rather_long_descriptive_name", epochs=12)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "training a_run_with_a_rather_long_descriptive_name:"
    epochs = [line for line in lines if line.startswith("  epoch ")]
    assert len(epochs) == 12 and epochs[0].startswith("  epoch  1/12  loss ") and " left" in epochs[0]
    assert max(map(len, epochs)) < 100, "an epoch line fits an output box without scrolling"


def test_accuracy_is_computed_the_same_from_one_hot_labels():
    images, labels = tiny_data()
    one_hot = keras.utils.to_categorical(labels, 2)
    run = training.fit_and_evaluate(tiny_dense(loss="categorical_crossentropy"), (images[:120], one_hot[:120]),
                                    (images[120:160], one_hot[120:160]), (images[160:], one_hot[160:]),
                                    epochs=2, batch_size=32, name="tiny_one_hot", verbose=False)
    assert np.array_equal(run.test_labels, labels[160:])
    assert run.test_accuracy == pytest.approx(np.mean(run.test_predictions == labels[160:]))


def test_a_single_sigmoid_unit_is_scored_as_a_two_class_classifier():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4, 4, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(1, activation="sigmoid")], name="tiny_binary")
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    run = run_tiny(model=model, name="tiny_binary", epochs=10)
    images, labels = tiny_data()
    p = model.predict(images[160:], verbose=0)[:, 0]
    np.testing.assert_allclose(run.test_probabilities, np.stack([1 - p, p], axis=1), rtol=1e-6)
    assert np.array_equal(run.test_predictions, (p > 0.5).astype(int))
    assert run.test_accuracy == pytest.approx(np.mean((p > 0.5) == labels[160:])) and run.test_accuracy > 0.8
    gap = training.generalization_gap(run, (images[:120], labels[:120]), (images[120:160], labels[120:160]))
    assert gap == pytest.approx(run.details["train accuracy"] - run.details["validation accuracy"])
    with pytest.raises(ValueError, match="labels"):
        training.fit_and_evaluate(model, (images[:10], labels[:10] + 2), None, (images[:10], labels[:10]),
                                  epochs=1, batch_size=8)


def test_class_probabilities_turns_logits_and_one_sigmoid_into_rows_that_sum_to_one():
    images = tiny_data()[0][:5]
    for units, activation, outputs in ((3, None, "logits"), (1, "sigmoid", "probabilities")):
        model = keras.Sequential([keras.Input(shape=(4, 4, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(units, activation=activation)])
        probabilities = training.class_probabilities(model, images, outputs)
        assert probabilities.shape == (5, max(units, 2))
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="outputs"):
        training.class_probabilities(model, images, "scores")
    with pytest.raises(TypeError, match="Keras model"):
        training.class_probabilities("model", images)
    with pytest.raises(ValueError, match="images"):
        training.class_probabilities(model, images[:, :3])


def test_train_false_reloads_the_saved_run(private_cache, capsys):
    trained = run_tiny()
    assert (private_cache / "tiny_run.quick.weights.h5").exists()
    reloaded = run_tiny(model=tiny_dense(), train=False)
    assert reloaded.loaded_from is not None and "loaded 'tiny_run'" in capsys.readouterr().out
    assert reloaded.history == trained.history
    assert reloaded.seconds == round(trained.seconds, 1) and reloaded.profile == "quick"
    np.testing.assert_allclose(reloaded.test_probabilities, trained.test_probabilities, atol=1e-6)
    assert reloaded.row()["run"] == "loaded (quick profile)"


def test_train_false_without_a_saved_run_trains_and_says_so(capsys):
    run = run_tiny(name="never_saved", train=False, save=False)
    assert run.loaded_from is None
    assert "no saved run of 'never_saved' with this recipe" in capsys.readouterr().out


def test_train_false_reloads_only_the_same_recipe(capsys):
    run_tiny()
    for changed in (dict(epochs=2), dict(batch_size=16), dict(profile="full")):
        again = run_tiny(model=tiny_dense(), train=False, save=False, **changed)
        assert again.loaded_from is None, f"a run with {changed} must not reuse the 3-epoch quick run"
    other_optimizer = tiny_dense()
    other_optimizer.compile(optimizer=keras.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy",
                            metrics=["accuracy"])
    assert run_tiny(model=other_optimizer, train=False, save=False).loaded_from is None
    assert run_tiny(model=tiny_dense(), train=False).loaded_from is not None


def test_the_profile_comes_from_the_chapter_settings():
    from cnncourse import config

    config.settings("full", quick=dict(epochs=1), full=dict(epochs=1))
    try:
        assert run_tiny(profile=None, save=False).profile == "full"
    finally:
        config.settings("quick", quick=dict(epochs=1), full=dict(epochs=1))


class _StopAfter(keras.callbacks.Callback):
    """Stands in for a session cut off mid-training: raises after ``epochs`` epochs."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt


def test_an_interrupted_training_resumes_from_its_last_epoch(monkeypatch, capsys):
    progress = training.EpochProgress
    monkeypatch.setattr(training, "EpochProgress", lambda epochs, name: _StopAfter(2))
    with pytest.raises(KeyboardInterrupt):
        run_tiny(epochs=5, verbose=True)
    state = json.loads(next((_runs.checkpoint_folder()).glob("*.checkpoint.json")).read_text())
    assert state["epochs_done"] == 2 and len(state["history"]["loss"]) == 2
    monkeypatch.setattr(training, "EpochProgress", progress)
    resumed = run_tiny(epochs=5, verbose=True)
    output = capsys.readouterr().out
    assert "resuming 'tiny_run' after epoch 2 of 5" in output
    assert "  epoch 3/5  " in output and "  epoch 1/5  " not in output.split("resuming")[1]
    assert resumed.epochs == 5 and resumed.history["loss"][:2] == state["history"]["loss"]
    assert resumed.seconds >= state["seconds"]
    assert not list(_runs.checkpoint_folder().glob("*")), "a finished run removes its checkpoint"
    assert resumed.resumed_after_epoch == 2
    reloaded = run_tiny(epochs=5, train=False)
    assert reloaded.loaded_from is not None and reloaded.resumed_after_epoch == 2, "the record keeps the resume"


def test_checkpoints_are_written_at_most_once_per_interval(monkeypatch):
    writes = []
    monkeypatch.setattr(_runs, "_write_text_atomically", lambda path, text: writes.append(json.loads(text)))
    monkeypatch.setattr(_runs.Checkpoint, "interval", 3600.0)
    run_tiny(epochs=4, verbose=False, save=False)
    assert writes == [], "four epochs of milliseconds: no checkpoint within the hour"
    monkeypatch.setattr(_runs.Checkpoint, "interval", 0.0)
    run_tiny(epochs=4, verbose=False, save=False, name="tiny_every_epoch")
    assert [state["epochs_done"] for state in writes] == [1, 2, 3, 4]


def test_a_checkpoint_of_another_recipe_is_not_resumed(monkeypatch, capsys):
    progress = training.EpochProgress
    monkeypatch.setattr(training, "EpochProgress", lambda epochs, name: _StopAfter(2))
    with pytest.raises(KeyboardInterrupt):
        run_tiny(epochs=5, verbose=True)
    monkeypatch.setattr(training, "EpochProgress", progress)
    run = run_tiny(epochs=4)
    assert "resuming" not in capsys.readouterr().out and run.epochs == 4


@pytest.mark.parametrize(
    "options, error, message",
    [
        (dict(model=tiny_dense(compiled=False)), ValueError, "compile"),
        (dict(epochs=0), ValueError, "epochs must be at least 1"),
        (dict(batch_size=2.5), TypeError, "batch_size must be an integer"),
        (dict(epochs=True), TypeError, "epochs must be an integer"),
        (dict(name="bad name!"), ValueError, "letters, digits"),
        (dict(model="not a model"), TypeError, "Keras model"),
    ],
)
def test_fit_and_evaluate_rejects_bad_input(options, error, message):
    with pytest.raises(error, match=message):
        run_tiny(**options)


def test_extra_callbacks_run_and_early_stopping_restores_the_best_weights(capsys):
    recorder = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: print(f"callback saw epoch {epoch}"))
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    run = run_tiny(epochs=40, callbacks=[recorder, stop], model=tiny_dense(), name="tiny_early")
    assert "callback saw epoch 0" in capsys.readouterr().out
    assert run.epochs == len(run.history["val_loss"]) <= 40
    assert stop.best == pytest.approx(min(run.history["val_loss"]))
    with pytest.raises(TypeError, match="Keras callbacks"):
        run_tiny(callbacks=["EarlyStopping"])


def test_generalization_gap_is_measured_on_clean_images():
    run = run_tiny(epochs=10)
    images, labels = tiny_data()
    gap = training.generalization_gap(run, (images[:120], labels[:120]), (images[120:160], labels[120:160]))
    predicted = run.model.predict(images[:160], verbose=0).argmax(axis=1)
    train_accuracy, validation_accuracy = np.mean(predicted[:120] == labels[:120]), np.mean(
        predicted[120:] == labels[120:160])
    assert gap == pytest.approx(train_accuracy - validation_accuracy)
    assert run.details["train accuracy"] == pytest.approx(train_accuracy)
    assert run.details["best epoch"] == int(np.argmin(run.history["val_loss"])) + 1
    assert "gap" in training.results_table([run]).columns
    with pytest.raises(TypeError, match="TrainingRun"):
        training.generalization_gap({"gap": 0.1}, (images, labels), (images, labels))


def test_a_measurement_is_kept_with_the_run_and_read_back_by_a_reload(private_cache):
    images, labels = tiny_data()
    run = run_tiny()
    calls = []

    def norm(model):
        calls.append(model)
        return float(np.linalg.norm(keras.ops.convert_to_numpy(model.layers[-1].kernel)))

    value = run.measured("kernel norm", norm)
    assert run.measured("kernel norm", norm) == value and len(calls) == 1, "measured once"
    gap = training.generalization_gap(run, (images[:120], labels[:120]), (images[120:160], labels[120:160]))
    reloaded = run_tiny(model=tiny_dense(), train=False)
    assert reloaded.measured("kernel norm", norm) == value and len(calls) == 1, "read back from the record"
    assert training.generalization_gap(reloaded, (images[:120], labels[:120]),
                                       (images[120:160], labels[120:160])) == gap
    with pytest.raises(ValueError, match="measured on 120 training and 40 validation images"):
        training.generalization_gap(reloaded, (images[:100], labels[:100]), (images[120:160], labels[120:160]))
    with pytest.raises(TypeError, match="function"):
        run.measured("kernel norm", 3)


def test_a_record_shipped_without_weights_is_replayed_with_its_scores(private_cache, tmp_path, monkeypatch, capsys):
    images, labels = tiny_data()
    trained = run_tiny()
    training.generalization_gap(trained, (images[:120], labels[:120]), (images[120:160], labels[120:160]))
    shipped = tmp_path / "shipped"
    _runs.ship(["tiny_run"], profile="quick", source=private_cache, target=shipped, with_weights=False)
    monkeypatch.setattr(_runs, "shipped_folder", lambda: shipped)
    for path in private_cache.glob("tiny_run.*"):
        path.unlink()  # a new machine: only the shipped record
    replayed = run_tiny(model=tiny_dense(), train=False)
    assert "replayed 'tiny_run' from the runs shipped with cnncourse" in capsys.readouterr().out
    assert replayed.model is None and replayed.test_probabilities is None
    assert replayed.test_accuracy == trained.test_accuracy and replayed.history == trained.history
    assert np.array_equal(replayed.test_predictions, trained.test_predictions)
    assert replayed.row()["parameters"] == 34
    assert training.generalization_gap(replayed, (images[:120], labels[:120]),
                                       (images[120:160], labels[120:160])) == trained.details["gap"]
    with pytest.raises(ValueError, match="replayed from its record, which has no 'kernel norm' and no weights"):
        replayed.measured("kernel norm", lambda model: 1.0)
    _runs.ship(["tiny_run"], profile="quick", source=shipped, target=tmp_path / "lean", with_weights=False,
               with_predictions=False)
    lean = _runs.read_record(tmp_path / "lean" / "tiny_run.quick.history.json")["run"]
    assert "test_predictions" not in lean and lean["test_accuracy"] == trained.test_accuracy
    monkeypatch.setattr(_runs, "shipped_folder", lambda: tmp_path / "lean")
    accuracy_only = run_tiny(model=tiny_dense(), train=False)
    assert accuracy_only.test_predictions is None and accuracy_only.test_accuracy == trained.test_accuracy


def test_a_recorded_run_counts_in_a_pages_note_only_when_the_page_has_its_profile(tmp_path, monkeypatch):
    from cnncourse import config

    monkeypatch.setattr(config, "_current", config._current)  # the settings below are undone after the test
    run_tiny(name="tiny_logged", profile="full", verbose=False)
    log = tmp_path / "runs.jsonl"
    monkeypatch.setenv(_runs.RUN_LOG_ENVIRONMENT_VARIABLE, str(log))
    for profile in ("quick", "full"):
        config.settings(profile, quick={}, full={})
        training.recorded_run("tiny_logged")
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [entry["name"] for entry in logged] == ["tiny_logged"], "only the full page counts the full run"


def test_recorded_run_reads_the_full_profile_record_whatever_the_profile(capsys):
    trained = run_tiny(profile="full", name="tiny_book")
    book = training.recorded_run("tiny_book")
    assert book.model is None and book.profile == "full" and book.history == trained.history
    assert book.test_accuracy == trained.test_accuracy
    assert np.array_equal(book.test_predictions, trained.test_predictions)
    assert np.array_equal(book.test_labels, trained.test_labels)
    with pytest.raises(FileNotFoundError, match="no saved quick-profile run named 'tiny_book'"):
        training.recorded_run("tiny_book", profile="quick")
    with pytest.raises(ValueError, match="profile"):
        training.recorded_run("tiny_book", profile="fast")


def test_labels_are_stored_as_digits_and_checked_when_read(tmp_path):
    labels = np.array([0, 9, 3, 3])
    assert _runs.encode_labels(labels) == "0933"
    assert np.array_equal(_runs.decode_labels("0933", tmp_path / "x"), labels)
    assert _runs.encode_labels(np.array([10, 1])) is None
    with pytest.raises(_runs.DamagedRun, match="not a string of class digits"):
        _runs.decode_labels("09a", tmp_path / "x")


def test_a_run_of_more_than_ten_classes_is_saved_and_replayed_without_predictions(private_cache):
    images, labels = tiny_data()
    labels = labels * 10  # classes 0 and 10: class 10 has no one-digit code

    def run(train):
        return training.fit_and_evaluate(tiny_dense(classes=11), (images[:120], labels[:120]), None,
                                         (images[160:], labels[160:]), epochs=3, batch_size=32, name="tiny_run",
                                         profile="quick", train=train)

    trained = run(train=True)
    record = _runs.read_record(trained.record_path)["run"]
    assert "test_predictions" not in record and "test_labels" not in record
    again = run(train=False)
    assert again.loaded_from is not None and again.test_accuracy == trained.test_accuracy
    assert "test_predictions" not in _runs.read_record(again.record_path)["run"], "nothing it cannot store"
    assert training.recorded_run("tiny_run", profile="quick").test_predictions is None


def test_fit_and_evaluate_checks_the_data_pairs():
    images, labels = tiny_data()
    with pytest.raises(ValueError, match="120 images but 100 labels"):
        training.fit_and_evaluate(tiny_dense(), (images[:120], labels[:100]), None, (images, labels),
                                  epochs=1, batch_size=8)
    with pytest.raises(TypeError, match="pair"):
        training.fit_and_evaluate(tiny_dense(), images, None, (images, labels), epochs=1, batch_size=8)


# ---------------------------------------------------------------- saving and loading


def test_save_and_load_round_trip(tmp_path):
    model = tiny_dense()
    history = {"loss": [np.float32(1.0), 0.5]}
    path = _runs.save(model, history, "round_trip", record={"profile": "full", "seconds": 3.2}, folder=tmp_path)
    assert path.name == "round_trip.full.history.json"
    other = tiny_dense()
    other.set_weights([np.zeros_like(weight) for weight in other.get_weights()])
    saved = _runs.load("round_trip", other, folders=[tmp_path])
    assert saved["history"] == {"loss": [1.0, 0.5]} and saved["run"]["seconds"] == 3.2
    for mine, theirs in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(mine, theirs)


def test_float16_weights_are_smaller_and_close(tmp_path):
    model = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(256)])
    _runs.save(model, {"loss": [1.0]}, "big32", folder=tmp_path, record={"profile": "full"})
    _runs.save(model, {"loss": [1.0]}, "big16", folder=tmp_path, record={"profile": "full"}, dtype="float16")
    size = {name: (tmp_path / f"{name}.full.weights.h5").stat().st_size for name in ("big32", "big16")}
    assert size["big16"] < 0.6 * size["big32"]
    other = keras.Sequential([keras.Input(shape=(64,)), keras.layers.Dense(256)])
    _runs.load("big16", other, folders=[tmp_path])
    np.testing.assert_allclose(other.get_weights()[0], model.get_weights()[0], atol=1e-3)


def test_history_only_runs_have_no_weights(tmp_path):
    _runs.save(None, {"loss": [1.0, 0.5]}, "curves_only", folder=tmp_path, record={"profile": "quick"})
    assert not list(tmp_path.glob("*.weights.h5"))
    assert _runs.load("curves_only", folders=[tmp_path])["history"] == {"loss": [1.0, 0.5]}
    with pytest.raises(ValueError, match="no weights"):
        _runs.load("curves_only", tiny_dense(), folders=[tmp_path])


def test_without_a_recipe_a_full_run_is_preferred(tmp_path):
    _runs.save(None, {"loss": [2.0]}, "choice", folder=tmp_path, record={"profile": "quick"})
    _runs.save(None, {"loss": [1.0]}, "choice", folder=tmp_path, record={"profile": "full"})
    _runs.save(None, {"loss": [5.0]}, "choice_other", folder=tmp_path, record={"profile": "full"})
    assert _runs.load("choice", folders=[tmp_path])["run"]["profile"] == "full"
    assert _runs.load("choice", folders=[tmp_path])["history"] == {"loss": [1.0]}
    assert _runs.find("absent", folders=[tmp_path]) is None


def test_load_errors_say_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="Train it once"):
        _runs.load("nothing_here", folders=[tmp_path])
    _runs.save(tiny_dense(), {"loss": [1.0]}, "wrong_shape", folder=tmp_path, record={"profile": "full"})
    bigger = keras.Sequential([keras.Input(shape=(4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="different architecture"):
        _runs.load("wrong_shape", bigger, folders=[tmp_path])
    with pytest.raises(TypeError, match="string"):
        _runs.load(3)
    with pytest.raises(ValueError, match="dtype"):
        _runs.save(None, {"loss": [1.0]}, "x", folder=tmp_path, record={}, dtype="int8")
    with pytest.raises(TypeError, match="history"):
        _runs.save(None, {}, "x", folder=tmp_path, record={})


def test_ship_copies_full_runs(tmp_path, capsys):
    source, target = tmp_path / "mine", tmp_path / "shipped"
    _runs.save(tiny_dense(), {"loss": [1.0]}, "shipped", folder=source, record={"profile": "full"})
    copied = _runs.ship(["shipped"], source=source, target=target)
    assert sorted(path.name for path in copied) == ["shipped.full.history.json", "shipped.full.weights.h5"]
    with pytest.raises(FileNotFoundError, match="train it first"):
        _runs.ship(["missing"], source=source, target=target)
    with pytest.raises(TypeError, match="list"):
        _runs.ship("shipped", source=source, target=target)


def test_the_shipped_runs_are_package_data_with_complete_records():
    folder = _runs.shipped_folder()
    assert folder.is_dir() and (folder / "README.md").exists()
    histories = sorted(folder.glob("*.history.json"))
    assert histories, "the course ships at least one trained run"
    for path in histories:
        content = _runs.read_record(path)
        assert set(_runs.RECIPE_KEYS) <= set(content["run"]), f"{path.name} lacks part of its recipe"
        assert content["weights"] is None or (folder / content["weights"]).exists()


# ---------------------------------------------------------------- reading results


def test_per_class_accuracy():
    accuracy = training.per_class_accuracy([0, 0, 1, 1, 1, 2], [0, 1, 1, 1, 0, 2], num_classes=4)
    np.testing.assert_allclose(accuracy[:3], [0.5, 2 / 3, 1.0])
    assert np.isnan(accuracy[3]), "a class without test images has no accuracy"
    with pytest.raises(ValueError, match="only 2 classes"):
        training.per_class_accuracy([0, 2], [0, 1], num_classes=2)
    with pytest.raises(ValueError, match="predicted_labels has 1 entries but true_labels has 2"):
        training.per_class_accuracy([0, 1], [0], num_classes=2)


def test_precision_recall_f1_against_a_hand_count():
    true = [0, 0, 0, 1, 1, 2, 2, 2, 2, 2]
    predicted = [0, 0, 1, 1, 1, 2, 2, 2, 0, 0]
    scores = training.precision_recall_f1(true, predicted, 3)
    # precision: a column of the confusion matrix; recall: a row
    np.testing.assert_allclose(scores["precision"], [2 / 4, 2 / 3, 3 / 3])
    np.testing.assert_allclose(scores["recall"], [2 / 3, 2 / 2, 3 / 5])
    np.testing.assert_allclose(scores["f1"], [4 / 7, 4 / 5, 3 / 4])
    np.testing.assert_array_equal(scores["support"], [3, 2, 5])


def test_precision_of_a_class_never_predicted_is_nan_not_zero():
    scores = training.precision_recall_f1([0, 1, 2], [0, 0, 0], 4)
    assert np.isnan(scores["precision"][1]) and scores["recall"][1] == 0
    assert np.isnan(scores["recall"][3]) and np.isnan(scores["f1"][3])  # no image of class 3 at all
    with pytest.raises(ValueError, match="predicted_labels has 3 entries"):
        training.precision_recall_f1([0, 1], [0, 1, 1], 2)


def test_class_report_rows_and_averages():
    table = training.class_report([0, 0, 1, 1], [0, 1, 1, 1], ("cat", "dog"))
    assert [row["class"] for row in table.rows] == ["cat", "dog", "macro average", "accuracy"]
    assert table.rows[0]["precision"] == 1.0 and table.rows[1]["precision"] == pytest.approx(2 / 3)
    assert table.rows[2]["recall"] == pytest.approx(0.75) and table.rows[3]["f1"] == pytest.approx(0.75)
    assert "macro average" in table.to_text() and "<table" in table._repr_html_()
    with pytest.raises(TypeError, match="class_names must be a non-empty list of strings"):
        training.class_report([0], [0], "cat")


def test_most_confident_mistakes_orders_by_confidence():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.95, 0.05], [0.3, 0.7]])
    labels = np.array([0, 0, 0, 1, 1])
    np.testing.assert_array_equal(training.most_confident_mistakes(labels, probabilities), [3, 1, 2])
    np.testing.assert_array_equal(training.most_confident_mistakes(labels, probabilities, count=1), [3])
    with pytest.raises(ValueError, match="true_labels has 2 entries but probabilities has 5"):
        training.most_confident_mistakes(labels[:2], probabilities)
    with pytest.raises(ValueError, match="count"):
        training.most_confident_mistakes(labels, probabilities, count=0)


def test_results_table_text_and_html():
    rows = [{"model": "dense", "test accuracy": 0.4712, "time (s)": 12.34, "parameters": 1707274},
            {"model": "convnet", "test accuracy": 0.6954, "time (s)": None, "parameters": 631658}]
    table = training.results_table(rows, columns=["model", "parameters", "test accuracy", "time (s)"])
    lines = str(table).splitlines()
    assert lines[0].split() == ["model", "parameters", "test", "accuracy", "time", "(s)"]
    assert "1,707,274" in lines[2] and "0.4712" in lines[2] and "12.3" in lines[2]
    assert lines[3].rstrip().endswith("–"), "a missing value shows as a dash"
    assert "<td>convnet</td>" in table._repr_html_()
    with pytest.raises(ValueError, match="are in no row"):
        training.results_table(rows, columns=["model", "colour"])
    with pytest.raises(TypeError, match="non-empty"):
        training.results_table([])


def _dataset(source, notes=(), lossy=False, carved=False):
    empty = np.zeros((1, 2, 2, 1))
    return Dataset("cifar10", empty, np.zeros(1), empty, np.zeros(1), ("a",), source, list(notes),
                   lossy=lossy, carved_from_test_split=carved)


def test_describe_source_names_lossy_and_carved_data():
    assert training.describe_source(_dataset("the CIFAR-10 JPEG re-encoding (lossy: quality 75)", lossy=True)) == \
        "cifar10: JPEG re-encoding (lossy)"
    carved = _dataset("IDX files", ["the mnist training split was not available, so ..."], carved=True)
    assert training.describe_source(carved) == "cifar10: official test split, carved in two"
    assert training.describe_source(_dataset("the original CIFAR-10")) == "cifar10: original files"
    with pytest.raises(TypeError):
        training.describe_source("cifar10")


def test_uses_carved_test_split():
    assert training.uses_carved_test_split(_dataset("IDX", ["the mnist training split was not available, ..."], carved=True))
    assert not training.uses_carved_test_split(_dataset("IDX"))
    with pytest.raises(TypeError):
        training.uses_carved_test_split("mnist")


def test_reloading_with_different_details_warns(capsys, unwrap):
    run_tiny(details={"data": "mnist: official test split, carved in two"})
    capsys.readouterr()
    run_tiny(model=tiny_dense(), train=False, details={"data": "mnist: original files"})
    assert "may not be comparable" in unwrap(capsys.readouterr().out)


def test_a_quiet_run_keeps_its_warnings(capsys):
    run_tiny(verbose=False)
    assert capsys.readouterr().out == "", "a quiet run prints no epoch lines, load notes or accuracy"
    run_tiny(verbose=False, train=False, name="never_saved")
    assert "no saved run of 'never_saved'" in capsys.readouterr().out, "the warning is still printed"


# ---------------------------------------------------------------- saved runs are verified on every load


@pytest.mark.parametrize("damage", [flip_bytes, truncate], ids=["64 flipped bytes", "truncated"])
def test_damaged_weights_are_refused_with_their_name_and_the_fix(private_cache, damage):
    run_tiny()
    damage(private_cache / "tiny_run.quick.weights.h5")
    with pytest.raises(_runs.DamagedRun, match=r"tiny_run\.quick\.weights\.h5 .*checksum.*train the run again"):
        run_tiny(model=tiny_dense(), train=False)


@pytest.mark.parametrize("damage", [truncate, lambda path: path.write_text(path.read_text().replace("0.", "0.9", 1)),
                                    lambda path: path.write_text("")],
                         ids=["truncated", "a number changed", "empty"])
def test_a_damaged_history_is_an_error_never_a_silent_retraining(private_cache, damage, capsys):
    run_tiny()
    damage(private_cache / "tiny_run.quick.history.json")
    capsys.readouterr()
    with pytest.raises(_runs.DamagedRun, match=r"tiny_run\.quick\.history\.json"):
        run_tiny(model=tiny_dense(), train=False)
    assert "training it now" not in capsys.readouterr().out


def test_every_shipped_run_and_backbone_matches_its_checksums():
    shipped = _runs.shipped_folder()
    histories = sorted(shipped.glob("*.history.json"))
    assert histories, "the package ships runs"
    for path in histories:
        content = _runs.read_record(path)
        if content["weights"]:
            from cnncourse import data
            assert data.sha256_of(shipped / content["weights"]) == content["weights_sha256"], path.name
    for path in shipped.glob("*_backbone.json"):
        _runs.read_signed(path)


def test_a_shipped_run_with_a_damaged_file_names_the_git_command(tmp_path, monkeypatch):
    import shutil

    copy = tmp_path / "weights"
    shutil.copytree(_runs.shipped_folder(), copy)
    monkeypatch.setattr(_runs, "shipped_folder", lambda: copy)
    flip_bytes(copy / "mnist_convnet.full.weights.h5")
    from cnncourse import models

    with pytest.raises(_runs.DamagedRun, match="git checkout -- cnncourse/weights/mnist_convnet.full.weights.h5"):
        _runs.load("mnist_convnet", models.build("mnist_convnet"))


# ---------------------------------------------------------------- the data a run belongs to


def test_a_run_records_the_data_it_was_trained_and_tested_on(private_cache):
    run = run_tiny(details={"data": "tiny: generated"})
    record = _runs.read_record(run.record_path)["run"]
    images, labels = tiny_data()
    assert record["data"] == training.data_identity((images[:120], labels[:120]), (images[160:], labels[160:]),
                                                    source="tiny: generated")
    assert record["data"]["source"] == "tiny: generated" and len(record["data"]["test sha256"]) == 64


def test_reloading_a_full_run_on_other_training_data_is_an_error_that_says_so(private_cache):
    run_tiny(profile="full")
    images, labels = tiny_data()
    brighter = (images[:120] + 0.01, labels[:120])  # a lossy copy would differ this little
    with pytest.raises(ValueError, match="was trained on other train data.*train the run on this data"):
        training.fit_and_evaluate(tiny_dense(), brighter, None, (images[160:], labels[160:]), epochs=3,
                                  batch_size=32, name="tiny_run", profile="full", train=False)
    for other_test_set in ((images[150:], labels[150:]), (images[160:], 1 - labels[160:])):
        with pytest.raises(ValueError, match="was tested on other test data"):
            training.fit_and_evaluate(tiny_dense(), (images[:120], labels[:120]), None, other_test_set, epochs=3,
                                      batch_size=32, name="tiny_run", profile="full", train=False)


def test_a_quick_run_on_other_data_is_trained_again_on_this_data(private_cache, capsys, unwrap):
    run_tiny()
    images, labels = tiny_data()
    again = training.fit_and_evaluate(tiny_dense(), (images[:120] + 0.01, labels[:120]), None,
                                      (images[160:], labels[160:]), epochs=3, batch_size=32, name="tiny_run",
                                      profile="quick", train=False)
    assert "trained on other data" in unwrap(capsys.readouterr().out) and again.loaded_from is None


def test_a_full_record_that_does_not_name_its_data_is_refused_not_reloaded(private_cache):
    run = run_tiny(profile="full")
    content = _runs.read_record(run.record_path)
    _runs.write_signed(run.record_path, {**content, "run": {k: v for k, v in content["run"].items() if k != "data"}})
    with pytest.raises(ValueError, match="does not say which data it was trained and tested on.*train=True"):
        run_tiny(model=tiny_dense(), train=False, profile="full")


def test_while_training_runs_to_ship_the_shipped_ones_do_not_stand_in(private_cache, monkeypatch):
    assert _runs.default_folders() == (_runs.user_folder(), _runs.shipped_folder())
    monkeypatch.setenv(_runs.SHIPPED_RUNS_ENVIRONMENT_VARIABLE, "off")
    assert _runs.default_folders() == (_runs.user_folder(),)


def test_a_checkpoint_of_other_data_is_not_resumed(private_cache):
    images, labels = tiny_data()
    recipe = {"profile": "quick", "epochs": 3, "batch_size": 32, "train_size": 120, "optimizer": "Adam"}
    model = tiny_dense()
    checkpoint = _runs.Checkpoint("tiny_run", {**recipe, "data": {"train sha256": "a"}}, {}, 0.0)
    checkpoint.set_model(model)
    checkpoint.on_train_begin()
    checkpoint.on_epoch_end(0, {"loss": 1.0})
    assert _runs.resume(tiny_dense(), "tiny_run", {**recipe, "data": {"train sha256": "a"}})[0] == 1
    assert _runs.resume(tiny_dense(), "tiny_run", {**recipe, "data": {"train sha256": "b"}})[0] == 0
