"""Run profiles, seeding, environment report and the run record."""

import os
import subprocess
import sys

import keras
import nbformat
import numpy as np
import pytest

from cnncourse import _record as run
from cnncourse import config


@pytest.fixture(autouse=True)
def no_profile_override(monkeypatch):
    monkeypatch.delenv("CNNCOURSE_PROFILE", raising=False)


def test_auto_is_quick_without_an_accelerator(monkeypatch):
    monkeypatch.setattr(config, "accelerator", lambda: None)
    assert config.resolve_profile("auto")[0] == "quick"


def test_auto_is_full_with_an_accelerator(monkeypatch):
    monkeypatch.setattr(config, "accelerator", lambda: "gpu:0")
    profile, reason = config.resolve_profile("auto")
    assert profile == "full" and "gpu:0" in reason


def test_a_chapter_that_ships_its_runs_replays_them_on_a_cpu(monkeypatch):
    monkeypatch.delenv("CNNCOURSE_PROFILE", raising=False)
    values = dict(quick={"epochs": 1}, full={"epochs": 30})
    monkeypatch.setattr(config, "accelerator", lambda: None)
    replay = config.settings("auto", replay_on_cpu=True, **values)
    assert (replay.profile, replay.train, replay.epochs) == ("full", False, 30)
    assert "recorded runs are replayed, not trained" in str(replay)
    chosen = config.settings("quick", replay_on_cpu=True, **values)
    assert (chosen.profile, chosen.train) == ("quick", True), "an explicit profile is never replaced"
    assert config.settings("full", train=False, **values).train is False
    monkeypatch.setattr(config, "accelerator", lambda: "gpu:0")
    on_gpu = config.settings("auto", replay_on_cpu=True, **values)
    assert (on_gpu.profile, on_gpu.train) == ("full", True), "an accelerator trains the full profile"
    with pytest.raises(TypeError, match="train must be True or False"):
        config.settings("auto", train="no", **values)


def test_environment_variable_overrides_auto_but_not_an_explicit_choice(monkeypatch):
    monkeypatch.setattr(config, "accelerator", lambda: "gpu:0")
    monkeypatch.setenv("CNNCOURSE_PROFILE", "quick")
    assert config.resolve_profile("auto") == ("quick", "set by CNNCOURSE_PROFILE")
    assert config.resolve_profile("full")[0] == "full"


def test_bad_profiles_are_rejected(monkeypatch):
    with pytest.raises(ValueError, match="profile must be one of 'quick', 'full', 'auto'"):
        config.resolve_profile("fast")
    monkeypatch.setenv("CNNCOURSE_PROFILE", "medium")
    with pytest.raises(ValueError, match="CNNCOURSE_PROFILE='medium' is not a profile"):
        config.resolve_profile("auto")


def test_settings_pick_the_profile_values_and_explicit_overrides_win():
    settings = config.settings("quick", quick=dict(epochs=2, train_size=100), full=dict(epochs=9, train_size=None),
                               epochs=None, train_size=50)
    assert (settings.profile, settings.epochs, settings.train_size) == ("quick", 2, 50)
    assert "epochs=2" in str(settings)
    with pytest.raises(AttributeError, match="have no 'batch_size'"):
        settings.batch_size


def test_settings_reject_mismatched_or_unknown_names():
    with pytest.raises(ValueError, match="only in one of them"):
        config.settings("quick", quick=dict(epochs=1), full=dict(epoch=1))
    with pytest.raises(TypeError, match=r"unknown setting\(s\) \['epoch'\]"):
        config.settings("quick", quick=dict(epochs=1), full=dict(epochs=2), epoch=3)


def test_seeding_makes_keras_reproducible():
    import keras

    config.seed_everything(7)
    first = keras.random.normal((3,))
    config.seed_everything(7)
    np.testing.assert_array_equal(np.asarray(first), np.asarray(keras.random.normal((3,))))
    config.seed_everything(np.int64(7))  # a seed read from a NumPy array is a seed too
    np.testing.assert_array_equal(np.asarray(first), np.asarray(keras.random.normal((3,))))
    with pytest.raises(ValueError, match="seed must be at least 0"):
        config.seed_everything(-1)
    with pytest.raises(TypeError, match="seed must be an integer"):
        config.seed_everything(True)


def test_settings_carry_the_seed_and_per_model_epochs():
    import keras

    chosen = config.settings("quick", seed=3, quick=dict(epochs={"dense": 2, "convnet": 4}),
                             full=dict(epochs={"dense": 20, "convnet": 40}))
    assert chosen.seed == 3 and config.current_profile() == "quick"
    assert chosen.epochs_for("dense") == 2 and chosen.epochs_for("convnet") == 4
    with pytest.raises(KeyError, match="dense, convnet"):
        chosen.epochs_for("vgg")
    first = keras.random.normal((2,))
    chosen.reseed()
    np.testing.assert_array_equal(np.asarray(first), np.asarray(keras.random.normal((2,))))
    every_model = config.settings("full", quick=dict(epochs={"dense": 2}), full=dict(epochs={"dense": 20}),
                                  epochs=1)
    assert every_model.epochs_for("dense") == 1 and config.current_profile() == "full"


def test_environment_report_names_backend_device_and_versions(capsys):
    facts = config.report()
    printed = capsys.readouterr().out
    for key in ("keras", "backend", "backend_version", "device", "python"):
        assert facts[key]
    assert facts["backend"] in printed and facts["device"] in printed


