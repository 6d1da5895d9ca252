"""The answer key of the chapters' exercises, by exercise label.

Kept here, not in the notebooks, so that a learner's check cell shows only
``cc.checks.check("label", answer)`` and not the answer itself. Opening this
file is like opening the back of the book: allowed, but not on the page.

An entry's ``expected`` is a value, or a function of the chapter's data that
the check cell passes by name (``cc.checks.check(label, answer, image=image)``).
``given``, when set, turns what the learner wrote into what is compared (for
a kernel: the image it produces).

A predict-run-explain exercise changes one thing in a short run: the learner
writes a prediction, the cell runs the change and passes what it measured,
and ``expected`` reads the answer off that measurement (so the verdict is
about this run, on this machine). ``example`` is such data for the tests.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from cnncourse import ops, _text, _validate, training


@dataclasses.dataclass(frozen=True)
class Answer:
    expected: object
    explanation: str
    tolerance: float | None = None
    given: Callable | None = None
    hint: str = ""  # shown after a wrong answer: where to look, never the answer itself
    example: dict | None = None  # data for an ``expected`` that is a function: what a chapter's cell could pass
    choices: tuple = ()  # a prediction's words: anything else is refused before the run is judged


_DIRECTIONS = ("lower", "about the same", "higher")


_SAME_WITHIN = 0.02  # accuracies closer than 2 points count as "about the same"


def _measured_pairs(measured, name: str) -> dict:
    """Check a predict-run-explain measurement: {label: number} or {label: (before, after)}, printed as measured."""
    if not isinstance(measured, dict) or len(measured) < 2:
        raise TypeError(f"{name} must be a dict of at least two measured values, as the exercise's cell builds it; "
                        f"got {measured!r}")
    for label, value in measured.items():
        values = value if isinstance(value, tuple) else (value,)
        for number in values:
            _validate.number(number, f"{name}[{label!r}]")
    shown = lambda number: f"{number:,}" if isinstance(number, (int, np.integer)) else f"{number:.3f}"  # noqa: E731
    _text.say("measured: " + ", ".join(
        f"{label} " + " -> ".join(shown(number) for number in (value if isinstance(value, tuple) else (value,)))
        for label, value in measured.items()))
    return measured


def _change(measured: dict, name: str) -> str:
    """Is the second measured share "lower", "higher" or "about the same" (within 2 points) as the first?"""
    before, after = list(_measured_pairs(measured, name).values())[:2]
    return ("lower" if after < before - _SAME_WITHIN else "higher" if after > before + _SAME_WITHIN
            else "about the same")


def _direction(accuracies) -> str:
    """Did the change (the second entry) make test accuracy lower, higher or about the same?"""
    return _change(accuracies, "accuracies")


def _zeros_direction(zero_shares) -> str:
    """Is the share of zeros in the second layer's maps lower, higher or about the same as in the first's?"""
    return _change(zero_shares, "zero_shares")


def _lost_more(accuracies) -> str:
    """Which network lost more test accuracy to the change ({network: (before, after)}), or "neither" (2 points)?"""
    drops = {label: before - after for label, (before, after) in _measured_pairs(accuracies, "accuracies").items()}
    worst = max(drops, key=drops.get)
    return worst if drops[worst] > _SAME_WITHIN + max(0.0, sorted(drops.values())[-2]) else "neither"


def _relation(outputs) -> str:
    """Is the second filtered image "the same" as the first, "the negative" of it (every sign flipped), or
    "neither"? ``outputs``: {label: 2-D array}, as the exercise's cell builds it."""
    if not isinstance(outputs, dict) or len(outputs) != 2:
        raise TypeError(f"outputs must be a dict of two filtered images, as the exercise's cell builds it; got "
                        f"{outputs!r}")
    first, second = (np.asarray(value, dtype=float) for value in outputs.values())
    if first.shape != second.shape:
        _text.say(f"measured: shapes {first.shape} and {second.shape}")
        return "neither"
    _text.say(f"measured on {first.size:,} output values: largest |first - second| {np.abs(first - second).max():.4g}, "
              f"largest |first + second| {np.abs(first + second).max():.4g}")
    scale = max(np.abs(first).max(), 1e-12)
    return ("the same" if np.allclose(first, second, atol=1e-9 * scale) else
            "the negative" if np.allclose(first, -second, atol=1e-9 * scale) else "neither")


def _count_change(totals) -> str:
    """Does the changed network (the second entry) have "fewer", "the same" or "more" parameters?"""
    before, after = list(_measured_pairs(totals, "totals").values())[:2]
    return "fewer" if after < before else "more" if after > before else "the same"


