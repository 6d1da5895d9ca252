"""Course machinery: hold every measured number in the prose to what the page shows.

    python -m cnncourse._prose              # list the numbers no output backs, per page

A chapter's Markdown may quote a number only if the same page shows it: in
a stored output, the run record, or the code that sets it. The prose may
round (0.659 for an output of 0.6587) but not invent or misremember. A number
from elsewhere says so in its sentence: a link to a source (``sources.md`` or
a web address) marks a source's claim; a link to another chapter sends the
check to that chapter's outputs.

What counts as a measured number: decimals (0.6587, 25.8), percentages
(66 %), integers with a time unit (40 minutes, 9 s) and grouped integers
(50,000). Plain small integers are left alone: they are mostly structure
(3x3, 10 classes, chapter 8). Mathematics (``$...$``) and inline code are
derivations and definitions, not quotations, and are left alone too.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from pathlib import Path

import nbformat

from cnncourse import _record

_NUMBER = re.compile(r"(?<![\w.,/-])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+\.\d+|\d+)(?:\s?(%|percent\b|million\b|"
                     r"s\b|seconds?\b|min\b|minutes?\b|h\b|hours?\b))?(?![\w,]*\d)")
_CHAPTER_LINK = re.compile(r"\]\((?:\.\./)?(?:chapters/)?(\d\d_[\w-]+)\.(?:ipynb|md)(?:#[^)]*)?\)")
_SOURCE_LINK = re.compile(r"\]\((?:\.\./)?sources\.md[^)]*\)|\]\(https?://[^)]*\)|<https?://[^>]*>")


@dataclasses.dataclass(frozen=True)
class Quote:
    """A number as the prose writes it, and where."""

    page: str
    text: str
    sentence: str

    def __str__(self):
        return f"{self.page}: {self.text!r} in \u201c{_shortened(self.sentence)}\u201d"


def _shortened(sentence: str, width: int = 110) -> str:
    sentence = " ".join(sentence.split())
    return sentence if len(sentence) <= width else sentence[:width - 1] + "\u2026"


def _without_code_and_math(markdown: str) -> str:
    markdown = re.sub(r"```.*?```", " ", markdown, flags=re.S)
    markdown = re.sub(r"\$\$.*?\$\$", " ", markdown, flags=re.S)
    markdown = re.sub(r"(?<!\\)\$[^$\n]+\$", " ", markdown)
    markdown = re.sub(r"`[^`\n]*`", " ", markdown)
    markdown = re.sub(r"<!--.*?-->", " ", markdown, flags=re.S)
    return re.sub(r"</?(?:details|summary|br|sub|sup|em|strong|code|span)[^>]*>", " ", markdown)


def _sentences(markdown: str) -> list[str]:
    """Sentences, roughly: split at a full stop, colon or semicolon before a space, and at blank lines and items."""
    pieces = re.split(r"\n\s*\n|\n\s*[-*] |\n#+ |(?<=[.;:!?])\s+(?=[A-Z(*\[])", markdown)
    return [piece for piece in pieces if piece.strip()]


_SECONDS = {"s": 1, "second": 1, "seconds": 1, "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hour": 3600,
            "hours": 3600}
_UNIT = r"(%|percent\b|s\b|seconds?\b|min\b|minutes?\b|h\b|hours?\b)"


def _unit(word):
    """'%' for a percentage, 'million', the seconds in one unit for a time, or '' for a bare number."""
    if not word:
        return ""
    return word if word in ("%", "million") else "%" if word == "percent" else _SECONDS[word]


def _numbers_in(text: str) -> list[tuple[str, float, int, object]]:
    """Each number as (written, value, decimals, unit); unit as ``_unit`` gives it."""
    found = []
    for match in _NUMBER.finditer(text):
        written = match.group(1)
        decimals = len(written.split(".")[1]) if "." in written else 0
        found.append((match.group(0), float(written.replace(",", "")), decimals, _unit(match.group(2))))
    return found


_OPERAND = r"\d[\d,]*(?:\.\d+)?"
_LEFT = re.compile(rf"((?:{_OPERAND}\s*[·×x*+/−-]\s*)+{_OPERAND})\s*$")
_RIGHT = re.compile(rf"\s*({_OPERAND})(?![\d,]*\d)")


def _derived(text: str) -> tuple[str, list[str]]:
    """Take out arithmetic written in the prose (784·64 = 50,176): the reader can check it, and so does this.

    Returns the text with each checked result blanked, and the results whose
    arithmetic is wrong. Chains (28·28 = 784, 784·64 = 50,176) are followed.
    """
    wrong, blanked = [], list(text)
    for equals in [match.start() for match in re.finditer("=", text)]:
        left, right = _LEFT.search(text[:equals]), _RIGHT.match(text, equals + 1)
        if not (left and right):
            continue
        expression = re.sub(r"[·×x]", "*", left.group(1).replace(",", "")).replace("−", "-")
        written = right.group(1)
        decimals = len(written.split(".")[1]) if "." in written else 0
        if abs(eval(expression, {"__builtins__": {}}) - float(written.replace(",", ""))) > 0.5 * 10.0 ** -decimals:
            wrong.append(written)
        blanked[right.start(1):right.end(1)] = " " * len(written)
    return "".join(blanked), wrong


def quoted_numbers(page: str, markdown: str) -> list[tuple[Quote, float, int, object, str]]:
    """The measured numbers of a page's Markdown, each with its value, decimals, unit and sentence.

    A result of arithmetic written out in the sentence counts only if the
    arithmetic is wrong (then it is returned with the unit "wrong").
    """
    quotes = []
    for sentence in _sentences(_without_code_and_math(markdown)):
        link_free, wrong = _derived(re.sub(r"\]\([^)]*\)", "]", sentence))
        quotes += [(Quote(page, written, sentence), 0.0, 0, "wrong", sentence) for written in wrong]
        for written, value, decimals, unit in _numbers_in(link_free):
            if decimals or unit or "," in written:
                quotes.append((Quote(page, written, sentence), value, decimals, unit, sentence))
    return quotes


def shown_numbers(notebook) -> list[tuple[float, int, object]]:
    """Every number a stored notebook shows: outputs, the run record, and its code (comments aside)."""
    numbers = _record_numbers(notebook.metadata.get("cnncourse", {}))
    texts = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        texts.append(_split_code(cell.source)[0])
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                texts.append(output.get("text", ""))
            for kind in ("text/plain", "text/html", "text/markdown"):
                value = output.get("data", {}).get(kind)
                if value:
                    texts.append(value if isinstance(value, str) else "".join(value))
    return numbers + _parsed(" ".join(texts))


def _record_numbers(record) -> list[tuple[float, int, object]]:
    """The numbers of a run record (JSON); fields named for seconds count as times."""
    numbers = []

    def walk(value, key=""):
        if isinstance(value, dict):
            for name, item in value.items():
                walk(item, str(name))
        elif isinstance(value, list):
            for item in value:
                walk(item, key)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = "second" in key or key.endswith("_s")  # a stored float was rounded before it was stored:
            numbers.append((float(value), 99 if isinstance(value, float) else 0, 1 if seconds else ""))  # 0.907 is 0.9070
        elif isinstance(value, str):
            numbers.extend(_parsed(value))

    walk(record)
    return numbers


def _parsed(text: str) -> list[tuple[float, int, object]]:
    """The numbers of shown text, as (value, decimals, unit); 1e-3 counts at any precision."""
    text = re.sub(r"</?[a-zA-Z][^<>]*>", " ", text)  # HTML tags only: "a < b" in code is not one
    text = re.sub(r"(?<=\d)_(?=\d{3})", "", text)  # 3_000 in code is 3,000
    numbers = []
    for match in re.finditer(r"(\d[\d,]*(?:\.\d+)?)(e-?\d{1,2}(?!\d))?(?:\s?" + _UNIT + ")?", text):
        written = match.group(1).rstrip(",")
        value = float(written.replace(",", "")) * (10.0 ** int(match.group(2)[1:]) if match.group(2) else 1)
        decimals = 99 if match.group(2) else len(written.split(".")[1]) if "." in written else 0
        numbers.append((value, decimals, _unit(match.group(3))))
    return numbers


def _backed(value: float, decimals: int, unit, shown: list) -> bool:
    """Whether some shown number, rounded as the prose rounds, is the prose's number.

    A percentage may show as a fraction (66.5 % for 0.6652); a time must show
    as a time, in any unit (26 min for 1,548 s), or as a bare number with the
    prose's decimals (25.8 min in a column of minutes).
    """
    half = 0.5 * 10.0 ** -decimals + 1e-9
    if unit == "wrong":
        return False
    if unit == "million":
        return any(its_unit == "" and abs(number / 1e6 - value) <= half for number, _, its_unit in shown)
    for number, its_decimals, its_unit in shown:
        if unit not in ("", "%"):
            if its_unit not in ("", "%") and abs(number * its_unit / unit - value) <= half:
                return True
            if its_unit == "" and decimals and its_decimals >= decimals and abs(number - value) <= half:
                return True  # a table's column of minutes: a bare number, but specific enough (25.8)
            continue
        candidates = [number] if its_decimals >= decimals else []
        if unit == "%" and number <= 1:
            candidates.append(100 * number)
        if any(abs(candidate - value) <= half for candidate in candidates):
            return True
    return False


def _split_code(source: str) -> tuple[str, str]:
    """A code cell as (its code without comments, its comments): comments are prose, held to the same standard."""
    import io
    import tokenize

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source, ""
    comments = [token for token in tokens if token.type == tokenize.COMMENT]
    lines = source.splitlines()
    for token in reversed(comments):
        row, column = token.start
        lines[row - 1] = lines[row - 1][:column]
    return "\n".join(lines), "\n\n".join(token.string.lstrip("# ") for token in comments)


def chapter_notebooks() -> dict[str, object]:
    return {path.stem: nbformat.read(path, as_version=4) for path in _record.chapter_paths([])}


def _exercise_questions(markdown: str) -> tuple[str, str]:
    """A Markdown cell as (its prose, its exercise questions): a question's numbers are givens, not quotations."""
    if "> **Exercise**" not in markdown:
        return markdown, ""
    lines = markdown.splitlines()
    questions = [line for line in lines if line.startswith(">")]
    return "\n".join(line for line in lines if not line.startswith(">")), "\n".join(questions)


