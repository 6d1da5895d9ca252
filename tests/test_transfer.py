"""cc.transfer: k-shot subsets, the arms' models, BatchNormalization when unfreezing, backbones, ImageNet path."""

import json

import keras
import numpy as np
import pytest

from cnncourse import _runs, data, models, plots, transfer


@pytest.fixture
def no_shipped_backbones(tmp_path, monkeypatch):
    """No backbone shipped with the package stands in: a test pretrains its own (in ``private_cache``)."""
    monkeypatch.setattr(_runs, "shipped_folder", lambda: tmp_path / "shipped")


def test_class_subset_keeps_and_relabels_in_the_given_order():
    images = np.arange(6)[:, None]
    images_kept, labels = transfer.class_subset(images, [5, 0, 9, 5, 3, 9], classes=(9, 5))
    np.testing.assert_array_equal(images_kept.ravel(), [0, 2, 3, 5])
    np.testing.assert_array_equal(labels, [1, 0, 1, 0])
    with pytest.raises(ValueError, match="distinct"):
        transfer.class_subset(images, [0] * 6, classes=(1, 1))


def test_few_shot_is_balanced_and_nested():
    labels = np.repeat(np.arange(3), 20)
    small, large = transfer.few_shot(labels, 2, seed=4), transfer.few_shot(labels, 5, seed=4)
    assert np.bincount(labels[small]).tolist() == [2, 2, 2] and np.bincount(labels[large]).tolist() == [5, 5, 5]
    assert set(small) <= set(large), "a larger k adds images to the smaller set"
    assert set(transfer.few_shot(labels, 2, seed=5)) != set(small)
    with pytest.raises(ValueError, match="only 20 image"):
        transfer.few_shot(labels, 21)


def test_to_cifar_shape_pads_and_copies_the_grey_channel():
    images = np.ones((2, 28, 28), dtype="float32")
    shaped = transfer.to_cifar_shape(images)
    assert shaped.shape == (2, 32, 32, 3) and shaped[0, 0, 0, 0] == 0 and shaped[0, 2, 2, 2] == 1
    with pytest.raises(ValueError, match="28x28"):
        transfer.to_cifar_shape(np.ones((2, 32, 32, 3)))


def test_classifier_trains_only_the_head_when_the_backbone_is_frozen():
    backbone = models.build("transfer_backbone")
    backbone.trainable = False
    model = transfer.classifier(backbone, 5)
    assert sum(int(np.prod(weight.shape)) for weight in model.trainable_weights) == 128 * 5 + 5
    assert model.output_shape == (None, 5)


def test_unfreeze_keeps_batch_normalization_frozen_unless_asked():
    backbone = models.build("transfer_backbone")
    backbone.trainable = False
    trainable = transfer.unfreeze(backbone)
    assert "block1_conv1" in trainable and not any(name.endswith("_bn") for name in trainable)
    assert transfer.unfreeze(backbone, ["block3_conv2"]) == ["block3_conv2"]
    assert "block3_conv2_bn" in transfer.unfreeze(backbone, batch_norm=True)
    with pytest.raises(ValueError, match="no layer"):
        transfer.unfreeze(backbone, ["block9_conv1"])
    with pytest.raises(TypeError, match="list of layer names"):
        transfer.unfreeze(backbone, "block3_conv2")


def running_mean_change(batch_norm: bool) -> float:
    """Fine-tune for two steps and report how far the first BatchNormalization layer's running mean moved."""
    keras.utils.set_random_seed(0)
    backbone = models.build("transfer_backbone")
    model = transfer.classifier(backbone, 2)  # calls the backbone with training=False
    transfer.unfreeze(backbone, batch_norm=batch_norm)
    layer = backbone.get_layer("block1_conv1_bn")
    before = keras.ops.convert_to_numpy(layer.moving_mean).copy()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    images = np.random.default_rng(0).uniform(0.5, 1.0, (64, 32, 32, 3)).astype("float32")
    model.fit(images, np.zeros(64, dtype="int64"), epochs=1, batch_size=32, verbose=0)
    return float(np.abs(keras.ops.convert_to_numpy(layer.moving_mean) - before).max())


