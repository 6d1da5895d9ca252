"""Tests of cnncourse.features: extractors for every kind of model, feature maps, figures."""

import keras
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cnncourse.features import feature_extractor, feature_maps, layer_names  # noqa: E402
from cnncourse.plots import feature_map_figure, feature_map_grid, kernel_figure  # noqa: E402

layers = keras.layers
SHAPE = (8, 8, 3)


def images(count=2, seed=0):
    return np.random.default_rng(seed).random((count, *SHAPE), dtype="float32")


def sequential_layers():
    """Conv → dropout → conv → pool → flatten → dense, like the course's CIFAR-10 model in miniature."""
    return [
        layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1"),
        layers.Dropout(0.5, name="dropout"),
        layers.Conv2D(5, 3, activation="relu", name="conv2"),
        layers.MaxPooling2D(2, name="pool"),
        layers.Flatten(name="flatten"),
        layers.Dense(3, activation="softmax", name="output"),
    ]


def by_hand(model, batch):
    """Each layer of a Sequential model applied one after the other, in inference mode."""
    outputs, x = [], batch
    for layer in model.layers:
        x = layer(x, training=False)
        outputs.append(keras.ops.convert_to_numpy(x))
    return outputs


def assert_outputs_match(extractor, expected, batch):
    produced = [keras.ops.convert_to_numpy(output) for output in extractor(batch)]
    assert len(produced) == len(expected)
    for got, want in zip(produced, expected):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_sequential_built_with_an_input():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(SHAPE), *sequential_layers()])
    extractor = feature_extractor(model)
    batch = images()
    assert layer_names(model) == ["conv1", "dropout", "conv2", "pool", "flatten", "output"]
    assert extractor.output_names == layer_names(model)
    assert_outputs_match(extractor, by_hand(model, batch), batch)
    # the extractor shares the layers: the last output is the model's own prediction
    np.testing.assert_allclose(keras.ops.convert_to_numpy(extractor(batch)[-1]),
                               keras.ops.convert_to_numpy(model(batch)), rtol=1e-5, atol=1e-6)


def test_sequential_never_built_is_built_from_input_shape():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(sequential_layers())
    assert not model.built
    extractor = feature_extractor(model, input_shape=SHAPE)
    assert model.built
    batch = images()
    assert_outputs_match(extractor, by_hand(model, batch), batch)


def test_sequential_never_built_without_a_shape_says_how_to_fix_it():
    model = keras.Sequential(sequential_layers())
    with pytest.raises(ValueError, match=r"never been built.*input_shape=.*call the model once"):
        feature_extractor(model)
    with pytest.raises(ValueError, match="input_shape="):
        feature_maps(model, images(1)[0], "conv1")


def test_sequential_never_built_infers_the_shape_of_an_already_built_first_layer():
    keras.utils.set_random_seed(0)
    first, *rest = sequential_layers()
    first.build((None, *SHAPE))
    model = keras.Sequential([first, *rest])
    assert not model.built
    extractor = feature_extractor(model)
    batch = images()
    assert_outputs_match(extractor, by_hand(model, batch), batch)


def test_sequential_called_once_works_for_other_batch_sizes():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(sequential_layers())
    model(images(1))
    extractor = feature_extractor(model)
    batch = images(3, seed=1)
    assert_outputs_match(extractor, by_hand(model, batch), batch)


def test_input_shape_that_contradicts_a_built_model_is_refused():
    model = keras.Sequential([keras.Input(SHAPE), *sequential_layers()])
    feature_extractor(model, input_shape=SHAPE)  # the same shape is fine
    with pytest.raises(ValueError, match="does not match"):
        feature_extractor(model, input_shape=(16, 16, 3))
    with pytest.raises(TypeError, match="input_shape"):
        feature_extractor(model, input_shape="32x32")
    with pytest.raises(ValueError, match="positive integers"):
        feature_extractor(model, input_shape=(8, 0, 3))


def branched_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input(SHAPE, name="image")
    wide = layers.Conv2D(2, 3, activation="relu", name="wide")(inputs)
    narrow = layers.Conv2D(3, 1, activation="relu", name="narrow")(inputs)
    cropped = layers.Cropping2D(1, name="crop")(narrow)
    joined = layers.Concatenate(name="join")([wide, cropped])
    return keras.Model(inputs, layers.GlobalAveragePooling2D(name="gap")(joined), name="branched")


def test_functional_model_with_a_branch():
    model = branched_model()
    extractor = feature_extractor(model)
    names = layer_names(model)
    assert set(names) == {"wide", "narrow", "crop", "join", "gap"}
    assert "image" not in names  # the input placeholder is not a layer's output
    batch = images()
    direct = {}
    direct["wide"] = model.get_layer("wide")(batch)
    direct["narrow"] = model.get_layer("narrow")(batch)
    direct["crop"] = model.get_layer("crop")(direct["narrow"])
    direct["join"] = model.get_layer("join")([direct["wide"], direct["crop"]])
    direct["gap"] = model.get_layer("gap")(direct["join"])
    assert_outputs_match(extractor, [keras.ops.convert_to_numpy(direct[name]) for name in names], batch)
    maps = feature_maps(model, batch[0], "join")
    np.testing.assert_allclose(maps, keras.ops.convert_to_numpy(direct["join"])[0], rtol=1e-5, atol=1e-6)


