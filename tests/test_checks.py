"""Learner checks never raise; outcome checks fail loudly."""

import numpy as np
import pytest

from cnncourse import checks

pytestmark = pytest.mark.backend_independent  # no backend code: `make test` runs it, the other CI jobs skip it


def test_answer_right_wrong_and_unanswered(capsys, unwrap):
    checks.answer(9, 9, explanation="3 x 3 = 9 windows", hint="count the windows")
    checks.answer(8, 9, explanation="3 x 3 = 9 windows", hint="count the windows")
    checks.answer(None, 9)
    right, wrong, missing = unwrap(capsys.readouterr().out).strip().splitlines()
    assert right.startswith("✅") and "3 x 3 = 9 windows" in right
    assert wrong.startswith("❌") and "count the windows" in wrong and "= 9" not in wrong  # no answer in a hint
    assert "not answered yet" in missing


@pytest.mark.parametrize("given, right, reason", [
    (1.33, True, ""), (1.333, True, ""), (4 / 3, True, ""), (1.34, False, "not the expected value"),
    (1.3, False, "at least three significant digits"), (1, False, "not the expected value"),
])
def test_answer_accepts_the_precision_a_solution_shows(capsys, unwrap, given, right, reason):
    checks.answer(given, 4 / 3)
    said = unwrap(capsys.readouterr().out)
    assert said.startswith("✅" if right else "❌") and reason in said, said


def test_a_wrong_length_is_said_in_words(capsys, unwrap):
    checks.answer((1, 1, 64), (64,))
    said = unwrap(capsys.readouterr().out)
    assert "you gave (1, 1, 64), which has 3 values; the answer has 1 value" in said, said


def test_no_hint_gives_its_answer_away():
    """A wrong answer is followed by its hint: the hint must not contain the answer it asks for."""
    from cnncourse._answers import ANSWERS

    for label, entry in ANSWERS.items():
        assert entry.hint, f"{label} has no hint for a wrong answer"
        expected = entry.expected
        forms = [] if isinstance(expected, bool) or callable(expected) else (
            [f"{expected:g}", f"{expected:,}", f"{expected:.3f}"] if isinstance(expected, (int, float))
            else [repr(expected), f"({expected})"] if isinstance(expected, str) and len(expected) < 3
            else [str(expected), repr(expected)])
        assert not [form for form in forms if form in entry.hint], f"the hint of {label} gives the answer"


def test_answer_compares_arrays_by_shape_then_values(capsys, unwrap):
    checks.answer(np.zeros((2, 2)), np.zeros((3, 3)))
    checks.answer(np.array([[1, 2], [3, 5]]), np.array([[1, 2], [3, 4]]))
    checks.answer(np.array([1.0, 2.0 + 1e-12]), np.array([1.0, 2.0]))
    shape, values, close = unwrap(capsys.readouterr().out).strip().splitlines()
    assert "which has shape 2 x 2; the answer has shape 3 x 3" in shape
    assert "1 of 4 values differ" in values
    assert close.startswith("✅")


def test_answer_tolerance(capsys):
    checks.answer(0.333, 1 / 3, tolerance=0.001)
    assert capsys.readouterr().out.startswith("✅")


def test_expect_at_least_uses_the_profile_threshold(capsys):
    checks.expect_at_least(0.8, profile="quick", quick=0.7, full=0.95, what="accuracy")
    assert "✅" in capsys.readouterr().out
    with pytest.raises(checks.OutcomeCheckFailed, match="below the full-profile threshold 0.95"):
        checks.expect_at_least(0.8, profile="full", quick=0.7, full=0.95, what="accuracy")


@pytest.mark.parametrize("value, profile, error", [
    (float("nan"), "quick", TypeError), ("0.9", "quick", TypeError), (0.9, "auto", ValueError),
])
def test_expect_at_least_rejects_bad_input(value, profile, error):
    with pytest.raises(error):
        checks.expect_at_least(value, profile=profile, quick=0.5, full=0.9, what="accuracy")


def test_expect_recorded_says_the_bar_is_about_the_recorded_runs(capsys):
    checks.expect_recorded(0.91, at_least=0.88, what="mean of the recorded runs")
    assert " ".join(capsys.readouterr().out.split()) == (
        "✅ mean of the recorded runs = 0.9100 ≥ 0.88 (recorded runs: the same bar in every profile)")
    with pytest.raises(checks.OutcomeCheckFailed, match="0.8700 is below 0.88: the recorded runs"):
        checks.expect_recorded(0.87, at_least=0.88, what="mean of the recorded runs")
    with pytest.raises(TypeError, match="finite number"):
        checks.expect_recorded(float("nan"), at_least=0.88, what="mean")