def test_frozen_batch_normalization_keeps_its_statistics_and_training_false_alone_does_not():
    """The chapter's claim, on every backend: only the layer's own trainable=False stops the update."""
    assert running_mean_change(batch_norm=False) == 0.0
    assert running_mean_change(batch_norm=True) > 1e-3


def test_pretrain_save_load_and_checksum(private_cache, decoded_datasets, no_shipped_backbones, capsys):
    record = transfer.pretrain_backbone("cifar5", epochs=1, train_size=100, test_size=100)
    assert record["train images"] == 100 and record["epochs"] == 1 and len(record["sha256"]) == 64
    assert "airplane" in record["source task"] and record["command"].endswith("pretrain cifar5")
    backbone = transfer.load_backbone("cifar5")
    assert backbone.output_shape == (None, 128) and backbone.count_params() == 288_352
    assert transfer.backbone_record("cifar5")["place"] == "your cache"
    (private_cache / "cifar5_backbone.keras").write_bytes(b"not a model")
    with pytest.raises(transfer.WeightsUnavailable, match="checksum"):
        transfer.load_backbone("cifar5")


def test_a_missing_backbone_names_every_place_and_the_command(private_cache, no_shipped_backbones):
    with pytest.raises(transfer.WeightsUnavailable) as error:
        transfer.load_backbone("fashion")
    message = str(error.value)
    assert "your cache" in message and "installed package" in message
    assert "python -m cnncourse.transfer pretrain fashion" in message
    with pytest.raises(ValueError, match="unknown backbone"):
        transfer.load_backbone("imagenet")


def test_the_shipped_backbones_match_their_records():
    for name in transfer.BACKBONES:
        model_path = _runs.shipped_folder() / f"{name}_backbone.keras"
        record = json.loads((_runs.shipped_folder() / f"{name}_backbone.json").read_text())
        assert data.sha256_of(model_path) == record["sha256"], f"{name}: file and record disagree"
        assert model_path.stat().st_size < 3e6
        assert record["epochs"] >= 10 and record["train images"] == 22_500


def test_compare_arms_rows_and_summary(private_cache, decoded_datasets, no_shipped_backbones, capsys):
    transfer.pretrain_backbone("cifar5", epochs=1, train_size=100, test_size=100)
    rng = np.random.default_rng(0)
    images, labels = rng.uniform(0, 1, (40, 32, 32, 3)).astype("float32"), np.repeat(np.arange(2), 20)
    validation = (images[20:30], labels[20:30])
    arms = ("scratch", "frozen", "fine-tuned", "frozen, target BN statistics")
    rows = transfer.compare_arms("cifar5", (images, labels), validation, (images[:10], labels[:10]), shots=(2, 4),
                                 seeds=(0,), epochs_for=lambda k: 2, arms=arms, bn_pitfall_shots=(2,))
    assert [(row["k"], row["arm"]) for row in rows] == [
        *[(2, arm) for arm in arms], (2, "fine-tuned, BN in training mode"), *[(4, arm) for arm in arms]]
    assert all(0 <= row["test accuracy"] <= 1 for row in rows)
    assert all(row["epochs"] == 2 and 1 <= row["best epoch"] <= 2 for row in rows), "every arm: the same epochs"
    assert [row["best epoch"] for row in rows if row["arm"] == "fine-tuned"] == [2, 2], "scored after its own half"
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("cifar5 backbone")]
    assert len(lines) == 2, "one line per (k, seed), not the runs' logs"
    again = transfer.compare_arms("cifar5", (images, labels), validation, (images[:10], labels[:10]), shots=(2,),
                                  seeds=(0,), epochs_for=lambda k: 2, arms=arms, train=False)
    assert all(row["reloaded"] for row in again)
    assert [row["test accuracy"] for row in again] == [row["test accuracy"] for row in rows[:4]]
    table = transfer.summarize(rows, arms=("scratch", "frozen"))
    assert table.columns == ["k", "scratch", "frozen"] and len(table.rows) == 2
    figure = plots.accuracy_vs_shots(rows, chance=0.5)
    assert len(figure.axes[0].get_lines()) == 6  # five arms and the chance line
    with pytest.raises(ValueError, match="unknown arm"):
        transfer.compare_arms("cifar5", (images, labels), validation, validation, shots=(2,), seeds=(0,),
                              epochs_for=lambda k: 2, arms=("frozen", "thawed"))
    with pytest.raises(ValueError, match="at least 2 epochs"):
        transfer.compare_arms("cifar5", (images, labels), validation, validation, shots=(2,), seeds=(0,),
                              epochs_for=lambda k: 1)