def test_shared_layer_gets_a_clear_error():
    inputs = keras.Input(SHAPE)
    shared = layers.Conv2D(3, 1, name="shared")
    outputs = layers.Add(name="add")([shared(inputs), shared(inputs)])
    with pytest.raises(ValueError, match="shared"):
        feature_extractor(keras.Model(inputs, outputs))


def test_subclassed_model_is_refused_with_the_reason():
    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = layers.Conv2D(2, 3)

        def call(self, x):
            return self.conv(x)

    model = Subclassed()
    model(images(1))
    with pytest.raises(TypeError, match="subclassed"):
        feature_extractor(model)
    with pytest.raises(TypeError, match="Keras model"):
        feature_extractor("not a model")


def test_feature_maps_by_name_and_by_index_agree_with_the_extractor():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(SHAPE), *sequential_layers()])
    image = images(1)[0]
    outputs = feature_extractor(model)(image[np.newaxis])
    for position, name in [(0, "conv1"), (2, "conv2"), (3, "pool")]:
        expected = keras.ops.convert_to_numpy(outputs[position])[0]
        by_name, by_index = feature_maps(model, image, name), feature_maps(model, image, position)
        assert isinstance(by_name, np.ndarray) and by_name.ndim == 3
        np.testing.assert_allclose(by_name, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(by_name, by_index)
    assert feature_maps(model, image, 2).shape == (6, 6, 5)
    np.testing.assert_array_equal(feature_maps(model, image, -4), feature_maps(model, image, "conv2"))
    # a batch of one is accepted too
    np.testing.assert_array_equal(feature_maps(model, image[np.newaxis], 0), feature_maps(model, image, 0))


def test_bad_layer_names_and_indices_list_the_valid_layers():
    model = keras.Sequential([keras.Input(SHAPE), *sequential_layers()])
    image = images(1)[0]
    with pytest.raises(ValueError, match=r"no layer named 'conv3'.*0: 'conv1'.*2: 'conv2'.*5: 'output'"):
        feature_maps(model, image, "conv3")
    with pytest.raises(ValueError, match=r"out of range.*6 layers.*0: 'conv1'"):
        feature_maps(model, image, 6)
    with pytest.raises(TypeError, match=r"name \(str\) or an index"):
        feature_maps(model, image, 1.0)
    with pytest.raises(TypeError, match=r"name \(str\) or an index"):
        feature_maps(model, image, True)
    with pytest.raises(ValueError, match=r"not a stack of 2-D maps.*'conv1', 'dropout', 'conv2', 'pool'"):
        feature_maps(model, image, "flatten")


def test_image_of_the_wrong_shape_is_refused():
    model = keras.Sequential([keras.Input(SHAPE), *sequential_layers()])
    with pytest.raises(ValueError, match=r"ONE image of shape \(8, 8, 3\)"):
        feature_maps(model, images(2), "conv1")
    with pytest.raises(ValueError, match=r"got shape \(8, 8\)"):
        feature_maps(model, np.zeros((8, 8)), "conv1")


def test_feature_map_grid_draws_one_panel_per_map_and_marks_empty_ones():
    maps = np.random.default_rng(0).random((6, 6, 10))
    maps[:, :, 3] = 0.0
    figure = feature_map_grid(maps, columns=5, title="ten maps")
    shown = [axis for axis in figure.axes if axis.images]
    assert len(shown) == 10
    assert shown[3].get_title() == "3: off" and shown[4].get_title() == "4"
    plt.close(figure)
    with pytest.raises(ValueError, match=r"\(height, width, maps\)"):
        feature_map_grid(np.zeros((1, 6, 6, 10)))


def test_feature_map_figure_titles_the_layer():
    model = keras.Sequential([keras.Input(SHAPE), *sequential_layers()])
    figure = feature_map_figure(model, images(1)[0], 2)
    assert figure._suptitle.get_text() == "conv2: 5 feature maps of 6×6"
    assert len([axis for axis in figure.axes if axis.images]) == 5
    plt.close(figure)


def test_kernel_figure_rgb_and_per_channel():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 3, 6))
    figure = kernel_figure(kernel, columns=3)
    pictures = [axis.images[0].get_array() for axis in figure.axes if axis.images]
    assert len(pictures) == 6
    assert all(np.isclose(picture.min(), 0) and np.isclose(picture.max(), 1) for picture in pictures)
    plt.close(figure)
    figure = kernel_figure(kernel, per_channel=True, filters=[0, 5])
    panels = [axis for axis in figure.axes if axis.images]
    assert len(panels) == 3 * 2
    assert panels[0].get_ylabel() == "red"
    limits = {panel.images[0].get_clim() for panel in panels}
    assert len(limits) == 1  # one shared, symmetric colour scale
    low, high = limits.pop()
    assert np.isclose(low, -high)
    plt.close(figure)


