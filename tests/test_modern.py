"""Tests of cnncourse.modern: each piece of the fast CIFAR-10 recipe does what its docstring promises.

Models here are tiny (a few filters, 8x8 images) so the file runs in seconds
on every backend.
"""

import keras
import numpy as np
import pytest

from cnncourse import config, models, modern, recipe_runs, training

pytestmark = pytest.mark.usefixtures("private_cache")


def correlated_images(count=200, size=8, seed=0):
    """Images whose neighbouring pixels and channels are strongly correlated, as in photos."""
    rng = np.random.default_rng(seed)
    smooth = rng.normal(size=(count, size + 1, size + 1, 1))
    smooth = smooth[:, 1:, 1:] + smooth[:, :-1, :-1] + 0.5 * smooth[:, 1:, :-1]
    colour = np.concatenate([smooth, 0.8 * smooth + 0.2 * rng.normal(size=smooth.shape),
                             -0.5 * smooth + 0.3 * rng.normal(size=smooth.shape)], axis=-1)
    return colour.astype("float32")


def test_whitened_patches_have_identity_covariance():
    images = correlated_images()
    kernel = modern.whitening_kernel(images, size=2, epsilon=0.0)
    assert kernel.shape == (2, 2, 3, 24)
    patches = modern.patches(images, 2).astype(np.float64)
    raw = patches.T @ patches / len(patches)
    assert np.abs(raw - np.diag(np.diag(raw))).max() > 0.5  # the patches really are correlated
    whitened = patches @ kernel[..., :12].reshape(12, 12)
    np.testing.assert_allclose(whitened.T @ whitened / len(whitened), np.eye(12), atol=1e-6)
    np.testing.assert_array_equal(kernel[..., 12:], -kernel[..., :12])  # then the negated filters


def test_the_whitening_layer_computes_the_same_as_the_patch_arithmetic():
    images = correlated_images(count=4, size=12)
    model = models.build("airbench_cifar10", input_shape=(12, 12, 3), widths=(4, 4, 4))
    kernel = modern.set_whitening(model, images)
    layer_output = keras.ops.convert_to_numpy(model.get_layer("whiten")(images))
    by_hand = (modern.patches(images, 2) @ kernel.reshape(12, 24)).reshape(4, 11, 11, 24)
    np.testing.assert_allclose(layer_output, by_hand, atol=1e-4)


@pytest.mark.parametrize("channels_in, channels_out", [(3, 8), (8, 8)])
def test_a_fresh_identity_initialised_convolution_passes_its_input_through(channels_in, channels_out):
    layer = keras.layers.Conv2D(channels_out, 3, padding="same", use_bias=False,
                                kernel_initializer=modern.IdentityInit())
    images = np.random.default_rng(0).normal(size=(2, 6, 6, channels_in)).astype("float32")
    output = keras.ops.convert_to_numpy(layer(images))
    np.testing.assert_allclose(output[..., :channels_in], images, atol=1e-6)
    if channels_out > channels_in:
        assert np.abs(output[..., channels_in:]).max() > 0  # the other filters start random


def test_scaled_bias_takes_multiplier_times_the_plain_step():
    """One SGD step without momentum: a plain bias moves by lr * gradient, a scaled one 64 times as far."""
    steps = {}
    for multiplier in (1.0, 64.0):
        inputs = keras.Input(shape=(3,))
        model = keras.Model(inputs, modern.ScaledBias(multiplier, name="bias")(inputs))
        model.compile(optimizer=keras.optimizers.SGD(0.001), loss=lambda y, p: keras.ops.sum(p * y))
        direction = np.array([[1.0, -2.0, 0.5]], "float32")  # the loss's gradient with respect to the bias
        before = model.get_layer("bias").bias
        model.train_on_batch(np.zeros((1, 3), "float32"), direction)
        steps[multiplier] = model.get_layer("bias").bias - before
    np.testing.assert_allclose(steps[1.0], -0.001 * np.array([1.0, -2.0, 0.5]), rtol=1e-4)
    np.testing.assert_allclose(steps[64.0], 64 * steps[1.0], rtol=1e-4)


def test_a_frozen_bias_stops_learning():
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, modern.ScaledBias(4.0, name="bias")(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=lambda y, p: keras.ops.sum(p * y))
    model.get_layer("bias").learning.assign(0.0)
    model.train_on_batch(np.zeros((1, 3), "float32"), np.ones((1, 3), "float32"))
    np.testing.assert_array_equal(model.get_layer("bias").bias, np.zeros(3))


def test_weight_decay_matches_pytorchs_coupled_sgd():
    """airbench's per-step shrink factor (PyTorch: lr * weight_decay/lr) equals Keras's lr * 2 * L2."""
    recipe = modern.recipe_with()
    kilostep = 1024 * (1 + 1 / (1 - recipe["momentum"]))
    pytorch_decay = recipe["weight_decay"] * recipe["batch_size"] / kilostep  # airbench94's `wd`
    keras_decay = modern.learning_rate(recipe) * 2 * modern._l2(recipe)
    assert keras_decay == pytest.approx(pytorch_decay)
    # and the gradient step: PyTorch's rate on a summed loss is Keras's on the mean loss over the batch size
    assert modern.learning_rate(recipe) / recipe["batch_size"] == pytest.approx(recipe["learning_rate"] / kilostep)


