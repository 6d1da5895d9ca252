"""The book's rewrite of the chapters' plain-Markdown exercises and citations (_ext/notebook_markdown.py)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "_ext"))
from notebook_markdown import for_the_book  # noqa: E402


def test_an_exercise_quote_becomes_a_labelled_directive_and_the_text_around_it_stays():
    markdown = (
        "## Exercises\n\n"
        "> **Exercise** (`conv-ex-size`)\n>\n> What is the output size?\n> Use $n - k + 1$.\n\n"
        "<details>\n<summary>Solution</summary>\n\n3\n\n</details>"
    )
    assert for_the_book(markdown) == (
        "## Exercises\n\n"
        "````{exercise}\n:label: conv-ex-size\nWhat is the output size?\nUse $n - k + 1$.\n````\n\n"
        "<details>\n<summary>Solution</summary>\n\n3\n\n</details>"
    )


def test_a_code_fence_inside_an_exercise_gets_a_longer_outer_fence():
    markdown = "> **Exercise** (`a-ex-b`)\n>\n> Run\n> ````python\n> x = 1\n> ````"
    assert for_the_book(markdown) == "`````{exercise}\n:label: a-ex-b\nRun\n````python\nx = 1\n````\n`````"


def test_citations_become_parenthetical_or_textual_roles():
    markdown = (
        "noisy updates ([Srivastava et al., 2014](../sources.md#cite-srivastava2014dropout)); "
        "as [Yosinski et al. (2014)](../sources.md#cite-yosinski2014transferable) measured; "
        "see [source 004](../sources.md#source-004)."
    )
    assert for_the_book(markdown) == (
        "noisy updates {cite:p}`srivastava2014dropout`; as {cite:t}`yosinski2014transferable` measured; "
        "see [source 004](../sources.md#source-004)."
    )


@pytest.mark.parametrize("heading", ["> **Exercise** conv-ex-size", "> **Exercise** (`Conv ex`)", ">**Exercise** (`a-ex-b`)"])
def test_a_malformed_exercise_heading_is_an_error_not_a_silent_quote(heading):
    with pytest.raises(ValueError, match="not of the form"):
        for_the_book(f"{heading}\n>\n> text")


def test_an_exercise_without_text_is_an_error():
    with pytest.raises(ValueError, match="no text"):
        for_the_book("> **Exercise** (`a-ex-b`)\n>\n\nnot quoted")


def test_markdown_without_exercises_or_citations_is_unchanged():
    markdown = "> a quote\n\n**Exercise** in bold, outside a quote, and `{code}`"
    assert for_the_book(markdown) == markdown


# --- the order of ideas (CONTRIBUTING.md) and the folded asides ---------------------------------------------

import json  # noqa: E402
import re  # noqa: E402

pytestmark = pytest.mark.backend_independent  # no backend code: `make test` runs it, the other CI jobs skip it

REPOSITORY = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((REPOSITORY / "chapters").glob("[0-9][0-9]_*.ipynb"))


def _concepts():
    """The rows of CONTRIBUTING.md's concept table: (concept, pattern, the chapter that introduces it)."""
    text = (REPOSITORY / "CONTRIBUTING.md").read_text()
    block = text.split("<!-- concepts:start -->")[1].split("<!-- concepts:end -->")[0]
    rows = []
    for line in block.strip().splitlines()[2:]:
        concept, pattern, chapter = (cell.strip().strip("`") for cell in re.split(r"(?<!\\)\|", line.strip("| ")))
        rows.append((concept, re.compile(pattern.replace("\\|", "|"), re.IGNORECASE), chapter))
    return rows


def _prose_cells(path):
    cells = json.loads(path.read_text())["cells"]
    return ["".join(cell["source"]) for cell in cells
            if cell["cell_type"] == "markdown" and "run-record" not in cell.get("metadata", {}).get("tags", [])]


@pytest.mark.parametrize("concept, pattern, chapter", _concepts(), ids=[row[0] for row in _concepts()])
def test_an_idea_is_used_only_after_its_chapter_or_with_a_link_to_it(concept, pattern, chapter):
    introducing = REPOSITORY / "chapters" / f"{chapter}.ipynb"
    assert introducing.is_file(), f"{concept}: no chapter {chapter}"
    assert any(pattern.search(cell) for cell in _prose_cells(introducing)), f"{chapter} never names {concept}"
    for path in CHAPTERS:
        if path.stem >= chapter:
            break
        first = next((cell for cell in _prose_cells(path) if pattern.search(cell)), None)
        assert first is None or f"({chapter}.ipynb" in first, (
            f"{path.stem} uses {concept} before {chapter} introduces it: its first mention must say in one line "
            f"what it is and link ({chapter}.ipynb): {first[:300]!r}")


def test_a_going_further_aside_is_a_heading_alone_and_opens_closed_in_jupyterlab_and_colab():
    sys.path.insert(0, str(REPOSITORY))
    from cnncourse import _record

    asides = 0
    for path in CHAPTERS:
        notebook = json.loads(path.read_text())
        collapsed = notebook["metadata"].get("colab", {}).get("collapsed_sections", [])
        for index, cell in enumerate(notebook["cells"]):
            source = "".join(cell["source"])
            if cell["cell_type"] == "markdown" and "Going further" in source.splitlines()[0]:
                asides += 1
                level = len(source) - len(source.lstrip("#"))
                for later in notebook["cells"][index + 1:]:  # the aside ends where a heading of its level starts
                    text = "".join(later["source"]) if later["cell_type"] == "markdown" else ""
                    ends = [line for line in text.splitlines() if re.match(r"#{1,%d} " % level, line)]
                    if ends:
                        assert text.startswith(ends[0]), (
                            f"{path.stem}: the heading {ends[0]!r} that ends an aside must start its cell, or "
                            "JupyterLab and Colab fold the text above it into the aside")
                        break
                assert _record.GOING_FURTHER.match(source) and "\n" not in source.strip(), (
                    f"{path.stem}: an aside's heading cell holds only '## Going further: ...' (the text goes in "
                    f"the next cell, so that it folds): {source[:80]!r}")
                assert cell["metadata"].get("jp-MarkdownHeadingCollapsed") is True, path.stem
                assert cell["metadata"].get("id") in collapsed, f"{path.stem}: not in colab.collapsed_sections"
    assert asides >= 4


def test_the_book_folds_a_going_further_section_into_a_closed_dropdown():
    from docutils import nodes
    from notebook_markdown import fold_asides

    document = nodes.document(None, None)
    main, aside = nodes.section(ids=["main"]), nodes.section(ids=["going-further-x"])
    main += nodes.title("", "Main")
    aside += [nodes.title("", "Going further: x"), nodes.paragraph("", "the aside's text")]
    main += aside
    document += main
    fold_asides(None, document)
    [box] = list(document.findall(nodes.admonition))
    assert "dropdown" in box["classes"] and box["ids"] == ["going-further-x"]
    assert box.next_node(nodes.title).astext() == "Going further: x" and "the aside's text" in box.astext()
    assert len(list(document.findall(nodes.section))) == 1
