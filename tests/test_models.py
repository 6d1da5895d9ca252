"""Tests of cnncourse.models: the course's parameter totals, the layer table, the quiz and the diagram."""

import math
from functools import lru_cache

import keras
import numpy as np
import pytest

from cnncourse import models as cc_models
from cnncourse.models import build, layer_table, names, summary_quiz, summary_quiz_template


@lru_cache(maxsize=None)
def built(name):
    """Each named model once per test run: building is the slow part of these tests."""
    return build(name)


def conv(kernel, channels, filters):
    """Parameters of a square convolution with bias, worked out by hand in the tests."""
    return (kernel * kernel * channels + 1) * filters


def dense(inputs, units):
    return inputs * units + units


def weight_count(weights):
    return sum(math.prod(weight.shape) for weight in weights)


def shown_layers(model):
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def test_names_lists_every_model_in_course_order():
    assert names() == [
        "dropout_maxnorm_cifar10",
        "mnist_convnet_base",
        "mnist_convnet",
        "horses_humans_convnet",
        "dimension_walk",
        "vgg_style_cifar10",
        "compact_cifar10",
        "two_block_cifar10",
        "transfer_backbone",
        "dense_cifar10",
        "small_dense",
        "small_convnet",
        "airbench_cifar10",
    ]


TOTALS = {
    "dropout_maxnorm_cifar10": 4_210_090,
    "mnist_convnet_base": 55_744,
    "mnist_convnet": 93_322,
    "horses_humans_convnet": 2_617_665,
    "dimension_walk": 8_228,
    "vgg_style_cifar10": 631_658,
    "compact_cifar10": 122_570,
    "two_block_cifar10": 1_116_970,
    "transfer_backbone": 288_352,
    "dense_cifar10": 1_707_274,
    "small_dense": 50_890,
    "small_convnet": 50_186,
    "airbench_cifar10": 1_973_951,  # 1,971,352 trainable, as airbench94; the rest: frozen whitening, BN statistics
}


def test_every_model_has_a_total():
    assert sorted(TOTALS) == sorted(names())


@pytest.mark.parametrize("name", list(TOTALS))
def test_totals_through_keras_and_layer_table(name):
    model = built(name)
    table = layer_table(model)
    assert model.count_params() == TOTALS[name]
    assert table.total == TOTALS[name]
    frozen = {"transfer_backbone": 896,  # BatchNormalization's running means and variances
              "airbench_cifar10": 2 * (2 * 64 + 4 * 256) + 2 * 2 * 3 * 24 + 7,  # those, the fixed whitening
              }.get(name, 0)                                                  # filters and 7 bias switches
    assert table.trainable == TOTALS[name] - frozen and table.non_trainable == frozen
    if not frozen:
        assert str(table).splitlines()[-1] == f"Total: {TOTALS[name]:,} parameters ({TOTALS[name]:,} trainable)"


def test_compact_cifar10_total_from_the_formulas():
    # 32x32 -> conv 30 -> pool 15 -> conv 13 -> pool 6 -> conv 4: 4*4*64 features.
    expected = conv(3, 3, 32) + conv(3, 32, 64) + conv(3, 64, 64) + dense(4 * 4 * 64, 64) + dense(64, 10)
    assert expected == 122_570
    assert built("compact_cifar10").count_params() == expected
    assert layer_table(built("compact_cifar10")).total == expected


