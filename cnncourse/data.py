"""Datasets, offline first, canonical always.

``load("fashion_mnist")`` looks for the raw files in this order and says which
it used: an explicit ``data_dir``, the folder named by ``CNNCOURSE_DATA``,
system packages (Debian's ``dataset-fashion-mnist``), the Keras cache, and
finally the canonical download through ``keras.utils.get_file``. Every raw file
is checked against its SHA-256 before use, so a truncated or corrupt copy is
reported instead of silently training on garbage. Decoded arrays are cached as
``.npz`` (``CNNCOURSE_CACHE``, default ``~/.cache/cnncourse``).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import json
import lzma
import os
import pickle
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

from cnncourse import _text, _validate

__all__ = [
    "CACHE_ENVIRONMENT_VARIABLE",
    "CHROMA_SUBSAMPLINGS",
    "CIFAR10_CLASSES",
    "DATASETS",
    "DATA_ENVIRONMENT_VARIABLE",
    "DataIntegrityError",
    "DataNotFoundError",
    "Dataset",
    "DatasetSpec",
    "HORSES_OR_HUMANS_CLASSES",
    "OFFLINE_ENVIRONMENT_VARIABLE",
    "RawFile",
    "SCALES",
    "SPLITS",
    "StoredFormat",
    "arrays_sha256",
    "cache_all",
    "cache_folder",
    "load",
    "jpeg_copy",
    "locate",
    "sample_photograph",
    "scale_pixels",
    "sha256_of",
    "source_of",
]

DATA_ENVIRONMENT_VARIABLE = "CNNCOURSE_DATA"
CACHE_ENVIRONMENT_VARIABLE = "CNNCOURSE_CACHE"
OFFLINE_ENVIRONMENT_VARIABLE = "CNNCOURSE_OFFLINE"
SCALES = ("unit", "centered", "none")
SPLITS = ("train", "test")


class DataIntegrityError(ValueError):
    """A data file exists but is not the file it claims to be."""


class DataNotFoundError(FileNotFoundError):
    """No place held the dataset and it could not be downloaded."""


@dataclasses.dataclass(frozen=True)
class RawFile:
    """One file of a stored format, with the checksum that proves it intact."""

    name: str
    sha256: str | None  # None: no file checksum; the decoded arrays are held to the dataset's arrays_sha256
    url: str | None = None


@dataclasses.dataclass(frozen=True)
class StoredFormat:
    """One way a dataset is stored on disk, and how to decode it."""

    key: str
    description: str
    folder_names: tuple[str, ...]
    files: dict  # split -> tuple[RawFile, ...]; a split may share files with another
    decode: Callable  # (paths: dict split -> list[Path]) -> dict split -> (images, labels)


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    name: str
    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]
    formats: tuple[StoredFormat, ...]
    split_sizes: dict  # split -> number of images in the official split
    system_folders: tuple[str, ...] = ()
    arrays_sha256: str | None = None  # of the decoded official arrays: every lossless copy must give exactly these
    split_names: tuple[str, str] = ("training", "test")  # what the dataset's authors call the two splits


# ---------------------------------------------------------------- decoders


def _read_idx(path: Path) -> np.ndarray:
    """Decode one gzipped IDX file (the MNIST family's format)."""
    with gzip.open(path, "rb") as stream:
        content = stream.read()
    magic = int.from_bytes(content[0:4], "big")
    if magic not in (2049, 2051):
        raise DataIntegrityError(f"{path} is not an IDX label or image file (magic number {magic})")
    dimensions = magic - 2048
    shape = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(dimensions))
    offset = 4 + 4 * dimensions
    expected = int(np.prod(shape))
    if len(content) - offset != expected:
        raise DataIntegrityError(
            f"{path} holds {len(content) - offset} values but its header promises {expected}: "
            "the file is truncated; delete it and load again"
        )
    return np.frombuffer(content, dtype=np.uint8, offset=offset).reshape(shape)


def _decode_idx(paths: dict) -> dict:
    return {
        split: (_read_idx(images)[..., np.newaxis], _read_idx(labels).astype(np.int64))
        for split, (images, labels) in paths.items()
    }


def _decode_keras_npz(paths: dict) -> dict:
    decoded = {}
    for split, (path,) in paths.items():
        with np.load(path, allow_pickle=False) as arrays:
            decoded[split] = (arrays[f"x_{split}"][..., np.newaxis], arrays[f"y_{split}"].astype(np.int64))
    return decoded


CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def _read_cifar_binary(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch of the official binary format: records of 1 label byte + 3,072 pixel bytes (R, G, B planes)."""
    opener = lzma.open if path.name.endswith(".xz") else open
    with opener(path, "rb") as stream:
        content = np.frombuffer(stream.read(), dtype=np.uint8)
    if content.size % 3073:
        raise DataIntegrityError(f"{path.name} holds {content.size:,} bytes, not a whole number of 3,073-byte "
                                 "CIFAR-10 records: the file is truncated; replace it")
    records = content.reshape(-1, 3073)
    return records[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), records[:, 0].astype(np.int64)


def _decode_cifar_binary(paths: dict) -> dict:
    """Decode ``data_batch_1.bin`` ... ``test_batch.bin`` (plain or xz-compressed), in the official order."""
    decoded = {}
    for split, split_paths in paths.items():
        batches = [_read_cifar_binary(path) for path in split_paths]
        decoded[split] = (np.concatenate([images for images, _ in batches]),
                          np.concatenate([labels for _, labels in batches]))
    return decoded


def _decode_cifar_python(paths: dict) -> dict:
    """Decode the original ``cifar-10-python.tar.gz`` (pickled batches)."""
    batch_names = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
    decoded = {}
    for split, (path,) in paths.items():
        batches = []
        if path.is_dir():  # the folder Keras extracts the archive into
            for name in batch_names[split]:
                with open(next(path.rglob(name)), "rb") as stream:
                    batches.append(pickle.load(stream, encoding="bytes"))
        else:
            with tarfile.open(path, "r:gz") as archive:
                for name in batch_names[split]:
                    member = archive.getmember(f"cifar-10-batches-py/{name}")
                    batches.append(pickle.load(archive.extractfile(member), encoding="bytes"))
        images = np.concatenate([batch[b"data"] for batch in batches]).reshape(-1, 3, 32, 32)
        labels = np.concatenate([batch[b"labels"] for batch in batches]).astype(np.int64)
        decoded[split] = (images.transpose(0, 2, 3, 1), labels)
    return decoded


HORSES_OR_HUMANS_CLASSES = ("horses", "humans")
HORSES_OR_HUMANS_SIZE = 100  # source 002's input size


def _resized(picture) -> np.ndarray:
    """The one resize every copy of Horses or Humans goes through (the mirror's README gives the same line)."""
    from PIL import Image

    size = (HORSES_OR_HUMANS_SIZE, HORSES_OR_HUMANS_SIZE)
    if picture.size != size:
        picture = picture.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    return np.asarray(picture.convert("RGB"))


def _decode_horses_or_humans(paths: dict) -> dict:
    """Decode the photographs, class by class and name by name (a fixed order, whatever the file system's).

    Each split is one folder ``<class>/NAME.png`` (the course's 100x100 mirror)
    or one of the two official zips of 300x300 originals, resized on the way.
    The mirror's ``SHA256SUMS`` (verified itself) vouches for every picture.
    """
    from PIL import Image

    decoded = {}
    for split, split_paths in paths.items():
        source = split_paths[0]
        pictures = []  # (class index, name, pixels)
        if source.name == "SHA256SUMS":
            folder = source.parent / ("train" if split == "train" else "validation")
            sums = dict(line.split()[::-1] for line in source.read_text().splitlines() if line.strip())
            for path in sorted(folder.glob("*/*.png")):
                key = f"{folder.name}/{path.parent.name}/{path.name}"
                if key not in sums:
                    raise DataIntegrityError(f"{key} is not listed in SHA256SUMS: remove it, or re-copy the mirror")
                if sha256_of(path) != sums[key]:
                    raise DataIntegrityError(f"{key} does not match its SHA-256 in SHA256SUMS: re-copy the mirror")
                with Image.open(path) as picture:
                    pictures.append((path.parent.name, path.name, _resized(picture)))
        else:
            with zipfile.ZipFile(source) as archive:
                for member in archive.namelist():
                    parts = member.split("/")
                    if len(parts) >= 2 and member.endswith(".png") and parts[-2] in HORSES_OR_HUMANS_CLASSES:
                        with Image.open(io.BytesIO(archive.read(member))) as picture:
                            pictures.append((parts[-2], parts[-1], _resized(picture)))
        pictures.sort(key=lambda item: (item[0], item[1]))
        for class_name, name, _ in pictures:
            if class_name not in HORSES_OR_HUMANS_CLASSES:
                raise DataIntegrityError(f"unexpected class folder {class_name!r} ({name})")
        decoded[split] = (np.stack([pixels for _, _, pixels in pictures]),
                          np.asarray([HORSES_OR_HUMANS_CLASSES.index(c) for c, _, _ in pictures], dtype=np.int64))
    return decoded


# ---------------------------------------------------------------- registry

_KERAS_DATASETS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
_HORSES_URL = "https://storage.googleapis.com/learning-datasets/"


def _idx_format(folder_names, hashes, url=None, description="IDX .gz files (the official distribution)"):
    names = {
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }
    files = {
        split: tuple(RawFile(name, hashes[name], url and url + name) for name in split_names)
        for split, split_names in names.items()
    }
    return StoredFormat("idx", description, folder_names, files, _decode_idx)


_MNIST_IDX_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
_FASHION_MNIST_IDX_SHA256 = {
    "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
_MNIST_NPZ = RawFile(
    "mnist.npz", "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1", _KERAS_DATASETS_URL + "mnist.npz"
)
_CIFAR_BINARY_SHA256 = {  # of the official cifar-10-batches-bin files, decompressed, and of the mirror's .xz copies
    "data_batch_1.bin": "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",
    "data_batch_2.bin": "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",
    "data_batch_3.bin": "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",
    "data_batch_4.bin": "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",
    "data_batch_5.bin": "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",
    "test_batch.bin": "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b",
    "data_batch_1.bin.xz": "d5de7683d3f827a5b44cc75966e019999d0781c69e5bfecaa9de8f927fc9b821",
    "data_batch_2.bin.xz": "5b187343b57341c2b066ceee964e3481a496136f2460a4ae76f237014b38b69c",
    "data_batch_3.bin.xz": "0ed5710714413aefe35b4428c23d1bac3e7a4450ec6659213de5296fab4d4e84",
    "data_batch_4.bin.xz": "704bae5cf5360e26e8631f05e3bc75e807e2a040ece7385919eaab8608e48b57",
    "data_batch_5.bin.xz": "6f7f8d25d795532348c38e7417fc88f91898c2281bbc6ffbf424e9392c1807cf",
    "test_batch.bin.xz": "6f98fa4aa6bc45118bc106e07a8e07eb403609364ddaca1ee739d9127c68b291",
}


def _cifar_binary_format(suffix: str, description: str) -> StoredFormat:
    names = {"train": [f"data_batch_{i}.bin{suffix}" for i in range(1, 6)], "test": [f"test_batch.bin{suffix}"]}
    files = {split: tuple(RawFile(name, _CIFAR_BINARY_SHA256[name]) for name in split_names)
             for split, split_names in names.items()}
    return StoredFormat(f"binary{suffix.replace('.', '-')}", description,
                        ("cifar10", "cifar-10-batches-bin", ""), files, _decode_cifar_binary)


_CIFAR_ARCHIVE = RawFile(
    "cifar-10-python.tar.gz",
    "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
    "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
)

DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        class_names=tuple(str(digit) for digit in range(10)),
        image_shape=(28, 28, 1),
        split_sizes={"train": 60_000, "test": 10_000},
        formats=(
            _idx_format(("mnist", ""), _MNIST_IDX_SHA256),
            StoredFormat(
                "keras-npz",
                "Keras's mnist.npz",
                ("",),
                {"train": (_MNIST_NPZ,), "test": (_MNIST_NPZ,)},
                _decode_keras_npz,
            ),
        ),
        arrays_sha256="1e35582d42a90940c55b956deb61875c020b567ed20e3c5b174f52bf7809ed9b",
    ),
    "fashion_mnist": DatasetSpec(
        name="fashion_mnist",
        class_names=(
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
        ),
        image_shape=(28, 28, 1),
        split_sizes={"train": 60_000, "test": 10_000},
        formats=(
            _idx_format(("fashion-mnist", "fashion_mnist", ""), _FASHION_MNIST_IDX_SHA256, _KERAS_DATASETS_URL),
        ),
        system_folders=("/usr/share/datasets/fashion-mnist",),
        arrays_sha256="ece172613115fb18b120bec8f6c02271af90b8b8f0a5af5c51cbd5ceed68e619",
    ),
    "cifar10": DatasetSpec(
        name="cifar10",
        class_names=CIFAR10_CLASSES,
        image_shape=(32, 32, 3),
        split_sizes={"train": 50_000, "test": 10_000},
        formats=(
            _cifar_binary_format(".xz", "the original CIFAR-10 (binary batches, xz-compressed)"),
            _cifar_binary_format("", "the original CIFAR-10 (binary batches)"),
            StoredFormat(
                "python",
                "the original CIFAR-10 (python pickles)",
                ("", "cifar10", "cifar-10"),
                {"train": (_CIFAR_ARCHIVE,), "test": (_CIFAR_ARCHIVE,)},
                _decode_cifar_python,
            ),
            StoredFormat(
                "keras-extracted",
                "the original CIFAR-10, as extracted by keras.datasets.cifar10",
                ("cifar-10-batches-py-target", "cifar-10-batches-py"),
                {"train": (RawFile(".", None),), "test": (RawFile(".", None),)},
                _decode_cifar_python,
            ),
        ),
        arrays_sha256="6b3883dca6c867f1e58def548c063d1865569b8575fcbce06b3e468a89f9895a",
    ),
    "horses_or_humans": DatasetSpec(
        name="horses_or_humans",
        class_names=HORSES_OR_HUMANS_CLASSES,
        image_shape=(HORSES_OR_HUMANS_SIZE, HORSES_OR_HUMANS_SIZE, 3),
        split_sizes={"train": 1_027, "test": 256},
        split_names=("training", "validation"),
        formats=(
            StoredFormat(
                "png-100",
                "Horses or Humans, resized to 100x100 (PNG files listed in SHA256SUMS)",
                ("horses-or-humans", ""),
                {split: (RawFile("SHA256SUMS", "6a8affe063fd101497a5b2f7d71ff8db47d27309e8d40be0577356229b582b0e"),)
                 for split in SPLITS},
                _decode_horses_or_humans,
            ),
            StoredFormat(
                "zip",
                "Horses or Humans, the official 300x300 zips resized to 100x100",
                ("horses-or-humans", ""),
                {"train": (RawFile("horse-or-human.zip", None, _HORSES_URL + "horse-or-human.zip"),),
                 "test": (RawFile("validation-horse-or-human.zip", None,
                                  _HORSES_URL + "validation-horse-or-human.zip"),)},
                _decode_horses_or_humans,
            ),
        ),
        arrays_sha256="a87a886934c84d2451bc21ce297b65cf27b78098341b088dbe36043ae41ff5e2",
    ),
}


# ---------------------------------------------------------------- the loaded dataset


@dataclasses.dataclass
class Dataset:
    """Images as ``(N, height, width, channels)`` arrays, labels as integers."""

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    source: str
    notes: list[str] = dataclasses.field(default_factory=list)
    lossy: bool = False  # re-encoded with a lossy codec (``jpeg_copy``)
    carved_from_test_split: bool = False  # train and test both cut from the official test split
    test_split_name: str = "test"  # Horses or Humans calls its held-out split "validation"
    copy: str = ""  # which copy of the dataset: the stored format read, or a lossy re-encoding of it

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.train_images.shape[1:])

    def validation_split(self, fraction: float = 0.1, seed: int = 0):
        """Hold out a stratified part of the *training* data for validation.

        The test set stays untouched until the very end: choosing epochs or
        models on it would make the final test number optimistic.
        """
        fraction = _validate.fraction(fraction, "fraction")
        seed = _validate.seed(seed)
        count = len(self.train_labels)
        held = round(fraction * count)
        if not 1 <= held <= count - 1:
            raise ValueError(f"fraction={fraction!r} of {count:,} training images holds out {held:,}, which leaves "
                             f"{'no validation' if held < 1 else 'no training'} images; choose a fraction between "
                             f"{1 / count:.3g} and {1 - 1 / count:.3g}, such as 0.1")
        held_out = _stratified_indices(self.train_labels, held, seed)
        kept = np.setdiff1d(np.arange(len(self.train_labels)), held_out)
        kept = np.random.default_rng(seed).permutation(kept)
        return (
            self.train_images[kept], self.train_labels[kept],
            self.train_images[held_out], self.train_labels[held_out],
        )

    def describe(self) -> str:
        """The data in a line, for a run's record: name, copy, splits and sizes."""
        copy = self.copy or self.source
        if self.carved_from_test_split:
            copy += ", the official test split carved in two"
        return (f"{self.name}: {copy}; {len(self.train_labels):,} training and {len(self.test_labels):,} "
                f"{self.test_split_name} images")

    def __str__(self) -> str:
        height, width, channels = self.image_shape
        lines = [
            f"{self.name}: {len(self.train_labels):,} training and {len(self.test_labels):,} "
            f"{self.test_split_name} images, "
            f"{height}x{width}x{channels}, {self.num_classes} classes, pixels {self.train_images.dtype} "
            f"in [{self.train_images.min():g}, {self.train_images.max():g}]",
            f"source: {self.source}",
        ]
        lines += [f"note: {note}" for note in self.notes]
        return _text.wrap("\n".join(lines))


