"""Keep scripts off the pages that do not use them.

- Thebe (live code in the page): Jupyter Book always adds it, but the course
  launches notebooks in Colab or JupyterLab instead. sphinx-thebe 0.3 adds its
  set-up script twice, the second copy throws a JavaScript error on every
  page, and it names a CDN the page has no reason to contact.
- MathJax, fetched from a CDN: Sphinx adds it to a page whose table of
  contents lists pages with maths (the landing page), even when the page has
  no maths of its own.
"""

from docutils import nodes


def _asset_text(asset) -> str:
    return f"{asset} {getattr(asset, 'attributes', {}).get('body', '')}".lower()


def _without_unused_scripts(app, pagename, templatename, context, doctree):
    unused = ["thebe"]
    if doctree is not None and not any(doctree.findall(lambda node: isinstance(node, (nodes.math, nodes.math_block)))):
        unused.append("mathjax")
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not any(name in _asset_text(asset) for name in unused)]


def setup(app):
    app.connect("html-page-context", _without_unused_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