# Output shape and parameter count of every layer, as a learner writes them.
LAYERS = {
    "dropout_maxnorm_cifar10": [
        ((32, 32, 32), 896),
        ((32, 32, 32), 0),
        ((32, 32, 32), 9_248),
        ((16, 16, 32), 0),
        ((8_192,), 0),
        ((512,), 4_194_816),
        ((512,), 0),
        ((10,), 5_130),
    ],
    "mnist_convnet_base": [
        ((26, 26, 32), 320),
        ((13, 13, 32), 0),
        ((11, 11, 64), 18_496),
        ((5, 5, 64), 0),
        ((3, 3, 64), 36_928),
    ],
    "mnist_convnet": [
        ((26, 26, 32), 320),
        ((13, 13, 32), 0),
        ((11, 11, 64), 18_496),
        ((5, 5, 64), 0),
        ((3, 3, 64), 36_928),
        ((576,), 0),
        ((64,), 36_928),
        ((10,), 650),
    ],
    "horses_humans_convnet": [
        ((98, 98, 32), 896),
        ((49, 49, 32), 0),
        ((47, 47, 64), 18_496),
        ((23, 23, 64), 0),
        ((21, 21, 128), 73_856),
        ((10, 10, 128), 0),
        ((8, 8, 256), 295_168),
        ((4, 4, 256), 0),
        ((4_096,), 0),
        ((512,), 2_097_664),
        ((256,), 131_328),
        ((1,), 257),
    ],
    "dimension_walk": [
        ((28, 28, 16), conv(5, 3, 16)),
        ((14, 14, 16), 0),
        ((14, 14, 8), conv(3, 16, 8)),
        ((7, 7, 8), 0),
        ((5, 5, 4), conv(3, 8, 4)),
        ((100,), 0),
        ((50,), dense(100, 50)),
        ((10,), dense(50, 10)),
    ],
    "vgg_style_cifar10": [
        ((32, 32, 64), 1_792),
        ((32, 32, 64), 36_928),
        ((16, 16, 64), 0),
        ((16, 16, 32), 18_464),
        ((16, 16, 32), 9_248),
        ((8, 8, 32), 0),
        ((8, 8, 16), 4_624),
        ((8, 8, 16), 2_320),
        ((1_024,), 0),
        ((512,), 524_800),
        ((64,), 32_832),
        ((10,), 650),
    ],
    "compact_cifar10": [
        ((30, 30, 32), conv(3, 3, 32)),
        ((15, 15, 32), 0),
        ((13, 13, 64), conv(3, 32, 64)),
        ((6, 6, 64), 0),
        ((4, 4, 64), conv(3, 64, 64)),
        ((1_024,), 0),
        ((64,), dense(1_024, 64)),
        ((10,), dense(64, 10)),
    ],
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_per_layer_shapes_and_counts(name):
    model = built(name)
    rows = layer_table(model).rows
    assert [(row.output_shape, row.params) for row in rows] == LAYERS[name]
    assert [layer.count_params() for layer in shown_layers(model)] == [count for _, count in LAYERS[name]]
    assert sum(count for _, count in LAYERS[name]) == TOTALS[name]


def test_dimension_walk_shapes_as_text():
    shapes = [row.shape_text for row in layer_table(built("dimension_walk")).rows]
    assert shapes == ["28×28×16", "14×14×16", "14×14×8", "7×7×8", "5×5×4", "100", "50", "10"]


@pytest.mark.parametrize("name", names())
def test_table_agrees_with_keras_for_every_model(name):
    model = built(name)
    table = layer_table(model)
    layers = shown_layers(model)
    assert [row.name for row in table.rows] == [layer.name for layer in layers]
    for row, layer in zip(table.rows, layers):
        assert row.params == layer.count_params(), row
        assert row.trainable == weight_count(layer.trainable_weights), row
        assert row.output_shape == tuple(layer.output.shape[1:])
        assert row.formula == "no weights" or row.formula.split(" (")[0].endswith(f"= {row.params:,}")
    assert table.total == model.count_params()
    assert table.trainable == weight_count(model.trainable_weights)
    assert table.non_trainable == weight_count(model.non_trainable_weights)


def test_dropout_maxnorm_softmax_by_default_and_sigmoid_reproduces_the_source():
    assert built("dropout_maxnorm_cifar10").layers[-1].activation is keras.activations.softmax
    defect = build("dropout_maxnorm_cifar10", output_activation="sigmoid")
    assert defect.layers[-1].activation is keras.activations.sigmoid
    assert defect.count_params() == 4_210_090
    with pytest.raises(ValueError, match="softmax"):
        build("dropout_maxnorm_cifar10", output_activation="relu")


def test_dropout_maxnorm_keeps_the_max_norm_constraints():
    layers = built("dropout_maxnorm_cifar10").layers
    constrained = [layer.name for layer in layers if getattr(layer, "kernel_constraint", None) is not None]
    assert constrained == ["conv1", "conv2", "dense"]


def test_two_block_cifar10_total_from_the_formulas():
    # same padding keeps 32x32, two poolings leave 8x8x64 = 4,096 features
    expected = (conv(3, 3, 32) + conv(3, 32, 32) + conv(3, 32, 64) + conv(3, 64, 64) + dense(8 * 8 * 64, 256)
                + dense(256, 10))
    assert expected == TOTALS["two_block_cifar10"]


def test_random_shift_moves_training_images_only_and_compiles_with_the_step_on_jax():
    keras.utils.set_random_seed(0)
    shift = cc_models.random_shift(0.25, fill_mode="constant", interpolation="nearest")
    images = np.arange(1, 2 * 8 * 8 + 1, dtype="float32").reshape(2, 8, 8, 1)  # no pixel is 0
    assert np.array_equal(keras.ops.convert_to_numpy(shift(images, training=False)), images)
    moved = keras.ops.convert_to_numpy(shift(images, training=True))
    assert moved.shape == images.shape and not np.array_equal(moved, images)
    assert set(np.unique(moved)) <= set(np.unique(images)) | {0.0}  # whole pixels moved, the border filled with 0
    assert 0.0 in moved  # "constant" fills the uncovered border with zeros
    assert shift.supports_jit == (keras.backend.backend() == "jax")
    model = build("two_block_cifar10", augmentation=True)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    assert model.jit_compile == (keras.backend.backend() == "jax")  # TensorFlow's XLA cannot; PyTorch: eager


def test_flip_and_shift_mirrors_training_images_and_leaves_predictions_alone():
    keras.utils.set_random_seed(0)  # before the layers are built: each takes its seed then
    flip, shift = cc_models.flip_and_shift(0.25)
    assert (flip.name, flip.mode, shift.name) == ("random_flip", "horizontal", "random_shift")
    assert (shift.height_factor, shift.width_factor) == (0.25, 0.25)
    images = np.arange(2 * 8 * 8 * 3, dtype="float32").reshape(2, 8, 8, 3)
    for layer in (flip, shift):
        assert np.array_equal(keras.ops.convert_to_numpy(layer(images, training=False)), images)
    flipped = [keras.ops.convert_to_numpy(flip(images, training=True)) for _ in range(8)]
    assert all(np.array_equal(f[i], images[i]) or np.array_equal(f[i], images[i, :, ::-1])
               for f in flipped for i in range(2))  # each image is either left alone or mirrored left to right
    assert any(not np.array_equal(f, images) for f in flipped)


def test_two_block_cifar10_switches_each_remedy_on_alone():
    def layer_names(**options):
        return [layer.name for layer in build("two_block_cifar10", **options).layers]

    plain = layer_names()
    assert not any(name.startswith(("dropout", "random", "conv1_1_bn")) for name in plain)
    assert [name for name in layer_names(dropout=(0.25, 0.5)) if name.startswith("dropout")] == [
        "dropout1", "dropout2", "dropout3"]
    assert layer_names(augmentation=True)[:2] == ["random_flip", "random_shift"]
    with_bn = build("two_block_cifar10", batch_norm=True)
    bn_layers = [layer for layer in with_bn.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(bn_layers) == 4 and all(layer.momentum == 0.9 for layer in bn_layers)
    assert with_bn.get_layer("conv1_1").use_bias is False  # the normalization's shift replaces the bias
    regularized = build("two_block_cifar10", max_norm=3.0, l2=5e-4)
    conv, dense_layer = regularized.get_layer("conv2_2"), regularized.get_layer("dense")
    assert conv.kernel_constraint.axis == [0, 1, 2] and dense_layer.kernel_constraint.axis == 0
    assert conv.kernel_regularizer.l2 == pytest.approx(5e-4)
    assert build("two_block_cifar10").get_layer("dense").kernel_constraint is None


@pytest.mark.parametrize("options, error, message", [
    (dict(dropout=0.5), TypeError, "pair of rates"),
    (dict(dropout=(0.5, 1.0)), ValueError, "at most 0.95"),
    (dict(max_norm=0), ValueError, "positive number"),
    (dict(l2="a lot"), TypeError, "must be a number"),
    (dict(batch_norm="yes"), TypeError, "True or False"),
])
def test_two_block_cifar10_rejects_bad_options(options, error, message):
    with pytest.raises(error, match=message):
        build("two_block_cifar10", **options)


def test_models_are_built_and_ready_for_summary():
    model = built("mnist_convnet")
    assert model.built and model.inputs[0].shape == (None, 28, 28, 1)
    model.summary(print_fn=lambda *args, **kwargs: None)


def test_options_input_shape_num_classes_and_hidden_units():
    model = build("mnist_convnet", input_shape=(28, 28, 1), num_classes=5)
    assert model.outputs[0].shape == (None, 5)
    assert build("small_dense", input_shape=[32, 32, 3]).inputs[0].shape == (None, 32, 32, 3)
    wide = build("dense_cifar10", hidden_units=(128,))
    assert wide.count_params() == dense(32 * 32 * 3, 128) + dense(128, 10)
    assert build("small_convnet", filters=(8, 16)).count_params() == (
        conv(3, 1, 8) + conv(3, 8, 16) + dense(7 * 7 * 16, 10)
    )


def test_small_dense_and_small_convnet_have_similar_budgets():
    dense_budget = built("small_dense").count_params()
    conv_budget = built("small_convnet").count_params()
    assert dense_budget == dense(28 * 28, 64) + dense(64, 10)
    assert conv_budget == conv(3, 1, 32) + conv(3, 32, 64) + dense(7 * 7 * 64, 10)
    for budget in (dense_budget, conv_budget):
        assert 50_000 <= budget <= 100_000
    assert max(dense_budget, conv_budget) / min(dense_budget, conv_budget) <= 1.2
    for name in ("small_dense", "small_convnet"):
        assert built(name).outputs[0].shape == (None, 10)
        assert built(name).layers[-1].activation is keras.activations.softmax


def branch_model():
    """A Functional model with two convolution paths, normalization and cheap convolutions."""
    layers = keras.layers
    image = keras.Input((16, 16, 3), name="image")
    left = layers.Conv2D(8, 3, padding="same", name="left")(image)
    right = layers.Conv2D(8, 1, use_bias=False, name="right")(image)
    x = layers.Add(name="add")([left, right])
    x = layers.BatchNormalization(name="batch_norm")(x)
    x = layers.SeparableConv2D(16, 3, name="separable")(x)
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, name="depthwise")(x)
    x = layers.Conv2D(8, 3, groups=4, name="grouped")(x)
    x = layers.Conv2DTranspose(4, 2, strides=2, name="transposed")(x)
    x = layers.LayerNormalization(name="layer_norm")(x)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    output = layers.Dense(3, use_bias=False, name="output")(x)
    return keras.Model(image, output, name="branch")


def test_functional_model_with_branch_batch_norm_and_cheap_convolutions():
    model = branch_model()
    model.get_layer("left").trainable = False
    table = layer_table(model)
    rows = {row.name: row for row in table.rows}
    assert "image" not in rows
    assert rows["left"].formula == "(3·3·3 + 1)·8 = 224"
    assert rows["right"].formula == "1·1·3·8 = 24"
    assert rows["add"].formula == "no weights"
    assert rows["batch_norm"].formula == "4·8 = 32 (2·8 = 16 trainable)"
    assert rows["separable"].formula == "3·3·8 + 8·16 + 16 = 216"
    assert rows["depthwise"].formula == "(3·3 + 1)·16·2 = 320"
    assert rows["depthwise"].output_shape == (12, 12, 32)
    assert rows["grouped"].formula == "(3·3·8 + 1)·8 = 584 (4 groups of 8 input channels)"
    assert rows["transposed"].formula == "(2·2·8 + 1)·4 = 132"
    assert rows["layer_norm"].formula == "from its weights"
    assert rows["output"].formula == "4·3 = 12"
    assert rows["left"].trainable == 0
    for layer in shown_layers(model):
        assert rows[layer.name].params == layer.count_params(), layer.name
        assert rows[layer.name].trainable == weight_count(layer.trainable_weights), layer.name
    assert table.total == model.count_params()
    assert table.trainable == weight_count(model.trainable_weights)
    assert table.non_trainable == weight_count(model.non_trainable_weights) == 224 + 16
    assert table.total_line().endswith(f"({table.trainable:,} trainable, 240 non-trainable)")


def test_one_and_three_dimensional_convolutions():
    layers = keras.layers
    series = keras.Sequential(
        [
            keras.Input((20, 3)),
            layers.Conv1D(4, 5, name="c1"),
            layers.SeparableConv1D(2, 3, depth_multiplier=2, name="s1"),
        ]
    )
    volume = keras.Sequential([keras.Input((6, 6, 6, 2)), layers.Conv3D(3, 3, name="c3")])
    rows = layer_table(series).rows + layer_table(volume).rows
    assert [row.formula for row in rows] == [
        "(5·3 + 1)·4 = 64",
        "3·4·2 + 4·2·2 + 2 = 42",
        "(3·3·3·2 + 1)·3 = 165",
    ]
    assert [row.params for row in rows] == [
        layer.count_params() for layer in [*series.layers, *volume.layers]
    ]


EXPECTED_SEED001_TABLE = """\
Layer    Type          Output shape  Params  Formula
-------  ------------  ------------  ------  ------------------------
conv1    Conv2D        26×26×32         320  (3·3·1 + 1)·32 = 320
pool1    MaxPooling2D  13×13×32           0  no weights
conv2    Conv2D        11×11×64      18,496  (3·3·32 + 1)·64 = 18,496
pool2    MaxPooling2D  5×5×64             0  no weights
conv3    Conv2D        3×3×64        36,928  (3·3·64 + 1)·64 = 36,928
flatten  Flatten       576                0  no weights
dense    Dense         64            36,928  576·64 + 64 = 36,928
output   Dense         10               650  64·10 + 10 = 650
-------  ------------  ------------  ------  ------------------------
Total: 93,322 parameters (93,322 trainable)"""


def test_table_text_is_exact_and_deterministic():
    text = str(layer_table(build("mnist_convnet")))
    assert text == EXPECTED_SEED001_TABLE
    assert str(layer_table(build("mnist_convnet"))) == text
    assert layer_table(built("mnist_convnet")).to_text() == text == repr(layer_table(built("mnist_convnet")))
    assert "\x1b" not in text and all(line == line.rstrip() for line in text.splitlines())


def test_table_html():
    page = layer_table(built("mnist_convnet"))._repr_html_()
    assert page.startswith('<div class="cnncourse-table-wrapper" style="overflow-x:auto"><table') and page.endswith("</table></div>")
    assert page.count("<tr>") == 1 + 8 + 1
    assert "(3·3·1 + 1)·32 = 320" in page and "Total: 93,322 parameters" in page


def right_answers(model):
    return [(row.output_shape, row.params) for row in layer_table(model).rows]


def test_quiz_right_answers(capsys):
    model = built("mnist_convnet")
    assert summary_quiz(model, right_answers(model)) is True
    out = capsys.readouterr().out
    assert out.count("✅") == 16 and "❌" not in out
    assert "Score: 8 of 8 layers right." in out


def test_quiz_accepts_lists_and_a_bare_int_for_flat_shapes(capsys):
    model = built("mnist_convnet")
    answers = [(list(shape), count) for shape, count in right_answers(model)]
    answers[5] = (576, 0)
    assert summary_quiz(model, answers) is True


def test_quiz_wrong_shape_explains_the_output_size_rule(capsys, unwrap):
    model = built("mnist_convnet")
    answers = right_answers(model)
    answers[0] = ((28, 28, 32), 320)
    answers[1] = ((26, 26, 32), 0)
    assert summary_quiz(model, answers) is False
    wrong = [line for line in unwrap(capsys.readouterr().out).splitlines() if "❌" in line]
    assert len(wrong) == 2
    assert "W − F + 1 = 28 − 3 + 1 = 26" in wrong[0] and "26×26×32" in wrong[0]
    assert "floor(W / 2) = floor(26 / 2) = 13" in wrong[1] and "13×13×32" in wrong[1]


def test_quiz_same_padding_rule(capsys, unwrap):
    model = built("dimension_walk")
    answers = right_answers(model)
    answers[2] = ((12, 12, 8), conv(3, 16, 8))
    assert summary_quiz(model, answers) is False
    assert "same padding keeps W = 14" in unwrap(capsys.readouterr().out)


def test_quiz_wrong_count_shows_the_formula(capsys):
    model = built("mnist_convnet")
    answers = right_answers(model)
    answers[0] = ((26, 26, 32), 288)
    answers[6] = ((64,), 36_864)
    assert summary_quiz(model, answers) is False
    wrong = [line for line in capsys.readouterr().out.splitlines() if "❌" in line]
    assert len(wrong) == 2
    assert "288 parameters is wrong" in wrong[0] and "(3·3·1 + 1)·32 = 320" in wrong[0]
    assert "576·64 + 64 = 36,928" in wrong[1]


def test_quiz_unanswered_rows(capsys):
    model = built("mnist_convnet")
    template = summary_quiz_template(model)
    assert template == [(None, None)] * 8
    assert summary_quiz(model, template) is False
    out = capsys.readouterr().out
    assert out.count("… not answered yet") == 8
    answers = right_answers(model)
    answers[2] = ((11, 11, 64), None)
    assert summary_quiz(model, answers) is False
    assert "… parameter count not answered yet" in capsys.readouterr().out


def test_quiz_rejects_answers_of_the_wrong_length():
    model = built("mnist_convnet")
    with pytest.raises(ValueError, match="has 8 layers"):
        summary_quiz(model, [(None, None)] * 7)
    with pytest.raises(TypeError, match="pair"):
        summary_quiz(model, [None] * 8)
    with pytest.raises(TypeError, match="list"):
        summary_quiz(model, "answers")


def test_a_chapter_module_registers_its_network_once():
    from cnncourse import modern

    assert names()[-1] == "airbench_cifar10"
    cc_models.register("airbench_cifar10", modern._airbench_cifar10)  # the same function again: accepted
    with pytest.raises(ValueError, match="a different network is already called 'airbench_cifar10'"):
        cc_models.register("airbench_cifar10", lambda **options: None)
    assert names()[-1] == "airbench_cifar10" and len(names()) == len(set(names()))


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError) as error:
        build("mnist_convnt")
    message = str(error.value)
    assert "Did you mean 'mnist_convnet'?" in message
    assert all(name in message for name in names())
    with pytest.raises(TypeError, match="dropout_maxnorm_cifar10"):
        build(1)


