"""Exercise auto-checks and outcome assertions.

Two kinds of check live here. ``answer`` grades a learner: it prints ✅ or ❌
with the reason and never raises, so a notebook with unfinished exercises
still runs. ``expect_at_least`` guards the course itself: a chapter whose
network stops learning raises ``OutcomeCheckFailed`` and fails CI.
"""

from __future__ import annotations

import inspect
import numbers

import numpy as np

from cnncourse import config, _text, _validate

__all__ = ["OutcomeCheckFailed", "answer", "check", "expect_at_least", "expect_greater", "expect_recorded"]


class OutcomeCheckFailed(AssertionError):
    """A chapter did not reach what its profile promises."""


def _is_number(value) -> bool:
    return isinstance(value, (numbers.Real, np.floating, np.integer)) and not isinstance(value, (bool, np.bool_))


def expect_at_least(value, *, quick: float, full: float, what: str, profile: str | None = None) -> None:
    """Fail loudly if ``value`` is below this profile's threshold.

    Each chapter states its thresholds next to the training code, so a reader
    sees what "it worked" means for the quick run and for the full run. The
    profile is the chapter's (``cc.config.settings``) unless given.
    """
    profile = profile if profile is not None else config.current_profile()
    for threshold, name in ((quick, "quick"), (full, "full")):
        _validate.number(threshold, f"the {name} threshold")
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
    _text.say(f"✅ {what} = {value:.4f} ≥ {threshold} (the {profile}-profile threshold)")


def expect_recorded(value, *, at_least: float, what: str) -> None:
    """Fail loudly if a number of the recorded runs is below ``at_least``: one bar, whatever the page's profile.

    A chapter may read runs recorded once with the full profile (hours of
    CPU) while it trains its own quick run. Those runs are the same in every
    profile, so their bar is too, and the check says that it is about them.
    """
    _validate.number(at_least, "at_least")
    if not _is_number(value) or not np.isfinite(value):
        raise TypeError(f"{what} must be a finite number, got {value!r}")
    if value < at_least:
        raise OutcomeCheckFailed(f"❌ {what} = {value:.4f} is below {at_least}: the recorded runs do not show "
                                 "what this chapter says they show")
    _text.say(f"✅ {what} = {value:.4f} ≥ {at_least} (recorded runs: the same bar in every profile)")


def expect_greater(larger, smaller, *, what: str, margin: float = 0.0) -> None:
    """Fail loudly unless ``larger`` exceeds ``smaller`` by ``margin``."""
    for value, name in ((larger, "larger"), (smaller, "smaller"), (margin, "margin")):
        if not _is_number(value) or not np.isfinite(value):
            raise TypeError(f"expect_greater compares finite numbers: {name} is {value!r}")
    if margin < 0:
        raise ValueError(f"margin must be 0 or more (how much larger must exceed smaller), got {margin!r}")
    claim = f"{larger:.4f} > {smaller:.4f}" + (f" + {margin}" if margin else "")
    if not larger > smaller + margin:
        raise OutcomeCheckFailed(f"❌ {what}: expected {claim}, and it is not")
    _text.say(f"✅ {what}: {claim}")


def check(label: str, given, **data) -> None:
    """Grade the answer to the exercise ``label`` (✅/❌ with the reason); the expected answer stays in ``cc``.

    Some exercises are about the chapter's own data: pass it by name, as the
    check cell shows (``cc.checks.check("convolution-ex-window", answer, by_hand=by_hand)``).
    """
    from cnncourse._answers import ANSWERS

    if not isinstance(label, str):
        raise TypeError(f"label must be the exercise's label as a string, such as 'cifar10-ex-test-leak'; got "
                        f"{label!r}")
    if label not in ANSWERS:
        raise ValueError(f"no exercise is labelled {label!r}; labels look like 'cifar10-ex-test-leak'")
    entry = ANSWERS[label]
    needed = sorted({name for function in (entry.expected, entry.given) if callable(function)
                     for name in list(inspect.signature(function).parameters)[function is entry.given:]})
    missing, unknown = [name for name in needed if name not in data], sorted(set(data) - set(needed))
    if missing or unknown:
        shown = ", ".join(f"{name}={name}" for name in needed)
        raise TypeError(f"the check {label!r} takes " + (f"the chapter's {shown}" if needed else "only the answer")
                        + f": call cc.checks.check({label!r}, answer" + (f", {shown}" if needed else "") + ")"
                        + (f"; missing {', '.join(missing)}" if missing else "")
                        + (f"; unexpected {', '.join(unknown)}" if unknown else ""))
    if given is not None and given is not Ellipsis and entry.given is not None:
        try:
            given = entry.given(given, **data)
        except Exception as error:  # a learner's half-finished answer must not crash the notebook
            _text.say(f"❌ Not quite: your answer could not be used ({type(error).__name__}: {error}).")
            return
        if isinstance(entry.expected, bool):  # an open exercise: `given` judged the learner's own run
            _text.say("✅ Passed: " + entry.explanation if bool(given) == entry.expected
                      else "❌ Not yet: " + entry.explanation + (f" Hint: {entry.hint}" if entry.hint else ""))
            return
    if given is None or given is Ellipsis:  # before any measured outcome is shown: predict first
        if entry.choices:
            _text.say("… no prediction yet: write one of " + ", ".join(f'"{choice}"' for choice in entry.choices)
                      + " in place of None and run the cell again")
        else:
            answer(given, None)
        return
    if entry.choices and (not isinstance(given, str) or given.strip().lower() not in entry.choices):
        _text.say(f"❌ Not a prediction this exercise can judge: you gave {given!r}; write one of "
                  + ", ".join(f'"{choice}"' for choice in entry.choices) + ".")
        return
    expected = entry.expected(**data) if callable(entry.expected) else entry.expected
    answer(given, expected, explanation=entry.explanation, tolerance=entry.tolerance, hint=entry.hint)


