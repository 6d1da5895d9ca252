"""Helpers for the open course on convolutional neural networks.

Chapters import the package as ``cc`` and call its modules, so no notebook
carries a "helper functions" cell: ``cc.data.load``, ``cc.ops.conv2d``,
``cc.models.build``, ``cc.plots.image_grid``, ``cc.checks.answer``...
"""

from cnncourse import checks, config, data

__version__ = "0.1.0"
