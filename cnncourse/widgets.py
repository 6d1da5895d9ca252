"""Interactive explorers for JupyterLab and Colab.

Each explorer wraps a plotting function of ``cc.plots`` (or of the module
that owns the idea) with sliders. The HTML book cannot run widgets, so a
chapter shows the same function's static figure next to the explorer, and
tags the explorer cell ``remove-output``: one definition, two ways to see it.
"""

from __future__ import annotations

import ipywidgets
import matplotlib.pyplot as plt
from IPython.display import display


def explorer(figure_function, **controls):
    """Sliders/dropdowns for ``figure_function``; redraws when a control changes.

    ``controls`` are ipywidgets (or the abbreviations ``ipywidgets.interactive``
    accepts, such as ``(1, 9)`` for an integer slider).
    """

    def draw(**values):
        figure = figure_function(**values)
        display(figure)
        plt.close(figure)

    widget = ipywidgets.interactive(draw, {"manual": False}, **controls)
    for control in widget.children[:-1]:
        if hasattr(control, "continuous_update"):
            control.continuous_update = False
    return widget
