"""Run profiles, seeding and the environment report.

Every chapter trains in one of two sizes: ``quick`` (seconds on a laptop CPU,
what CI runs) and ``full`` (the results the prose quotes, sized for one GPU).
``auto`` picks ``full`` only when the Keras backend can see an accelerator, so
the same notebook is honest on a laptop, in Colab and on a GPU server.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

import keras

from cnncourse import _quiet, _text, _validate

__all__ = [
    "PROFILES",
    "PROFILE_ENVIRONMENT_VARIABLE",
    "Settings",
    "accelerator",
    "current_profile",
    "device_description",
    "environment",
    "keep_jax_compilations",
    "report",
    "resolve_profile",
    "seed_everything",
    "settings",
]

PROFILES = ("quick", "full", "auto")
PROFILE_ENVIRONMENT_VARIABLE = "CNNCOURSE_PROFILE"


def accelerator() -> str | None:
    """Name of the first GPU/TPU the Keras backend sees, or None on CPU only."""
    if keras.backend.backend() == "torch":  # keras.distribution is not available on torch
        import torch

        if torch.cuda.is_available():
            return "cuda:0"
        return "mps:0" if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else None
    with _quiet.native_stderr_silenced():  # "failed call to cuInit" on every CPU-only machine
        devices = keras.distribution.list_devices()
    for device in devices:
        kind = device.split(":")[0].lower()
        if kind in ("gpu", "tpu", "cuda"):
            return device
    return None


def device_description() -> str:
    """Human-readable device: the accelerator's name, or how many CPU cores this process may run on."""
    device = accelerator()
    if device is None:
        # a process pinned to some cores (taskset, a container's limit) runs on those, not on every core
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return f"CPU ({cores} {'core' if cores == 1 else 'cores'})"
    name = _accelerator_model_name()
    return f"{device} ({name})" if name else device


def _accelerator_model_name() -> str | None:
    """The GPU's model name where the backend exposes it (JAX and PyTorch do)."""
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            return jax.devices()[0].device_kind
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(0)
    except Exception:  # a missing name is not worth failing a run for
        return None
    return None


@dataclasses.dataclass(frozen=True)
class Settings:
    """The values a chapter runs with, after the profile has been resolved.

    Values are read as attributes (``settings.train_size``). ``epochs`` may
    be one number or one per model (``{"dense": 20, "convnet": 10}``), read
    with ``settings.epochs_for("dense")``.
    """

    profile: str
    reason: str
    values: dict
    seed: int = 0
    train: bool = True  # False: reload or replay the saved runs of the same recipe

    def __getattr__(self, name):
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(
                f"this chapter's settings have no {name!r}; it has: {', '.join(self.values)}"
            ) from None

    def epochs_for(self, model: str) -> int:
        """The epochs of one model: its own entry, or the single number that sets them all."""
        epochs = self.values.get("epochs")
        if isinstance(epochs, dict):
            if model not in epochs:
                raise KeyError(f"no epochs set for {model!r}; this chapter sets them for {', '.join(epochs)}")
            return epochs[model]
        if epochs is None:
            raise AttributeError("this chapter's settings have no 'epochs'")
        return epochs

    def reseed(self) -> None:
        """Seed again with the chapter's seed, so that each model starts the same whatever ran before it."""
        seed_everything(self.seed)

    def __str__(self) -> str:
        values = ", ".join(f"{key}={value!r}" for key, value in self.values.items())
        return _text.wrap(f"Profile: {self.profile} ({self.reason})\nSeed: {self.seed}\nSettings: {values}")


_current: Settings | None = None


def current_profile() -> str | None:
    """The profile of the chapter's settings (the last ``settings(...)`` call), or None before it."""
    return _current.profile if _current is not None else None


def resolve_profile(requested: str = "auto") -> tuple[str, str]:
    """Turn ``auto`` into ``quick`` or ``full`` and say why."""
    if not isinstance(requested, str) or requested not in PROFILES:
        raise ValueError(
            f"profile must be one of {', '.join(map(repr, PROFILES))}, got {requested!r}"
        )
    override = os.environ.get(PROFILE_ENVIRONMENT_VARIABLE, "").strip()
    if requested == "auto" and override:
        if override not in ("quick", "full"):
            raise ValueError(
                f"{PROFILE_ENVIRONMENT_VARIABLE}={override!r} is not a profile: "
                "set it to 'quick' or 'full', or unset it"
            )
        return override, f"set by {PROFILE_ENVIRONMENT_VARIABLE}"
    if requested != "auto":
        return requested, "chosen explicitly"
    device = accelerator()
    backend = keras.backend.backend()
    if device is None:
        return "quick", f"auto: no accelerator visible to the {backend} backend"
    return "full", f"auto: {device} visible to the {backend} backend"


