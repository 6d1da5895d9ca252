"""The answer key of the chapters' exercises, by exercise label.

Kept here, not in the notebooks, so that a learner's check cell shows only
``cc.checks.check("label", answer)`` and not the answer itself. Opening this
file is like opening the back of the book: allowed, but not on the page.

An entry's ``expected`` is a value, or a function of the chapter's data that
the check cell passes by name (``cc.checks.check(label, answer, image=image)``).
``given``, when set, turns what the learner wrote into what is compared (for
a kernel: the image it produces).
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
    # 00 setup
    "setup-ex-profile": Answer("quick", "CNNCOURSE_PROFILE overrides what auto would choose.",
        hint="which wins: the profile a notebook asks for, or the environment variable?"),
    "setup-ex-stratified": Answer(250, "stratified subsets keep each class's share: 2,500 / 10 classes.",
        hint="a stratified subset keeps each class's share of the whole dataset."),
    # 01 why convnets
    "why-convnets-ex-dense-weights": Answer(50_240, "784 inputs × 64 units + 64 biases.",
        hint="every input pixel connects to every unit, and each unit has one bias."),
    "why-convnets-ex-conv-shift": Answer(1, "same weights everywhere: shift the input, the output shifts the same way.",
        hint="the same weights are applied at every position of the image."),
    "why-convnets-ex-pooled-shift": Answer(1, "two 2x2 poolings of stride 2: one cell = 4 input pixels.",
        hint="each 2x2 pooling with stride 2 halves the resolution: how many input pixels does one cell span "
             "after two?"),
    "why-convnets-ex-image-size": Answer(320, "(3·3·1 + 1)·32: weight sharing makes it independent of the "
                                         "image size.",
        hint="a filter's weights depend on its size and the channels, not on where it is applied."),
    # 02 convolution
    "convolution-ex-window": Answer(lambda by_hand: int(by_hand[1, 1]),
                                    "centre·5 minus the four neighbours (up, left, right, down).",
        hint="multiply the 3x3 window around the centre pixel by the kernel, element by element, and add."),
    "convolution-ex-parameters": Answer(3 * 3 * 32 * 64 + 64,
                                        "(3·3·input channels + 1 bias) per filter, times the filters.",
        hint="each filter has a 3x3 slice per input channel, plus one bias."),
    "convolution-ex-blur": Answer(lambda image: ops.conv2d(image, np.ones((3, 3)) / 9),
                                  "equal weights that sum to 1.", tolerance=1e-9,
                                  given=lambda kernel, image: ops.conv2d(image, kernel),
        hint="a blur's weights are all equal and must add up to 1."),
    # 03 padding and stride
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
    # 04 pooling
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
    # 05 architectures
    "architectures-ex-conv-params": Answer((5 * 5 * 3 + 1) * 64, "(5*5*3 + 1)*64: 75 weights and 1 bias per filter.",
        hint="(kernel height · kernel width · input channels + 1 bias) per filter, times the filters."),
    "architectures-ex-three-3x3/parameters": Answer(3 * (3 * 3 * 32 + 1) * 32, "3 x (3*3*32 + 1)*32 = 3 x 9,248.",
        hint="work out one 3x3 layer on 32 channels, biases included, then count the layers."),
    "architectures-ex-three-3x3/receptive-field": Answer(ops.receptive_field([(3, 1)] * 3),
                                                         "each 3x3 layer adds 2: 3, 5, 7.",
        hint="each stacked 3x3 layer with stride 1 widens the receptive field by 2."),
    "architectures-ex-one-by-one": Answer((1 * 1 * 256 + 1) * 64, "(1*1*256 + 1)*64: the same formula with k = 1.",
        hint="the usual formula with a 1x1 kernel: one weight per input channel and a bias, per filter."),
    # 06 a first convnet
    "first-convnet-ex-dense-parameters": Answer(36_928, "576 inputs · 64 units + 64 biases.",
        hint="Flatten gives 3·3·64 inputs; each connects to every unit, and each unit has a bias."),
    "first-convnet-ex-cross-entropy": Answer(float(-np.log(0.6)), "-ln(0.6): only the probability of the true class "
                                             "counts.", tolerance=0.001,
        hint="with a one-hot label only the true class's term of the sum is not zero."),
    "first-convnet-ex-validation": Answer("b", "choose on validation data; report the untouched test set once.",
        hint="which score was looked at to make the choice?"),
    # 07 CIFAR-10
    "cifar10-ex-dense-parameters": Answer(1_573_376, "3,072 inputs · 512 units + 512 biases.",
        hint="flatten the 32x32x3 image first, then count weights and biases."),
    "cifar10-ex-normalised-loss": Answer(float(np.log(4)), "the outputs are divided by their sum, 2, before the "
                                         "logarithm: -ln(0.25).", tolerance=0.001,
        hint="Keras rescales the outputs so they sum to 1 before it takes the logarithm."),
    "cifar10-ex-test-leak": Answer("b", "choosing the best of many looks at the test set makes it optimistic.",
        hint="the chosen epoch was the luckiest on exactly these test images."),
    # 08 feature maps
    "feature-maps-ex-conv1-weights": Answer(896, "(3·3·3 + 1)·32: 27 weights and one bias per filter, 32 filters.",
        hint="each filter has 3x3 weights for each of the 3 colour channels, plus a bias."),
    "feature-maps-ex-green-slice": Answer((1, 5), "the third axis is the input channel (green = 1), the last the map.",
        hint="the kernel's third axis is the input channel (red, green, blue), the last one the filter."),
    "feature-maps-ex-conv2-patch": Answer(5, "two stacked 3x3 convolutions see a 5x5 patch of the input.",
        hint="each conv2 position reads 3x3 conv1 positions, and each of those saw 3x3 pixels."),
    # 09 overfitting
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
    # 10 transfer learning
    "transfer-ex-head-parameters": Answer(128 * 5 + 5, "128 features × 5 classes + 5 biases; dropout has none.",
        hint="only the new output layer trains: weights from each feature to each class, and biases."),
    "transfer-ex-frozen-bn": Answer("b", "in Keras 3 a BatchNormalization layer with trainable = False runs in "
                                    "inference mode, with its running statistics, whatever fit asks.",
        hint="in Keras 3, what does a BatchNormalization layer do when its trainable is False?"),
    "transfer-ex-unfreeze": Answer(True, "fine-tuning must beat the frozen arm by at least 0.01 on the test set.",
                                   given=_beats_frozen,
        hint="the last block's features are the most specific to the source classes."),
    # 11 a modern convnet
    "modern-ex-bias-scale": Answer(4.0, "the square root of 16: the gradient grows by 4 and the step on the stored "
                                   "value moves the bias 4 times further again.", tolerance=1e-6,
        hint="the layer multiplies the stored value by the square root of the multiplier."),
    "modern-ex-smoothed-target": Answer(0.91, "1 - 0.1 for the true class, plus its tenth of the 0.1 spread over "
                                        "the 10 classes.", tolerance=1e-6,
        hint="the true class keeps 1 minus the smoothing and gets its share of the spread."),
    "modern-ex-flip-epochs": Answer([0, 2, 4, 6, 8], "an image mirrored in epoch 0 is mirrored in every even "
                                    "epoch.",
        hint="an image's mirroring switches at every epoch."),
}
