"""The committed chapters: outputs of a real, current, top-to-bottom run.

nbval passes silently on a notebook without outputs, so these checks make
sure every chapter was executed in order, without errors, from the code that
is committed now (the run record's code hash).
"""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

from cnncourse import _record as run

REPOSITORY = Path(__file__).resolve().parent.parent
NOTEBOOKS = run.chapter_paths()


def _toc_files():
    toc = yaml.safe_load((REPOSITORY / "_toc.yml").read_text())
    return [entry["file"] for part in toc["parts"] for entry in part["chapters"]]


def test_every_chapter_is_in_the_table_of_contents_and_back():
    in_toc = {entry for entry in _toc_files() if entry.startswith("chapters/")}
    on_disk = {f"chapters/{path.stem}" for path in NOTEBOOKS}
    assert on_disk == in_toc, f"only on disk: {on_disk - in_toc}; only in _toc.yml: {in_toc - on_disk}"


def test_a_chapter_file_is_numbered_as_the_book_numbers_it():
    """Exercise 10.3 lives in 10_overfitting.ipynb: the book numbers chapters in table-of-contents order from 1."""
    chapters = [entry for entry in _toc_files() if entry.startswith("chapters/")]
    assert [int(entry.split("/")[1][:2]) for entry in chapters] == list(range(1, len(chapters) + 1)), chapters