def test_the_schedule_rises_to_its_peak_then_falls_to_its_end():
    schedule = modern.TriangleSchedule(2.0, total_steps=100, start=0.2, peak_at=0.23, end=0.07)
    value = lambda step: float(keras.ops.convert_to_numpy(schedule(step)))  # noqa: E731
    assert value(0) == pytest.approx(0.4)
    assert value(23) == pytest.approx(2.0)  # the end of the warm-up
    assert value(100) == pytest.approx(0.14)  # the last step
    assert value(10) < value(20) and value(50) > value(90)


def test_alternating_flips_mirror_every_image_every_other_epoch():
    images = np.random.default_rng(0).random((40, 8, 8, 3)).astype("float32")
    batches = modern.AugmentedBatches(images, np.arange(40) % 10, batch_size=40, translate=0, seed=3)

    def epoch_images(epoch):
        batches.epoch = epoch
        batches.on_epoch_begin()
        batch, labels = batches[0]
        return batch[np.argsort(batches.order)]

    first, second, third = epoch_images(0), epoch_images(1), epoch_images(2)
    np.testing.assert_array_equal(second, first[:, :, ::-1])  # every image flipped relative to the epoch before
    np.testing.assert_array_equal(third, first)
    mirrored = batches.mirrored(0)
    assert 0.3 < mirrored.mean() < 0.7  # about half start mirrored
    np.testing.assert_array_equal(first[mirrored], images[mirrored][:, :, ::-1])


def test_translations_are_windows_of_the_reflect_padded_image():
    images = np.random.default_rng(1).random((200, 8, 8, 1)).astype("float32")
    labels = np.arange(200) % 10
    batches = modern.AugmentedBatches(images, labels, batch_size=200, flip="none", translate=2, seed=0)
    batch, one_hot = batches[0]
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    for position, index in enumerate(batches.order):
        down, right = batches.epoch_shifts[index]
        np.testing.assert_array_equal(batch[position], padded[index, down:down + 8, right:right + 8])
        assert one_hot[position].argmax() == labels[index]
    shifts = {tuple(shift) for shift in batches.shifts(0)}
    assert shifts == {(down, right) for down in range(-2, 3) for right in range(-2, 3)}  # all 25 occur
    assert not np.array_equal(batches.shifts(0), batches.shifts(1))  # new shifts each epoch


def test_lookahead_pulls_the_weights_to_their_running_average():
    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1, use_bias=False)])
    kernel = model.layers[0].kernel
    callback = modern.Lookahead(total_steps=20, steps_per_epoch=10, start_epoch=1, every=5, decay=0.9, power=1.0)
    callback.set_model(model)
    callback.on_epoch_begin(0)
    callback.on_train_batch_end(4)  # epoch 0: before start_epoch, nothing happens
    assert callback.average is None
    callback.on_epoch_begin(1)
    kernel.assign(np.ones((2, 1)))
    callback.on_train_batch_end(4)  # step 15: the average starts here
    kernel.assign(3 * np.ones((2, 1)))
    callback.on_train_batch_end(9)  # step 20: rho = 0.9**5 * (20/20)**1
    rho = 0.9 ** 5
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kernel), (rho * 1 + (1 - rho) * 3) * np.ones((2, 1)),
                               rtol=1e-6)


