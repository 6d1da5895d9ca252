"""Printed notes that fit a code cell's output box.

The book shows 76 characters of output on a 1280-px screen; a longer line
scrolls sideways and is cut mid-word at the box's edge. Notes are wrapped
between words instead, continuation lines indented.
"""

import textwrap

WIDTH = 76


def wrap(text: str, indent: str = "  ") -> str:
    """Each line of ``text`` filled to ``WIDTH`` characters, words never split; a continuation
    line is indented by ``indent`` more than its line."""
    return "\n".join(
        textwrap.fill(line, width=WIDTH, subsequent_indent=line[:len(line) - len(line.lstrip())] + indent,
                      break_long_words=False, break_on_hyphens=False)
        for line in str(text).split("\n")
    )


def say(text: str) -> None:
    """Print a note, wrapped to the output box."""
    print(wrap(text), flush=True)


def duration(seconds) -> str:
    """A duration as people say it: seconds under two minutes, minutes under an hour and a half, then hours."""
    if seconds is None:
        return "time not recorded"
    if seconds >= 5400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
