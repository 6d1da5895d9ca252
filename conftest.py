"""Print how long each notebook took when pytest executes chapters with nbval."""

import collections

_seconds_per_notebook = collections.OrderedDict()


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        _seconds_per_notebook[path] = _seconds_per_notebook.get(path, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if not _seconds_per_notebook:
        return
    terminalreporter.section("notebook execution time")
    for path, seconds in _seconds_per_notebook.items():
        terminalreporter.write_line(f"{path.rsplit('/', 1)[-1]:<40}{seconds:8.1f} s")
    terminalreporter.write_line(f"{'total':<40}{sum(_seconds_per_notebook.values()):8.1f} s")
