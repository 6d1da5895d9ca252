"""The offline-first loader: lookup order, checksums, subsets, scaling, errors."""

import gzip
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from cnncourse import data

MIRROR = Path(os.environ.get("CNNCOURSE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_mirror = pytest.mark.skipif(not (MIRROR / "fashion-mnist").is_dir(), reason="offline mirror not present")


def _write_idx(path: Path, array: np.ndarray) -> None:
    magic = 2051 if array.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(size.to_bytes(4, "big") for size in array.shape)
    with gzip.open(path, "wb") as stream:
        stream.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_dataset(tmp_path, monkeypatch):
    """A registered 4-class dataset of 8x8 IDX files whose checksums we know."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "tiny"
    folder.mkdir()
    hashes = {}
    for prefix, count in (("train", 400), ("t10k", 100)):
        for kind, array in (
            ("images-idx3-ubyte.gz", rng.integers(0, 256, (count, 8, 8))),
            ("labels-idx1-ubyte.gz", np.repeat(np.arange(4), count // 4)),
        ):
            path = folder / f"{prefix}-{kind}"
            _write_idx(path, array)
            hashes[path.name] = data.sha256_of(path)
    spec = data.DatasetSpec(
        name="tiny", class_names=("a", "b", "c", "d"), image_shape=(8, 8, 1),
        formats=(data._idx_format(("tiny",), hashes),), split_sizes={"train": 400, "test": 100},
    )
    monkeypatch.setitem(data.DATASETS, "tiny", spec)
    monkeypatch.setenv("CNNCOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.delenv("CNNCOURSE_DATA", raising=False)
    return tmp_path


def test_loads_from_explicit_folder_and_says_so(tiny_dataset):
    loaded = data.load("tiny", data_dir=tiny_dataset, allow_download=False, verbose=False)
    assert loaded.train_images.shape == (400, 8, 8, 1) and loaded.test_images.shape == (100, 8, 8, 1)
    assert loaded.train_labels.dtype == np.int64
    assert "data_dir argument" in loaded.source


def test_environment_variable_is_the_second_place(tiny_dataset, monkeypatch):
    monkeypatch.setenv("CNNCOURSE_DATA", str(tiny_dataset))
    assert "CNNCOURSE_DATA folder" in data.load("tiny", allow_download=False, verbose=False).source


def test_explicit_folder_wins_over_environment_variable(tiny_dataset, monkeypatch, tmp_path_factory):
    other = tmp_path_factory.mktemp("other")
    shutil.copytree(tiny_dataset / "tiny", other / "tiny")
    monkeypatch.setenv("CNNCOURSE_DATA", str(tiny_dataset))
    assert "the data_dir argument" in data.load("tiny", data_dir=other, allow_download=False, verbose=False).source


def test_scaling_options(tiny_dataset):
    unit = data.load("tiny", data_dir=tiny_dataset, allow_download=False, verbose=False)
    centered = data.load("tiny", data_dir=tiny_dataset, scale="centered", allow_download=False, verbose=False)
    raw = data.load("tiny", data_dir=tiny_dataset, scale="none", allow_download=False, verbose=False)
    assert raw.train_images.dtype == np.uint8
    assert 0 <= unit.train_images.min() and unit.train_images.max() <= 1
    assert -0.5 <= centered.train_images.min() and centered.train_images.max() <= 0.5
    np.testing.assert_allclose(centered.train_images, unit.train_images - 0.5, atol=1e-6)
    np.testing.assert_allclose(unit.train_images * 255, raw.train_images, atol=1e-3)


def test_stratified_subsets_keep_class_shares_and_are_reproducible(tiny_dataset):
    first = data.load("tiny", data_dir=tiny_dataset, train_size=40, test_size=20, seed=3, verbose=False, allow_download=False)
    again = data.load("tiny", data_dir=tiny_dataset, train_size=40, test_size=20, seed=3, verbose=False, allow_download=False)
    other = data.load("tiny", data_dir=tiny_dataset, train_size=40, test_size=20, seed=4, verbose=False, allow_download=False)
    assert np.bincount(first.train_labels).tolist() == [10, 10, 10, 10]
    assert np.bincount(first.test_labels).tolist() == [5, 5, 5, 5]
    np.testing.assert_array_equal(first.train_images, again.train_images)
    assert not np.array_equal(first.train_images, other.train_images)


def test_validation_split_comes_from_training_data_only(tiny_dataset):
    loaded = data.load("tiny", data_dir=tiny_dataset, verbose=False, allow_download=False)
    train_images, train_labels, val_images, val_labels = loaded.validation_split(0.25)
    assert len(val_labels) == 100 and len(train_labels) == 300
    assert np.bincount(val_labels).tolist() == [25, 25, 25, 25]
    combined = np.concatenate([train_images, val_images]).reshape(400, -1)
    assert len(np.unique(combined, axis=0)) == len(np.unique(loaded.train_images.reshape(400, -1), axis=0))
    with pytest.raises(ValueError, match="between 0 and 1"):
        loaded.validation_split(1.5)


def test_decoded_arrays_are_cached(tiny_dataset):
    data.load("tiny", data_dir=tiny_dataset, verbose=False, allow_download=False)
    cached = list((tiny_dataset / "cache").glob("tiny-idx-*.npz"))
    assert len(cached) == 1


def test_truncated_file_is_a_checksum_error_not_silent_use(tiny_dataset):
    path = tiny_dataset / "tiny" / "train-labels-idx1-ubyte.gz"
    content = path.read_bytes()
    path.write_bytes(content[:10] + content[11:])  # delete one byte
    with pytest.raises(data.DataIntegrityError, match="checksum mismatch.*train-labels-idx1-ubyte.gz"):
        data.load("tiny", data_dir=tiny_dataset, verbose=False, allow_download=False)


def test_missing_data_offline_names_every_place_it_looked(tiny_dataset, tmp_path_factory, monkeypatch):
    empty = tmp_path_factory.mktemp("empty")
    monkeypatch.setenv("CNNCOURSE_DATA", str(tmp_path_factory.mktemp("also-empty")))
    with pytest.raises(data.DataNotFoundError) as raised:
        data.load("tiny", data_dir=empty, verbose=False, allow_download=False)
    message = str(raised.value)
    for expected in (str(empty), "data_dir argument", "CNNCOURSE_DATA folder", "Keras cache",
                     "canonical download", "To fix"):
        assert expected in message


def test_offline_environment_variable_switches_downloads_off(tiny_dataset, monkeypatch, tmp_path_factory):
    monkeypatch.setenv("CNNCOURSE_OFFLINE", "1")
    with pytest.raises(data.DataNotFoundError, match="downloads are switched off"):
        data.load("tiny", data_dir=tmp_path_factory.mktemp("empty"), verbose=False)


def _served_from(folder: Path, sha256=None) -> data.DatasetSpec:
    """The tiny dataset with canonical URLs pointing at local files (file://)."""
    spec = data.DATASETS["tiny"]
    stored = spec.formats[0]
    files = {
        split: tuple(data.RawFile(f.name, sha256 or f.sha256, (folder / f.name).as_uri()) for f in split_files)
        for split, split_files in stored.files.items()
    }
    served = data.StoredFormat(stored.key, stored.description, stored.folder_names, files, stored.decode)
    return data.DatasetSpec("tiny", spec.class_names, spec.image_shape, (served,), spec.split_sizes)


def test_canonical_download_path_runs_through_keras_get_file(tiny_dataset, monkeypatch):
    """The real download code, pointed at file:// URLs, verifies and caches."""
    served = tiny_dataset / "served"
    shutil.move(tiny_dataset / "tiny", served)
    monkeypatch.setitem(data.DATASETS, "tiny", _served_from(served))
    loaded = data.load("tiny", allow_download=True, verbose=False)
    assert "downloaded through keras.utils.get_file" in loaded.source
    assert (tiny_dataset / "keras-home" / "datasets" / "tiny" / "train-images-idx3-ubyte.gz").exists()
    # the next load finds the Keras cache and needs no download
    assert "Keras cache" in data.load("tiny", allow_download=False, verbose=False).source


def test_corrupt_download_is_rejected(tiny_dataset, monkeypatch):
    served = tiny_dataset / "served"
    shutil.move(tiny_dataset / "tiny", served)
    monkeypatch.setitem(data.DATASETS, "tiny", _served_from(served, sha256="0" * 64))
    with pytest.raises(data.DataNotFoundError, match="canonical download failed"):
        data.load("tiny", allow_download=True, verbose=False)


@pytest.mark.parametrize("arguments, error, message", [
    (dict(name="imagenet"), ValueError, "unknown dataset name 'imagenet'; choose one of: mnist, fashion_mnist, cifar10"),
    (dict(name=3), TypeError, "dataset name must be a string"),
    (dict(name="tiny", scale="0-255"), ValueError, "scale must be one of"),
    (dict(name="tiny", train_size=5), ValueError, "train_size=5 is too small"),
    (dict(name="tiny", test_size=1000), ValueError, "test_size=1000 is out of range"),
    (dict(name="tiny", train_size=12.5), TypeError, "train_size must be an int"),
    (dict(name="tiny", seed="zero"), TypeError, "seed must be an int"),
])
def test_bad_arguments_get_clear_errors(tiny_dataset, arguments, error, message):
    name = arguments.pop("name")
    with pytest.raises(error, match=message):
        data.load(name, data_dir=tiny_dataset, allow_download=False, verbose=False, **arguments)


@needs_mirror
def test_mirror_fashion_mnist_is_verified_and_complete(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNCOURSE_CACHE", str(tmp_path))
    loaded = data.load("fashion_mnist", data_dir=MIRROR, allow_download=False, verbose=False)
    assert loaded.train_images.shape == (60_000, 28, 28, 1) and loaded.test_images.shape == (10_000, 28, 28, 1)
    assert np.bincount(loaded.train_labels).tolist() == [6_000] * 10


@needs_mirror
def test_deleting_a_byte_from_a_mirrored_file_fails_with_a_checksum_error(tmp_path, monkeypatch):
    copy = tmp_path / "mirror"
    shutil.copytree(MIRROR / "fashion-mnist", copy / "fashion-mnist")
    target = copy / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    content = target.read_bytes()
    target.chmod(0o644)
    target.write_bytes(content[:100] + content[101:])
    monkeypatch.setenv("CNNCOURSE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(data.DataIntegrityError, match="checksum mismatch.*t10k-labels-idx1-ubyte.gz"):
        data.load("fashion_mnist", data_dir=copy, allow_download=False, verbose=False)


@needs_mirror
def test_offline_mnist_falls_back_to_the_test_split_only_when_asked(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras-cache"))
    monkeypatch.setenv("CNNCOURSE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(data.DataNotFoundError, match="Only the test split was found"):
        data.load("mnist", data_dir=MIRROR, allow_download=False, verbose=False)
    loaded = data.load("mnist", data_dir=MIRROR, allow_download=False, verbose=False, test_only_fallback=True)
    assert len(loaded.train_labels) == 8_000 and len(loaded.test_labels) == 2_000
    assert any("TEST split" in note for note in loaded.notes) and loaded.carved_from_test_split


@needs_mirror
def test_cifar10_jpeg_mirror_is_reported_as_lossy_and_shuffled(monkeypatch):
    loaded = data.load("cifar10", data_dir=MIRROR, train_size=1_000, test_size=100, allow_download=False, verbose=False)
    assert "JPEG" in loaded.source and any("lossy" in note for note in loaded.notes) and loaded.lossy
    assert loaded.train_images.shape == (1_000, 32, 32, 3)
    assert np.bincount(loaded.train_labels).tolist() == [100] * 10


# ---------------------------------------------------------------- the decoded cache cannot lie


def _cache_file(tiny_dataset) -> Path:
    data.load("tiny", data_dir=tiny_dataset, allow_download=False, verbose=False)
    (cache_file,) = (tiny_dataset / "cache").glob("tiny-*.npz")
    return cache_file


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_bit(path):
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))


@pytest.mark.parametrize("damage", [_truncate, _flip_a_bit, lambda path: path.write_bytes(b""),
                                    lambda path: path.write_bytes(np.random.default_rng(1).bytes(5000))],
                         ids=["truncated", "bit-flipped", "empty", "random bytes"])
def test_a_damaged_cache_is_rebuilt_with_a_note(tiny_dataset, capsys, unwrap, damage):
    cache_file = _cache_file(tiny_dataset)
    reference = data.load("tiny", data_dir=tiny_dataset, allow_download=False, verbose=False)
    damage(cache_file)
    capsys.readouterr()
    again = data.load("tiny", data_dir=tiny_dataset, allow_download=False, verbose=False)
    note = unwrap(capsys.readouterr().out)
    assert note.count("\n") == 1, "one note"
    assert "was damaged" in note and "decoding the raw files again" in note
    np.testing.assert_array_equal(again.train_images, reference.train_images)
    np.testing.assert_array_equal(again.test_labels, reference.test_labels)
    data.load("tiny", data_dir=tiny_dataset, allow_download=False, verbose=False)
    assert "damaged" not in capsys.readouterr().out, "the rebuilt cache is intact"


def _write_plausible_cache(cache_file, **arrays):
    """An .npz that opens fine and has a matching manifest, but whose content contradicts the dataset."""
    rng = np.random.default_rng(0)
    content = {"train_images": rng.integers(0, 256, (400, 8, 8, 1)).astype(np.uint8),
               "train_labels": np.repeat(np.arange(4), 100), "test_images": np.zeros((100, 8, 8, 1), np.uint8),
               "test_labels": np.repeat(np.arange(4), 25)}
    content.update(arrays)
    decoded = {split: (content[f"{split}_images"], content[f"{split}_labels"]) for split in ("train", "test")}
    data._write_cache(cache_file, decoded)


@pytest.mark.parametrize("arrays", [
    {"train_images": np.zeros((400, 9, 8, 1), np.uint8)},
    {"train_images": np.zeros((300, 8, 8, 1), np.uint8), "train_labels": np.zeros(300, np.int64)},
    {"train_labels": np.zeros(399, np.int64)},
    {"train_labels": np.repeat(np.arange(4), 100) + 1},
    {"train_labels": np.repeat(np.arange(4), 100) - 1},
    {"train_images": np.zeros((400, 8, 8, 1), np.float32)},
], ids=["wrong shape", "wrong count", "labels and images differ", "label too large", "negative label",
        "already scaled floats"])
def test_cached_arrays_that_contradict_the_dataset_are_never_returned(tiny_dataset, capsys, arrays):
    cache_file = _cache_file(tiny_dataset)
    reference = data.load("tiny", data_dir=tiny_dataset, allow_download=False, scale="none", verbose=False)
    _write_plausible_cache(cache_file, **arrays)
    capsys.readouterr()
    loaded = data.load("tiny", data_dir=tiny_dataset, allow_download=False, scale="none", verbose=False)
    assert "was damaged" in capsys.readouterr().out
    np.testing.assert_array_equal(loaded.train_images, reference.train_images)
    np.testing.assert_array_equal(loaded.train_labels, reference.train_labels)


def test_decoded_arrays_that_contradict_the_dataset_are_an_error(tiny_dataset, monkeypatch):
    spec = data.DATASETS["tiny"]
    monkeypatch.setitem(data.DATASETS, "tiny", data.DatasetSpec(
        name="tiny", class_names=("a", "b", "c"), image_shape=spec.image_shape, formats=spec.formats,
        split_sizes=spec.split_sizes))
    with pytest.raises(data.DataIntegrityError, match="labels run from 0 to 3, expected 0 to 2"):
        data.load("tiny", data_dir=tiny_dataset, allow_download=False, verbose=False)


_FILL_THE_CACHE = """
import sys
import numpy as np
from cnncourse import data
spec = data.DatasetSpec(name="tiny", class_names=("a", "b", "c", "d"), image_shape=(8, 8, 1),
                        formats=(data._idx_format(("tiny",), {hashes!r}),), split_sizes={{"train": 400, "test": 100}})
data.DATASETS["tiny"] = spec
loaded = data.load("tiny", data_dir=sys.argv[1], allow_download=False, verbose=False)
print(int(loaded.train_images.sum()))
"""


def test_several_processes_can_fill_an_empty_cache_at_once(tiny_dataset):
    import subprocess
    import sys

    hashes = {raw.name: raw.sha256 for raw in data.DATASETS["tiny"].formats[0].files["train"]
              + data.DATASETS["tiny"].formats[0].files["test"]}
    script = _FILL_THE_CACHE.format(hashes=hashes)
    environment = {**os.environ, "CNNCOURSE_CACHE": str(tiny_dataset / "cache")}
    for _ in range(2):
        shutil.rmtree(tiny_dataset / "cache", ignore_errors=True)
        processes = [subprocess.Popen([sys.executable, "-c", script, str(tiny_dataset)], env=environment,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(6)]
        results = [process.communicate(timeout=120) for process in processes]
        assert all(process.returncode == 0 for process in processes), [error for _, error in results]
        assert len({output for output, _ in results}) == 1, "every process read the same images"
        assert len(list((tiny_dataset / "cache").glob("tiny-*.npz"))) == 1
        assert not list((tiny_dataset / "cache").glob("*.partial")), "no half-written file is left behind"


@needs_mirror
@pytest.mark.slow
def test_a_chapter_runs_through_a_damaged_cache(tmp_path, monkeypatch, unwrap):
    """Chapter 04 (Fashion-MNIST) with its decoded cache bit-flipped: it rebuilds the cache, says so, and runs."""
    import nbformat
    import papermill

    monkeypatch.setenv("CNNCOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CNNCOURSE_DATA", str(MIRROR))
    monkeypatch.setenv("CNNCOURSE_WIDGETS", "off")
    data.load("fashion_mnist", verbose=False, allow_download=False)
    (cache_file,) = (tmp_path / "cache").glob("fashion_mnist-*.npz")
    _flip_a_bit(cache_file)
    chapter = Path(__file__).resolve().parents[1] / "chapters" / "05_pooling.ipynb"
    output = tmp_path / "04.ipynb"
    papermill.execute_notebook(str(chapter), str(output), parameters={"profile": "quick"}, cwd=str(chapter.parent),
                               kernel_name="python3", progress_bar=False)
    stored = "".join(out.get("text", "") for cell in nbformat.read(output, as_version=4).cells
                     if cell.cell_type == "code" for out in cell.outputs)
    stored = unwrap(stored)
    assert "was damaged" in stored and "decoding the raw files again" in stored


@pytest.mark.parametrize("standing_in", ["folder", "folder with files", "broken link"])
def test_whatever_stands_in_the_cache_files_place_is_cleared_and_healed(tiny_dataset, capsys, standing_in):
    cache_file = _cache_file(tiny_dataset)
    reference = data.load("tiny", data_dir=tiny_dataset, allow_download=False, verbose=False)
    cache_file.unlink()
    if standing_in == "broken link":
        cache_file.symlink_to(tiny_dataset / "nowhere")
    else:
        cache_file.mkdir()
        if standing_in == "folder with files":
            (cache_file / "inside.txt").write_text("x")
    if standing_in != "broken link":  # a dangling link does not "exist": the loader simply writes the file
        again = data.load("tiny", data_dir=tiny_dataset, allow_download=False, verbose=False)
        assert "was damaged" in capsys.readouterr().out
        np.testing.assert_array_equal(again.train_images, reference.train_images)
    data.load("tiny", data_dir=tiny_dataset, allow_download=False, verbose=False)
    assert cache_file.is_file() and "damaged" not in capsys.readouterr().out, "healed: a real cache file again"
