"""The offline-first loader: lookup order, checksums, subsets, scaling, errors."""

import dataclasses
import functools
import gzip
import hashlib
import io
import lzma
import os
import pickle
import shutil
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from cnncourse import data
from conftest import flip_bytes, truncate

MIRROR = Path(os.environ.get("CNNCOURSE_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
needs_mirror = pytest.mark.skipif(not (MIRROR / "fashion-mnist").is_dir(), reason="offline mirror not present")
# The real datasets' files decode the same whatever the backend: `make test` reads them, the other CI jobs do not
# (their chapters load the data too). The small made-up datasets below run in every job.
real_files = pytest.mark.backend_independent


def _write_idx(path: Path, array: np.ndarray) -> None:
    magic = 2051 if array.ndim == 3 else 2049
    header = magic.to_bytes(4, "big") + b"".join(size.to_bytes(4, "big") for size in array.shape)
    with gzip.open(path, "wb") as stream:
        stream.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_dataset(tmp_path, monkeypatch, private_cache):
    """A registered 4-class dataset of 8x8 IDX files whose checksums we know; the cache is tmp_path / "cache"."""
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
    kept = raw.train_images[::3]  # subset first, then scale: the very pixels load would have given
    for scale, loaded in (("unit", unit), ("centered", centered), ("none", raw)):
        scaled = data.scale_pixels(kept, scale)
        assert scaled.dtype == loaded.train_images.dtype
        np.testing.assert_array_equal(scaled, loaded.train_images[::3])
    with pytest.raises(TypeError, match="uint8 pixels"):
        data.scale_pixels(unit.train_images)  # scaled twice would be a silent 1/255


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
@real_files
def test_mirror_fashion_mnist_is_verified_and_complete(private_cache):
    loaded = data.load("fashion_mnist", data_dir=MIRROR, allow_download=False, verbose=False)
    assert loaded.train_images.shape == (60_000, 28, 28, 1) and loaded.test_images.shape == (10_000, 28, 28, 1)
    assert np.bincount(loaded.train_labels).tolist() == [6_000] * 10


@needs_mirror
@real_files
def test_deleting_a_byte_from_a_mirrored_file_fails_with_a_checksum_error(tmp_path, private_cache):
    copy = tmp_path / "mirror"
    shutil.copytree(MIRROR / "fashion-mnist", copy / "fashion-mnist")
    target = copy / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"
    content = target.read_bytes()
    target.chmod(0o644)
    target.write_bytes(content[:100] + content[101:])
    with pytest.raises(data.DataIntegrityError, match="checksum mismatch.*t10k-labels-idx1-ubyte.gz"):
        data.load("fashion_mnist", data_dir=copy, allow_download=False, verbose=False)


@needs_mirror
@real_files
def test_mnist_with_only_its_test_split_falls_back_to_carving_it_only_when_asked(monkeypatch, tmp_path, private_cache):
    test_only = tmp_path / "mnist"
    test_only.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(MIRROR / "mnist" / name, test_only / name)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras-cache"))
    monkeypatch.delenv("CNNCOURSE_DATA", raising=False)
    with pytest.raises(data.DataNotFoundError, match="Only the test split was found"):
        data.load("mnist", data_dir=tmp_path, allow_download=False, verbose=False)
    loaded = data.load("mnist", data_dir=tmp_path, allow_download=False, verbose=False, test_only_fallback=True)
    assert len(loaded.train_labels) == 8_000 and len(loaded.test_labels) == 2_000
    assert any("TEST split" in note for note in loaded.notes) and loaded.carved_from_test_split


@needs_mirror
@real_files
def test_the_mirror_has_the_official_mnist_splits(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras-cache"))
    loaded = data.load("mnist", data_dir=MIRROR, allow_download=False, verbose=False, scale="none")
    assert (len(loaded.train_labels), len(loaded.test_labels)) == (60_000, 10_000)
    assert loaded.train_labels[:5].tolist() == [5, 0, 4, 1, 9] and not loaded.carved_from_test_split


CIFAR10_PUBLISHED_MD5 = {  # of the official cifar-10-batches-bin files (the mirror's README lists them)
    "data_batch_1.bin": "5dd7e06a14cb22eb9f671a540d1b7c25", "data_batch_2.bin": "5ea93a67294ea407fff1d09f752e9692",
    "data_batch_3.bin": "942cd6a4bcdd0dd3c604fbe906cb4421", "data_batch_4.bin": "ae636b3ba5c66a11e91e8cb52e771fcb",
    "data_batch_5.bin": "53f37980c15c3d472c316c40844f3f0d", "test_batch.bin": "803d5f7f4d78ea53de84dbe85f74fb6d",
}


@needs_mirror
@pytest.mark.parametrize("name", sorted(CIFAR10_PUBLISHED_MD5))
@real_files
def test_the_mirrored_cifar10_batches_are_the_official_files(name):
    with lzma.open(MIRROR / "cifar10" / f"{name}.xz", "rb") as stream:
        assert hashlib.md5(stream.read()).hexdigest() == CIFAR10_PUBLISHED_MD5[name]


@needs_mirror
@real_files
def test_cifar10_loads_the_original_batches_in_the_official_order(monkeypatch):
    loaded = data.load("cifar10", data_dir=MIRROR, allow_download=False, verbose=False, scale="none")
    assert "original CIFAR-10" in loaded.source and not loaded.lossy and not loaded.notes
    assert loaded.train_labels[:5].tolist() == [6, 9, 9, 4, 1] and loaded.test_labels[:5].tolist() == [3, 8, 8, 0, 6]
    assert np.bincount(loaded.train_labels).tolist() == [5_000] * 10
    arrays = {"train": (loaded.train_images, loaded.train_labels), "test": (loaded.test_images, loaded.test_labels)}
    assert data.arrays_sha256(arrays) == data.DATASETS["cifar10"].arrays_sha256


def _cifar_arrays(count, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, count)


def _write_binary_batch(path, images, labels, compress):
    records = np.concatenate([labels.astype(np.uint8)[:, None],
                              images.transpose(0, 3, 1, 2).reshape(len(images), -1)], axis=1)
    (lzma.open if compress else open)(path, "wb").write(records.tobytes())


def _write_python_archive(path, batches):
    with tarfile.open(path, "w:gz") as archive:
        for name, (images, labels) in batches.items():
            content = pickle.dumps({b"data": images.transpose(0, 3, 1, 2).reshape(len(images), -1),
                                    b"labels": labels.tolist()})
            member = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            member.size = len(content)
            archive.addfile(member, io.BytesIO(content))


@pytest.mark.parametrize("compress", [True, False], ids=["xz", "plain"])
def test_binary_and_pickled_cifar10_batches_decode_to_the_same_arrays_in_the_same_order(tmp_path, compress):
    """The mirror's format and the canonical download's, written from the same tiny arrays."""
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {name: _cifar_arrays(7, seed) for seed, name in enumerate(names)}
    suffix = ".bin.xz" if compress else ".bin"
    for name, (images, labels) in batches.items():
        _write_binary_batch(tmp_path / f"{name}{suffix}", images, labels, compress)
    _write_python_archive(tmp_path / "cifar-10-python.tar.gz", batches)
    binary = data._decode_cifar_binary({"train": [tmp_path / f"{name}{suffix}" for name in names[:5]],
                                        "test": [tmp_path / f"test_batch{suffix}"]})
    pickled = data._decode_cifar_python({split: [tmp_path / "cifar-10-python.tar.gz"] for split in ("train", "test")})
    for split in ("train", "test"):
        np.testing.assert_array_equal(binary[split][0], pickled[split][0])
        np.testing.assert_array_equal(binary[split][1], pickled[split][1])
    np.testing.assert_array_equal(binary["train"][0][7:14], batches["data_batch_2"][0])  # batch order kept
    assert data.arrays_sha256(binary) == data.arrays_sha256(pickled)


def test_a_truncated_binary_batch_is_an_error(tmp_path):
    images, labels = _cifar_arrays(3, 0)
    _write_binary_batch(tmp_path / "test_batch.bin", images, labels, compress=False)
    path = tmp_path / "test_batch.bin"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(data.DataIntegrityError, match="not a whole number"):
        data._decode_cifar_binary({"test": [path]})


def test_the_mnist_npz_and_the_idx_files_decode_to_the_same_arrays(tmp_path):
    """Keras's mnist.npz (the canonical download) against the IDX files (the mirror), from the same arrays."""
    rng = np.random.default_rng(0)
    arrays = {split: (rng.integers(0, 256, (count, 28, 28), dtype=np.uint8), rng.integers(0, 10, count))
              for split, count in (("train", 12), ("test", 5))}
    np.savez(tmp_path / "mnist.npz", **{f"{kind}_{split}": array for split, pair in arrays.items()
                                       for kind, array in zip("xy", pair)})
    for split, prefix in (("train", "train"), ("test", "t10k")):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", arrays[split][0])
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", arrays[split][1])
    idx = data._decode_idx({split: [tmp_path / f"{prefix}-images-idx3-ubyte.gz",
                                    tmp_path / f"{prefix}-labels-idx1-ubyte.gz"]
                            for split, prefix in (("train", "train"), ("test", "t10k"))})
    npz = data._decode_keras_npz({split: [tmp_path / "mnist.npz"] for split in ("train", "test")})
    assert data.arrays_sha256(idx) == data.arrays_sha256(npz)


def test_a_copy_that_decodes_to_other_arrays_than_the_official_ones_is_refused(tiny_dataset, monkeypatch):
    spec = data.DATASETS["tiny"]
    monkeypatch.setitem(data.DATASETS, "tiny", dataclasses.replace(spec, arrays_sha256="0" * 64))
    with pytest.raises(data.DataIntegrityError, match="other pixels or labels"):
        data.load("tiny", data_dir=tiny_dataset, allow_download=False, verbose=False)


@needs_mirror
@real_files
def test_horses_or_humans_loads_source_002s_data_at_its_input_size(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "no-keras-cache"))
    loaded = data.load("horses_or_humans", data_dir=MIRROR, allow_download=False, verbose=False)
    assert loaded.train_images.shape == (1_027, 100, 100, 3) and loaded.test_images.shape == (256, 100, 100, 3)
    assert np.bincount(loaded.train_labels).tolist() == [500, 527]
    assert np.bincount(loaded.test_labels).tolist() == [128, 128]
    assert loaded.class_names == ("horses", "humans") and "256 validation images" in str(loaded)


def test_the_official_horses_or_humans_zips_decode_like_the_mirror(tmp_path):
    """The online path: 300x300 RGBA originals in a zip, resized once, in the mirror's order."""
    from PIL import Image

    rng = np.random.default_rng(0)
    originals = {f"{kind}/{kind[:-1]}{index:02d}.png": rng.integers(0, 256, (300, 300, 4), dtype=np.uint8)
                 for kind in ("humans", "horses") for index in (2, 1)}
    originals = {name: np.concatenate([pixels[..., :3], np.full((300, 300, 1), 255, np.uint8)], axis=-1)
                 for name, pixels in originals.items()}
    folder = tmp_path / "validation"
    sums = []
    with zipfile.ZipFile(tmp_path / "originals.zip", "w") as archive:
        for name, pixels in originals.items():
            buffer = io.BytesIO()
            Image.fromarray(pixels, "RGBA").save(buffer, format="PNG")
            archive.writestr(name, buffer.getvalue())
            resized = Image.fromarray(pixels, "RGBA").convert("RGB").resize((100, 100), Image.Resampling.LANCZOS)
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            resized.save(folder / name)
            sums.append(f"{data.sha256_of(folder / name)}  validation/{name}")
    (tmp_path / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    zipped = data._decode_horses_or_humans({"test": [tmp_path / "originals.zip"]})["test"]
    mirrored = data._decode_horses_or_humans({"test": [tmp_path / "SHA256SUMS"]})["test"]
    np.testing.assert_array_equal(zipped[0], mirrored[0])
    assert zipped[1].tolist() == mirrored[1].tolist() == [0, 0, 1, 1]
    (folder / "horses" / "horse01.png").write_bytes(b"not the file that was listed")
    with pytest.raises(data.DataIntegrityError, match="does not match its SHA-256"):
        data._decode_horses_or_humans({"test": [tmp_path / "SHA256SUMS"]})


def test_a_jpeg_copy_changes_pixels_not_labels_and_says_it_is_lossy(tiny_rgb_dataset):
    copy = data.jpeg_copy(tiny_rgb_dataset, quality=75, chroma_subsampling="4:2:0")
    assert copy.lossy and "JPEG (quality 75, 4:2:0 chroma)" in copy.source
    assert "JPEG" in data.source_of(copy.test_images, copy.test_labels), "a run on the copy names the copy"
    assert data.source_of(tiny_rgb_dataset.test_images, tiny_rgb_dataset.test_labels) is None, "not loaded here"
    np.testing.assert_array_equal(copy.train_labels, tiny_rgb_dataset.train_labels)
    assert copy.train_images.dtype == tiny_rgb_dataset.train_images.dtype
    difference = np.abs(copy.train_images - tiny_rgb_dataset.train_images).mean()
    finer = np.abs(data.jpeg_copy(tiny_rgb_dataset, quality=95, chroma_subsampling="4:4:4").train_images
                   - tiny_rgb_dataset.train_images).mean()
    assert 0 < finer < difference


@pytest.mark.parametrize("arguments, error, message", [
    ({"quality": 0}, ValueError, "quality must be at least 1"),
    ({"quality": 100}, ValueError, "between 1 and 95"),
    ({"quality": 7.5}, TypeError, "quality must be an integer"),
    ({"chroma_subsampling": "420"}, ValueError, "chroma_subsampling must be one of"),
])
def test_jpeg_copy_refuses_bad_settings(tiny_rgb_dataset, arguments, error, message):
    with pytest.raises(error, match=message):
        data.jpeg_copy(tiny_rgb_dataset, **arguments)


def test_jpeg_copy_takes_only_a_dataset():
    with pytest.raises(TypeError, match="dataset returned by cc.data.load"):
        data.jpeg_copy(np.zeros((2, 32, 32, 3)))


@pytest.fixture
def tiny_rgb_dataset():
    rng = np.random.default_rng(0)
    smooth = np.cumsum(rng.normal(size=(20, 32, 32, 3)), axis=1)
    images = ((smooth - smooth.min()) / np.ptp(smooth)).astype(np.float32)
    return data.Dataset(name="tiny", train_images=images[:16], train_labels=np.arange(16) % 4,
                        test_images=images[16:], test_labels=np.arange(4), class_names=tuple("abcd"),
                        source="generated")


# ---------------------------------------------------------------- the decoded cache cannot lie


def _cache_file(tiny_dataset) -> Path:
    data.load("tiny", data_dir=tiny_dataset, allow_download=False, verbose=False)
    (cache_file,) = (tiny_dataset / "cache").glob("tiny-*.npz")
    return cache_file


@pytest.mark.parametrize("damage", [truncate, functools.partial(flip_bytes, count=1, bits=0x01),
                                    lambda path: path.write_bytes(b""),
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
@real_files
def test_a_chapter_runs_through_a_damaged_cache(tmp_path, monkeypatch, private_cache, unwrap):
    """Chapter 04 (Fashion-MNIST) with its decoded cache bit-flipped: it rebuilds the cache, says so, and runs."""
    import nbformat
    import papermill

    monkeypatch.setenv("CNNCOURSE_DATA", str(MIRROR))
    monkeypatch.setenv("CNNCOURSE_WIDGETS", "off")
    data.load("fashion_mnist", verbose=False, allow_download=False)
    (cache_file,) = (tmp_path / "cache").glob("fashion_mnist-*.npz")
    flip_bytes(cache_file, count=1, bits=0x01)
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


def test_the_original_and_its_lossy_copy_are_named_apart(tiny_dataset):
    original = data.load("tiny", data_dir=tiny_dataset, allow_download=False, verbose=False)
    copy = data.jpeg_copy(original, quality=50)
    assert "JPEG" not in data.source_of(original.test_images, original.test_labels)
    assert "JPEG" in data.source_of(copy.test_images, copy.test_labels)
