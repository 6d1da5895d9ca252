"""Course machinery: execute chapters with papermill and store their outputs with a run record.

    python -m cnncourse --profile quick                 # every chapter
    python -m cnncourse --profile full 07 08            # chosen chapters
    python -m cnncourse --profile quick 03 -p seed 1    # extra parameters
    python -m cnncourse --profile quick --prepare-only _build/ci-notebooks

The book shows stored outputs, so each notebook carries a record of the run
that made them (profile, backend, device, versions, date, duration and a hash
of its code cells) in its metadata and in a note at the top of the page. CI
compares that hash with the code to catch outputs that no longer match it.
"""

from __future__ import annotations

import argparse
import ast
import datetime
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from cnncourse import _runs, _text

REPOSITORY = Path(__file__).resolve().parent.parent
CHAPTERS = REPOSITORY / "chapters"
RECORD_TAG = "run-record"
RUN_LOG_ENVIRONMENT_VARIABLE = _runs.RUN_LOG_ENVIRONMENT_VARIABLE
INJECTED_TAG = "injected-parameters"


def _config_file(name: str = "_config.yml") -> dict:
    """A YAML file of the book (``_config.yml`` or ``_toc.yml``), read where it is written."""
    import yaml

    return yaml.safe_load((REPOSITORY / name).read_text())


def repository_url() -> str:
    """The course repository's address: ``repository.url`` in ``_config.yml``, the one place it is written."""
    return _config_file()["repository"]["url"]


def package_version() -> str:
    """The version of ``cnncourse`` in this checkout (``cnncourse.__version__``), which a recording pins."""
    from cnncourse import __version__

    return __version__


def setup_cell_source(url: str | None = None, version: str | None = None) -> str:
    """The first code cell of every chapter: installs ``cnncourse`` in Colab, does nothing elsewhere.

    It installs the release the chapter was recorded with (the tag
    ``v<version>``), so a notebook opened from an older copy of the course
    gets the package its outputs came from, not whatever is newest. Only the
    package is named: pip keeps Colab's own keras, tensorflow and numpy when
    they satisfy the package's lower bounds.
    """
    url = url or repository_url()
    version = version or package_version()
    return (
        "import sys\n\n"
        'if "google.colab" in sys.modules:  # Colab: install the course\'s helper package, keep Colab\'s Keras\n'
        "    import subprocess\n\n"
        '    subprocess.run([sys.executable, "-m", "pip", "install", "-q",\n'
        f'                    "cnncourse @ git+{url}@v{version}"], check=True)'
    )


def setup_cell(notebook):
    """The chapter's Colab setup cell (the first code cell that looks for google.colab), or None."""
    return next((cell for cell in code_cells(notebook) if "google.colab" in cell.source), None)


def sync_setup_cell(path: Path) -> None:
    """Rewrite a chapter's setup cell from ``_config.yml`` before it is recorded."""
    notebook = nbformat.read(path, as_version=4)
    cell = setup_cell(notebook)
    if cell is not None and cell.source != setup_cell_source():
        cell.source = setup_cell_source()
        nbformat.write(notebook, path)


def chapter_paths(selection=()) -> list[Path]:
    """Notebooks in ``chapters/`` whose file name starts with one of ``selection``."""
    notebooks = sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))
    if not selection:
        return notebooks
    chosen = []
    for wanted in selection:
        matches = [path for path in notebooks if path.name.startswith(Path(wanted).stem)]
        if not matches:
            names = ", ".join(path.stem for path in notebooks)
            raise SystemExit(f"no chapter matches {wanted!r}; chapters are: {names}")
        chosen += [path for path in matches if path not in chosen]
    return chosen


def code_cells(notebook) -> list:
    """The code cells that belong to the chapter (not papermill's injected one)."""
    return [
        cell for cell in notebook.cells
        if cell.cell_type == "code" and INJECTED_TAG not in cell.metadata.get("tags", [])
    ]


def code_hash(notebook) -> str:
    """Fingerprint of the chapter's code: stored outputs are valid for this hash only.

    The Colab setup cell is left out: it is written from ``_config.yml`` and
    the package version, prints nothing outside Colab, and has its own test.
    """
    digest = hashlib.sha256()
    setup = setup_cell(notebook)
    for cell in code_cells(notebook):
        if cell is setup:
            continue
        digest.update(cell.source.strip().encode() + b"\0")
    return digest.hexdigest()[:16]


def links_row(chapter: str) -> str:
    """"Open in Colab · View source · Download notebook": absolute links, so they work in the book, Lab and Colab."""
    repository = _config_file()["repository"]
    url, branch = repository["url"].rstrip("/"), repository.get("branch", "main")
    owner_and_name = url.split("github.com/")[-1]
    path = f"chapters/{chapter}.ipynb"
    return (f"[Open in Colab](https://colab.research.google.com/github/{owner_and_name}/blob/{branch}/{path}) · "
            f"[View source]({url}/blob/{branch}/{path}) · "
            f"[Download notebook]({url}/raw/{branch}/{path})")