# ---------------------------------------------------------------- looking for files


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, read a megabyte at a time."""
    path = _validate.path(path, "path", kind="file", example="train-images-idx3-ubyte.gz")
    if not path.is_file():
        raise ValueError(f"path {str(path)!r} is not a file")
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, raw_file: RawFile) -> None:
    if raw_file.sha256 is None:
        return
    actual = sha256_of(path)
    if actual != raw_file.sha256:
        raise DataIntegrityError(
            f"checksum mismatch for {path}: its SHA-256 is {actual}, expected {raw_file.sha256}. "
            "The file is corrupt, truncated or a different version; delete or replace it "
            "(re-copy the mirror, or remove it so the loader downloads a fresh copy)."
        )


def _keras_cache_folder() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets"


def _places(spec: DatasetSpec, data_dir) -> list[tuple[str, Path]]:
    """Where to look, in order, each with the reason it is on the list."""
    places = []
    if data_dir is not None:
        places.append(("data_dir argument", _validate.path(data_dir, "data_dir", kind="folder",
                                                           example="../shared/data")))
    if os.environ.get(DATA_ENVIRONMENT_VARIABLE):
        places.append((f"{DATA_ENVIRONMENT_VARIABLE} folder", Path(os.environ[DATA_ENVIRONMENT_VARIABLE]).expanduser()))
    places += [("system package", Path(folder)) for folder in spec.system_folders]
    places.append(("Keras cache", _keras_cache_folder()))
    return places


def _find_split(stored: StoredFormat, split: str, place: Path) -> list[Path] | None:
    """The paths of one split's files in ``place`` (or a named subfolder), if all exist."""
    for folder_name in stored.folder_names:
        folder = place / folder_name if folder_name else place
        paths = [folder / raw_file.name for raw_file in stored.files[split]]
        if all(path.exists() for path in paths):
            return [path.resolve() for path in paths]
    return None


