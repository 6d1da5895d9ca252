"""Every measured number in the prose is one the page shows, or one its sentence says comes from elsewhere."""

import nbformat
import pytest

from cnncourse import _prose

pytestmark = pytest.mark.backend_independent  # no backend code: `make test` runs it, the other CI jobs skip it


def page(markdown: str, printed: str, code: str = "x = 1", record: dict | None = None):
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(code)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    notebook.cells = [nbformat.v4.new_markdown_cell(markdown), cell]
    notebook.metadata["cnncourse"] = {"run": record or {}}
    return notebook


def faults(markdown, printed, code="x = 1", record=None, others=None):
    notebooks = {"07_page": page(markdown, printed, code, record), **(others or {})}
    return [quote.text for quote in _prose.unbacked_in_chapters(notebooks) if quote.page == "chapters/07_page.ipynb"]


@pytest.mark.parametrize("markdown, printed, unbacked", [
    ("The network reaches 0.6587.", "test accuracy 0.6587", []),
    ("The network reaches 0.659.", "test accuracy 0.6587", []),  # rounded as the output rounds
    ("The network reaches 0.66.", "test accuracy 0.6587", []),
    ("The network reaches 0.6954.", "test accuracy 0.6587", ["0.6954"]),  # not on the page
    ("The network reaches 0.65872.", "test accuracy 0.6587", ["0.65872"]),  # more digits than shown
    ("It reaches 66 % of the images.", "test accuracy 0.6587", []),
    ("It reaches 70 % of the images.", "test accuracy 0.6587", ["70 %"]),
    ("Training takes about 40 minutes.", "trained in 25.8 min", ["40 minutes"]),
    ("Training takes about 26 minutes.", "trained in 25.8 min", []),
    ("Training takes 25.8 minutes.", "minutes\n25.8", []),  # a column of minutes
    ("Training takes about 26 minutes.", "epochs 26", ["26 minutes"]),  # a count is not a time
    ("It trains on 45,000 images.", "45,000 training images", []),
    ("It trains on 54,000 images.", "45,000 training images", ["54,000"]),
    ("A 3x3 filter with 10 classes, chapter 8.", "", []),  # structure, not measurements
    ("Its losses end at 1.82 and $2 \\cdot 0.25 = 0.5$ and `rate=0.25`.", "", ["1.82"]),  # maths and code aside
    ("So 784·64 = 50,176 weights, and 3 × 3 + 1 = 10.", "", []),  # arithmetic the reader can check, checked
    ("So 784·64 = 50,196 weights.", "", ["50,196"]),  # wrong arithmetic
    ("It has 1.1 million parameters.", "Total params: 1,145,738", []),
    ("It has 1.3 million parameters.", "Total params: 1,145,738", ["1.3 million"]),
])
def test_numbers_are_held_to_the_page(markdown, printed, unbacked):
    assert faults(markdown, printed) == unbacked


def test_a_sources_claim_is_marked_by_its_link_and_a_chapters_by_its_outputs():
    assert faults("The source reaches 70 % ([Source 000](../sources.md#source-000)).", "") == []
    assert faults("It reached 94 % ([Jordan](https://example.org/paper)).", "") == []
    other = {"08_other": page("Title", "accuracy 0.7123")}
    assert faults("The [feature-map chapter](08_other.ipynb) reached 0.7123.", "", others=other) == []
    assert faults("The [feature-map chapter](08_other.ipynb) reached 0.7200.", "", others=other) == ["0.7200"]
    assert faults("Chapter 9 reached 0.7123.", "", others=other) == ["0.7123"]  # no link: no way to check


def test_an_exercise_gives_its_numbers_and_its_solution_is_checked():
    exercise = "> **Exercise** (`x`)\n>\n> With label smoothing 0.1 and 10 classes, what is the target?\n\n"
    assert faults(exercise + "<details>\n\nIt is 1 − 0.1 + 0.1 / 10 = 0.91.\n\n</details>", "") == []
    assert faults(exercise + "<details>\n\nIt is 1 − 0.1 + 0.1 / 10 = 0.92.\n\n</details>", "") == ["0.92"]
    assert faults(exercise + "<details>\n\nTraining it gives 0.649.\n\n</details>", "") == ["0.649"]


def test_code_comments_are_prose_and_code_values_are_shown():
    assert faults("The dropout rate is 0.25.", "", code="layer = Dropout(0.25)") == []
    assert faults("A cell.", "", code='profile = "full"  # about 40 minutes on a CPU') == ["40 minutes"]
    assert faults("It took 32.9 minutes.", "", record={"seconds": 1974.3}) == []


def test_the_chapters_and_pages_quote_only_what_they_show():
    found = [str(quote) for quote in _prose.unbacked_in_chapters() + _prose.unbacked_in_pages()]
    assert not found, "numbers the page does not show:\n" + "\n".join(found)


def test_a_quick_run_is_held_to_the_prose_where_a_learner_runs_it_quick(monkeypatch):
    settings = "settings = cc.config.settings(profile, quick=dict(), full=dict(){})"
    stored = {"07_page": page("The network reaches 0.6587.", "test accuracy 0.6587", settings.format("")),
              "08_replays": page("It reaches 0.7123.", "accuracy 0.7123", settings.format(", replay_on_cpu=True"))}
    monkeypatch.setattr(_prose, "chapter_notebooks", lambda: stored)
    quick = {"07_page": page("The network reaches 0.6587.", "test accuracy 0.4012", settings.format("")),
             "08_replays": page("It reaches 0.7123.", "accuracy 0.3001", settings.format(", replay_on_cpu=True"))}
    assert [quote.text for quote in _prose.unbacked_in_quick_runs(quick)] == ["0.6587"]  # 08 replays its runs
    quick["07_page"] = page("The recorded run reaches 0.6587.", "test accuracy 0.4012", settings.format(""))
    assert _prose.unbacked_in_quick_runs(quick) == []  # the sentence says which run it quotes
    assert _prose.unbacked_in_quick_runs({"07_page": page("It reaches 0.4012.", "accuracy 0.4012")}) == []