def unbacked_in_chapters(notebooks: dict | None = None) -> list[Quote]:
    """Every measured number in a chapter's Markdown that neither its page nor its cited source backs."""
    notebooks = notebooks if notebooks is not None else chapter_notebooks()
    prose, shown = {}, {}
    for name, notebook in notebooks.items():
        parts, givens = [], []
        for cell in notebook.cells:
            if _record.RECORD_TAG in cell.metadata.get("tags", []):
                continue
            if cell.cell_type == "markdown":
                text, questions = _exercise_questions(cell.source)
                parts.append(text)
                givens += _parsed(questions)
            else:
                parts.append(_split_code(cell.source)[1])
        prose[name], shown[name] = "\n\n".join(parts), shown_numbers(notebook) + givens
    missing = []
    for name in notebooks:
        missing += _unbacked(f"chapters/{name}.ipynb", prose[name], shown[name], shown)
    return missing


def _unbacked(page: str, markdown: str, own: list, by_chapter: dict) -> list[Quote]:
    missing = []
    for quote, value, decimals, unit, sentence in quoted_numbers(page, markdown):
        if _SOURCE_LINK.search(sentence):
            continue  # a source's claim, next to its link
        linked = [by_chapter.get(name, []) for name in _CHAPTER_LINK.findall(sentence)]
        if not any(_backed(value, decimals, unit, numbers) for numbers in [own, *linked]):
            missing.append(quote)
    return missing