def _download(spec: DatasetSpec) -> tuple[StoredFormat, dict] | None:
    """Fetch the canonical files through Keras; None if no format has URLs."""
    import keras

    _keras_cache_folder().mkdir(parents=True, exist_ok=True)  # else get_file silently falls back to /tmp
    for stored in spec.formats:
        raw_files = {raw_file for files in stored.files.values() for raw_file in files}
        if not all(raw_file.url for raw_file in raw_files):
            continue
        fetched = {
            raw_file: Path(
                keras.utils.get_file(
                    raw_file.name, origin=raw_file.url, file_hash=raw_file.sha256,
                    cache_dir=str(_keras_cache_folder().parent),
                    cache_subdir=os.path.join("datasets", stored.folder_names[0]),
                )
            )
            for raw_file in raw_files
        }
        return stored, {split: [fetched[f] for f in files] for split, files in stored.files.items()}
    return None


def locate(name: str, data_dir=None, *, allow_download: bool | None = None, test_only_fallback: bool = False):
    """Find a dataset's raw files: ``(format, paths by split, where)``.

    A split missing everywhere (offline MNIST has only its test split) is
    allowed with ``test_only_fallback``; the caller then carves a training
    set out of the test images and says so.
    """
    spec = _spec(name)
    test_only_fallback = _validate.flag(test_only_fallback, "test_only_fallback")
    if allow_download is None:
        allow_download = os.environ.get(OFFLINE_ENVIRONMENT_VARIABLE, "") in ("", "0")
    allow_download = _validate.flag(allow_download, "allow_download")
    looked, test_only = [], None
    for reason, place in _places(spec, data_dir):
        for stored in spec.formats:
            found = {split: _find_split(stored, split, place) for split in SPLITS}
            if all(found.values()):
                return stored, found, _place_in_words(reason, place)
            if found["test"] and test_only is None:
                test_only = (stored, {"test": found["test"]}, _place_in_words(reason, place))
        looked.append(f"  - {place} ({reason}), and its subfolders {_subfolders(spec)}")
    download_note = "downloads are switched off (CNNCOURSE_OFFLINE is set)"
    if allow_download:
        try:
            downloaded = _download(spec)
        except Exception as error:  # offline, proxy, server down: say so, then fall back
            download_note = f"the canonical download failed: {error}"
        else:
            if downloaded:
                stored, paths = downloaded
                return stored, paths, "the Keras cache (downloaded through keras.utils.get_file)"
            download_note = "no canonical download is registered for this dataset"
    if test_only_fallback and test_only:
        return test_only
    expected = sorted({raw.name for stored in spec.formats for files in stored.files.values() for raw in files
                       if raw.name != "."})  # "." is a whole extracted folder, named among the subfolders above
    raise DataNotFoundError(
        f"could not find the {name} dataset. Looked in:\n" + "\n".join(looked)
        + f"\n  - the canonical download: {download_note}\n"
        f"Files that count: {', '.join(expected)}.\n"
        f"To fix: connect to the internet and run again, or point {DATA_ENVIRONMENT_VARIABLE} "
        "(or data_dir=) at a folder that holds them, e.g. the course's offline mirror."
        + ("\nOnly the test split was found; pass test_only_fallback=True to train on part of it."
           if test_only else "")
    )


