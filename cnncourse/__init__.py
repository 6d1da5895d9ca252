"""Helpers for the open course on convolutional neural networks.

Chapters import the package as ``cc`` and call its modules, so no notebook
carries a "helper functions" cell: ``cc.data.load``, ``cc.ops.conv2d``,
``cc.models.build``, ``cc.plots.image_grid``, ``cc.checks.answer``...
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the pages

from cnncourse import checks, config, data, features, models, ops, plots, training, widgets  # noqa: E402

__version__ = "0.1.0"