def test_test_time_augmentation_changes_nothing_for_a_flip_invariant_model():
    inputs = keras.Input(shape=(8, 8, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(4)(pooled))  # averaging over the image ignores a mirror
    images = np.random.default_rng(2).random((16, 8, 8, 3)).astype("float32")
    plain = modern.predict_logits(model, images, level=0)
    np.testing.assert_allclose(modern.predict_logits(model, images, level=1), plain, atol=1e-5)
    assert not np.allclose(modern.predict_logits(model, images, level=2), plain, atol=1e-5)  # shifts do change it


def test_the_network_has_airbench94s_trainable_parameter_count():
    model = models.build("airbench_cifar10")
    conv = lambda k, i, o: k * k * i * o  # noqa: E731
    expected = (24  # the whitening bias (its 2x2 filters are frozen)
                + conv(3, 24, 64) + conv(3, 64, 64) + 2 * 64
                + conv(3, 64, 256) + 3 * conv(3, 256, 256) + 4 * 256
                + 256 * 10)
    trainable = sum(int(np.prod(variable.shape)) for variable in model.trainable_variables)
    assert trainable == expected == 1_971_352


def test_the_residual_variant_adds_skips_and_no_parameters():
    plain = models.build("airbench_cifar10", widths=(8, 16, 16))
    residual = models.build("airbench_cifar10", widths=(8, 16, 16), residual=True)
    assert plain.count_params() == residual.count_params()
    assert sum(isinstance(layer, keras.layers.Add) for layer in residual.layers) == 3


def test_a_small_run_learns_and_records_its_test_time_augmentation(tmp_path):
    dataset = toy_dataset()
    run = modern.run_recipe(dataset, variant="toy", seed=0, epochs=6, batch_size=50, widths=(8, 8, 8),
                       profile="quick", verbose=False)
    assert run.test_accuracy > 0.8  # chance is 0.5
    assert 0 <= run.details["tta accuracy"] <= 1 and sum(run.details["confidence histogram"]) == 100
    np.testing.assert_allclose(run.test_probabilities.sum(axis=1), 1, atol=1e-5)  # logits became probabilities
    again = modern.run_recipe(dataset, variant="toy", seed=0, epochs=6, batch_size=50, widths=(8, 8, 8),
                         profile="quick", train=False, verbose=False)
    assert again.loaded_from is not None and again.details["tta accuracy"] == run.details["tta accuracy"]
    assert again.test_accuracy == run.test_accuracy


def test_a_small_muon_run_learns():
    dataset = toy_dataset()
    changes = {**modern.MUON_CHANGES, "epochs": 6, "batch_size": 50, "widths": (8, 8, 8), "logit_scale": 1 / 8}
    run = modern.run_recipe(dataset, variant="toy_muon", seed=0, profile="quick", verbose=False, **changes)
    assert run.test_accuracy > 0.8  # chance is 0.5
    assert isinstance(run.model.optimizer, modern.Muon)
    kernel = run.model.get_layer("block2_conv1").kernel
    assert abs(float(np.linalg.norm(keras.ops.convert_to_numpy(kernel))) - np.sqrt(8)) < 0.5, \
        "Muon keeps each kernel near norm sqrt(c_out)"


@pytest.mark.parametrize("changes, message", [
    ({"widht": 3}, "unknown recipe entries 'widht'"),
    ({"optimizer": "adam"}, r"recipe\['optimizer'\] must be one of"),
    ({"flip": "sometimes"}, r"recipe\['flip'\] must be one of"),
    ({"widths": (64, 128)}, "must have 3 entries"),
    ({"learning_rate": -1.0}, "must be positive"),
])
def test_a_wrong_recipe_entry_is_refused(changes, message):
    with pytest.raises((TypeError, ValueError), match=message):
        modern.recipe_with(**changes)


def test_an_input_too_small_for_the_poolings_is_refused_by_the_course():
    with pytest.raises(ValueError, match="too small for this network.*at least 9x9"):
        models.build("airbench_cifar10", input_shape=(8, 8, 3))


def test_lookahead_resets_the_weights_inside_fit_on_every_backend():
    """With rho = 1 the average never moves: every step must start again from the first averaged weights.

    Every batch holds the same images, so if the reset is honoured every step lands on the same weights;
    if a backend ignored assignments made by a callback, the weights would walk on, step after step.
    """
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    batch = np.random.default_rng(0).random((4, 3)).astype("float32")
    images, targets = np.tile(batch, (5, 1)), np.ones((20, 2), "float32")
    seen = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, step, logs=None):
            seen.append(keras.ops.convert_to_numpy(self.model.layers[0].kernel).copy())

    lookahead = modern.Lookahead(total_steps=5, steps_per_epoch=5, start_epoch=0, every=1, decay=1.0, power=0.0)
    model.fit(images, targets, batch_size=4, epochs=1, shuffle=False, verbose=0, callbacks=[Record(), lookahead])
    assert not np.allclose(seen[0], seen[1])  # the first step starts the average, the second moves on from it
    for later in seen[2:]:
        np.testing.assert_allclose(later, seen[1], rtol=1e-6)  # then every step restarts from the average


def toy_dataset():
    from cnncourse import data

    rng = np.random.default_rng(0)
    labels = np.arange(400) % 2
    images = rng.random((400, 12, 12, 3)).astype("float32") * 0.5
    images[labels == 1, :, :6] += 0.5  # class 1: a bright top half
    return data.Dataset("toy", images[:300], labels[:300], images[300:], labels[300:], ("dark", "bright"),
                        "made in the test")


TOY = dict(epochs=3, batch_size=50, widths=(4, 4, 4))


def test_a_result_row_is_read_back_from_the_record_without_the_weights(private_cache):
    dataset = toy_dataset()
    trained = recipe_runs.result(dataset, variant="toy", seed=1, train=True, profile="quick", **TOY)
    assert trained["variant"] == "toy" and trained["seed"] == 1 and trained["widths"] == "4-4-4"
    for path in private_cache.glob("*.weights.h5"):
        path.unlink()  # a record is enough for a table
    again = recipe_runs.result(dataset, variant="toy", seed=1, train=False, profile="quick", **TOY)
    assert again == trained


def test_a_missing_result_is_trained_even_with_train_false(private_cache):
    row = recipe_runs.result(toy_dataset(), variant="narrow_toy", seed=0, train=False, profile="quick", **TOY)
    assert row["variant"] == "toy"  # the width prefix of the run's name is not part of the variant
    assert list(private_cache.glob("airbench_cifar10-narrow_toy-seed0.quick.*"))


def test_a_row_of_a_run_matches_the_row_read_from_its_record():
    dataset = toy_dataset()
    run = modern.run_recipe(dataset, variant="toy", seed=0, profile="quick", verbose=False, **TOY)
    assert recipe_runs.row(run) == recipe_runs.result(dataset, variant="toy", seed=0, train=False, profile="quick", **TOY)
    with pytest.raises(TypeError, match="row takes a run returned by cc.modern.run_recipe"):
        recipe_runs.row({"variant": "toy"})


def fake_row(variant, seed, accuracy, widths="32-64-64", plain=None):
    return {"variant": variant, "seed": seed, "widths": widths, "tta accuracy": accuracy,
            "test accuracy": accuracy - 0.01 if plain is None else plain}