def _place_in_words(reason: str, place: Path) -> str:
    """Where data came from, without this machine's paths (they end up on the book's pages)."""
    if reason == "system package":
        return f"{place} (system package)"
    return f"the {reason}"


def _subfolders(spec: DatasetSpec) -> str:
    names = sorted({name for stored in spec.formats for name in stored.folder_names if name})
    return ", ".join(f"{name}/" for name in names)


def _spec(name) -> DatasetSpec:
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string such as 'mnist', got {type(name).__name__}")
    if name not in DATASETS:
        raise ValueError(f"unknown dataset name {name!r}; choose one of: {', '.join(DATASETS)}")
    return DATASETS[name]


# ---------------------------------------------------------------- decoding with a cache


def cache_folder() -> Path:
    return Path(os.environ.get(CACHE_ENVIRONMENT_VARIABLE, Path.home() / ".cache" / "cnncourse")).expanduser()


def _decoded(spec: DatasetSpec, stored: StoredFormat, paths: dict) -> dict:
    """Verify every raw file, then decode it, or read the decoded cache if it is intact."""
    digests = []
    for split, split_paths in paths.items():
        for path, raw_file in zip(split_paths, stored.files[split]):
            _verify(path, raw_file)
            digests.append(raw_file.sha256 or f"{path}:{path.stat().st_mtime_ns}")
    key = hashlib.sha256("|".join([stored.key, *sorted(paths), *digests]).encode()).hexdigest()[:16]
    cache_file = cache_folder() / f"{spec.name}-{stored.key}-{key}.npz"
    if cache_file.exists():
        try:
            return _read_cache(cache_file, spec, tuple(paths))
        except (DataIntegrityError, OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as error:
            _text.say(f"note: the decoded cache {cache_file.name} was damaged ({str(error).splitlines()[0][:120]}); "
                  "decoding the raw files again")
            _remove_damaged(cache_file)
    decoded = stored.decode(paths)
    _check_arrays(spec, decoded, f"decoded from {stored.description}")
    if spec.arrays_sha256 and set(decoded) == set(SPLITS) and arrays_sha256(decoded) != spec.arrays_sha256:
        raise DataIntegrityError(
            f"{spec.name} decoded from {stored.description} gives other pixels or labels (or another order) than "
            f"the official dataset: the arrays' SHA-256 is {arrays_sha256(decoded)}, expected {spec.arrays_sha256}. "
            "Replace the files with the official ones (or the course's mirror), or delete them so the loader "
            "downloads them")
    _write_cache(cache_file, decoded)
    return decoded


def _remove_damaged(cache_file: Path) -> None:
    """Remove whatever stands where a cache file should be (a damaged file, a folder, a link), or say how."""
    try:
        if cache_file.is_dir() and not cache_file.is_symlink():
            shutil.rmtree(cache_file)
        else:
            cache_file.unlink(missing_ok=True)
    except OSError as error:
        raise DataIntegrityError(f"the decoded cache {cache_file} is damaged and could not be removed ({error}); "
                                 "remove it by hand and run again") from None


def _check_arrays(spec: DatasetSpec, decoded: dict, origin: str) -> None:
    """Refuse arrays that contradict the dataset: counts, shapes, dtypes, label and pixel ranges."""
    for split, (images, labels) in decoded.items():
        problem = None
        if images.dtype != np.uint8:
            problem = f"pixels are {images.dtype}, expected uint8 in [0, 255] (already scaled?)"
        elif images.ndim != 4 or images.shape[1:] != spec.image_shape:
            problem = f"images have shape {images.shape}, expected (N, {', '.join(map(str, spec.image_shape))})"
        elif labels.ndim != 1 or len(labels) != len(images):
            problem = f"{len(images)} images but labels of shape {labels.shape}"
        elif len(images) != spec.split_sizes[split]:
            problem = f"{len(images):,} images, the official split has {spec.split_sizes[split]:,}"
        elif not np.issubdtype(labels.dtype, np.integer):
            problem = f"labels are {labels.dtype}, expected integers"
        elif labels.min() < 0 or labels.max() >= len(spec.class_names):
            problem = f"labels run from {labels.min()} to {labels.max()}, expected 0 to {len(spec.class_names) - 1}"
        if problem:
            raise DataIntegrityError(f"{spec.name} {split} split {origin}: {problem}")


def _array_digest(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def arrays_sha256(decoded: dict) -> str:
    """One SHA-256 of a dataset's arrays (training images and labels, then test), as uint8 pixels and int64 labels.

    Two copies of a dataset are the same data exactly when this agrees: same
    pixels, same labels, same order. Every lossless copy the loader reads
    (the mirror, the canonical download) is held to the official value.
    """
    if not isinstance(decoded, dict) or set(decoded) != set(SPLITS) or not all(
            isinstance(pair, tuple) and len(pair) == 2 for pair in decoded.values()):
        raise TypeError(f"decoded must be a dict {{'train': (images, labels), 'test': (images, labels)}} as the "
                        f"loader decodes a dataset, got {type(decoded).__name__}")
    digest = hashlib.sha256()
    for split in SPLITS:
        images, labels = decoded[split]
        digest.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
        digest.update(np.ascontiguousarray(labels, dtype="<i8").tobytes())
    return digest.hexdigest()


def _write_cache(cache_file: Path, decoded: dict) -> None:
    """Write the decoded arrays with a manifest of their checksums, atomically.

    Each writer uses its own temporary file and renames it into place, so
    several processes filling an empty cache at once never see half a file.
    """
    arrays = {f"{split}_{kind}": array for split, (images, labels) in decoded.items()
              for kind, array in (("images", images), ("labels", labels))}
    manifest = {name: {"sha256": _array_digest(array), "shape": list(array.shape), "dtype": str(array.dtype)}
                for name, array in arrays.items()}
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=cache_file.parent, prefix=f".{cache_file.stem}-", suffix=".partial")
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, manifest=np.array(json.dumps(manifest)), **arrays)
        os.chmod(temporary, 0o644)
        os.replace(temporary, cache_file)
    except OSError:
        pass  # a read-only home only costs the decoding time next run