def settings(profile: str = "auto", *, quick: dict, full: dict, seed: int = 0, train: bool = True,
             replay_on_cpu: bool = False, **overrides) -> Settings:
    """Pick the chapter's ``quick`` or ``full`` values, seed everything, and remember them.

    ``replay_on_cpu=True`` is for chapters whose full-profile runs ship as
    records: there ``auto`` without an accelerator means the full profile with
    ``train=False``, so a learner on a CPU sees the runs the text discusses in
    seconds instead of training small ones that the text does not describe.

    Explicit overrides win; overrides that are ``None`` mean "use the
    profile's value", which is how a papermill parameter such as
    ``epochs: int | None = None`` stays optional. The returned settings
    become the chapter's current ones: ``cc.training`` and ``cc.checks`` read
    the profile from them, so chapter code need not pass it around.
    """
    global _current
    if set(quick) != set(full):
        raise ValueError(
            "quick and full must set the same names; only in one of them: "
            f"{sorted(set(quick) ^ set(full))}"
        )
    unknown = set(overrides) - set(quick)
    if unknown:
        raise TypeError(
            f"unknown setting(s) {sorted(unknown)}; this chapter's settings are {sorted(quick)}"
        )
    if not isinstance(train, bool):
        raise TypeError(f"train must be True or False, got {train!r}")
    name, reason = resolve_profile(profile)
    if replay_on_cpu and profile == "auto" and name == "quick" and reason.startswith("auto:"):
        name, train = "full", False
        reason += ", so the full profile's recorded runs are replayed, not trained"
    values = dict(quick if name == "quick" else full)
    values.update({key: value for key, value in overrides.items() if value is not None})
    seed_everything(seed)
    _current = Settings(profile=name, reason=reason, values=values, seed=int(seed), train=train)
    return _current


def keep_jax_compilations(folder: Path) -> bool:
    """On JAX, keep compiled programs in ``folder``, so that a model built again with the same layers and shapes
    (the next variant of a chapter, a cell run twice, tomorrow's session) skips XLA's compilation: about 1.5 s a
    model on a CPU, where a quick chapter trains a dozen. An entry is found by a hash of the program, the JAX version
    and the device, so a changed model or an upgrade compiles afresh; the folder grows by about 2 MB a chapter and
    may be deleted at any time. A cache the user chose (``JAX_COMPILATION_CACHE_DIR``) is left alone. Returns
    whether this call set one."""
    folder = _validate.path(folder, "folder", kind="folder", example="~/.cache/cnncourse/jax-compiled")
    if keras.backend.backend() != "jax" or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return False
    import jax  # only on the JAX backend: the other two do not install it

    if jax.config.jax_compilation_cache_dir:
        return False
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0)  # a small convnet's step: about 1.5 s
    return True


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend so a rerun gives the same numbers."""
    keras.utils.set_random_seed(_validate.seed(seed))


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict:
    """Facts that decide whether two runs are comparable."""
    backend = keras.backend.backend()
    backend_package = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend, backend)
    return {
        "keras": keras.__version__,
        "backend": backend,
        "backend_version": _version(backend_package) or _version(f"{backend_package}-cpu"),
        "device": device_description(),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "platform": f"{platform.system()} {platform.machine()}",
        "in_colab": "google.colab" in sys.modules,
        "date": datetime.date.today().isoformat(),
    }


def report() -> dict:
    """Print the environment in one short block, and return it."""
    facts = environment()
    print(
        f"Keras {facts['keras']} with {facts['backend']} {facts['backend_version']} "
        f"on {facts['device']}\n"
        f"Python {facts['python']}, NumPy {facts['numpy']}, {facts['platform']}"
        + (" (Colab)" if facts["in_colab"] else "")
    )
    return facts
