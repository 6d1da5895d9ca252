"""Fixtures shared by the test modules."""

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
