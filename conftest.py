"""Print how long each chapter (nbval) and each test file took, and hold the quick run's prose to its outputs."""

import collections
import os

import pytest

_seconds_per_notebook = collections.OrderedDict()
_seconds_per_test_file = collections.Counter()  # where CI's time goes besides the chapters (#30)
_quick_runs = {}  # chapter name -> its notebook with the outputs of this quick run


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _seconds_per_notebook[path] = _seconds_per_notebook.get(path, 0.0) + report.duration
    else:
        _seconds_per_test_file[path] += report.duration


def pytest_runtest_teardown(item):
    """Keep each executed cell's outputs in its notebook (nbval compares them only where a cell asks)."""
    outputs = getattr(item, "test_outputs", None)
    if type(item).__name__ == "IPyNbCell" and outputs is not None:
        item.cell.outputs = outputs
        _quick_runs[os.path.basename(str(item.parent.fspath)).removesuffix(".ipynb")] = item.parent.nb


class QuickProfileProse(pytest.Item):
    """After the chapters ran quick: no number in the prose that a learner's quick run contradicts (#31)."""

    def runtest(self):
        from cnncourse import _prose

        found = _prose.unbacked_in_quick_runs(_quick_runs)
        assert not found, ("numbers the prose quotes that the quick run does not show (say which run the sentence "
                           "describes, or quote what every profile shows):\n" + "\n".join(map(str, found)))

    def reportinfo(self):
        return self.path, None, "the prose against the quick profile's outputs"


def pytest_collection_modifyitems(session, config, items):
    """Check the prose once every chapter has run, where asked: `make test` (TensorFlow, the backend a learner's
    JupyterLab uses by default; other backends' quick runs train to other numbers)."""
    if os.environ.get("CNNCOURSE_QUICK_PROSE") == "check" and \
            any(type(item).__name__ == "IPyNbCell" for item in items):
        items.append(QuickProfileProse.from_parent(session, name="quick_profile_prose"))


def pytest_terminal_summary(terminalreporter):
    if _seconds_per_test_file and _seconds_per_notebook:
        terminalreporter.section("slowest test files")
        for path, seconds in _seconds_per_test_file.most_common(8):
            terminalreporter.write_line(f"{path.rsplit('/', 1)[-1]:<40}{seconds:8.1f} s")
        terminalreporter.write_line(f"{'all test files':<40}{sum(_seconds_per_test_file.values()):8.1f} s")
    if not _seconds_per_notebook:
        return
    terminalreporter.section("notebook execution time")
    for path, seconds in _seconds_per_notebook.items():
        terminalreporter.write_line(f"{path.rsplit('/', 1)[-1]:<40}{seconds:8.1f} s")
    terminalreporter.write_line(f"{'total':<40}{sum(_seconds_per_notebook.values()):8.1f} s")
