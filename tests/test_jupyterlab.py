"""The learner's JupyterLab, in a real browser: run every cell, the explorers on, no error on the page.

Starts JupyterLab from this virtualenv as ``make lab`` does (explorers on: no
``CNNCOURSE_WIDGETS``), with a private settings folder, a token and a free
loopback port, on scratch copies of chapters without their stored outputs.
Headless Chromium (Debian's package, driven by Playwright) opens each one,
runs all cells, and checks what a learner would see: every code cell ran,
no error or stderr output, every explorer's controls present with labels
that fit, and the figure redrawn when a slider moves. Skipped where Chromium
is missing; in CI (``CI`` set) that is a failure.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from test_browser import CHROMIUM_FLAGS, _chromium, _unavailable

REPOSITORY = Path(__file__).resolve().parent.parent
# the chapters with explorers that train nothing, and one that trains (quick profile on a CPU)
CHAPTERS = ["03_convolution", "04_padding_stride", "05_pooling", "07_first_convnet"]
TOKEN = "course-test-token"

pytestmark = pytest.mark.book


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on scratch copies of the chapters; yields its address, the Chromium to drive, and
    whether a notebook has been opened (JupyterLab asks which kernel only for the first)."""
    executable = _chromium()
    if executable is None:
        _unavailable("no Chromium found (apt-get install chromium, or set CNNCOURSE_CHROMIUM)")
    root, private = tmp_path_factory.mktemp("lab-root"), tmp_path_factory.mktemp("lab-private")
    for chapter in CHAPTERS:
        notebook = nbformat.read(REPOSITORY / "chapters" / f"{chapter}.ipynb", as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nbformat.write(notebook, root / f"{chapter}.ipynb")
    settings = private / "settings"
    for plugin, values in {"notebook-extension/tracker": {"windowingMode": "none"},  # every cell in the page
                           "apputils-extension/notification": {"fetchNews": "false"}}.items():
        path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("CNNCOURSE_WIDGETS", "CNNCOURSE_PROFILE", "MPLBACKEND")}  # as `make lab` leaves them
    environment.update(JUPYTER_CONFIG_DIR=str(private / "config"), JUPYTERLAB_SETTINGS_DIR=str(settings),
                       JUPYTERLAB_WORKSPACES_DIR=str(private / "workspaces"), JUPYTER_RUNTIME_DIR=str(private / "run"),
                       IPYTHONDIR=str(private / "ipython"), TF_CPP_MIN_LOG_LEVEL="2")
    port = _free_port()
    log = open(private / "server.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.port_retries=0", f"--ServerApp.token={TOKEN}", f"--ServerApp.root_dir={root}"],
        env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab did not start:\n{(private / 'server.log').read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not open its port within 60 s")
                time.sleep(0.5)
        yield {"url": f"http://127.0.0.1:{port}", "chromium": executable, "kernel_chosen": False}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(lab):
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=lab["chromium"], args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def _run_all(page, lab, chapter: str) -> None:
    # a workspace of its own, reset: only this notebook is open, so the Run menu and the kernel are its own
    page.goto(f"{lab['url']}/lab/workspaces/{chapter}/tree/{chapter}.ipynb?token={TOKEN}&reset")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", timeout=60_000)
    if not lab["kernel_chosen"]:  # JupyterLab asks which kernel for the first notebook it opens, not after
        try:
            page.get_by_role("button", name="Select", exact=True).click(timeout=10_000)
        except Exception:  # no dialog: the kernel started by itself
            pass
        lab["kernel_chosen"] = True
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator("li[data-command='runmenu:run-all']").click()
    page.wait_for_function("""() => {
        const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(p => p.textContent);
        return prompts.length > 0 && prompts.every(text => /\\[\\d+\\]/.test(text));
    }""", timeout=240_000)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_a_chapter_runs_in_jupyterlab_with_its_explorers_working(lab, browser, chapter):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    try:
        _run_all(page, lab, chapter)
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        assert errors.count() == 0, f"stderr or errors on the page: {errors.all_inner_texts()[:3]}"
        assert not problems, problems
        explorers = page.locator(".jp-OutputArea-output .widget-interact")
        expected = sum("cc.widgets.explorer(" in cell.source for cell in nbformat.read(
            REPOSITORY / "chapters" / f"{chapter}.ipynb", as_version=4).cells if cell.cell_type == "code")
        assert explorers.count() == expected, f"{explorers.count()} explorers drawn, the chapter has {expected}"
        for index in range(expected):
            explorer = explorers.nth(index)
            labels = explorer.locator(".widget-label")
            assert labels.count() > 0, "an explorer without controls"
            for label in labels.all():
                width, room = label.evaluate("element => [element.scrollWidth, element.clientWidth]")
                assert width <= room, f"the label {label.inner_text()!r} is cut ({width} px in {room} px)"
            figure = explorer.locator("img").first
            before = figure.get_attribute("src")
            sliders = explorer.locator(".widget-slider .noUi-handle")
            if sliders.count():
                sliders.first.focus()
                page.keyboard.press("ArrowRight")
            else:  # an explorer of dropdowns: choose the first one's second option
                menu = explorer.locator("select").first
                menu.select_option(index=1)
            deadline = time.monotonic() + 30
            while figure.get_attribute("src") == before:  # the output is redrawn: a new picture element
                assert time.monotonic() < deadline, "the figure was not redrawn after a control moved"
                page.wait_for_timeout(250)
    finally:
        page.screenshot(path=str(REPOSITORY / "_build" / f"jupyterlab-{chapter}.png"))
        page.close()