def test_kernel_figure_accepts_a_layer_and_rejects_bad_kernels():
    model = keras.Sequential([keras.Input(SHAPE), *sequential_layers()])
    figure = kernel_figure(model.get_layer("conv1"))
    assert len([axis for axis in figure.axes if axis.images]) == 4
    plt.close(figure)
    with pytest.raises(ValueError, match="3 input channels"):
        kernel_figure(model.get_layer("conv2"))
    with pytest.raises(ValueError, match=r"\(height, width, input channels, filters\)"):
        kernel_figure(np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="filters must be indices"):
        kernel_figure(np.zeros((3, 3, 3, 2)), filters=[2])
    with pytest.raises(TypeError, match="no kernel"):
        kernel_figure(model.get_layer("pool"))


def test_layers_first_called_in_another_graph_are_tapped_in_this_one():
    keras.utils.set_random_seed(0)
    reused = sequential_layers()
    elsewhere = keras.Input(SHAPE)
    keras.Model(elsewhere, reused[0](elsewhere))  # conv1's first call belongs to another model
    model = keras.Sequential([keras.Input(SHAPE), *reused])
    batch = images()
    assert_outputs_match(feature_extractor(model), by_hand(model, batch), batch)


def test_map_statistics_measure_zeros_and_likeness_to_the_picture():
    from cnncourse.features import map_statistics

    inputs = keras.Input(SHAPE)
    copy = layers.Conv2D(2, 1, use_bias=False, name="copy")  # map 0: brightness, map 1: minus brightness
    model = keras.Model(inputs, layers.ReLU(name="relu")(copy(inputs)))
    copy.set_weights([np.array([1 / 3, -1 / 3], dtype="float32")[np.newaxis, np.newaxis, np.newaxis].repeat(3, 2)])
    batch = images(4)
    copied = map_statistics(model, batch, "copy")
    assert copied["zero_fraction"] == 0.0
    assert np.isclose(copied["brightness_correlation"], 1.0)
    rectified = map_statistics(model, batch, "relu")
    assert np.isclose(rectified["zero_fraction"], 0.5)  # the negative copy is all zero after ReLU
    assert rectified["silent_maps"] == 1 and copied["silent_maps"] == 0
    assert rectified["zero_fraction_of_active_maps"] == 0.0
    assert np.isclose(rectified["brightness_correlation"], 1.0)  # constant maps are left out
    pooled = keras.Model(inputs, layers.AveragePooling2D(2, name="pool")(copy(inputs)))
    assert np.isclose(map_statistics(pooled, batch, "pool", batch_size=3)["brightness_correlation"], 1.0)
    with pytest.raises(ValueError, match="not a stack of 2-D maps"):
        map_statistics(keras.Model(inputs, layers.Flatten(name="flat")(inputs)), batch, "flat")
    with pytest.raises(ValueError, match="must be a batch"):
        map_statistics(model, batch[0], "copy")


def test_pictures_are_averaged_down_by_area_to_maps_that_do_not_tile_them():
    from cnncourse.features import _area_weights, _shrunk

    np.testing.assert_allclose(_area_weights(4, 2), [[0.5, 0.5, 0, 0], [0, 0, 0.5, 0.5]])  # plain blocks
    np.testing.assert_allclose(_area_weights(3, 2), [[2 / 3, 1 / 3, 0], [0, 1 / 3, 2 / 3]])  # the middle pixel split
    pictures = np.random.default_rng(0).random((2, 100, 100))
    shrunk = _shrunk(pictures, 47, 47)
    assert shrunk.shape == (2, 47, 47)
    np.testing.assert_allclose(shrunk.mean(axis=(1, 2)), pictures.mean(axis=(1, 2)))  # every pixel counted once
    np.testing.assert_allclose(_shrunk(pictures, 50, 50), pictures.reshape(2, 50, 2, 50, 2).mean(axis=(2, 4)))
    ramp = np.tile(np.arange(100.0), (1, 100, 1))
    assert np.all(np.diff(_shrunk(ramp, 8, 8)[0, 0]) > 0), "a brighter side stays brighter"


def test_map_likeness_scores_each_map_of_one_image():
    from cnncourse.features import map_likeness

    picture = images(1)[0]
    brightness = picture.mean(axis=-1)
    noise = np.random.default_rng(0).normal(size=brightness.shape)
    maps = np.stack([brightness, -2 * brightness + 1, noise, np.zeros_like(brightness)], axis=-1)
    likeness = map_likeness(maps, picture)
    assert np.allclose(likeness[:2], 1.0) and likeness[2] < 0.5 and np.isnan(likeness[3])
    with pytest.raises(ValueError, match="as feature_maps returns them"):
        map_likeness(maps[np.newaxis], picture)