def record_text(record: dict, timings: dict, chapter: str) -> str:
    """The note at the top of a chapter: where to run it, and in one line what produced its outputs.

    The details (versions, each profile's measured time, the runs it
    reloaded) are folded: the top of the page belongs to the lesson.
    """
    details = [
        f"Keras {record['keras']} with {record['backend']} {record['backend_version']} on {record['device']}; "
        f"this recording took {_text.duration(record['duration_s'])}.",
        "",
        "Measured run times:",
        "",
    ]
    for profile in ("quick", "full"):
        timing = timings.get(profile)
        details.append(f"- **{profile}**: " + (
            f"{_text.duration(timing['duration_s'])} on {timing['device']} ({timing['backend']}, "
            f"{timing['date']})" + _training_note(timing.get("runs", [])) if timing else "not recorded yet"))
    reloaded = [run for run in record.get("runs", []) if run["reloaded"]]
    if len(reloaded) > 8:  # a sweep: one line, not eighty
        devices = sorted({f"{run['device']} ({run['backend']}, {run['date']})" for run in reloaded})
        details += ["", f"Saved runs reloaded for this recording (trained once, beforehand): {len(reloaded)} runs, "
                    f"{sum(run['epochs'] for run in reloaded):,} epochs in "
                    f"{_text.duration(sum(run['seconds'] or 0 for run in reloaded))} on {'; '.join(devices)}."]
    elif reloaded:
        details += ["", "Saved runs reloaded for this recording (trained once, beforehand):", ""]
        details += [f"- `{run['name']}`: {run['epochs']} epochs in {_text.duration(run['seconds'])} on "
                    f"{run['device']} ({run['backend']}, {run['date']})" for run in reloaded]
    return "\n".join([
        links_row(chapter),
        "",
        '<details class="run-record">',
        f"<summary>Outputs recorded with the <b>{record['profile']}</b> profile on {record['date']}, "
        f"{record['device']}, {record['backend']}</summary>",
        "",
        *details,
        "",
        "</details>",
    ])


def _training_note(runs: list) -> str:
    """", to record from saved runs that took 1.6 h of training": the time a reader would really spend."""
    reloaded = [run for run in runs if run["reloaded"]]
    if not reloaded:
        return ""
    total = sum(run["seconds"] or 0 for run in runs)
    return (f"; that reloaded {len(reloaded)} saved run(s): training everything from scratch took "
            f"{_text.duration(total)} in `model.fit`")


GOING_FURTHER = re.compile(r"^(#{2,4}) Going further: \S")  # an aside's heading; the book folds it in _ext


def fold_asides(notebook) -> None:
    """Open every "Going further" aside closed: JupyterLab reads the heading cell's
    ``jp-MarkdownHeadingCollapsed``, Colab the notebook's ``colab.collapsed_sections``."""
    folded = []
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and GOING_FURTHER.match(cell.source):
            cell.metadata["jp-MarkdownHeadingCollapsed"] = True
            cell.metadata["id"] = cell.get("id") or f"going-further-{len(folded)}"  # Colab names cells by this id
            folded.append(cell.metadata["id"])
    if folded:
        notebook.metadata.setdefault("colab", {})["collapsed_sections"] = folded
    else:
        notebook.metadata.get("colab", {}).pop("collapsed_sections", None)


def store_record(notebook, record: dict, chapter: str) -> None:
    """Write the run record into the metadata and the note cell at the top."""
    fold_asides(notebook)
    course = notebook.metadata.setdefault("cnncourse", {})
    course["run"] = record
    timings = course.setdefault("timings", {})
    timings[record["profile"]] = {key: record[key] for key in ("duration_s", "device", "backend", "date", "runs")
                                  if key in record}
    for cell in notebook.cells:
        if RECORD_TAG in cell.metadata.get("tags", []):
            cell.source = record_text(record, timings, chapter)
            break
    else:
        raise ValueError(
            f"the notebook has no markdown cell tagged {RECORD_TAG!r}; add one under the title"
        )


LANDING_TAG = "landing-figure"  # the stored figure the landing page shows
LANDING_PICTURE = REPOSITORY / "images" / "landing.png"
TABLE_START, TABLE_END = "<!-- chapter-table:start -->", "<!-- chapter-table:end -->"