def test_best_epoch_ends_training_with_the_best_validation_weights():
    rng = np.random.default_rng(0)
    images, labels = rng.uniform(0, 1, (32, 4, 4, 1)).astype("float32"), np.repeat(np.arange(2), 16)
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(2, "softmax")])
    model.compile(optimizer=keras.optimizers.SGD(5.0), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    kept = {}

    class Spy(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            kept[epoch] = (logs["val_accuracy"], [w.copy() for w in self.model.get_weights()])

    history = model.fit(images, labels, validation_data=(images[:8], labels[:8]), epochs=6, verbose=0,
                        callbacks=[Spy(), transfer.BestEpoch()])
    best = int(np.argmax(history.history["val_accuracy"]))
    for ended, wanted in zip(model.get_weights(), kept[best][1]):
        np.testing.assert_array_equal(ended, wanted)
    with pytest.raises(ValueError, match="needs validation_data"):
        model.fit(images, labels, epochs=1, verbose=0, callbacks=[transfer.BestEpoch()])


def test_target_statistics_normalise_the_target_images():
    backbone = transfer.load_backbone("fashion")
    images = np.random.default_rng(0).uniform(0, 1, (20, 32, 32, 3)).astype("float32")
    reset = transfer.target_statistics(backbone, images)
    assert reset[0] == "block1_conv1_bn" and len(reset) == 6
    layer = backbone.get_layer(reset[-1])
    probe = keras.Model(backbone.inputs[0], layer.output)
    outputs = keras.ops.convert_to_numpy(probe(images, training=False))
    np.testing.assert_allclose(outputs.mean(axis=(0, 1, 2)), keras.ops.convert_to_numpy(layer.beta), atol=1e-3)
    with pytest.raises(ValueError, match="takes"):
        transfer.target_statistics(backbone, images[:, :28, :28])


def test_imagenet_path_builds_and_trains_without_weights():
    backbone = transfer.imagenet_backbone("MobileNetV2", weights=None, input_size=96)
    backbone.trainable = False
    model = transfer.imagenet_classifier(backbone, 5)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    images = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    model.fit(images, np.arange(4), epochs=1, verbose=0)
    assert model.output_shape == (None, 5)
    with pytest.raises(ValueError, match="MobileNetV2"):
        transfer.imagenet_backbone("ResNet1000")


def test_imagenet_weights_offline_fail_with_a_clear_message(monkeypatch, capsys):
    def no_network(*args, **kwargs):
        print("Downloading data from https://storage.googleapis.com/weights.h5")  # what Keras says first
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: no route to host")

    monkeypatch.setattr("keras.src.utils.file_utils.get_file", no_network)
    monkeypatch.setenv("CNNCOURSE_OFFLINE", "1")
    with pytest.raises(transfer.WeightsUnavailable) as error:
        transfer.imagenet_backbone("MobileNetV2")
    assert "Downloading" not in capsys.readouterr().out, "offline, the failed attempt leaves no noise"
    message = str(error.value)
    assert max(map(len, message.splitlines())) <= 100, "wrapped to the width of an output box"
    words = " ".join(message.split())
    assert "Connect to the internet" in words and "load_backbone('cifar5')" in words and "URL fetch failure" in words
    assert "storage.googleapis.com/..." in words and "...: no route" not in words, "a URL is cut after its host"


def test_a_backbone_written_by_a_newer_keras_still_loads(monkeypatch):
    """Colab's Keras may be older than the one that wrote the .keras file: the same weights, rebuilt."""
    images = np.random.default_rng(0).uniform(0, 1, (2, 32, 32, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(transfer.load_backbone("cifar5")(images, training=False))

    def too_new(*args, **kwargs):
        raise TypeError("GlorotUniform.__init__() got an unexpected keyword argument 'input_axes'")

    monkeypatch.setattr(keras.saving, "load_model", too_new)
    rebuilt = transfer.load_backbone("cifar5")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(rebuilt(images, training=False)), expected, rtol=1e-6)