def test_bad_options():
    with pytest.raises(TypeError, match="input_shape, num_classes"):
        build("mnist_convnet", classes=10)
    with pytest.raises(TypeError, match="input_shape"):
        build("horses_humans_convnet", num_classes=2)
    with pytest.raises(ValueError, match="input_shape"):
        build("mnist_convnet", input_shape=(28, 28))
    with pytest.raises(TypeError, match="num_classes"):
        build("mnist_convnet", num_classes=10.0)
    with pytest.raises(ValueError, match="hidden_units"):
        build("dense_cifar10", hidden_units=(512, 0))


def test_table_needs_a_built_keras_model():
    with pytest.raises(ValueError, match="keras.Input"):
        layer_table(keras.Sequential([keras.layers.Dense(3)]))
    with pytest.raises(TypeError, match="Keras model"):
        layer_table("mnist_convnet")


def test_diagram_draws_one_box_per_layer_without_graphviz(monkeypatch):
    import matplotlib.pyplot as plt

    from cnncourse import plots

    monkeypatch.setenv("PATH", "")  # no `dot` anywhere: the diagram must not need it
    model = built("vgg_style_cifar10")
    figure = plots.model_diagram(model)
    texts = [text.get_text() for text in figure.axes[0].texts if text.get_text()]  # arrows have no text
    assert len(texts) == len(model.layers) + 1  # the input, then every layer
    assert texts[1] == "conv1_1 (Conv2D)\n32×32×64\n1,792 parameters"
    assert "631,658 parameters" in figure.axes[0].get_title()
    plt.close(figure)
    with pytest.raises(ValueError, match="per_row"):
        plots.model_diagram(model, per_row=0)