def test_the_ablation_table_compares_each_variant_with_the_reference_at_its_width():
    rows = [fake_row("muon_bf16", 0, 0.95, widths="64-256-256"),  # another width: not in the table
            fake_row("muon_bf16", 0, 0.86), fake_row("muon_bf16", 1, 0.84, plain=0.82),
            fake_row("no_whitening", 0, 0.83), fake_row("no_whitening", 1, 0.81),
            fake_row("no_translate", 0, 0.85), fake_row("no_translate", 1, 0.83),
            fake_row("residual", 0, 0.87), fake_row("residual", 1, 0.88)]
    table = {row["variant"]: row for row in recipe_runs.ablation_table(rows).rows}
    assert list(table) == ["muon_bf16", "no_tta", "no_whitening", "no_translate", "residual"]
    assert table["muon_bf16"]["accuracy (mean)"] == pytest.approx(0.85) and table["muon_bf16"]["seeds"] == 2
    assert table["no_tta"]["accuracy (mean)"] == pytest.approx((0.85 + 0.82) / 2)
    assert table["no_whitening"]["change"] == pytest.approx(-0.03)
    assert table["no_whitening"]["range"] == "0.8100 to 0.8300"
    assert table["no_whitening"]["source: epochs to 94 %"] == "35 without, 21 with"
    # two runs an arm: 6 ways to split four runs in two, so a complete separation has p = 1/6
    assert table["muon_bf16"]["p (one-sided)"] is None
    assert table["no_whitening"]["p (one-sided)"] == pytest.approx(1 / 6)  # expected lower, and lower
    assert table["no_translate"]["p (one-sided)"] == pytest.approx(2 / 6)  # ranges overlap: 0.83 0.85 | 0.84 0.86
    assert table["residual"]["p (one-sided)"] == pytest.approx(1 / 6)  # an addition: expected higher, and higher
    assert table["no_tta"]["p (one-sided)"] == pytest.approx(1 / 4)  # paired: both seeds lost, 1 sign pattern of 4
    sgd = {row["variant"]: row for row in recipe_runs.ablation_table(
        [fake_row("recipe", 0, 0.86), fake_row("no_lookahead", 0, 0.83)], reference="recipe").rows}
    assert sgd["no_lookahead"]["change"] == pytest.approx(-0.03)


def test_an_ablation_table_without_its_reference_is_refused():
    with pytest.raises(ValueError, match="no run of 'muon_bf16' at widths 32-64-64"):
        recipe_runs.ablation_table([fake_row("no_whitening", 0, 0.8)])
    with pytest.raises(ValueError, match="mix widths"):
        recipe_runs.ablation_table([fake_row("muon_bf16", 0, 0.8), fake_row("no_whitening", 0, 0.8, widths="8-8-8"),
                                    fake_row("no_translate", 0, 0.8)])
    with pytest.raises(TypeError, match="reference must be the variant"):
        recipe_runs.ablation_table([fake_row("muon_bf16", 0, 0.8)], reference=None)
    with pytest.raises(ValueError, match="no run may be called 'no_tta'"):
        recipe_runs.ablation_table([fake_row("muon_bf16", 0, 0.8), fake_row("no_tta", 0, 0.8)])
    with pytest.raises(ValueError, match="a row has no tta accuracy"):
        recipe_runs.ablation_table([fake_row("muon_bf16", 0, 0.8), {"variant": "residual", "seed": 0,
                                                                    "widths": "32-64-64", "test accuracy": 0.8}])
    with pytest.raises(ValueError, match="mix widths"):
        recipe_runs.ablation_table([fake_row("muon_bf16", 0, 0.8), fake_row("muon_bf16", 1, 0.8, widths="8-8-8")])
    with pytest.raises(ValueError, match="reference cannot be 'no_tta'"):
        recipe_runs.ablation_table([fake_row("muon_bf16", 0, 0.8)], reference="no_tta")
    with pytest.raises(ValueError, match=r"\['wider'\] are neither an ingredient removed"):
        recipe_runs.ablation_table([fake_row("muon_bf16", 0, 0.8), fake_row("wider", 0, 0.9)])


def test_the_permutation_test_counts_the_splits_as_extreme_as_the_one_observed():
    below = [0.80, 0.81, 0.82]
    reference = [0.83, 0.84, 0.85]
    assert recipe_runs.permutation_p(below, reference, lower=True) == pytest.approx(1 / 20)  # the most extreme split
    assert recipe_runs.permutation_p(below, reference, lower=False) == pytest.approx(1.0)  # the wrong direction
    # two identical arms: 14 of the 20 splits (ties included) differ at least as much as they do, no evidence at all
    assert recipe_runs.permutation_p(reference, reference, lower=True) == pytest.approx(14 / 20)
    # one run of the variant above one of the reference's: 2 of the 20 splits are as far down or further
    assert recipe_runs.permutation_p([0.80, 0.81, 0.835], reference, lower=True) == pytest.approx(2 / 20)
    with pytest.raises(ValueError, match="values is empty"):
        recipe_runs.permutation_p([], reference, lower=True)
    with pytest.raises(ValueError, match="too many"):
        recipe_runs.permutation_p(np.zeros(20), np.zeros(20), lower=True)
    with pytest.raises(TypeError, match="lower"):
        recipe_runs.permutation_p(below, reference, lower="yes")


