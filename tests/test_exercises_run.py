"""The predict-run-explain exercises really run: each exercise cell, as the chapter stores it, with a prediction
written in, on small stand-ins for the chapter's variables (its data, its trained network).

A stored chapter never runs these cells (a learner predicts first), so without this test a broken exercise
would first be found by a learner.
"""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

import cnncourse as cc
from cnncourse._answers import ANSWERS

CHAPTERS = Path(__file__).resolve().parents[1] / "chapters"


def _exercise_cell(chapter: str, label: str) -> str:
    cells = json.loads(next(CHAPTERS.glob(f"{chapter}_*.ipynb")).read_text())["cells"]
    [source] = ["".join(cell["source"]) for cell in cells
                if cell["cell_type"] == "code" and f'cc.checks.check("{label}"' in "".join(cell["source"])]
    assert source.startswith("prediction = None"), f"{label}: the cell must start with the prediction to write"
    return source


def _run(chapter: str, label: str, prediction: str, namespace: dict, capsys) -> str:
    assert prediction in ANSWERS[label].choices
    source = _exercise_cell(chapter, label).replace("prediction = None", f"prediction = {prediction!r}", 1)
    capsys.readouterr()
    exec(compile(source, f"{chapter}:{label}", "exec"), {"cc": cc, "keras": keras, "np": np, **namespace})
    said = capsys.readouterr().out
    assert said.startswith("measured") and ("✅" in said or "❌" in said), said
    return said


@pytest.fixture(scope="module")
def fashion():
    return cc.data.load("fashion_mnist", train_size=600, test_size=200, seed=0, verbose=False)


@pytest.fixture(scope="module")
def cifar():
    return cc.data.load("cifar10", train_size=200, test_size=100, seed=0, verbose=False)


class _Settings:
    """What the exercise cells use of a chapter's settings."""
    batch_size = 64

    @staticmethod
    def reseed():
        keras.utils.set_random_seed(0)


def test_the_instant_exercises_run_and_their_solutions_pass(capsys):
    photo = cc.data.sample_photograph(grayscale=True).astype(float)
    kernels = {"vertical edges (Sobel)": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])}
    said = _run("03", "convolution-ex-mirrored-kernel", "the negative", {"photo": photo, "kernels": kernels}, capsys)
    assert "✅" in said
    assert "✅" in _run("06", "architectures-ex-bigger-images", "dense", {}, capsys)
    assert "✅" in _run("06", "architectures-ex-squeeze", "fewer", {}, capsys)


def test_the_training_exercises_run_on_small_stand_ins(capsys, fashion, cifar):
    namespace = {"data": fashion, "seed": 0, "settings": _Settings}
    _run("02", "why-convnets-ex-shuffled-pixels", "convnet", namespace, capsys)

    twin_images, twin_labels = fashion.train_images[:300], fashion.train_labels[:300]
    initial_weights = cc.models.build("mnist_convnet").get_weights()
    _run("07", "first-convnet-ex-learning-rate", "lower",
         {"data": fashion, "settings": _Settings, "twin_images": twin_images, "twin_labels": twin_labels,
          "initial_weights": initial_weights, "validation_images": fashion.test_images[:300],
          "validation_labels": fashion.test_labels[:300]}, capsys)

    model = cc.models.build("dropout_maxnorm_cifar10")  # untrained: the cells only need a network that runs
    chapter9 = {"model": model, "cifar": cifar, "test_accuracy": 0.1, "statistics_images": cifar.train_images[:20]}
    _run("09", "feature-maps-ex-upside-down", "lower", chapter9, capsys)
    _run("09", "feature-maps-ex-pool-zeros", "lower", chapter9, capsys)