def test_expect_greater(capsys):
    checks.expect_greater(0.3, 0.1, what="drop", margin=0.05)
    checks.expect_greater(0.3, 0.1, what="fall")
    assert capsys.readouterr().out.splitlines() == ["✅ drop: 0.3000 > 0.1000 + 0.05", "✅ fall: 0.3000 > 0.1000"]
    with pytest.raises(checks.OutcomeCheckFailed, match=r"drop: expected 0.1000 > 0.3000, and it is not"):
        checks.expect_greater(0.1, 0.3, what="drop")
    with pytest.raises(checks.OutcomeCheckFailed, match=r"expected 0.3000 > 0.1000 \+ 0.5,"):
        checks.expect_greater(0.3, 0.1, what="drop", margin=0.5)


@pytest.mark.parametrize("given, expected, right", [
    ([0, 1], (0, 1), True),  # chapter 03's same_padding returns a tuple; a list is the same answer
    ((1, 0), (0, 1), False),
    (0.1 + 0.2, 0.3, True),
    (True, 1, False),
    (1, True, False),
    (True, True, True),
    (np.array([1.0, np.nan]), np.array([1.0, np.nan]), True),
    (float("nan"), float("nan"), True),
    ("abc", 3, False),
    (3, "3", False),
    (" B ", "b", True),
    (np.int64(9), 9, True),
    ([[1, 2]], [1, 2], False),
    ({"a": 1}, 3, False),
])
def test_answer_judges_like_a_teacher_and_never_raises(capsys, given, expected, right):
    checks.answer(given, expected)
    assert capsys.readouterr().out.startswith("✅" if right else "❌")


def test_expect_at_least_refuses_a_nan_threshold():
    with pytest.raises(ValueError, match="finite"):
        checks.expect_at_least(0.9, profile="quick", quick=float("nan"), full=0.9, what="accuracy")