def test_a_recipe_names_its_changes_and_its_optimizer():
    recipe = modern.recipe_with(epochs=3, widths=(8, 8, 8))
    assert modern.recipe_changes(recipe) == {"epochs": 3, "widths": [8, 8, 8]}  # as a JSON record reads back
    sgd = modern.optimizer(recipe, steps_per_epoch=48)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.nesterov and sgd.momentum == recipe["momentum"]
    peak = modern.learning_rate(recipe)
    assert float(sgd.learning_rate) == pytest.approx(0.2 * peak)  # the triangle starts at 0.2 of the peak...
    sgd.iterations.assign(3 * 48)
    assert float(sgd.learning_rate) == pytest.approx(0.07 * peak)  # ...and ends at 0.07 after the whole run
    muon = modern.optimizer(modern.recipe_with(**modern.MUON_CHANGES), steps_per_epoch=25)
    assert isinstance(muon, modern.Muon) and muon.total_steps == 8 * 25 and muon.batch_size == 2000
    assert muon.bias_decay_steps == {"whiten_bias": 3 * 25}


def test_a_run_is_prepared_from_the_training_images_alone():
    dataset = toy_dataset()
    recipe = modern.recipe_with(**TOY)
    model, batches, callbacks, test_images = modern.prepare(dataset, recipe, seed=0)
    assert model.optimizer is not None and batches.batch_size == 50 and len(batches) == 6  # 300 images
    assert any(isinstance(callback, modern.Lookahead) for callback in callbacks)
    mean = dataset.train_images.mean(axis=(0, 1, 2), dtype=np.float64)
    std = dataset.train_images.std(axis=(0, 1, 2), dtype=np.float64)
    np.testing.assert_allclose(test_images, (dataset.test_images - mean) / std, atol=1e-5)  # training statistics
    _, _, callbacks, _ = modern.prepare(dataset, modern.recipe_with(**TOY, lookahead=False), seed=0)
    assert not any(isinstance(callback, modern.Lookahead) for callback in callbacks)


def test_the_epoch_comparison_is_read_back_verified(tmp_path):
    from cnncourse import _runs

    with pytest.raises(FileNotFoundError, match="python -m cnncourse.recipe_runs --compare-epochs"):
        recipe_runs.epoch_comparison(tmp_path)
    rows = [{"variant": "recipe", "epoch (s)": 2.0, "run vs first": 1.0},
            {"variant": "muon", "epoch (s)": 1.5, "run vs first": 0.6}]
    _runs.write_signed(tmp_path / recipe_runs.EPOCH_COMPARISON_FILE, {"variants": rows})
    assert recipe_runs.epoch_comparison(tmp_path).rows == rows
    path = tmp_path / recipe_runs.EPOCH_COMPARISON_FILE
    path.write_text(path.read_text().replace("0.6", "0.5"))
    with pytest.raises(_runs.DamagedRun, match="does not match its checksum"):
        recipe_runs.epoch_comparison(tmp_path)


def test_the_shipped_epoch_comparison_puts_muon_in_bfloat16_fastest():
    rows = {row["variant"]: row for row in recipe_runs.epoch_comparison().rows}
    assert list(rows) == list(recipe_runs.TIMED_VARIANTS)
    assert rows["recipe"]["run vs first"] == 1.0 and rows["recipe"]["epochs"] == 10 and rows["muon"]["epochs"] == 8
    assert min(rows.values(), key=lambda row: row["run vs first"])["variant"] == "muon, bfloat16"


def test_the_chapter_runs_compare_the_final_recipe_with_sgd_and_ablate_it_on_three_seeds():
    full = recipe_runs.chapter_runs("full")
    assert full["main"] == full["final"][0]
    assert [(variant, seed) for variant, seed, _ in full["final"]] == [("muon_bf16", 0), ("muon_bf16", 1),
                                                                        ("muon_bf16", 2)]
    assert all(changes == {**modern.MUON_CHANGES, "precision": "mixed_bfloat16"} for _, _, changes in full["final"])
    assert full["sgd"] == [("recipe", 0, {}), ("recipe", 1, {}), ("recipe", 2, {})]
    arms = {}
    for variant, seed, changes in full["ablations"]:
        arms.setdefault(variant, []).append(seed)
        assert changes["widths"] == recipe_runs.NARROW_WIDTHS and changes["logit_scale"] == 1 / 256
        assert changes["optimizer"] == "muon" and changes["precision"] == "mixed_bfloat16"
    # lookahead and the biases' faster rate are SGD's: the final recipe has neither, so nothing to remove
    assert sorted(arms) == sorted(["narrow_muon_bf16", "narrow_muon_bf16_residual", *(
        f"narrow_muon_bf16_{name}" for name in modern.ABLATIONS if name not in ("no_lookahead", "no_bias_lr"))])
    assert all(seeds == [0, 1, 2] for seeds in arms.values())
    assert [seed for _, seed, _ in full["ablations"]] == sorted(seed for _, seed, _ in full["ablations"])  # seed-major
    assert recipe_runs.full_profile_runs() == [*full["final"], *full["sgd"], *full["ablations"]]
    quick = recipe_runs.chapter_runs("quick", seed=3)
    assert quick == {"main": ("muon", 3, recipe_runs.QUICK_CHANGES), "final": [], "sgd": [], "ablations": []}
    assert {key: value for key, value in recipe_runs.QUICK_CHANGES.items() if modern.MUON_CHANGES.get(key) != value} \
        == {"widths": (16, 32, 32), "epochs": 4, "batch_size": 250}  # the final recipe, tiny, in float32