def _chapter_titles() -> list[tuple[str, str]]:
    """(file stem, title) of every chapter, in the book's order."""
    toc = _config_file("_toc.yml")
    stems = [entry["file"].split("/")[-1] for part in toc["parts"] for entry in part["chapters"]
             if entry["file"].startswith("chapters/")]
    titles = []
    for stem in stems:
        notebook = nbformat.read(CHAPTERS / f"{stem}.ipynb", as_version=4)
        first = next(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
        titles.append((stem, first.lstrip("# ").splitlines()[0]))
    return titles


def chapter_table() -> str:
    """The landing page's chapter list: the measured time of each profile, from each chapter's run records."""
    lines = ["| | Chapter | Quick profile | Full profile, on the CPU it was recorded on |", "|---|---|---|---|"]
    for number, (stem, title) in enumerate(_chapter_titles(), start=1):
        timings = nbformat.read(CHAPTERS / f"{stem}.ipynb", as_version=4).metadata.get("cnncourse", {}).get(
            "timings", {})
        cells = []
        for profile in ("quick", "full"):
            timing = timings.get(profile)
            if not timing:
                cells.append("not recorded")
                continue
            training = sum(run["seconds"] or 0 for run in timing.get("runs", []) if run["reloaded"])  # not timed above
            cells.append(_text.duration(timing["duration_s"] + training)
                         + (f" (of which {_text.duration(training)} training)" if training >= 60 else ""))
        lines.append(f"| {number} | {{doc}}`{title} <chapters/{stem}>` | {cells[0]} | {cells[1]} |")
    return "\n".join(lines)


def landing_picture_bytes() -> bytes | None:
    """The PNG stored by the chapter cell tagged ``landing-figure``: a real output, not a drawing made for show."""
    import base64

    for path in chapter_paths():
        for cell in nbformat.read(path, as_version=4).cells:
            if LANDING_TAG in cell.metadata.get("tags", []):
                for output in cell.get("outputs", []):
                    if "image/png" in output.get("data", {}):
                        return base64.b64decode(output["data"]["image/png"])
    return None


PAGES_WITH_THE_TABLE = ("intro.md", "teaching.md")


def update_landing_page() -> None:
    """Rewrite the chapter table (landing and teaching pages) and the landing picture from the chapters' records."""
    table = chapter_table()
    for page in PAGES_WITH_THE_TABLE:
        path = REPOSITORY / page
        text = path.read_text()
        start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
        path.write_text(text[:start] + "\n" + table + "\n" + text[end:])
    picture = landing_picture_bytes()
    if picture is not None:
        LANDING_PICTURE.parent.mkdir(exist_ok=True)
        LANDING_PICTURE.write_bytes(picture)


def _strip_run_noise(notebook) -> None:
    """Keep what a reader wants: no stderr (backend start-up logs), no timestamps, no stale widget state.

    The book hides stderr anyway, but JupyterLab, Colab and GitHub show the
    stored notebook as it is.
    """
    for cell in notebook.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = [output for output in cell.outputs
                            if not (output.get("output_type") == "stream" and output.get("name") == "stderr")]
    notebook.metadata.pop("papermill", None)
    notebook.metadata.pop("widgets", None)


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _set_unattended(profile: str) -> None:
    """The environment of a batch run, inherited by its kernels: the profile, explorers off, figures kept."""
    from cnncourse import config, widgets

    os.environ[config.PROFILE_ENVIRONMENT_VARIABLE] = profile
    os.environ[widgets.WIDGETS_ENVIRONMENT_VARIABLE] = "off"  # nobody moves sliders in a batch run
    os.environ.pop("MPLBACKEND", None)  # "Agg" (CI's setting) would keep every figure out of the stored page


def execute(path: Path, profile: str, parameters: dict | None = None) -> float:
    """Run one chapter in a fresh kernel and write its outputs back; returns seconds."""
    import papermill

    from cnncourse import config

    _set_unattended(profile)
    resolved, _ = config.resolve_profile("auto")
    sync_setup_cell(path)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / path.name
        os.environ[RUN_LOG_ENVIRONMENT_VARIABLE] = str(Path(scratch) / "runs.jsonl")
        try:
            papermill.execute_notebook(
                str(path), str(output), parameters=parameters or {}, cwd=str(path.parent),
                kernel_name="python3", progress_bar=False, request_save_on_cell_execute=False,
                execution_timeout=900,
            )
        finally:
            del os.environ[RUN_LOG_ENVIRONMENT_VARIABLE]
        notebook = nbformat.read(output, as_version=4)
        notebook.cells = [cell for cell in notebook.cells  # the run record keeps the parameters
                          if INJECTED_TAG not in cell.metadata.get("tags", [])]
        log = Path(scratch) / "runs.jsonl"
        runs = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        runs = list({(run["name"], run["reloaded"]): run for run in runs}.values())  # a run shown twice counts once
    duration = time.perf_counter() - started
    facts = config.environment()
    record = {
        "profile": resolved,
        "parameters": parameters or {},
        "keras": facts["keras"],
        "backend": facts["backend"],
        "backend_version": facts["backend_version"],
        "device": facts["device"],
        "python": facts["python"],
        "cnncourse": package_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "duration_s": round(duration, 1),
        "code_hash": code_hash(notebook),
        "runs": runs,
    }
    _strip_run_noise(notebook)
    store_record(notebook, record, path.stem)
    nbformat.write(notebook, path)
    return duration


def train(paths, profile: str, parameters: dict | None = None) -> list[str]:
    """Train the runs of chapters without touching the notebooks (``make train-full``).

    Each chapter runs with ``train=False``: finished runs of the same recipe
    are reloaded, interrupted ones go on from their last epoch, missing ones
    are trained and saved. The progress lines (one per epoch, with the time
    left) go to the terminal; the executed copies go to ``_build/training``.
    Afterwards, recording the chapter reloads every run in minutes.
    """
    import papermill

    _set_unattended(profile)
    os.environ[_runs.SHIPPED_RUNS_ENVIRONMENT_VARIABLE] = "off"  # the shipped runs are what this replaces
    folder = REPOSITORY / "_build" / "training"
    folder.mkdir(parents=True, exist_ok=True)
    failed = []
    for path in paths:
        print(f"training the {profile}-profile runs of {path.name} ...", flush=True)
        started = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(path), str(folder / path.name), parameters={**(parameters or {}), "train": False},
                cwd=str(path.parent), kernel_name="python3", progress_bar=False, log_output=False,
                stdout_file=sys.stdout, execution_timeout=None,
            )
        except Exception as error:  # the runs saved before the error are kept; go on with the next chapter
            failed.append(path.name)
            print(f"FAILED {path.name} after {_text.duration(time.perf_counter() - started)}: "
                  f"{str(error).strip().splitlines()[-1] if str(error).strip() else error}", flush=True)
            continue
        print(f"{path.name}: done in {_text.duration(time.perf_counter() - started)}", flush=True)
    return failed


