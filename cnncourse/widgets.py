"""Interactive explorers for JupyterLab and Colab.

Each explorer wraps a plotting function of ``cc.plots`` (or of the module
that owns the idea) with sliders. The HTML book cannot run widgets, so a
chapter shows the same function's static figure next to the explorer, and
tags the explorer cell ``remove-output``: one definition, two ways to see it.

Unattended runs (CI, ``python -m cnncourse``) set ``CNNCOURSE_WIDGETS=off``:
nobody can move a slider there, and executing widget cells headlessly can
hang the notebook client (jupyter/nbclient#312), so the explorer only says
where to use it.
"""

from __future__ import annotations

import inspect
import os

import ipywidgets
import matplotlib.figure
import matplotlib.pyplot as plt
from IPython.display import display

from cnncourse import _text

__all__ = ["WIDGETS_ENVIRONMENT_VARIABLE", "explorer"]


WIDGETS_ENVIRONMENT_VARIABLE = "CNNCOURSE_WIDGETS"


def _defaults(figure_function) -> dict:
    """The default values in ``figure_function``'s signature (none for builtins without one)."""
    try:
        parameters = inspect.signature(figure_function).parameters
    except (TypeError, ValueError):
        return {}
    return {name: parameter.default for name, parameter in parameters.items()
            if parameter.default is not inspect.Parameter.empty}


def explorer(figure_function, fixed: dict | None = None, **controls):
    """Sliders/dropdowns for ``figure_function``; redraws when a control changes.

    ``controls`` are ipywidgets (or the abbreviations ``ipywidgets.interactive``
    accepts, such as ``(1, 9)`` for an integer slider). ``fixed`` holds the
    arguments that stay put, such as the matrix to pool, so a chapter needs
    no lambda or ``functools.partial``.

    Some combinations are impossible (a 5x5 kernel on a 3x3 input with
    "valid" padding): the figure function's ValueError is then shown as a
    short message instead of a traceback, because that message is the lesson.
    """
    if not callable(figure_function):
        raise TypeError(
            f"figure_function must be a function that returns a matplotlib Figure, such as "
            f"cc.plots.sliding_windows; got {figure_function!r}."
        )
    fixed = {} if fixed is None else fixed
    if not isinstance(fixed, dict):
        raise TypeError(f"fixed must be a dict of argument names to values, got {type(fixed).__name__}.")
    if not controls:
        raise ValueError("give at least one control, e.g. kernel_size=(1, 7) for a slider from 1 to 7.")
    both = sorted(set(fixed) & set(controls))
    if both:
        raise ValueError(f"{', '.join(both)} cannot be both fixed and controlled; remove it from one of them.")
    for name, control in controls.items():
        if isinstance(control, tuple) and len(control) in (2, 3) and all(
                isinstance(value, (int, float)) and not isinstance(value, bool) for value in control):
            if not control[0] < control[1]:
                raise ValueError(f"the slider {name}={control!r} must run from low to high, such as "
                                 f"{name}=({min(control[:2])}, {max(control[:2])})")
    if os.environ.get(WIDGETS_ENVIRONMENT_VARIABLE, "on").strip().lower() in ("off", "0", "false", "no"):
        return None  # an unattended run (CI, a recording): the figure beside the explorer shows the same function

    def draw(**values):
        try:
            figure = figure_function(**fixed, **values)
        except ValueError as error:
            _text.say(f"⚠ Not possible: {error}")
            return
        if not isinstance(figure, matplotlib.figure.Figure):
            raise TypeError(
                f"{getattr(figure_function, '__name__', 'figure_function')} returned {type(figure).__name__}, "
                "not a matplotlib Figure; an explorer needs the figure to show it."
            )
        display(figure)
        plt.close(figure)

    # A slider given as a (min, max) tuple starts at the figure function's
    # default value rather than in the middle of its range (`draw` hides the
    # signature from ipywidgets); a dropdown starts at its first option.
    defaults = _defaults(figure_function)
    controls = {
        name: ipywidgets.interactive.widget_from_abbrev(control, defaults[name])
        if isinstance(control, tuple) and name in defaults else control
        for name, control in controls.items()
    }
    widget = ipywidgets.interactive(draw, {"manual": False}, **controls)
    for control in widget.children[:-1]:
        if hasattr(control, "continuous_update"):
            control.continuous_update = False
        if hasattr(control, "style") and hasattr(control.style, "description_width"):
            control.style.description_width = "initial"  # the whole name, never "image_in…"
    return widget
