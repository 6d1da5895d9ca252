"""What each Makefile target hands to the programs it starts: explorers on for a learner, off when unattended."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.backend_independent  # no backend code: `make test` runs it, the other CI jobs skip it

REPOSITORY = Path(__file__).resolve().parents[1]
TARGETS = {"lab": None, "book": None, "unit": "off", "test": "off", "run-quick": "off", "train-full": "off",
           "run-full": "off"}


@pytest.fixture
def fake_venv(tmp_path):
    """A virtualenv whose programs only print the environment they were started with."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    for program in ("python", "jupyter", "jupyter-book"):
        script = venv / "bin" / program
        script.write_text('#!/bin/sh\necho "CNNCOURSE_WIDGETS=${CNNCOURSE_WIDGETS-unset}"\n')
        script.chmod(0o755)
    (venv / ".installed").touch()  # newer than the requirements: nothing to install
    return venv


@pytest.mark.parametrize("target, expected", TARGETS.items())
def test_only_unattended_targets_switch_the_explorers_off(fake_venv, tmp_path, target, expected):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("CNNCOURSE_WIDGETS", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    finished = subprocess.run(
        ["make", "-s", "-C", str(REPOSITORY), target, f"VENV={fake_venv}", f"CI_NOTEBOOKS={tmp_path / 'ci'}",
         f"TRAIN_LOG={tmp_path / 'train-full.log'}"],
        env=environment, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    values = {line.split("=", 1)[1] for line in finished.stdout.splitlines() if line.startswith("CNNCOURSE_WIDGETS=")}
    assert values == {expected or "unset"}, finished.stdout
