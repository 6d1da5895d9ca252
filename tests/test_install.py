"""The package as Colab or `pip install` gets it: the shipped runs must come along as package data."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]

_RELOAD_THE_SHIPPED_RUN = """
import json, cnncourse as cc
from cnncourse import _runs
print(json.dumps({"package": cc.__file__}))
model = cc.models.build("mnist_convnet")
shipped = _runs.find("mnist_convnet")
assert shipped is not None, "the shipped run is not visible from an installed package"
path, content = shipped
model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
loaded = _runs.load("mnist_convnet", model, recipe={key: content["run"][key] for key in _runs.RECIPE_KEYS})
backbone = cc.transfer.load_backbone("cifar5")  # a .keras file, checked against its record's checksum
print(json.dumps({"origin": _runs.describe_origin(loaded["path"]), "epochs": len(loaded["history"]["loss"]),
                  "weights": float(abs(model.get_layer("conv1").get_weights()[0]).sum()),
                  "backbone": cc.transfer.backbone_record("cifar5")["place"], "features": backbone.output_shape[-1]}))
"""


@pytest.mark.slow
def test_a_pip_installed_package_reloads_its_shipped_run(tmp_path):
    source = tmp_path / "source"  # build from a copy: building in place leaves build/ in the checkout
    shutil.copytree(REPOSITORY / "cnncourse", source / "cnncourse", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPOSITORY / name, source / name)
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), str(source)],
                   check=True, capture_output=True)
    (wheel,) = wheels.glob("cnncourse-*.whl")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    environment = {**os.environ, "PYTHONPATH": str(site), "CNNCOURSE_CACHE": str(tmp_path / "empty-cache")}
    finished = subprocess.run([sys.executable, "-c", _RELOAD_THE_SHIPPED_RUN], cwd=tmp_path, env=environment,
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    package, result = (json.loads(line) for line in finished.stdout.strip().splitlines()[-2:])
    assert package["package"].startswith(str(site)), "the test must use the installed copy, not the repository"
    assert result["origin"] == "the runs shipped with cnncourse"
    assert result["epochs"] >= 1 and result["weights"] > 0
    assert result["backbone"] == "shipped with the course" and result["features"] == 128