def _read_cache(cache_file: Path, spec: DatasetSpec, splits) -> dict:
    """The cached arrays, after checking them against their manifest and the dataset's spec."""
    with np.load(cache_file, allow_pickle=False) as stored:
        manifest = json.loads(str(stored["manifest"]))
        decoded = {split: (stored[f"{split}_images"], stored[f"{split}_labels"]) for split in splits}
    for split, arrays in decoded.items():
        for kind, array in zip(("images", "labels"), arrays):
            expected = manifest[f"{split}_{kind}"]
            if list(array.shape) != expected["shape"] or str(array.dtype) != expected["dtype"] \
                    or _array_digest(array) != expected["sha256"]:
                raise DataIntegrityError(f"{split}_{kind} does not match the checksum written with it")
    _check_arrays(spec, decoded, f"in the cache {cache_file.name}")
    return decoded


# ---------------------------------------------------------------- subsets and scaling


def _stratified_indices(labels: np.ndarray, size: int, seed: int) -> np.ndarray:
    """``size`` indices whose class proportions match ``labels`` (largest remainder)."""
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts / counts.sum() * size
    take = np.floor(exact).astype(int)
    for position in np.argsort(exact - take)[::-1][: size - take.sum()]:
        take[position] += 1
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(labels == label), count, replace=False) for label, count in zip(classes, take)]
    return rng.permutation(np.concatenate(chosen))


