"""Keep TensorFlow's C++ start-up chatter off a learner's screen.

TensorFlow's native code logs to the process's stderr before Python's
logging (or ``TF_CPP_MIN_LOG_LEVEL``) has a say: "oneDNN custom operations
are on", "Could not find cuda drivers", "failed call to cuInit". On a CPU
machine these read like errors in red boxes under the imports. The package
silences file descriptor 2 only around the two moments that print them:
importing the backend and asking it for its devices. Python exceptions are
not affected: they are raised after the descriptor is restored.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    """Send what native code writes to stderr to /dev/null for the duration of the block."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real descriptor 2 (some embedded interpreters): nothing to hide
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
