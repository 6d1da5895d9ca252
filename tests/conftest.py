"""Fixtures shared by the test modules."""

import re

import pytest


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """Runs are saved under the test's own temporary cache folder, never the user's."""
    monkeypatch.setenv("CNNCOURSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "weights"


@pytest.fixture
def printed(capsys):
    """Read what the test printed, with cc's wrapped notes joined back into single lines
    (where a note wraps depends on its wording, which can depend on library versions)."""
    def read() -> str:
        return re.sub(r"\n +", " ", capsys.readouterr().out)
    return read