def test_an_epoch_is_timed_and_the_times_are_read_back_verified(tmp_path):
    from cnncourse import _runs

    measured = recipe_runs.time_epoch(toy_dataset(), **TOY)
    assert measured["steps"] == 6 and measured["images"] == 300 and measured["seconds"] > 0
    assert measured["backend"] == keras.backend.backend()
    _runs.write_signed(tmp_path / recipe_runs.EPOCH_TIMES_FILE, {"backends": {measured["backend"]: measured}})
    assert recipe_runs.epoch_times(tmp_path) == [measured]
    text = (tmp_path / recipe_runs.EPOCH_TIMES_FILE).read_text()
    (tmp_path / recipe_runs.EPOCH_TIMES_FILE).write_text(text.replace('"steps": 6', '"steps": 5'))
    with pytest.raises(_runs.DamagedRun, match="does not match its checksum"):
        recipe_runs.epoch_times(tmp_path)
    with pytest.raises(FileNotFoundError, match="give the folder the measurements were saved in"):
        recipe_runs.epoch_times(tmp_path / "elsewhere")


def test_variants_are_timed_back_to_back_with_what_a_run_of_each_would_take():
    small = {"batch_size": 50, "widths": (4, 4, 4)}
    rows = recipe_runs.compare_epochs(toy_dataset(), {"sgd": {**small, "epochs": 10},
                                                      "muon": {**modern.MUON_CHANGES, **small, "epochs": 8}})
    assert [row["variant"] for row in rows] == ["sgd", "muon"] and [row["steps"] for row in rows] == [6, 6]
    for row in rows:
        assert row["epoch (s)"] > 0 and row["run (min)"] == round(row["epochs"] * row["epoch (s)"] / 60, 2)
    assert rows[0]["run vs first"] == 1.0
    assert rows[1]["run vs first"] == round(8 * rows[1]["epoch (s)"] / (10 * rows[0]["epoch (s)"]), 3)
    with pytest.raises(TypeError, match="variants must be a non-empty dict"):
        recipe_runs.compare_epochs(toy_dataset(), {})


def test_every_full_profile_run_is_read_from_its_shipped_record():
    full = recipe_runs.chapter_runs("full")
    for variant, seed, changes in recipe_runs.full_profile_runs():
        row = recipe_runs.recorded(variant, seed, **changes)
        assert row["seed"] == seed and row["backend"] == "tensorflow"
        assert row["epochs"] == modern.recipe_with(**changes)["epochs"]
        assert row["widths"] == "-".join(str(width) for width in modern.recipe_with(**changes)["widths"])
    for variant, seed, changes in [*full["final"], *full["sgd"]]:
        assert recipe_runs.recorded(variant, seed, **changes)["tta accuracy"] > 0.93  # the original CIFAR-10
    with pytest.raises(FileNotFoundError, match="'recipe' with seed 7 is not one of chapter 12's full-profile runs"):
        recipe_runs.recorded("recipe", 7)
    with pytest.raises(ValueError, match="pass the changes it was trained with"):  # trained at NARROW_WIDTHS
        recipe_runs.recorded("narrow_muon_bf16", 0, **recipe_runs.FINAL_CHANGES)
    with pytest.raises(ValueError, match="pass the changes it was trained with"):  # the changes left out
        recipe_runs.recorded(recipe_runs.FINAL_VARIANT, 0)


def test_a_missing_record_of_a_listed_run_names_the_command_that_trains_it(monkeypatch, tmp_path):
    monkeypatch.setattr(recipe_runs._runs, "default_folders", lambda: [tmp_path])
    with pytest.raises(FileNotFoundError, match="python -m cnncourse.recipe_runs recipe --seeds 2"):
        recipe_runs.recorded("recipe", 2)


def test_a_record_is_read_only_if_it_names_the_original_cifar10(monkeypatch):
    variant, seed, changes = recipe_runs.chapter_runs("full")["main"]
    monkeypatch.setattr(recipe_runs, "ORIGINAL_CIFAR10", {"train sha256": "0" * 64, "test sha256": "0" * 64})
    with pytest.raises(ValueError, match="other arrays than the original CIFAR-10"):
        recipe_runs.recorded(variant, seed, **changes)


def test_a_full_profile_result_is_refused_on_other_data(private_cache):
    dataset = toy_dataset()
    recipe_runs.result(dataset, variant="toy", seed=0, train=True, profile="full", **TOY)
    other = type(dataset)("toy", dataset.train_images[::-1].copy(), dataset.train_labels[::-1].copy(),
                          dataset.test_images, dataset.test_labels, dataset.class_names, "made in the test")
    with pytest.raises(ValueError, match="trained or tested on other data"):
        recipe_runs.result(other, variant="toy", seed=0, train=False, profile="full", **TOY)
    quick = recipe_runs.result(dataset, variant="toy", seed=0, train=True, profile="quick", **TOY)
    assert recipe_runs.result(other, variant="toy", seed=0, train=False, profile="quick", **TOY)["seed"] == 0
    assert quick["seed"] == 0  # a quick run on other data is trained again, in seconds, not refused


def test_the_command_line_runs_without_a_warning():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "cnncourse.recipe_runs", "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "python -m cnncourse.recipe_runs" in done.stdout
    assert "Warning" not in done.stderr, done.stderr  # the package does not import the module it is about to run
    import cnncourse

    assert cnncourse.recipe_runs is recipe_runs and "recipe_runs" in cnncourse.__all__


