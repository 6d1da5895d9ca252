"""Fixtures shared by the test modules."""

import pytest


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """Runs are saved under the test's own temporary cache folder, never the user's."""
    monkeypatch.setenv("CNNCOURSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "weights"