def test_every_exercise_check_cell_uses_a_label_of_the_answer_key():
    """Check cells show a label, never the expected answer; every label has an entry, and every entry a cell."""
    import json
    import re
    from pathlib import Path

    from cnncourse._answers import ANSWERS

    used = set()
    for path in sorted((Path(__file__).resolve().parents[1] / "chapters").glob("[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code":
                assert "cc.checks.answer(" not in source, f"{path.name}: a check cell shows its answer"
                used.update(re.findall(r'cc\.checks\.check\("([^"]+)"', source))
    assert used == set(ANSWERS), f"only in cells: {used - set(ANSWERS)}; only in the key: {set(ANSWERS) - used}"


def test_check_grades_by_label_with_the_chapter_data(capsys, unwrap):
    import numpy as np

    checks.check("cifar10-ex-test-leak", "B")
    checks.check("cifar10-ex-test-leak", "a")
    checks.check("padding-stride-ex-same-stride", [0, 1])
    image = np.arange(25.0).reshape(5, 5)
    checks.check("convolution-ex-blur", np.full((3, 3), 1 / 9), image=image)
    checks.check("convolution-ex-blur", np.ones((2, 2)), image=image)
    checks.check("convolution-ex-blur", "not a kernel", image=image)
    lines = unwrap(capsys.readouterr().out).strip().splitlines()
    assert [line[0] for line in lines] == ["✅", "❌", "✅", "✅", "❌", "❌"], lines
    with pytest.raises(ValueError, match="no exercise is labelled"):
        checks.check("no-such-exercise", 1)


def test_the_open_remedy_exercise_reads_the_learners_run(capsys):
    from cnncourse import training

    def run_with(gap, validation):
        return training.TrainingRun(
            name="r", model=None, history={"loss": [1.0]}, test_accuracy=0.5, test_probabilities=None,
            test_predictions=None, test_labels=None, seconds=1.0, device="CPU", profile="quick", train_size=10,
            details={"gap": gap, "validation accuracy": validation})

    baseline = run_with(0.45, 0.55)
    checks.check("overfitting-ex-your-remedy", run_with(0.20, 0.60), baseline=baseline)
    checks.check("overfitting-ex-your-remedy", run_with(0.43, 0.60), baseline=baseline)  # gap barely smaller
    checks.check("overfitting-ex-your-remedy", run_with(0.10, 0.40), baseline=baseline)  # underfits instead
    checks.check("overfitting-ex-your-remedy", "dropout", baseline=baseline)
    checks.check("overfitting-ex-your-remedy", None, baseline=baseline)
    said = capsys.readouterr().out
    verdicts = [line[0] for line in said.splitlines() if line[0] in "✅❌…"]
    assert verdicts == ["✅", "❌", "❌", "❌", "…"]
    assert "you said" not in said and "Not yet: the gap must shrink" in said  # the verdict, in the rule's words


def test_notes_are_wrapped_between_words_to_the_output_box():
    from cnncourse import _text

    note = "note: " + " ".join(f"word{number}" for number in range(60)) + "\nshort line"
    wrapped = _text.wrap(note).splitlines()
    assert all(len(line) <= _text.WIDTH for line in wrapped) and wrapped[-1] == "short line"
    assert all(line.startswith("  ") for line in wrapped[1:-1])
    assert " ".join(line.strip() for line in wrapped[:-1]) == note.splitlines()[0]
    assert _text.wrap("x" * 100) == "x" * 100, "a single long word is never cut"


def _wrong_version(expected):
    """A wrong answer of the same kind as ``expected``."""
    if isinstance(expected, bool):
        return not expected
    if isinstance(expected, str):
        return "z" if expected != "z" else "y"
    if isinstance(expected, (int, float, np.integer, np.floating)):
        return expected * 1.5 + 1
    return np.asarray(expected) + 1


@pytest.mark.parametrize("label", [label for label, entry in __import__("cnncourse._answers", fromlist=["ANSWERS"])
                                   .ANSWERS.items() if entry.given is None])
def test_every_solution_passes_its_check_and_a_wrong_answer_is_refused_sensibly(capsys, unwrap, label):
    """A solution passes; a wrong answer gets the hint, not the explanation. An exercise whose answer is read off
    the chapter's data or a measured run is checked on its entry's example data."""
    from cnncourse._answers import ANSWERS

    entry = ANSWERS[label]
    data = entry.example or {}
    assert callable(entry.expected) == bool(data), f"{label}: a function of the chapter's data needs an example"
    solution = entry.expected(**data) if callable(entry.expected) else entry.expected
    capsys.readouterr()
    checks.check(label, solution, **data)
    right = unwrap(capsys.readouterr().out)
    assert "✅" in right and entry.explanation in right, right
    wrong_answer = next(choice for choice in entry.choices if choice != solution) if entry.choices \
        else _wrong_version(solution)
    checks.check(label, wrong_answer, **data)
    wrong = unwrap(capsys.readouterr().out)
    assert "❌" in wrong and entry.hint in wrong and entry.explanation not in wrong, wrong


def test_a_prediction_is_asked_for_before_the_run_is_shown(capsys):
    """Unanswered, a predict-run-explain check says so and prints nothing it measured; a word outside its
    choices is refused before the run is judged."""
    from cnncourse._answers import ANSWERS

    checks.check("first-convnet-ex-learning-rate", None, **ANSWERS["first-convnet-ex-learning-rate"].example)
    said = capsys.readouterr().out
    assert said.startswith("… no prediction yet") and '"about the same"' in said
    assert "measured" not in said and "0.95" not in said
    with pytest.raises(TypeError, match="accuracies must be a dict"):
        checks.check("first-convnet-ex-learning-rate", "lower", accuracies={})
    checks.check("first-convnet-ex-learning-rate", "lower accuracy", accuracies={"a": 0.9, "b": 0.1})
    said = capsys.readouterr().out
    assert said.startswith("❌") and "'lower accuracy'" in said and '"about the same"' in said
    assert "measured" not in said


def test_every_exercise_has_a_check_cell():
    """Each exercise's label has an entry in the answer key (or, for the summary quiz, its own checker)."""
    import json
    import re
    from pathlib import Path

    from cnncourse._answers import ANSWERS

    for path in sorted((Path(__file__).resolve().parents[1] / "chapters").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        for index, cell in enumerate(cells):
            for label in re.findall(r"> \*\*Exercise\*\* \(`([^`]+)`\)", "".join(cell["source"])):
                following = "".join("".join(later["source"]) for later in cells[index + 1:index + 3]
                                    if later["cell_type"] == "code")
                keyed = [key for key in ANSWERS if key == label or key.startswith(label + "/")]
                assert keyed or "cc.models.summary_quiz(" in following, f"{path.stem}: {label} has no check"
                assert all(f'cc.checks.check("{key}"' in following for key in keyed), (
                    f"{path.stem}: the check cell of {label} must follow its exercise")