def test_the_command_line_refuses_what_it_would_silently_skip():
    with pytest.raises(SystemExit, match="no full-profile run has seed 7"):
        recipe_runs._command_line(["--seeds", "7"])
    for arguments in (["--time-epoch", "recipe"], ["--time-epoch", "--compare-epochs"], ["--compare-epochs",
                                                                                          "--seeds", "1"]):
        with pytest.raises(SystemExit):
            recipe_runs._command_line(arguments)


def test_a_row_names_an_ablation_arm_without_its_width_or_recipe():
    assert [recipe_runs._arm(variant) for variant in ("muon_bf16", "narrow_muon_bf16", "narrow_muon_bf16_residual",
                                                      "recipe", "narrow_toy")] == [
        "muon_bf16", "muon_bf16", "residual", "recipe", "toy"]


# ---------------------------------------------------------------- Muon


def _numpy_newton_schulz(matrix, steps=3):
    a, b, c = modern.NEWTON_SCHULZ_COEFFICIENTS
    x = matrix / (np.linalg.norm(matrix) + 1e-7)
    tall = x.shape[0] > x.shape[1]
    x = x.T if tall else x
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


@pytest.mark.parametrize("shape", [(288, 64), (64, 288), (27, 32)])
def test_newton_schulz_keeps_the_singular_vectors_and_pushes_the_singular_values_towards_one(shape):
    matrix = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    result = keras.ops.convert_to_numpy(modern.newton_schulz(matrix))
    left, values, right = np.linalg.svd(matrix, full_matrices=False)
    in_its_basis = left.T @ result @ right.T  # diagonal when the singular vectors are kept
    assert np.abs(in_its_basis - np.diag(np.diag(in_its_basis))).max() < 1e-3
    new_values = np.linalg.svd(result, compute_uv=False)
    assert values.max() / values.min() > 2 and 0.5 < new_values.min() and new_values.max() < 1.25
    np.testing.assert_allclose(result, _numpy_newton_schulz(matrix.astype(np.float64)), atol=1e-4)


def test_newton_schulz_refuses_what_is_not_a_matrix():
    with pytest.raises(ValueError, match="matrix must be 2-D"):
        modern.newton_schulz(np.zeros((2, 3, 4), np.float32))


def _muon_model():
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(4, 3, use_bias=False, name="conv")(inputs)
    x = modern.ScaledBias(1.0, name="conv_bias")(x)
    x = keras.layers.GlobalMaxPooling2D()(x)
    outputs = keras.layers.Dense(2, use_bias=False, name="logits")(x)
    return keras.Model(inputs, outputs)


def test_two_muon_steps_match_the_reference_arithmetic():
    keras.utils.set_random_seed(0)
    model = _muon_model()
    optimizer = modern.Muon(total_steps=10, batch_size=4, weight_decay=2e-6)
    variables = model.trainable_variables
    rng = np.random.default_rng(1)
    weights = {variable.path: keras.ops.convert_to_numpy(variable).astype(np.float64) for variable in variables}
    buffers = {path: np.zeros_like(weight) for path, weight in weights.items()}
    for step in range(2):
        gradients = {variable.path: rng.normal(size=variable.shape) for variable in variables}  # of the mean loss
        optimizer.apply_gradients([(gradients[v.path].astype(np.float32), v) for v in variables])
        decay = 1 - step / 10
        for path, weight in weights.items():
            summed = 4 * gradients[path]  # the reference sums its loss over the batch
            if path == "conv/kernel":  # Muon: momentum 0.6, Nesterov, rescaled kernel, orthogonalized step
                buffers[path] = 0.6 * buffers[path] + summed
                update = _numpy_newton_schulz((summed + 0.6 * buffers[path]).reshape(-1, 4)).reshape(weight.shape)
                weights[path] = weight * (2.0 / np.linalg.norm(weight)) - 0.24 * decay * update
            else:  # SGD: coupled decay, momentum 0.85, Nesterov, the group's own rate
                rate = 0.67 if path == "logits/kernel" else 0.053
                summed = summed + 2e-6 * 4 / rate * weight
                buffers[path] = 0.85 * buffers[path] + summed
                weights[path] = weight - rate * decay * (summed + 0.85 * buffers[path])
    for variable in variables:
        np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), weights[variable.path], rtol=1e-4,
                                   atol=1e-5, err_msg=variable.path)


def test_muon_sends_the_filters_to_muon_and_the_rest_to_sgd_as_the_reference_does():
    recipe = modern.recipe_with(**modern.MUON_CHANGES)
    model = modern.build_network(recipe)
    optimizer = modern.Muon(total_steps=200, batch_size=2000)
    groups = {variable.path: optimizer.group(variable) for variable in model.trainable_variables}
    assert {path for path, group in groups.items() if group == "filters"} == {
        f"block{block}_conv{index}/kernel" for block in (1, 2, 3) for index in (1, 2)}, "the six 3x3 kernels"
    assert [path for path, group in groups.items() if group == "head"] == ["logits/kernel"]
    assert sorted(path for path, group in groups.items() if group == "biases") == sorted(
        ["whiten_bias/stored_bias"] + [f"block{block}_conv{index}_bias/stored_bias"
                                       for block in (1, 2, 3) for index in (1, 2)])
    assert "whiten/kernel" not in groups, "the whitening filters are fixed, as in the reference"


