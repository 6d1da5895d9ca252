"""The built book as a reader sees it, in a real browser: desktop and phone width.

Runs headless Chromium (Debian's package, driven by Playwright) against
``_build/html`` served on localhost, after ``test_book.py`` built it. Where no
Chromium is installed the tests skip and say why; in CI (``CI`` set) a skip is
a failure, because ``.ci/run`` installs Chromium. With
``CNNCOURSE_SCREENSHOTS=1``, full-page screenshots of every page and width go
to ``_build/screenshots`` for a human to look at (off by default: they are
two fifths of these tests' time, and no test reads them).
"""

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path

import pytest

from cnncourse import _record as run
from cnncourse._answers import ANSWERS

REPOSITORY = Path(__file__).resolve().parent.parent
HTML = REPOSITORY / "_build" / "html"
SCREENSHOTS = REPOSITORY / "_build" / "screenshots"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHAPTERS = [f"chapters/{path.stem}.html" for path in run.chapter_paths()]
PAGES = ["intro.html", *CHAPTERS, "teaching.html", "sources.html"]
WIDTHS = {"desktop": (1280, 900), "phone": (400, 860)}

pytestmark = pytest.mark.book


def _chromium() -> str | None:
    return os.environ.get("CNNCOURSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must run the browser tests (.ci/run installs Chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").exists():
        _unavailable("the book is not built (_build/html); run `make book` or tests/test_book.py first")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(HTML)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    if executable is None:
        _unavailable("no Chromium found (apt-get install chromium, or set CNNCOURSE_CHROMIUM)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def _open(browser, site, page_name, width_name):
    width, height = WIDTHS[width_name]
    page = browser.new_page(viewport={"width": width, "height": height})
    problems = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("console", lambda message: problems.append(f"console error: {message.text}")
            if message.type == "error" and message.location.get("url", site).startswith(site) else None)
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}")
            if request.url.startswith(site) else None)
    page.goto(f"{site}/{page_name}", wait_until="load")
    if os.environ.get("CNNCOURSE_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{page_name.replace('/', '_')}.{width_name}.png"), full_page=True)
    return page, problems


@pytest.mark.parametrize("width_name", list(WIDTHS))
@pytest.mark.parametrize("page_name", PAGES)
def test_page_loads_cleanly_and_fits_the_screen(browser, site, page_name, width_name):
    page, problems = _open(browser, site, page_name, width_name)
    assert not problems, f"{page_name} at {width_name} width: {problems}"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{page_name} scrolls sideways by {overflow} px at {width_name} width"
    broken = page.evaluate("[...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)")
    assert not broken, f"images that did not load: {broken}"
    page.close()


OVERFLOWING_BOXES = """() => [...document.querySelectorAll(
    'div.cell_input pre, div.cell_output pre, .cnncourse-table-wrapper, article table, article pre')]
  .filter(box => box.scrollWidth > box.clientWidth + 1)
  .map(box => [box.closest('div.cell_input') ? 'code' : 'output', box.scrollWidth - box.clientWidth,
               box.innerText.split('\\n').reduce((a, b) => b.length > a.length ? b : a, '').slice(0, 90)])"""


@pytest.mark.parametrize("page_name", PAGES)
def test_on_a_laptop_screen_no_code_output_or_table_scrolls_sideways(browser, site, page_name):
    """At 1280 px every line of code, every printout and every table the text cites is visible whole."""
    page, _ = _open(browser, site, page_name, "desktop")
    hidden = page.evaluate(OVERFLOWING_BOXES)
    assert not hidden, f"{page_name} at 1280 px: boxes that hide part of a line (kind, px hidden, line): {hidden}"
    page.close()


def test_the_page_contents_are_one_click_away_on_a_laptop_screen(browser, site):
    page, _ = _open(browser, site, "chapters/10_overfitting.html", "desktop")
    toggle = page.query_selector("button.secondary-toggle")
    assert toggle is not None and toggle.is_visible(), "the page's table of contents has no button"
    toggle.click()
    dialog = page.wait_for_selector("dialog#pst-secondary-sidebar-modal[open]")
    links = dialog.query_selector_all("a.nav-link")
    assert len(links) >= 5 and all(link.is_visible() for link in links[:5]), "the contents do not show"
    page.close()


@pytest.mark.parametrize("width_name", list(WIDTHS))
def test_one_search_field(browser, site, width_name):
    page, _ = _open(browser, site, "chapters/08_cifar10.html", width_name)
    visible = [button for button in page.query_selector_all(".search-button__button") if button.is_visible()]
    assert len(visible) <= 1, f"{len(visible)} search fields visible at {width_name} width"
    page.close()


def test_solutions_stay_hidden_until_asked(browser, site):
    page, _ = _open(browser, site, "chapters/08_cifar10.html", "desktop")
    folded = page.query_selector_all("details")
    record, solutions = folded[0], [box for box in folded if box.query_selector("summary").inner_text() == "Solution"]
    assert record.query_selector("summary").inner_text().startswith("Outputs recorded with the full profile")
    assert not record.evaluate("element => element.open"), "the run record's details are not folded"
    assert len(solutions) >= 3
    first = solutions[0]
    answer = first.query_selector("p")
    assert not first.evaluate("element => element.open") and not answer.is_visible(), "a solution shows unasked"
    first.query_selector("summary").click()
    assert answer.is_visible() and "1,573,376" in answer.inner_text()
    page.close()