def prepare_for_ci(paths, folder: Path, parameters: dict) -> None:
    """Copy chapters into ``folder`` with papermill's parameters cell injected.

    The copies keep their stored outputs, which nbval compares with a fresh
    run for the cells tagged ``nbval-check-output``.
    """
    import papermill

    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        papermill.execute_notebook(str(path), str(folder / path.name), parameters=parameters,
                                   prepare_only=True, progress_bar=False, kernel_name="python3")
    print(f"prepared {len(paths)} chapter(s) in {folder} with {parameters}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter file names or prefixes (default: all)")
    parser.add_argument("--profile", choices=("quick", "full"), required=True)
    parser.add_argument("--prepare-only", metavar="FOLDER", type=Path,
                        help="only inject the parameters into copies in FOLDER (for nbval in CI)")
    parser.add_argument("--train-only", action="store_true",
                        help="train (or resume) the chapters' runs and save them, without writing the notebooks")
    parser.add_argument("--refresh-notes", action="store_true",
                        help="rewrite each chapter's note from its stored record, without running it")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a papermill parameter to inject (recorded in the run metadata)")
    arguments = parser.parse_args(argv)
    parameters = {name: _literal(value) for name, value in arguments.parameter}
    if arguments.prepare_only:
        prepare_for_ci(chapter_paths(arguments.chapters), arguments.prepare_only, {"profile": arguments.profile, **parameters})
        return 0
    if arguments.refresh_notes:
        for path in chapter_paths(arguments.chapters):
            notebook = nbformat.read(path, as_version=4)
            if "run" in notebook.metadata.get("cnncourse", {}):
                store_record(notebook, notebook.metadata["cnncourse"]["run"], path.stem)
                nbformat.write(notebook, path)
        update_landing_page()
        return 0
    if arguments.train_only:
        return 1 if train(chapter_paths(arguments.chapters), arguments.profile, parameters) else 0
    timings, failed = [], []
    for path in chapter_paths(arguments.chapters):
        print(f"running {path.name} with the {arguments.profile} profile ...", flush=True)
        try:
            seconds = execute(path, arguments.profile, parameters)
        except Exception as error:  # report every failing chapter, keep its old outputs
            print(f"FAILED {path.name}: {str(error).strip().splitlines()[-1] if str(error).strip() else error}")
            failed.append(path.name)
            continue
        timings.append((path.name, seconds))
    update_landing_page()
    print("\nchapter".ljust(34) + "seconds")
    for name, seconds in timings:
        print(f"{name:<33}{seconds:7.1f}")
    if failed:
        print(f"\n{len(failed)} chapter(s) failed and kept their previous outputs: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
