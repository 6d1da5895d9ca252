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
