"""Fixtures and file-damaging helpers shared by the test modules.

The helpers are plain functions, so that ``parametrize`` can list them:
``from conftest import flip_bytes, tiny_convnet, truncate``.
"""

import re

import pytest

from cnncourse import data

SESSION_CACHE = data.cache_folder()  # the cache this test session started with (CI fills it first)


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """Runs are saved under the test's own temporary cache folder, never the user's."""
    monkeypatch.setenv("CNNCOURSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "weights"


@pytest.fixture
def decoded_datasets(private_cache):
    """The private cache links to the datasets already decoded in the session's cache, so a test that loads
    a whole dataset does not decode it again (about 15 s for CIFAR-10). Links are only read or replaced:
    tests that damage a cache file make their own."""
    folder = private_cache.parent
    folder.mkdir(parents=True, exist_ok=True)
    for decoded in SESSION_CACHE.glob("*.npz"):
        (folder / decoded.name).symlink_to(decoded)


def _unwrap(text: str) -> str:
    return re.sub(r"\n +", " ", text)


@pytest.fixture
def unwrap():
    """Join cc's wrapped notes back into single lines before searching them for a phrase:
    where a note wraps depends on its wording, which can depend on library versions."""
    return _unwrap


def tiny_convnet(input_shape=(8, 8, 1), classes=10, filters=2, activation="softmax"):
    """A network that builds in milliseconds: one convolution ("conv"), then a dense output layer ("out")."""
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input(input_shape), keras.layers.Conv2D(filters, 3, name="conv"),
                             keras.layers.Flatten(name="flat"),
                             keras.layers.Dense(classes, activation=activation, name="out")], name="tiny")


def truncate(path):
    """Cut a file to half its length, as an interrupted download or copy would."""
    assert not path.is_symlink(), f"{path} links to a shared file (decoded_datasets): damage a copy"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_bytes(path, count=64, bits=0xFF):
    """XOR ``count`` bytes from the middle of a file with ``bits``: the size stays, the content does not.

    ``count=1, bits=0x01`` flips a single bit, the smallest damage a checksum must still catch.
    """
    assert not path.is_symlink(), f"{path} links to a shared file (decoded_datasets): damage a copy"
    content = bytearray(path.read_bytes())
    for offset in range(count):
        content[len(content) // 2 + offset] ^= bits
    path.write_bytes(bytes(content))
