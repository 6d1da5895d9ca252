"""One way to show a table: plain fixed-width text (for exact comparison in CI) or HTML (in notebooks).

``cc.models.layer_table`` and ``cc.training.results_table`` both render
through here.
"""

from __future__ import annotations

import html


def text(headers, rows, right_aligned=(), footer: str | None = None) -> str:
    """Columns padded to their widest cell, numbers right-aligned; no colours, no terminal guessing."""
    lines = [list(headers), *[list(row) for row in rows]]
    widths = [max(len(line[column]) for line in lines) for column in range(len(headers))]

    def render(cells):
        return "  ".join(cell.rjust(width) if column in right_aligned else cell.ljust(width)
                         for column, (cell, width) in enumerate(zip(cells, widths))).rstrip()

    rule = "  ".join("-" * width for width in widths)
    body = [render(cells) for cells in lines[1:]]
    closing = [rule, footer] if footer is not None else []
    return "\n".join([render(lines[0]), rule, *body, *closing])


def html_table(headers, rows, right_aligned=(), footer: str | None = None, css_class: str = "cnncourse-table") -> str:
    """The same table as HTML, in its own horizontal scroll box (inline, so JupyterLab and Colab get it too)."""
    right = ' style="text-align:right"'
    head = "".join(f"<th{right if column in right_aligned else ''}>{html.escape(title)}</th>"
                   for column, title in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{right if column in right_aligned else ''}>{html.escape(cell)}</td>"
                         for column, cell in enumerate(cells)) + "</tr>"
        for cells in rows
    )
    foot = f'<tfoot><tr><td colspan="{len(headers)}">{html.escape(footer)}</td></tr></tfoot>' if footer else ""
    return (f'<div class="cnncourse-table-wrapper" style="overflow-x:auto"><table class="{css_class}">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody>{foot}</table></div>")
