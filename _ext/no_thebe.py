"""Drop the Thebe (live code in the page) scripts that Jupyter Book always adds.

The course launches notebooks in Colab or JupyterLab instead, so Thebe is
never used; its set-up script is added twice by sphinx-thebe 0.3 and the
second copy throws a JavaScript error on every page, and it names a CDN the
page has no reason to contact.
"""


def _without_thebe(app, pagename, templatename, context, doctree):
    def is_thebe(asset) -> bool:
        text = f"{asset} {getattr(asset, 'attributes', {}).get('body', '')}"
        return "thebe" in text.lower()

    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not is_thebe(asset)]


def setup(app):
    app.connect("html-page-context", _without_thebe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
