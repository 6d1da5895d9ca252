"""Helpers for the open course on convolutional neural networks.

Chapters import the package as ``cc`` and call its modules, so no notebook
carries a "helper functions" cell: ``cc.data.load``, ``cc.ops.conv2d``,
``cc.models.build``, ``cc.plots.image_grid``, ``cc.checks.answer``...
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the pages

from cnncourse._quiet import native_stderr_silenced  # noqa: E402

with native_stderr_silenced():  # importing the backend is when TensorFlow's native code talks
    import keras  # noqa: E402, F401

from cnncourse import checks, config, data, features, models, modern, ops, plots, training, transfer, widgets  # noqa: E402,E501

if keras.backend.backend() == "jax":  # a rebuilt model skips XLA's compilation
    config.keep_jax_compilations(data.cache_folder() / "jax-compiled")

__all__ = ["checks", "config", "data", "features", "models", "modern", "ops", "plots", "recipe_runs", "training",
           "transfer", "widgets"]
__version__ = "0.10.0"


def __getattr__(name):
    """``cc.recipe_runs``, imported on first use: ``python -m cnncourse.recipe_runs`` runs that module as a script,
    and Python warns when a package has already imported the module it is about to run."""
    if name == "recipe_runs":
        import importlib

        return importlib.import_module("cnncourse.recipe_runs")
    raise AttributeError(f"module 'cnncourse' has no attribute {name!r}")
