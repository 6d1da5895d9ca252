"""The HTML book builds with zero warnings and shows every chapter with figures."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cnncourse import _record as run

REPOSITORY = Path(__file__).resolve().parent.parent


@pytest.mark.book
def test_book_builds_without_warnings():
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    shutil.rmtree(REPOSITORY / "_build" / "html", ignore_errors=True)
    shutil.rmtree(REPOSITORY / "_build" / ".doctrees", ignore_errors=True)
    result = subprocess.run(
        [str(jupyter_book), "build", str(REPOSITORY), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, timeout=1200,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"jupyter-book build failed:\n{log[-6000:]}"
    assert "WARNING" not in log, f"the build printed warnings:\n{log[-6000:]}"
    html = REPOSITORY / "_build" / "html"
    assert (html / "index.html").exists()
    for number, path in enumerate(run.chapter_paths(), start=1):
        page = (html / "chapters" / f"{path.stem}.html").read_text()
        assert "Outputs recorded with the" in page, f"{path.stem}: the run record is not shown"
        assert "<img" in page, f"{path.stem}: no figure on the page"
        exercises = sum(cell.source.count("> **Exercise** (`") for cell in nbformat.read(path, as_version=4).cells)
        numbers = re.findall(r'caption-number">Exercise (\d+)\.(\d+) ', page)
        assert numbers == [(str(number), str(k)) for k in range(1, exercises + 1)], (
            f"{path.stem}: the exercise boxes are not numbered {number}.1 to {number}.{exercises}: {numbers}")