def _grown_layers(parameters) -> str:
    """Which kind of layer changed its parameter count ({layer name: (before, after)}): "dense", "convolutions",
    "both" or "none"; labels name the layer and its type, "dense1 (Dense)"."""
    changed = {"dense" if "Dense" in label else "conv" if "Conv" in label else label
               for label, (before, after) in _measured_pairs(parameters, "parameters").items() if before != after}
    return {frozenset(): "none", frozenset({"dense"}): "dense", frozenset({"conv"}): "convolutions"}.get(
        frozenset(changed), "both")


def _remedy_helped(run, baseline) -> bool:
    """The overfitting chapter's open exercise: a smaller gap, and no lower validation accuracy, than the baseline."""
    for what, value in (("my_run", run), ("baseline", baseline)):
        if not isinstance(value, training.TrainingRun) or "gap" not in value.details:
            raise TypeError(f"{what} must be a run from fit_and_evaluate measured by generalization_gap")
    mine, theirs = run.details, baseline.details
    _text.say(f"your model: gap {mine['gap']:.3f}, validation accuracy {mine['validation accuracy']:.4f}; "
          f"baseline: gap {theirs['gap']:.3f}, validation accuracy {theirs['validation accuracy']:.4f}")
    return bool(mine["gap"] <= theirs["gap"] - 0.05 and mine["validation accuracy"] >= theirs["validation accuracy"])


def _beats_frozen(accuracy, frozen) -> bool:
    """The transfer chapter's unfreezing exercise: fine-tuning must beat the frozen arm by a point."""
    accuracy = _validate.number(accuracy, "your accuracy", minimum=0.0, maximum=1.0)
    frozen = _validate.number(frozen, "frozen (the frozen arm's accuracy)", minimum=0.0, maximum=1.0)
    _text.say(f"the frozen arm on the same images: {frozen:.3f}; fine-tuning must reach {frozen + 0.01:.3f}")
    return accuracy >= frozen + 0.01


_POOLING_EXERCISE = np.array([[0, 4, 1, 1], [2, 3, 5, 0], [9, 9, 2, 2], [1, 0, 2, 7]])

