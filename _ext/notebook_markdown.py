"""Turn the chapters' plain Markdown into the book's numbered exercises and citations.

A chapter is read in three places: this book, JupyterLab and Colab. MyST
directives and roles (```` ```{exercise} ````, ``{cite:p}`key` ``) render only
in the book; elsewhere a learner sees their raw text. So the notebooks are
written in plain Markdown that reads well everywhere, and this extension
rewrites it, as the book reads each notebook, into what the book numbers and
links:

    > **Exercise** (`conv-ex-output-size`)          ````{exercise}
    >                                         ->     :label: conv-ex-output-size
    > What is the output size of ...?               What is the output size of ...?
                                                    ````

    ([Srivastava et al., 2014](../sources.md#cite-srivastava2014dropout))  ->  {cite:p}`srivastava2014dropout`
    [Yosinski et al. (2014)](../sources.md#cite-yosinski2014transferable)   ->  {cite:t}`yosinski2014transferable`

In JupyterLab the exercise is a quoted block headed by its label (the same
label the check cell below it uses), and a citation is a link to the sources
page.

A figure's caption (cell metadata ``mystnb.figure.caption``) also becomes its
image's alternative text, which myst-nb otherwise sets to the file's name.

An aside is a section headed "Going further: ...". The recorder marks its
heading collapsed for JupyterLab and Colab (``cnncourse._record.fold_asides``);
here it becomes a closed dropdown box with the heading as its title.
"""

import json
import re

from docutils import nodes

EXERCISE_HEAD = re.compile(r"^> \*\*Exercise\*\* \(`(?P<label>[a-z0-9]+(?:-[a-z0-9]+)*)`\)\s*$")
LOOKS_LIKE_AN_EXERCISE = re.compile(r"^>\s*\*\*Exercise")
CITE = r"\[(?P<text>[^\]]+)\]\(\.\./sources\.md#cite-(?P<key>[A-Za-z0-9_-]+)\)"
CITE_PARENTHETICAL = re.compile(r"\(" + CITE + r"\)")
CITE_TEXTUAL = re.compile(CITE)


def exercises_to_directives(markdown: str) -> str:
    """Rewrite each ``> **Exercise** (`label`)`` quote as a sphinx-exercise directive."""
    lines, out, i = markdown.split("\n"), [], 0
    while i < len(lines):
        head = EXERCISE_HEAD.match(lines[i])
        if head is None:
            if LOOKS_LIKE_AN_EXERCISE.match(lines[i]):
                raise ValueError(
                    f"exercise heading {lines[i]!r} is not of the form "
                    "'> **Exercise** (`chapter-ex-label`)' (lower-case words joined by '-')"
                )
            out.append(lines[i])
            i += 1
            continue
        i += 1
        body = []
        while i < len(lines) and lines[i].startswith(">"):
            body.append(lines[i][2:] if lines[i].startswith("> ") else lines[i][1:])
            i += 1
        while body and not body[0].strip():
            body.pop(0)
        if not body:
            raise ValueError(f"exercise {head['label']!r} has no text under its heading")
        longest_backticks = max((len(run) for run in re.findall(r"`+", "\n".join(body))), default=0)
        fence = "`" * max(4, longest_backticks + 1)
        out += [f"{fence}{{exercise}}", f":label: {head['label']}", *body, fence]
    return "\n".join(out)


def citations_to_roles(markdown: str) -> str:
    """Rewrite links to ``../sources.md#cite-KEY`` as sphinxcontrib-bibtex citations."""
    markdown = CITE_PARENTHETICAL.sub(lambda m: f"{{cite:p}}`{m['key']}`", markdown)
    return CITE_TEXTUAL.sub(lambda m: f"{{cite:t}}`{m['key']}`", markdown)


def for_the_book(markdown: str) -> str:
    return citations_to_roles(exercises_to_directives(markdown))


def _rewrite_notebook(app, docname, source):
    if not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return
    notebook = json.loads(source[0])
    for cell in notebook["cells"]:
        options = cell.get("metadata", {}).get("mystnb", {})
        if "caption" in options.get("figure", {}):
            options.setdefault("image", {}).setdefault("alt", options["figure"]["caption"].replace("`", ""))
        if cell["cell_type"] == "markdown":
            text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            try:
                cell["source"] = for_the_book(text)
            except ValueError as error:
                raise ValueError(f"{docname}: {error}") from None
    source[0] = json.dumps(notebook)


GOING_FURTHER = "Going further: "


def fold_asides(app, doctree):
    """Each "Going further: ..." section becomes a closed dropdown (sphinx-togglebutton folds `.admonition.dropdown`)."""
    for section in list(doctree.findall(nodes.section)):
        title = section.next_node(nodes.title)
        if title is None or not title.astext().startswith(GOING_FURTHER):
            continue
        box = nodes.admonition("", classes=["dropdown", "going-further"], ids=section["ids"])
        box += nodes.title("", "", *title.children)
        box += [child for child in section.children if child is not title]
        section.replace_self(box)


def setup(app):
    app.connect("source-read", _rewrite_notebook)
    app.connect("doctree-read", fold_asides)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