@pytest.mark.parametrize("page_name", CHAPTERS)
def test_exercises_are_numbered_and_keep_their_answers_out_of_sight(browser, site, page_name):
    """Numbered boxes; every solution hidden until its toggle is clicked, then shown; check cells without answers."""
    page, _ = _open(browser, site, page_name, "desktop")
    chapter = CHAPTERS.index(page_name) + 1
    titles = [title.inner_text().strip() for title in page.query_selector_all("div.exercise .caption-number")]
    assert titles and titles == [f"Exercise {chapter}.{k}" for k in range(1, len(titles) + 1)], titles
    for solution in page.query_selector_all("details"):
        body = solution.query_selector(":scope > :not(summary)")
        assert not body.is_visible(), f"a solution shows before it is asked for: {solution.inner_text()[:80]!r}"
        solution.query_selector("summary").click()
        assert body.is_visible(), "a solution stays hidden after its toggle is clicked"
    checked = 0
    for cell in page.query_selector_all("div.cell"):
        text = cell.inner_text()
        for label in re.findall(r'cc\.checks\.check\("([^"]+)"', text):
            checked += 1
            assert ANSWERS[label].explanation not in text, f"the check cell of {label} shows its explanation"
            assert all(form not in text for form in _written_forms(ANSWERS[label].expected)), (
                f"the check cell of {label} shows its expected answer")
    assert checked, f"{page_name}: no check cell found"
    page.close()


def _written_forms(expected) -> list[str]:
    """How an expected answer would read on the page (50_240, 50,240, 50240); only ints from 10 and strings
    from 3 characters are searched, since shorter ones occur in any cell by chance."""
    if isinstance(expected, bool) or callable(expected):
        return []
    if isinstance(expected, int) and abs(expected) >= 10:
        return [str(expected), f"{expected:,}", f"{expected:_}"]
    if isinstance(expected, str) and len(expected) >= 3:
        return [repr(expected), f'"{expected}"']
    return []


def test_every_chapter_offers_colab_source_and_download_at_the_top(browser, site):
    page, _ = _open(browser, site, "chapters/08_cifar10.html", "phone")
    for text in ("Open in Colab", "View source", "Download notebook"):
        link = page.get_by_role("link", name=text).first
        assert link.is_visible(), f"no visible {text!r} link"
        assert link.bounding_box()["y"] < 900, f"{text!r} is not near the top of the page"
    assert "colab.research.google.com/github/" in page.get_by_role("link", name="Open in Colab").first.get_attribute(
        "href")
    page.close()


@pytest.mark.parametrize("page_name", ["chapters/06_architectures.html", "chapters/07_first_convnet.html"])
def test_on_a_phone_a_tap_opens_each_figure_at_full_size(browser, site, page_name):
    """A figure shrunk to 368 px links to its own file; captioned figures describe themselves in their alt text."""
    page, _ = _open(browser, site, page_name, "phone")
    images = page.query_selector_all("div.cell_output img")
    assert images
    for image in images:
        link, source = image.evaluate("i => [i.closest('a') && i.closest('a').href, i.src]")
        assert link == source, f"{source} is not a link to itself"
    for image in page.query_selector_all("figure img"):
        assert not image.get_attribute("alt").endswith(".png"), "a figure's alt text is its file name"
    shrunk = page.evaluate("Math.max(...[...document.querySelectorAll('div.cell_output img')]"
                           ".map(i => i.naturalWidth / i.getBoundingClientRect().width))")
    assert shrunk > 1.5, "no figure is shown smaller than its file, so the links would gain nothing"
    page.close()


def test_wide_tables_scroll_inside_their_box_on_a_phone(browser, site):
    page, _ = _open(browser, site, "chapters/08_cifar10.html", "phone")
    table = page.query_selector("table.cnncourse-results")
    assert table is not None, "the results table is not rendered as HTML"
    box = table.evaluate("element => { const p = element.parentElement; "
                         "return [p.scrollWidth, p.clientWidth, getComputedStyle(p).overflowX]; }")
    assert box[0] > box[1] and box[2] in ("auto", "scroll"), f"wrapper {box}: the table does not scroll in a box"
    page.close()


def test_the_landing_page_shows_its_picture_and_the_chapter_times(browser, site):
    page, _ = _open(browser, site, "intro.html", "desktop")
    picture = page.query_selector("img[src*='landing']")
    assert picture is not None and picture.is_visible()
    assert picture.evaluate("image => image.naturalWidth") > 500
    assert page.get_by_text("Quick profile").first.is_visible()
    assert page.get_by_role("link", name="Sources and references").first.is_visible()
    page.close()


def test_the_teaching_page_is_in_the_navigation_and_shows_the_chapter_times(browser, site):
    page, _ = _open(browser, site, "intro.html", "desktop")
    link = page.get_by_role("link", name="Teaching with this course").first
    assert link.is_visible()
    link.click()
    page.wait_for_load_state("load")
    assert page.url.endswith("teaching.html")
    assert page.get_by_text("Full profile, on the CPU it was recorded on").first.is_visible()
    assert page.get_by_role("link", name="A modern convnet: 94 % on CIFAR-10 in eight epochs").first.is_visible()
    page.close()


@pytest.mark.parametrize("page_name, title, inside", [
    ("chapters/05_pooling.html", "Going further: one backend pads differently", "edge copies"),
    ("chapters/06_architectures.html", "Going further: three more networks", "horses_humans_convnet"),
])
def test_a_going_further_aside_is_closed_until_opened(browser, site, page_name, title, inside):
    page, _ = _open(browser, site, page_name, "desktop")
    box = page.locator("div.going-further").filter(has_text=title).first
    assert box.is_visible() and title in box.inner_text()
    assert not page.get_by_text(inside).first.is_visible(), "the aside shows its content before it is opened"
    box.locator(".admonition-title, button.toggle-button").first.click()
    page.get_by_text(inside).first.wait_for(state="visible", timeout=5_000)
    page.close()