ANSWERS = {
    # 01 setup
    "setup-ex-profile": Answer("quick", "CNNCOURSE_PROFILE overrides what auto would choose.",
        hint="which wins: the profile a notebook asks for, or the environment variable?"),
    "setup-ex-stratified": Answer(250, "stratified subsets keep each class's share: 2,500 / 10 classes.",
        hint="a stratified subset keeps each class's share of the whole dataset."),
    # 02 why convnets
    "why-convnets-ex-shuffled-pixels": Answer(_lost_more, "a dense layer has no notion of neighbours: any fixed order of "
        "the pixels is as good as another. A 3x3 filter reads neighbouring pixels; shuffled, neighbours are "
        "unrelated, so the convnet's built-in assumption now hurts it.",
        hint="which of the two networks relies on which pixels are next to each other?",
        choices=("dense", "convnet", "neither"),
        example={"accuracies": {"dense": (0.80, 0.79), "convnet": (0.82, 0.70)}}),
    "why-convnets-ex-conv-shift": Answer(1, "same weights everywhere: shift the input, the output shifts the same way.",
        hint="the same weights are applied at every position of the image."),
    "why-convnets-ex-pooled-shift": Answer(1, "two 2x2 poolings of stride 2: one cell = 4 input pixels.",
        hint="each 2x2 pooling with stride 2 halves the resolution: how many input pixels does one cell span "
             "after two?"),
    "why-convnets-ex-image-size": Answer(320, "(3·3·1 + 1)·32: weight sharing makes it independent of the "
                                         "image size.",
        hint="a filter's weights depend on its size and the channels, not on where it is applied."),
    # 03 convolution
    "convolution-ex-window": Answer(lambda by_hand: int(by_hand[1, 1]),
                                    "centre·5 minus the four neighbours (up, left, right, down).",
                                    example={"by_hand": np.arange(9).reshape(3, 3)},
        hint="multiply the 3x3 window around the centre pixel by the kernel, element by element, and add."),
    "convolution-ex-mirrored-kernel": Answer(_relation, "mirrored left to right, the Sobel kernel becomes its own "
        "negative (its columns are -1, 0, 1 and 1, 0, -1), and a convolution is linear in its kernel: every output "
        "flips its sign. Dark-to-bright edges and bright-to-dark edges swap places.",
        hint="write the mirrored kernel out next to the original: how are they related?",
        choices=("the same", "the negative", "neither"),
        example={"outputs": {"Sobel": np.array([[4.0, -2.0]]), "mirrored": np.array([[-4.0, 2.0]])}}),
    "convolution-ex-blur": Answer(lambda image: ops.conv2d(image, np.ones((3, 3)) / 9),
                                  "equal weights that sum to 1.", tolerance=1e-9,
                                  given=lambda kernel, image: ops.conv2d(image, kernel),
        hint="a blur's weights are all equal and must add up to 1."),
    # 04 padding and stride
    "padding-stride-ex-valid-5x5": Answer(ops.output_size(32, 5), "valid padding: W - F + 1 = 32 - 5 + 1 = 28.",
        hint="with valid padding, a kernel of size F fits W - F + 1 times along a side."),
    "padding-stride-ex-same-stride": Answer(ops.same_padding(8, 3, 2),
                                            "total = (ceil(8/2) - 1)*2 + 3 - 8 = 1 zero, and the odd one goes after.",
        hint="count the output cells, ceil(8 / 2), and where the last window must end."),
    "padding-stride-ex-skipped": Answer(11 - (ops.patch_positions(11, 3, 3)[-1] + 3),
                                        "the last window starts at 6 and ends at column 8; columns 9 and 10 are "
                                        "never read.",
        hint="list where the windows start (0, 3, ...) and find the last column a window reads."),
    "padding-stride-ex-explicit": Answer(ops.same_padding(28, 7)[0], "W - F + 2P + 1 = W gives P = (F - 1) / 2 = 3.",
        hint="solve W - F + 2P + 1 = W for P."),
    # 05 pooling
    "pooling-ex-max-by-hand": Answer(ops.pool2d(_POOLING_EXERCISE, 2, mode="max"),
                                     "each output is the largest of the four values in its window.",
        hint="split the matrix into four 2x2 windows and keep the largest value of each."),
    "pooling-ex-pixel-count": Answer(ops.output_size(27, 3, 3) ** 2,
                                     "27/3 = 9 per side, 9 x 9 = 81: the pixel count drops by 3^2 = 9.",
        hint="first find the side of the pooled map, then square it."),
    "pooling-ex-parameters": Answer(0, "pooling has no weights: it only summarises each window.",
        hint="what would a pooling layer learn? It only summarises each window."),
    "pooling-ex-global": Answer((64,), "global pooling keeps one number per channel: 64 maps give 64 numbers.",
        hint="global pooling reduces each whole feature map to a single number; leave out the batch axis."),
    # 06 architectures
    "architectures-ex-bigger-images": Answer(_grown_layers, "a filter's weights depend on its size and channels, "
        "not on the image; the flattened maps grow with the image, and so does the dense layer that reads them.",
        hint="which formula of the chapter has the image size in it, through the number of flattened values?",
        choices=("convolutions", "dense", "both", "none"),
        example={"parameters": {"conv1 (Conv2D)": (896, 896), "dense1 (Dense)": (65_600, 589_888)}}),
    "architectures-ex-three-3x3/parameters": Answer(3 * (3 * 3 * 32 + 1) * 32, "3 x (3*3*32 + 1)*32 = 3 x 9,248.",
        hint="work out one 3x3 layer on 32 channels, biases included, then count the layers."),
    "architectures-ex-three-3x3/receptive-field": Answer(ops.receptive_field([(3, 1)] * 3),
                                                         "each 3x3 layer adds 2: 3, 5, 7.",
        hint="each stacked 3x3 layer with stride 1 widens the receptive field by 2."),
    "architectures-ex-squeeze": Answer(_count_change, "the 1x1 convolution costs (64 + 1)·16 = 1,040 parameters, "
        "but the maps it hands to Flatten have 16 channels instead of 64, so the dense layer reads a quarter as many "
        "numbers and loses three quarters of its weights: far more than the new layer adds.",
        hint="count what the new layer costs, then what it saves in the dense layer that reads its output.",
        choices=("fewer", "the same", "more"),
        example={"totals": {"compact_cifar10": 122_570, "with the 1x1 squeeze": 74_458}}),
    # 07 a first convnet
    "first-convnet-ex-learning-rate": Answer(_direction, "a step 100 times larger overshoots: each update jumps "
        "past the low points of the loss instead of settling into them, so the network learns far less, or "
        "nothing at all.",
        hint="the learning rate is the size of each step downhill; what happens to a step far longer than the "
             "valley is wide?",
        choices=_DIRECTIONS,
        example={"accuracies": {"learning rate 0.001": 0.95, "learning rate 0.1": 0.10}}),
    "first-convnet-ex-cross-entropy": Answer(float(-np.log(0.6)), "-ln(0.6): only the probability of the true class "
                                             "counts.", tolerance=0.001,
        hint="with a one-hot label only the true class's term of the sum is not zero."),
    "first-convnet-ex-validation": Answer("b", "choose on validation data; report the untouched test set once.",
        hint="which score was looked at to make the choice?"),
    # 08 CIFAR-10
    "cifar10-ex-dense-parameters": Answer(1_573_376, "3,072 inputs · 512 units + 512 biases.",
        hint="flatten the 32x32x3 image first, then count weights and biases."),
    "cifar10-ex-normalised-loss": Answer(float(np.log(4)), "the outputs are divided by their sum, 2, before the "
                                         "logarithm: -ln(0.25).", tolerance=0.001,
        hint="Keras rescales the outputs so they sum to 1 before it takes the logarithm."),
    "cifar10-ex-test-leak": Answer("b", "choosing the best of many looks at the test set makes it optimistic.",
        hint="the chosen epoch was the luckiest on exactly these test images."),
    # 09 feature maps
    "feature-maps-ex-upside-down": Answer(_direction, "the network learned from upright photos only: skies above, "
        "wheels below. Nothing in its weights says that an upside-down ship is a ship; training on flipped "
        "copies (augmentation, chapter 10) would have to teach it.",
        hint="the training images were all upright: which of the patterns the network learned survive the flip?",
        choices=_DIRECTIONS,
        example={"accuracies": {"upright": 0.66, "upside down": 0.40}}),
    "feature-maps-ex-green-slice": Answer((1, 5), "the third axis is the input channel (green = 1), the last the map.",
        hint="the kernel's third axis is the input channel (red, green, blue), the last one the filter."),
    "feature-maps-ex-conv2-patch": Answer(5, "two stacked 3x3 convolutions see a 5x5 patch of the input.",
        hint="each conv2 position reads 3x3 conv1 positions, and each of those saw 3x3 pixels."),
    "feature-maps-ex-pool-zeros": Answer(_zeros_direction, "a pooled value is zero only if all four values of its "
        "2x2 window in conv2 were zero, so the share of zeros can only fall: a map that fires in a few places "
        "keeps those places, at half the resolution, and the zeros next to them are gone.",
        hint="max pooling keeps the largest of four values: when is that largest value zero?",
        choices=_DIRECTIONS,
        example={"zero_shares": {"conv2": 0.62, "pool": 0.41}}),
    # 10 overfitting
    "overfitting-ex-dropout-scale": Answer(1 / (1 - 0.25), "a kept output is divided by the keep probability, "
                                           "1 - 0.25, so each output keeps its expected value.", tolerance=0.001,
        hint="a kept output is divided by the probability of being kept."),
    "overfitting-ex-matching-decay": Answer(2 * 5e-4, "the penalty's gradient is 2·l2·w, the decay removes "
                                            "weight_decay·w (both times the learning rate).", tolerance=1e-9,
        hint="differentiate the penalty l2 · w²; the decay subtracts weight_decay · w."),
    "overfitting-ex-cat-precision": Answer([30 / 45, 30 / 50], "precision reads the cat column (30 of 45 "
                                           "predicted cats), recall the cat row (30 of 50 cats).", tolerance=0.005,
        hint="precision reads the predicted-cat column, recall the true-cat row."),
    "overfitting-ex-your-remedy": Answer(True, "the gap must shrink by at least 0.05 and validation accuracy must "
                                         "not drop below the baseline's.", given=_remedy_helped,
        hint="change one thing at a time, and compare your run with the baseline trained on the same images."),
    # 11 transfer learning
    "transfer-ex-head-parameters": Answer(128 * 5 + 5, "128 features × 5 classes + 5 biases; dropout has none.",
        hint="only the new output layer trains: weights from each feature to each class, and biases."),
    "transfer-ex-frozen-bn": Answer("b", "in Keras 3 a BatchNormalization layer with trainable = False runs in "
                                    "inference mode, with its running statistics, whatever fit asks.",
        hint="in Keras 3, what does a BatchNormalization layer do when its trainable is False?"),
    "transfer-ex-unfreeze": Answer(True, "fine-tuning must beat the frozen arm by at least 0.01 on the test set.",
                                   given=_beats_frozen,
        hint="the last block's features are the most specific to the source classes."),
    # 12 a modern convnet
    "modern-ex-bias-scale": Answer(4.0, "the square root of 16: the gradient grows by 4 and the step on the stored "
                                   "value moves the bias 4 times further again.", tolerance=1e-6,
        hint="the layer multiplies the stored value by the square root of the multiplier."),
    "modern-ex-smoothed-target": Answer(0.91, "1 - 0.1 for the true class, plus its tenth of the 0.1 spread over "
                                        "the 10 classes.", tolerance=1e-6,
        hint="the true class keeps 1 minus the smoothing and gets its share of the spread."),
    "modern-ex-flip-epochs": Answer([0, 2, 4, 6, 8], "an image mirrored in epoch 0 is mirrored in every even "
                                    "epoch.",
        hint="an image's mirroring switches at every epoch."),
    "modern-ex-muon-directions": Answer(256, "the kernel is a matrix of 3·3·128 = 1,152 rows and 256 columns, and a "
                                        "matrix has as many singular values as its smaller side.",
        hint="write the kernel as a matrix with one column per filter: how many singular values has it?"),
}