def unbacked_in_pages() -> list[Quote]:
    """The same for the pages outside the chapters: numbers there must be shown by some chapter or run record."""
    notebooks = chapter_notebooks()
    every_chapter = [number for notebook in notebooks.values() for number in shown_numbers(notebook)]
    weights = _record.REPOSITORY / "cnncourse" / "weights"
    records = [number for path in sorted(weights.glob("*.json")) for number in _record_numbers(
        {key: value for key, value in json.loads(path.read_text()).items() if key != "history"})]
    by_chapter = {name: shown_numbers(notebook) for name, notebook in notebooks.items()}
    missing = []
    for page in ("intro.md", "sources.md", "teaching.md", "cnncourse/weights/README.md"):
        path = _record.REPOSITORY / page
        markdown = re.sub(r"<!-- chapter-table:start -->.*?<!-- chapter-table:end -->", " ", path.read_text(),
                          flags=re.S)  # generated from the run records, and tested against them
        missing += _unbacked(page, markdown, every_chapter + records, by_chapter)
    return missing


# A sentence that says it describes the stored full-profile run may quote it on a page a learner runs quick.
FULL_PROFILE_MARKERS = ("recorded run", "stored run", "full profile", "full-profile")


def replays_on_cpu(notebook) -> bool:
    """Whether a chapter shows its recorded full-profile runs on a CPU (``replay_on_cpu=True``) instead of a quick run."""
    return any("cc.config.settings(" in cell.source and "replay_on_cpu=True" in cell.source
               for cell in notebook.cells if cell.cell_type == "code")


def unbacked_in_quick_runs(executed: dict) -> list[Quote]:
    """Numbers the prose quotes that a quick-profile run of its chapter does not show.

    ``executed``: chapter name -> the notebook as a quick run left it (its
    outputs, not the recording's). Only chapters that a learner on a CPU runs
    quick are held to it (the others replay their recorded runs there); a
    sentence that names the recorded or full-profile run it quotes is exempt.
    """
    stored = chapter_notebooks()
    quick = {}
    for name, notebook in executed.items():
        if name in stored and not replays_on_cpu(stored[name]):
            notebook = copy.deepcopy(notebook)
            notebook.metadata.get("cnncourse", {}).pop("run", None)  # the recording's times are not this run's
            quick[name] = notebook
    return [quote for quote in unbacked_in_chapters({**stored, **quick})
            if quote.page.removeprefix("chapters/").removesuffix(".ipynb") in quick
            and not any(marker in quote.sentence.lower() for marker in FULL_PROFILE_MARKERS)]


if __name__ == "__main__":
    for quote in unbacked_in_chapters() + unbacked_in_pages():
        print(quote)