def test_largest_weight_norms_is_what_max_norm_caps():
    model = build("two_block_cifar10")
    model.get_layer("conv1_1").kernel.assign(np.ones((3, 3, 3, 32), dtype="float32"))  # each filter: sqrt(27)
    norms = cc_models.largest_weight_norms(model)
    assert list(norms)[:2] == ["conv1_1", "conv1_2"] and norms["conv1_1"] == pytest.approx(27 ** 0.5)
    capped = keras.constraints.MaxNorm(3, axis=[0, 1, 2])(model.get_layer("conv1_1").kernel)
    model.get_layer("conv1_1").kernel.assign(capped)
    assert cc_models.largest_weight_norms(model)["conv1_1"] == pytest.approx(3.0, rel=1e-5)
    with pytest.raises(TypeError, match="Keras model"):
        cc_models.largest_weight_norms("two_block_cifar10")


def test_multiply_adds_counts_each_product_of_an_input_with_a_weight():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.DepthwiseConv2D(3, name="depthwise")(x)  # valid: 6x6 positions
    x = keras.layers.SeparableConv2D(5, 3, name="separable")(x)  # 4x4
    x = keras.layers.BatchNormalization(name="norm")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Dense(6, name="per_position")(x)  # 2x2 positions, 5 -> 6
    outputs = keras.layers.Dense(2, name="head")(keras.layers.Flatten(name="flat")(x))
    table = cc_models.multiply_adds(keras.Model(inputs, outputs))
    counts = {name: count for name, _, _, count, _ in table.rows}
    assert counts == {"conv": 8 * 8 * 3 * 3 * 3 * 4, "depthwise": 6 * 6 * 3 * 3 * 4,
                      "separable": 4 * 4 * (3 * 3 * 4 + 4 * 5), "norm": 0, "pool": 0,
                      "per_position": 2 * 2 * 5 * 6, "flat": 0, "head": 24 * 2}
    assert table.total == sum(counts.values())
    formulas = {name: formula for name, _, _, _, formula in table.rows}
    assert formulas["conv"] == "8·8 positions · 3·3·3·4 = 6,912"
    assert formulas["norm"] == "elementwise, not counted" and formulas["pool"] == "no weights multiplied"
    text = str(table)
    assert text.splitlines()[0].split() == ["Layer", "Type", "Output", "shape", "Multiply-adds", "Formula"]
    assert text.splitlines()[-1] == (f"Total: {table.total:,} multiply-adds per image, forward (a training step "
                                     "adds about twice as many backward)")


def test_multiply_adds_of_the_airbench_network_are_about_118_million_per_image():
    assert cc_models.multiply_adds(build("airbench_cifar10")).total == 118_147_360