def answer(given, expected, *, explanation: str = "", tolerance: float | None = None, hint: str = "") -> None:
    """Grade a learner's answer: print ✅ or ❌ with the reason, never raise.

    Compared the way a teacher would: ``None`` (or ``...``) means "not
    answered yet"; numbers within ``tolerance`` (default: a relative 1e-6,
    so ``0.1 + 0.2`` is ``0.3``), or rounded as the learner rounded them with
    at least three significant digits (``1.33`` for 4/3); lists, tuples and
    arrays by length or shape, then element by element (NaN equals NaN); a
    yes/no question wants a bool (``1`` is not ``True``); text ignores case
    and surrounding spaces. A right answer gets the ``explanation``; a wrong
    one gets the ``hint``, which must not give the answer away.
    """
    if not isinstance(explanation, str) or not isinstance(hint, str):
        raise TypeError(f"explanation and hint must be text (str), got explanation={explanation!r}, hint={hint!r}")
    if tolerance is not None:
        tolerance = _validate.number(tolerance, "tolerance", minimum=0.0)
    if given is None or given is Ellipsis:
        _text.say("… not answered yet: put your answer in place of None and run the cell again")
        return
    try:
        correct, reason = _compare(given, expected, tolerance)
    except Exception as error:  # a learner's odd answer must never crash the notebook
        correct, reason = False, f"your answer {given!r} could not be compared with the expected one ({error})"
    if correct:
        _text.say("✅ Correct." + (f" {explanation}" if explanation else ""))
    else:
        _text.say(f"❌ Not quite: {reason}." + (f" Hint: {hint}" if hint else ""))


def _kind(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (numbers.Number, np.number)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, (list, tuple, np.ndarray)):
        return "sequence"
    return "other"


_KIND_WORDS = {"bool": "True or False", "number": "a number", "text": "text", "sequence": "a list or array",
               "other": "a value"}


def _compare(given, expected, tolerance) -> tuple[bool, str]:
    given_kind, expected_kind = _kind(given), _kind(expected)
    if given_kind != expected_kind:
        return False, f"the answer should be {_KIND_WORDS[expected_kind]}, you gave {given!r}"
    if expected_kind == "bool":
        return (bool(given) == bool(expected)), f"you said {bool(given)}"
    if expected_kind == "number":
        if _close(np.asarray(given), np.asarray(expected), tolerance) or _rounded_alike(given, expected):
            return True, ""
        digits = _significant_digits(given)
        if digits is not None and digits < 3 and _rounded_alike(given, expected, minimum_digits=1):
            return False, f"you gave {given}, rounded too far: give at least three significant digits"
        return False, f"you gave {given}, which is not the expected value"
    if expected_kind == "text":
        return given.strip().casefold() == expected.strip().casefold(), f"you gave {given!r}"
    if expected_kind == "sequence":
        given_array, expected_array = np.asarray(given), np.asarray(expected)
        if given_array.shape != expected_array.shape:
            return False, _shape_mismatch(given, given_array.shape, expected_array.shape)
        if given_array.dtype.kind in "biuf" and expected_array.dtype.kind in "biuf":
            close = _close(given_array, expected_array, tolerance)
        else:
            close = np.asarray(given_array == expected_array)
        if not close.all():
            return False, f"{int((~close).sum())} of {expected_array.size} values differ from the expected ones"
        return True, ""
    return given == expected, f"you gave {given!r}"


def _close(given: np.ndarray, expected: np.ndarray, tolerance) -> np.ndarray:
    if tolerance is None:
        return np.isclose(given, expected, rtol=1e-6, atol=1e-9, equal_nan=True)
    return np.isclose(given, expected, rtol=0, atol=tolerance, equal_nan=True)


def _shape_mismatch(given, given_shape, expected_shape) -> str:
    def described(shape):
        if len(shape) == 1:
            return f"{shape[0]} value{'s' * (shape[0] != 1)}"
        return "shape " + " x ".join(str(size) for size in shape)

    shown = repr(given) if len(repr(given)) <= 40 else "an array"
    return f"you gave {shown}, which has {described(given_shape)}; the answer has {described(expected_shape)}"


def _significant_digits(value) -> int | None:
    """How many significant digits a learner typed (1.33: 3); None for integers and unusual values."""
    if isinstance(value, (int, np.integer)) or not np.isfinite(value) or value == 0:
        return None
    text = repr(float(abs(value)))
    return None if "e" in text else len(text.replace(".", "").lstrip("0"))


def _rounded_alike(given, expected, minimum_digits: int = 3) -> bool:
    """Whether ``given`` is ``expected`` rounded to the decimals the learner typed (1.33 for 1.3333...)."""
    digits = _significant_digits(given)
    if digits is None or digits < minimum_digits or isinstance(expected, (int, np.integer)):
        return False
    text = repr(float(given))
    decimals = len(text.split(".")[1]) if "." in text else 0
    return bool(np.isclose(round(float(expected), decimals), float(given), rtol=0, atol=10.0 ** -(decimals + 3)))