def test_the_whitening_bias_stops_moving_after_its_steps():
    model = keras.Sequential([keras.Input((3,)), modern.ScaledBias(1.0, name="whiten_bias")])
    model.compile(optimizer=modern.Muon(total_steps=10, batch_size=1, bias_decay_steps={"whiten_bias": 2}),
                  loss="mse")
    values = [np.zeros(3)]
    for _ in range(4):
        model.train_on_batch(np.zeros((1, 3), np.float32), np.full((1, 3), 5.0, np.float32))
        values.append(keras.ops.convert_to_numpy(model.get_layer("whiten_bias").stored).copy())
    steps = [float(np.abs(after - before).max()) for before, after in zip(values, values[1:])]
    assert steps[0] > 0 and steps[1] > 0, "it learns during its two steps"
    assert steps[2] == steps[3] == 0, "then its rate is 0: neither gradient nor momentum moves it"


def test_muon_is_rebuilt_from_its_config():
    optimizer = modern.Muon(total_steps=10, batch_size=4, bias_decay_steps={"whiten_bias": 2})
    again = modern.Muon.from_config(optimizer.get_config())
    assert again.get_config() == optimizer.get_config()


def test_kernel_gradient_is_the_step_plain_sgd_would_take():
    rng = np.random.default_rng(0)
    images = rng.normal(size=(16, 10, 10, 3)).astype(np.float32)
    labels = rng.integers(0, 4, size=16)
    changes = {"widths": (4, 6, 6), "weight_decay": 0.0}
    gradient = modern.kernel_gradient(images, labels, "block2_conv1", num_classes=4, seed=3, **changes)
    assert gradient.shape == (3 * 3 * 4, 6), "a (k·k·c_in, c_out) matrix, as Muon sees it"
    config.seed_everything(3)  # the same network, built the same way, takes one step of SGD at rate 1
    model = modern.build_network(modern.recipe_with(**changes), input_shape=(10, 10, 3), num_classes=4)
    modern.set_whitening(model, images)
    model.compile(optimizer=keras.optimizers.SGD(1.0),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2))
    kernel = model.get_layer("block2_conv1").kernel
    before = keras.ops.convert_to_numpy(kernel).copy()
    model.train_on_batch(images, np.eye(4, dtype=np.float32)[labels])
    step = (before - keras.ops.convert_to_numpy(kernel)).reshape(gradient.shape)
    assert np.abs(gradient).max() > 0
    np.testing.assert_allclose(gradient, step, rtol=1e-4, atol=1e-6)


def test_kernel_gradient_names_the_convolutions_it_can_take():
    images = np.zeros((2, 10, 10, 3), np.float32)
    with pytest.raises(ValueError, match=r"one of \['block1_conv1'"):
        modern.kernel_gradient(images, [0, 1], "logits", widths=(2, 2, 2))


@pytest.mark.parametrize("optimizer", ["sgd", "muon"])
def test_mixed_bfloat16_computes_in_bfloat16_and_keeps_float32_weights_and_logits(optimizer):
    recipe = modern.recipe_with(precision="mixed_bfloat16", widths=(4, 4, 4), optimizer=optimizer)
    model = modern.build_network(recipe, input_shape=(10, 10, 3), num_classes=3)
    conv = model.get_layer("block1_conv1")
    assert conv.compute_dtype == "bfloat16" and keras.backend.standardize_dtype(conv.kernel.dtype) == "float32"
    images = np.random.default_rng(0).normal(size=(6, 10, 10, 3)).astype(np.float32)
    inside = keras.Model(model.input, conv.output)(images)
    assert keras.backend.standardize_dtype(inside.dtype) == "bfloat16"
    assert keras.backend.standardize_dtype(model(images).dtype) == "float32", "the loss sees float32 logits"
    modern.compile_network(model, recipe, steps_per_epoch=1)
    before = keras.ops.convert_to_numpy(conv.kernel).copy()
    scores = model.train_on_batch(images, np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]])
    assert np.all(np.isfinite(scores)) and not np.allclose(before, keras.ops.convert_to_numpy(conv.kernel))


def test_standardize_is_exact_on_a_dataset_as_large_as_cifar10():
    # 10 million values a channel: a float32 running sum near 2**23 moves in steps of 1, so adding 0.8 rounds,
    # which made the mean 0.9453 here; on CIFAR-10's 51 million values a channel the sum stopped growing at
    # 2**24 (the mean 0.33 instead of 0.49)
    images = np.full((10_000, 32, 32, 2), 1.0, dtype="float32")
    images[::2] = 0.8
    standardized, mean, std = modern.standardize(images)
    np.testing.assert_allclose(mean, [0.9, 0.9], rtol=1e-6)
    np.testing.assert_allclose(std, [0.1, 0.1], rtol=1e-5)
    np.testing.assert_allclose(standardized[:2, 0, 0, 0], [-1.0, 1.0], rtol=1e-4)
    assert images[0, 0, 0, 0] == np.float32(0.8) and images[1, 0, 0, 0] == 1.0, "the caller's images are left alone"
    again, _, _ = modern.standardize(images, mean, std)  # the test images' path: the training images' scale
    np.testing.assert_array_equal(again, standardized)


def test_a_run_name_is_a_name():
    assert modern.run_name("no_whitening", 1) == "airbench_cifar10-no_whitening-seed1"
    with pytest.raises(ValueError, match="letters, digits, _"):
        modern.run_name("no whitening")
    with pytest.raises(TypeError, match="variant must be a name"):
        modern.run_name(3)