def _check_size(value, split: str, available: int | None):
    if value is None:
        return available
    if not _validate.is_integer(value):
        raise TypeError(f"{split}_size must be an int or None, got {value!r}")
    if value < 10:
        raise ValueError(f"{split}_size={value} is too small: choose at least 10 images, or None for all of them")
    if available is not None and value > available:
        raise ValueError(
            f"{split}_size={value} is out of range: choose between 10 and {available:,} "
            f"(the {split} images available), or None for all of them"
        )
    return int(value)


def scale_pixels(images, scale: str = "unit") -> np.ndarray:
    """uint8 pixels as ``load(scale=...)`` gives them: float32 in [0, 1] (``"unit"``), in [-0.5, 0.5]
    (``"centered"``), or unchanged (``"none"``).

    Load with ``scale="none"``, keep the images you need, then scale only
    those: a float32 copy of a whole dataset takes four times the memory.
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        kind = f"an array of {images.dtype}" if isinstance(images, np.ndarray) else type(images).__name__
        raise TypeError(f"images must be a NumPy array of uint8 pixels, as load(..., scale=\"none\") gives them; "
                        f"got {kind}")
    scale = _validate.one_of(scale, SCALES, "scale")
    if scale == "none":
        return images
    scaled = images.astype(np.float32)  # one new array, scaled in place
    scaled /= 255.0
    if scale == "centered":
        scaled -= 0.5
    return scaled


def load(
    name: str,
    *,
    scale: str = "unit",
    train_size: int | None = None,
    test_size: int | None = None,
    seed: int = 0,
    data_dir=None,
    test_only_fallback: bool = False,
    allow_download: bool | None = None,
    verbose: bool = True,
) -> Dataset:
    """Load a dataset as NumPy arrays, from the first place that has it.

    ``scale``: ``"unit"`` divides by 255 into [0, 1]; ``"centered"`` gives
    [-0.5, 0.5] (as some sources do); ``"none"`` keeps the uint8 pixels.
    ``train_size``/``test_size`` take stratified random subsets (same class
    proportions), which is how the quick profile stays quick.
    """
    spec = _spec(name)
    scale = _validate.one_of(scale, SCALES, "scale")  # now, before any decoding (scale_pixels uses it later)
    seed = _validate.seed(seed)
    for size, split in ((train_size, "train"), (test_size, "test")):
        _check_size(size, split, available=None)  # the kind of value now, before any decoding
    stored, paths, where = locate(name, data_dir, allow_download=allow_download, test_only_fallback=test_only_fallback)
    decoded = _decoded(spec, stored, paths)
    notes = []
    if "train" not in decoded:
        images, labels = decoded["test"]
        carved_test = _stratified_indices(labels, len(labels) // 5, seed=12345)
        carved_train = np.setdiff1d(np.arange(len(labels)), carved_test)
        carved_train = np.random.default_rng(12345).permutation(carved_train)
        decoded = {"train": (images[carved_train], labels[carved_train]), "test": (images[carved_test], labels[carved_test])}
        notes.append(
            f"the {name} training split was not available, so this is the official {len(labels):,}-image TEST "
            f"split cut in two (stratified): {len(carved_train):,} images to train on and {len(carved_test):,} "
            "to test on. Numbers from it are not comparable with results on the official split."
        )
    subsets = {}
    for split, size in (("train", train_size), ("test", test_size)):
        images, labels = decoded[split]
        wanted = _check_size(size, split, len(labels))
        if wanted < len(labels):
            chosen = _stratified_indices(labels, wanted, seed)
            images, labels = images[chosen], labels[chosen]
        subsets[split] = (scale_pixels(images, scale), labels)
    dataset = Dataset(
        name=name,
        train_images=subsets["train"][0], train_labels=subsets["train"][1],
        test_images=subsets["test"][0], test_labels=subsets["test"][1],
        class_names=spec.class_names,
        source=f"{stored.description}, from {where}",
        notes=notes,
        carved_from_test_split="train" not in paths,
        test_split_name=spec.split_names[1],
        copy=stored.description,
    )
    _LOADED_TEST_SETS[_test_set_key(dataset.test_images, dataset.test_labels)] = dataset.describe()
    if verbose:
        print(dataset)
    return dataset


_LOADED_TEST_SETS: dict = {}  # a test set's fingerprint -> which data it came from, for run records


def _test_set_key(images, labels) -> str:
    """A fingerprint of a test set: all its labels and its first images (a lossy copy has the same labels)."""
    digest = hashlib.sha256(np.ascontiguousarray(labels, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(np.asarray(images)[:8]).tobytes())
    return digest.hexdigest()


def source_of(test_images, test_labels) -> str | None:
    """Which loaded dataset this test set is, in words (``Dataset.describe``); None if none loaded here.

    Lets a run record name its data without every chapter passing the
    dataset along: a test set's labels and pixels identify the load that gave them.
    """
    _validate.same_length(_validate.finite_array(test_images, "test_images", as_float=False),
                          _validate.class_labels(test_labels, "test_labels"), "test_images", "test_labels")
    return _LOADED_TEST_SETS.get(_test_set_key(test_images, test_labels))


CHROMA_SUBSAMPLINGS = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}  # Pillow's codes


def jpeg_copy(dataset: Dataset, *, quality: int = 75, chroma_subsampling: str = "4:2:0") -> Dataset:
    """The same dataset with every image saved as a JPEG and read back: what a lossy copy costs, measurable.

    JPEG describes each 8x8 block as patterns from coarse to fine and stores the
    fine ones coarsely (``quality`` sets how coarsely); with ``"4:2:0"`` it keeps
    one colour sample per 2x2 pixels. Pillow's encoder makes the copy. The
    labels and order stay; only pixels change. Works on datasets loaded with
    ``scale="unit"`` or ``scale="none"``; the copy has the same scale.
    """
    from PIL import Image

    if not isinstance(dataset, Dataset):
        raise TypeError(f"jpeg_copy takes a dataset returned by cc.data.load, got {type(dataset).__name__}")
    quality = _validate.integer(quality, "quality", minimum=1, example="75")
    if quality > 95:
        raise ValueError(f"quality must be between 1 and 95 (Pillow's useful range), got {quality}")
    subsampling = CHROMA_SUBSAMPLINGS.get(_validate.one_of(chroma_subsampling, tuple(CHROMA_SUBSAMPLINGS),
                                                           "chroma_subsampling"))

    def recode(images: np.ndarray) -> np.ndarray:
        if images.dtype == np.uint8:
            pixels = images
        elif np.issubdtype(images.dtype, np.floating) and images.min() >= 0 and images.max() <= 1:
            pixels = np.rint(images * 255).astype(np.uint8)
        else:
            raise ValueError(f"jpeg_copy needs pixels in [0, 255] (scale='none') or [0, 1] (scale='unit'); "
                             f"these run from {images.min():g} to {images.max():g}: load with scale='unit'")
        out = np.empty_like(pixels)
        for index, image in enumerate(pixels):
            buffer = io.BytesIO()
            Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image).save(
                buffer, format="JPEG", quality=quality, subsampling=subsampling)
            out[index] = np.asarray(Image.open(buffer)).reshape(image.shape)
        return out if images.dtype == np.uint8 else scale_pixels(out)

    copy = dataclasses.replace(
        dataset, train_images=recode(dataset.train_images), test_images=recode(dataset.test_images),
        copy=f"{dataset.copy or dataset.source}, saved as JPEG (quality {quality}, {chroma_subsampling} chroma) "
             "and read back",
        source=f"{dataset.source}, saved as JPEG (quality {quality}, {chroma_subsampling} chroma) and read back",
        notes=[*dataset.notes, "a lossy copy: its accuracies are not those of the original dataset"],
        lossy=True,
    )
    _LOADED_TEST_SETS[_test_set_key(copy.test_images, copy.test_labels)] = copy.describe()
    return copy


def sample_photograph(grayscale: bool = False) -> np.ndarray:
    """A real photograph that works offline: Grace Hopper, shipped with Matplotlib.

    The US Navy portrait is in the public domain and is part of every
    Matplotlib installation, so filter demonstrations need no download.
    Returns uint8 pixels, (H, W, 3), or (H, W) with ``grayscale=True``.
    """
    from matplotlib import cbook
    from PIL import Image

    grayscale = _validate.flag(grayscale, "grayscale")
    with cbook.get_sample_data("grace_hopper.jpg") as stream, Image.open(stream) as picture:
        return np.asarray(picture.convert("L" if grayscale else "RGB"))


def cache_all(names=tuple(DATASETS)) -> None:
    """Decode and cache datasets ahead of time (CI runs this before the chapters)."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)) or not names \
            or not all(isinstance(name, str) and name in DATASETS for name in names):
        raise TypeError(f"names must be a list of dataset names from {list(DATASETS)}, got {names!r}")
    for name in names:
        try:
            load(name, test_only_fallback=True)
        except DataNotFoundError as error:
            _text.say(f"{name}: not available here ({str(error).splitlines()[0]})")
