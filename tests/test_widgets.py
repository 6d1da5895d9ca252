"""Tests for cnncourse.widgets: explorers build, redraw and explain impossible settings."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cnncourse import plots, widgets  # noqa: E402


@pytest.fixture(autouse=True)
def widgets_on(monkeypatch):
    """`make test` switches explorers off for the notebooks; these tests need them on."""
    monkeypatch.setenv(widgets.WIDGETS_ENVIRONMENT_VARIABLE, "on")


def test_explorer_stays_silent_in_unattended_runs(monkeypatch, capsys):
    """No placeholder text lands in the committed outputs a reader sees."""
    monkeypatch.setenv(widgets.WIDGETS_ENVIRONMENT_VARIABLE, "off")
    assert widgets.explorer(lambda size=1: None, size=(1, 3)) is None
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="at least one control"):
        widgets.explorer(lambda size=1: None)


def test_explorer_builds_one_control_per_argument_and_draws():
    calls = []

    def figure_function(kernel_size, padding):
        calls.append((kernel_size, padding))
        return plt.figure()

    widget = widgets.explorer(figure_function, kernel_size=(1, 7), padding=["valid", "same"])
    assert isinstance(widget, ipywidgets.interactive)
    controls = widget.children[:-1]
    assert len(controls) == 2
    assert all(not getattr(control, "continuous_update", False) for control in controls)
    assert calls, "the explorer must draw once when it is created"
    controls[0].value = 5
    assert calls[-1][0] == 5


def test_explorer_passes_fixed_values():
    matrix = np.arange(16).reshape(4, 4)
    seen = {}

    def figure_function(image, pool_size):
        seen["image"] = image
        return plots.pooling_windows(image, pool_size)

    widgets.explorer(figure_function, fixed=dict(image=matrix), pool_size=(1, 4))
    assert seen["image"] is matrix


def test_explorer_shows_an_impossible_setting_as_a_message(capsys, unwrap):
    widgets.explorer(plots.sliding_windows, fixed=dict(input_size=3, padding="valid"),
                     kernel_size=[5, 3], stride=(1, 2))
    message = unwrap(capsys.readouterr().out)
    assert "Not possible" in message and "does not fit" in message


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: widgets.explorer("sliding_windows", kernel_size=(1, 3)), TypeError, "figure_function"),
        (lambda: widgets.explorer(plots.sliding_windows), ValueError, "at least one control"),
        (lambda: widgets.explorer(plots.sliding_windows, fixed=[3], stride=(1, 2)), TypeError, "dict"),
        (lambda: widgets.explorer(plots.sliding_windows, fixed=dict(stride=1), stride=(1, 2)),
         ValueError, "both fixed and controlled"),
    ],
)
def test_explorer_rejects_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_explorer_refuses_a_function_that_returns_no_figure():
    widget = widgets.explorer(lambda size: None, size=(1, 3))
    with pytest.raises(TypeError, match="not a matplotlib Figure"):
        widget.f(size=2)  # the redraw function the sliders call


def test_explorer_sliders_start_from_the_figure_functions_defaults():
    seen = []

    def figure_function(index=7, layer="conv2", scale=1.0):
        seen.append((index, layer))
        return plt.figure()

    widget = widgets.explorer(figure_function, index=(0, 99), layer=["conv1", "conv2"])
    values = {control.description: control.value for control in widget.children[:-1]}
    assert values == {"index": 7, "layer": "conv1"}  # a dropdown starts at its first option
    assert seen[0] == (7, "conv1")
    plt.close("all")


@pytest.mark.parametrize("value", ["off", "off  ", " OFF", "0", "false"])
def test_widgets_are_off_for_every_spelling_of_off(monkeypatch, capsys, value):
    """make keeps the spaces before a trailing comment: `VAR ?= off  # ...` gives 'off  '."""
    from cnncourse import widgets

    monkeypatch.setenv(widgets.WIDGETS_ENVIRONMENT_VARIABLE, value)
    assert widgets.explorer(plots.sliding_windows, kernel_size=(1, 5)) is None
    assert capsys.readouterr().out == ""
