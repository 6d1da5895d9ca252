"""Exercise auto-checks and outcome assertions.

Two kinds of check live here. ``answer`` grades a learner: it prints ✅ or ❌
with the reason and never raises, so a notebook with unfinished exercises
still runs. ``expect_at_least`` guards the course itself: a chapter whose
network stops learning raises ``OutcomeCheckFailed`` and fails CI.
"""

from __future__ import annotations

import numbers

import numpy as np


class OutcomeCheckFailed(AssertionError):
    """A chapter did not reach what its profile promises."""


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def expect_at_least(value, *, profile: str, quick: float, full: float, what: str) -> None:
    """Fail loudly if ``value`` is below this profile's threshold.

    Each chapter states its thresholds next to the training code, so a reader
    sees what "it worked" means for the quick run and for the full run.
    """
    if profile not in ("quick", "full"):
        raise ValueError(f"profile must be 'quick' or 'full' (a resolved profile), got {profile!r}")
    if not _is_number(value) or not np.isfinite(value):
        raise TypeError(f"{what} must be a finite number, got {value!r}")
    threshold = quick if profile == "quick" else full
    if value < threshold:
        raise OutcomeCheckFailed(
            f"❌ {what} = {value:.4f} is below the {profile}-profile threshold {threshold}: "
            "the model did not learn what this chapter promises"
        )
    print(f"✅ {what} = {value:.4f} ≥ {threshold} (the {profile}-profile threshold)")


def expect_greater(larger, smaller, *, what: str, margin: float = 0.0) -> None:
    """Fail loudly unless ``larger`` exceeds ``smaller`` by ``margin``."""
    for value in (larger, smaller):
        if not _is_number(value) or not np.isfinite(value):
            raise TypeError(f"expect_greater compares finite numbers, got {value!r}")
    if not larger > smaller + margin:
        raise OutcomeCheckFailed(
            f"❌ {what}: expected {larger:.4f} > {smaller:.4f} + {margin}, and it is not"
        )
    print(f"✅ {what}: {larger:.4f} > {smaller:.4f} + {margin}")


def answer(given, expected, *, explanation: str = "", tolerance: float = 0.0) -> None:
    """Grade a learner's answer: print ✅ or ❌ with the reason.

    ``None`` (or ``...``) means "not answered yet". Numbers are compared within
    ``tolerance``; arrays element-wise with shape checked first; anything else
    with ``==``.
    """
    if given is None or given is Ellipsis:
        print("… not answered yet: replace the placeholder with your answer and run the cell again")
        return
    correct, reason = _compare(given, expected, tolerance)
    if correct:
        print("✅ Correct." + (f" {explanation}" if explanation else ""))
    else:
        print(f"❌ Not quite: {reason}." + (f" Hint: {explanation}" if explanation else ""))


def _compare(given, expected, tolerance: float) -> tuple[bool, str]:
    if isinstance(expected, np.ndarray) or isinstance(given, np.ndarray):
        given_array, expected_array = np.asarray(given), np.asarray(expected)
        if given_array.shape != expected_array.shape:
            return False, f"your array has shape {given_array.shape}, expected {expected_array.shape}"
        if not np.allclose(given_array, expected_array, atol=max(tolerance, 1e-9)):
            wrong = int(np.sum(~np.isclose(given_array, expected_array, atol=max(tolerance, 1e-9))))
            return False, f"{wrong} of {expected_array.size} values differ from the expected ones"
        return True, ""
    if _is_number(expected) and _is_number(given):
        if abs(given - expected) <= tolerance:
            return True, ""
        return False, f"you gave {given}, which is not the expected value"
    if given == expected:
        return True, ""
    return False, f"you gave {given!r}"