@pytest.fixture(params=NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def notebook(request):
    chapter = nbformat.read(request.param, as_version=4)
    chapter.stem = request.param.stem  # in memory only: which chapter this is
    return chapter


def test_every_code_cell_ran_once_top_to_bottom(notebook):
    counts = [cell.execution_count for cell in run.code_cells(notebook)]
    assert None not in counts, f"{counts.count(None)} code cells were never executed"
    assert counts == sorted(counts) and len(set(counts)) == len(counts), f"out-of-order run: {counts}"


def test_no_stored_errors(notebook):
    errors = [output for cell in run.code_cells(notebook) for output in cell.outputs if output.output_type == "error"]
    assert not errors, f"stored error output: {errors[0].get('ename')}: {errors[0].get('evalue')}"


def test_stored_outputs_belong_to_the_current_code(notebook):
    record = notebook.metadata.get("cnncourse", {}).get("run")
    assert record, "no run record: execute the chapter with `python -m cnncourse`"
    assert record["code_hash"] == run.code_hash(notebook), (
        "the code changed after the recorded run; re-run it with `python -m cnncourse --profile quick <chapter>`"
    )
    assert record["profile"] in ("quick", "full")


def test_run_record_is_shown_at_the_top(notebook):
    course = notebook.metadata["cnncourse"]
    top = notebook.cells[:3]
    shown = [cell for cell in top if run.RECORD_TAG in cell.metadata.get("tags", [])]
    assert shown, "the run-record cell must sit right under the title"
    assert shown[0].source == run.record_text(course["run"], course["timings"], notebook.stem)
    folded = shown[0].source.split("<details")[0] + shown[0].source.split("</summary>")[1].split("</details>")[1]
    assert len([line for line in folded.splitlines() if line.strip()]) <= 1, "the record's details must be folded"


def test_no_injected_parameters_cell_is_stored(notebook):
    injected = [cell for cell in notebook.cells if run.INJECTED_TAG in cell.metadata.get("tags", [])]
    assert not injected, "papermill's injected parameters cell is stored: the run record keeps the parameters"


def test_chapter_structure(notebook):
    tagged = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell must be tagged `parameters` (papermill)"
    assert re.search(r'^profile: str = "auto"', tagged[0].source, re.M), "parameters must offer profile: str = \"auto\""
    sources = "\n".join(cell.source for cell in run.code_cells(notebook))
    assert "import cnncourse as cc" in sources
    assert not re.search(r"^\s*(import tensorflow|from tensorflow)", sources, re.M), "chapters must stay backend-agnostic"
    markdown = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    for heading in ("What you will learn", "Summary", "Exercises"):
        assert heading in markdown, f"missing the {heading!r} section"


def test_checked_cells_have_stored_outputs(notebook):
    checked = [cell for cell in run.code_cells(notebook) if "nbval-check-output" in cell.metadata.get("tags", [])]
    for cell in checked:
        assert cell.outputs, f"a checked cell has no stored output to compare with:\n{cell.source[:200]}"
    assert not any("NBVAL_CHECK_OUTPUT" in cell.source for cell in run.code_cells(notebook)), \
        "mark checked cells with the tag nbval-check-output, out of the reader's sight, not with a comment"


def test_the_colab_setup_cell_comes_from_config(notebook):
    """The repository address is written once, in _config.yml; recording copies it into every chapter."""
    cell = run.setup_cell(notebook)
    assert cell is not None, "every chapter starts with the Colab setup cell"
    recorded_with = notebook.metadata["cnncourse"]["run"]["cnncourse"]
    assert cell.source == run.setup_cell_source(version=recorded_with), \
        "the setup cell must install the cnncourse release the chapter was recorded with"
    assert re.search(rf"git\+\S+@v{re.escape(recorded_with)}\"", cell.source)
    assert run.repository_url() in cell.source
    assert not re.search(r"(keras|tensorflow|numpy)\s*[=<>]=", cell.source), "never pin what Colab already has"


def test_every_figure_cell_stored_its_figure(notebook):
    """A chapter recorded with a non-inline Matplotlib backend (MPLBACKEND=Agg) silently loses every figure."""
    for cell in run.code_cells(notebook):
        if re.search(r"^figure = cc\.plots\.", cell.source, re.M):
            kinds = {kind for output in cell.outputs for kind in output.get("data", {})}
            assert "image/png" in kinds, f"no stored figure for:\n{cell.source[:200]}"


def test_stored_outputs_are_for_readers(notebook):
    """No stderr, no machine paths, no raw Keras epoch logs, no placeholder text where a widget would be."""
    for cell in run.code_cells(notebook):
        for output in cell.outputs:
            assert output.get("name") != "stderr", f"a stderr stream is stored under:\n{cell.source[:200]}"
            text = output.get("text", "") + "".join(output.get("data", {}).get("text/plain", ""))
            for pattern, what in ((r"(/root/|/home/|/work/|/tmp/)", "a machine path"),
                                  (r"^Epoch \d+/\d+$", "a raw Keras epoch log (use cc.training.EpochProgress)"),
                                  (r"switched off in this unattended run", "explorer placeholder text")):
                assert not re.search(pattern, text, re.M), f"{what} in the output of:\n{cell.source[:200]}"
    assert not notebook.metadata.get("widgets"), "stale widget state is stored in the notebook metadata"


NOTE_PREFIXES = ("note:", "source:", "loaded '", "✅", "❌", "…", "Settings:", "Profile:")


def test_notes_fit_the_output_box(notebook):
    """cc's printed notes wrap at 76 characters, what the book's output box shows at 1280 px."""
    from cnncourse import _text

    for cell in run.code_cells(notebook):
        for output in cell.outputs:
            for line in output.get("text", "").splitlines():
                if line.lstrip().startswith(NOTE_PREFIXES):
                    assert len(line) <= _text.WIDTH, f"a note of {len(line)} characters: {line!r}"


def test_the_landing_page_is_current():
    """The chapter table and picture of intro.md come from the chapters' records (python -m cnncourse writes them)."""
    for page in run.PAGES_WITH_THE_TABLE:
        text = (REPOSITORY / page).read_text()
        assert run.chapter_table() in text, f"{page}'s chapter table is stale: run `python -m cnncourse --refresh-notes`"
    assert run.LANDING_PICTURE.read_bytes() == run.landing_picture_bytes(), "images/landing.png is not the stored figure"


def test_theme_options_name_the_same_repository():
    config = yaml.safe_load((REPOSITORY / "_config.yml").read_text())
    assert config["sphinx"]["config"]["html_theme_options"]["repository_url"] == config["repository"]["url"]


def test_every_single_figure_has_a_numbered_caption(notebook):
    """A cell that draws one figure names it (myst-nb's figure metadata), so the book numbers and captions it."""
    for cell in run.code_cells(notebook):
        images = sum("image/png" in output.get("data", {}) for output in cell.outputs)
        if images == 1:
            figure = cell.metadata.get("mystnb", {}).get("figure", {})
            assert figure.get("caption") and figure.get("name"), f"no caption for the figure of:\n{cell.source[:200]}"


MYST_ONLY = re.compile(r"^\s*(`{3,}|:{3,})\{[\w-]+\}|\{[\w:-]+\}`")


def test_markdown_reads_the_same_in_jupyterlab_and_colab(notebook):
    """MyST directives and roles show as raw text outside the book: chapters use the plain
    forms (`> **Exercise** (`label`)`, citation links) that _ext/notebook_markdown.py rewrites."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                assert not MYST_ONLY.search(line), f"MyST-only syntax, raw text in JupyterLab and Colab: {line!r}"