def test_run_record_and_code_hash():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# T"),
        nbformat.v4.new_markdown_cell("x", metadata={"tags": ["run-record"]}),
        nbformat.v4.new_code_cell("a = 1"),
        nbformat.v4.new_code_cell("profile = 'quick'", metadata={"tags": ["injected-parameters"]}),
    ])
    before = run.code_hash(notebook)
    assert before == run.code_hash(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("a = 1")])), \
        "papermill's injected cell must not change the hash"
    record = {"profile": "quick", "date": "2026-01-01", "keras": "3", "backend": "jax", "backend_version": "0.1",
              "device": "gpu:0 (H100)", "duration_s": 42.0, "code_hash": before}
    run.store_record(notebook, record, "08_cifar10")
    assert "**quick**" in notebook.cells[1].source and "gpu:0 (H100)" in notebook.cells[1].source
    assert "**full**: not recorded yet" in notebook.cells[1].source
    links = notebook.cells[1].source.splitlines()[0]
    assert "colab.research.google.com/github/" in links and links.count("chapters/08_cifar10.ipynb") == 3
    notebook.cells[2].source = "a = 2"
    assert run.code_hash(notebook) != before


def test_a_sweep_of_many_runs_is_summed_up_in_one_line():
    runs = [{"name": f"run{number}", "epochs": 2, "seconds": 30.0, "device": "CPU", "backend": "tensorflow",
             "date": "2026-01-01", "reloaded": True} for number in range(20)]
    record = {"profile": "full", "date": "2026-01-01", "keras": "3", "backend": "tensorflow",
              "backend_version": "2", "device": "CPU", "duration_s": 9.0, "runs": runs}
    text = run.record_text(record, {"full": {**record}}, "11_transfer_learning")
    assert "20 runs, 40 epochs in 10.0 min" in text and "run7" not in text


def test_store_record_requires_the_record_cell():
    with pytest.raises(ValueError, match="run-record"):
        run.store_record(nbformat.v4.new_notebook(), {"profile": "quick", "duration_s": 1, "device": "cpu",
                                                      "backend": "jax", "date": "d"}, "01_setup")


def test_unknown_chapter_selection_lists_the_chapters():
    with pytest.raises(SystemExit, match="no chapter matches '99'"):
        run.chapter_paths(["99"])


def test_the_run_record_names_reloaded_runs_and_what_training_them_cost():
    runs = [{"name": "vgg_style_cifar10", "epochs": 30, "seconds": 2700.0, "device": "CPU (2 cores)",
             "reloaded": True, "backend": "tensorflow", "date": "2026-11-22"},
            {"name": "dense_cifar10", "epochs": 20, "seconds": 98.0, "device": "CPU (2 cores)",
             "reloaded": False, "backend": "tensorflow", "date": "2026-11-22"}]
    record = {"profile": "full", "date": "2026-11-22", "keras": "3", "backend": "tensorflow", "backend_version": "2",
              "device": "CPU (2 cores)", "duration_s": 240.0, "runs": runs}
    timings = {"full": {"duration_s": 240.0, "device": "CPU (2 cores)", "backend": "tensorflow",
                        "date": "2026-11-22", "runs": runs}}
    text = run.record_text(record, timings, "08_cifar10")
    assert "reloaded 1 saved run(s): training everything from scratch took 46.6 min" in text
    assert "`vgg_style_cifar10`: 30 epochs in 45.0 min on CPU (2 cores)" in text
    assert "dense_cifar10" not in text, "a run trained during the recording is not listed as reloaded"
    assert "**quick**: not recorded yet" in text


def test_a_cpu_run_names_the_cores_its_process_may_use(monkeypatch):
    monkeypatch.setattr(config, "accelerator", lambda: None)
    monkeypatch.setattr(config.os, "sched_getaffinity", lambda pid: {1}, raising=False)
    assert config.device_description() == "CPU (1 core)"  # pinned with taskset to one of the machine's cores
    monkeypatch.setattr(config.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert config.device_description() == "CPU (4 cores)"


COMPILE_A_SMALL_MODEL = """
import numpy as np, keras, cnncourse
model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                          keras.layers.Dense(2)])
model.compile(optimizer="sgd", loss="mse")
model.fit(np.zeros((4, 8, 8, 1), "float32"), np.zeros((4, 2), "float32"), verbose=0)
"""


def _compile_in_a_new_process(cache, **environment):
    variables = {name: value for name, value in os.environ.items() if name != "JAX_COMPILATION_CACHE_DIR"}
    variables.update(CNNCOURSE_CACHE=str(cache), **environment)
    finished = subprocess.run([sys.executable, "-c", COMPILE_A_SMALL_MODEL], env=variables, capture_output=True,
                              text=True)
    assert finished.returncode == 0, finished.stderr[-2000:]


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="only JAX compiles whole programs ahead of time")
def test_on_jax_compiled_programs_are_kept_in_the_course_cache_unless_the_user_chose_one(tmp_path):
    _compile_in_a_new_process(tmp_path / "cache")
    kept = list((tmp_path / "cache" / "jax-compiled").iterdir())
    assert kept, "no compiled program was kept in the course's cache"
    _compile_in_a_new_process(tmp_path / "other", JAX_COMPILATION_CACHE_DIR=str(tmp_path / "theirs"),
                              JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")
    assert not (tmp_path / "other" / "jax-compiled").exists(), "the user's own JAX cache was overridden"
    theirs = tmp_path / "theirs"
    assert theirs.is_dir() and list(theirs.iterdir()), "the user's JAX cache was not used"


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="this checks the other backends")
def test_other_backends_keep_no_jax_cache(tmp_path):
    assert config.keep_jax_compilations(tmp_path / "jax-compiled") is False
