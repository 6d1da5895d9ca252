"""Fixtures and file-damaging helpers shared by the test modules.

The helpers are plain functions, so that ``parametrize`` can list them:
``from conftest import flip_bytes, truncate``.
"""

import re

import pytest


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """Runs are saved under the test's own temporary cache folder, never the user's."""
    monkeypatch.setenv("CNNCOURSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "weights"


def _unwrap(text: str) -> str:
    return re.sub(r"\n +", " ", text)


@pytest.fixture
def unwrap():
    """Join cc's wrapped notes back into single lines before searching them for a phrase:
    where a note wraps depends on its wording, which can depend on library versions."""
    return _unwrap


def truncate(path):
    """Cut a file to half its length, as an interrupted download or copy would."""
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_bytes(path, count=64, bits=0xFF):
    """XOR ``count`` bytes from the middle of a file with ``bits``: the size stays, the content does not.

    ``count=1, bits=0x01`` flips a single bit, the smallest damage a checksum must still catch.
    """
    content = bytearray(path.read_bytes())
    for offset in range(count):
        content[len(content) // 2 + offset] ^= bits
    path.write_bytes(bytes(content))
