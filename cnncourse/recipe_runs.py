"""Chapter 12's runs of the recipe: which runs the chapter shows, their records, tables and timings.

``cc.modern`` holds the recipe and ``run_recipe``, one run; this module is the
bookkeeping around many runs. The full profile's runs take hours of CPU, so
they train once, in the background, resumably::

    nohup nice python -m cnncourse.recipe_runs muon_bf16 --seeds 0 1 2 &

and ship with the package as records (history and scores; the weights only
of the run the chapter looks inside), which ``recorded`` reads back in
seconds whatever profile the chapter runs in.
``compare_epochs`` and ``time_epoch`` measure where a CPU epoch's time goes.
"""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

import keras
import numpy as np

from cnncourse import _runs, _validate, config, data as datasets, modern, training

__all__ = ["ADDITIONS", "EPOCH_COMPARISON_FILE", "EPOCH_TIMES_FILE", "FINAL_CHANGES", "FINAL_VARIANT",
           "FULL_PROFILE_SEEDS", "FULL_TRAIN_IMAGES", "NARROW_WIDTHS", "ORIGINAL_CIFAR10", "PAPER_EPOCHS_TO_94",
           "QUICK_CHANGES", "TIMED_VARIANTS", "ablation_runs", "ablation_table", "chapter_runs", "compare_epochs",
           "epoch_comparison", "epoch_times", "full_profile_runs", "permutation_p", "recorded", "result", "row",
           "time_epoch"]

FINAL_VARIANT = "muon_bf16"
# The chapter's final recipe: airbench94_muon's, in bfloat16 arithmetic. Of the recipes timed on the course's
# CPU (EPOCH_COMPARISON_FILE), it takes the least time per run, and its recorded runs average 94 % with
# test-time augmentation.
FINAL_CHANGES = {**modern.MUON_CHANGES, "precision": "mixed_bfloat16"}

# Every full-profile run trains and is tested on the original CIFAR-10, standardized as the recipe does it:
# the SHA-256 of those arrays (cc.training.data_identity), which each record keeps.
ORIGINAL_CIFAR10 = {"train sha256": "e48e331ec2b0aed4c1e1cc5568650b077d5a378e7871eae87bec7828ecb0e8d1",
                    "test sha256": "a1049c3e5a5e97c12d8618c5996e4d8b55554ead7af91dd0e18f31fd729ee32c"}

# ---------------------------------------------------------------- results of many runs

def result(data, *, variant: str = "recipe", seed: int = 0, train: bool = True, profile: str | None = None,
           **changes) -> dict:
    """One run as a row of chapter 12's tables; with ``train=False`` read from its saved record.

    A saved record is enough (its weights need not be there), so the
    chapter's many runs reload in seconds; only a missing one is trained.
    """
    recipe = modern.recipe_with(**changes)
    seed = _validate.seed(seed)
    train = _validate.flag(train, "train")
    profile = config.current_profile() if profile is None else _validate.one_of(profile, ("quick", "full"), "profile")
    if not train:
        model, batches, _, test_images = modern.prepare(data, recipe, seed)
        matched_on = {"profile": profile, "epochs": recipe["epochs"], "batch_size": batches.batch_size,
                      "train_size": len(data.train_images), "optimizer": _runs.optimizer_description(model)}
        found = _runs.find(modern.run_name(variant, seed), matched_on)
        if found is not None:
            used = training.data_identity(batches, (test_images, data.test_labels))
            if _trained_on(found[1]["run"], used):
                return _record_row(variant, seed, recipe, found[1]["run"])
            if profile == "full":
                named = found[1]["run"].get("data")
                said = (f"was trained or tested on other data ({named.get('source', 'checksums differ')})"
                        if isinstance(named, dict) else "does not say which data it was trained on")
                raise ValueError(f"the record {found[0].name} {said}, not these ({data.describe()}): its scores "
                                 "belong to other images; pass train=True to train this run on these data")
            # a quick run on another seed's subset: retrained in seconds
    return row(modern.run_recipe(data, variant=variant, seed=seed, train=train, profile=profile, **changes))


def _trained_on(record: dict, data: dict) -> bool:
    """Whether a record names both checksums of its data and they are ``data``'s.

    Stricter than a quick run's reuse (``_runs.reusable``), which lets a
    record or a run without a checksum pass: a full-profile record is the
    evidence for a chapter's numbers, so it must say what it was trained on.
    """
    named = record.get("data")
    return isinstance(named, dict) and all(named.get(key) == data[key] for key in ("train sha256", "test sha256"))


def _record_row(variant, seed, recipe, record) -> dict:
    return _row(variant, seed, recipe, record["details"], record["test_accuracy"], record["epochs"],
                record["seconds"], record["backend"], record["device"])


def recorded(variant: str = "recipe", seed: int = 0, **changes) -> dict:
    """A full-profile run as a row of chapter 12's tables, read from its record: never trained here.

    The chapter's full-profile runs take hours of CPU. They train once, in
    the background, with ``python -m cnncourse.recipe_runs``, and ship with the
    package as records (history and scores, no weights), so every reader
    sees the same results in seconds, whatever profile the chapter runs in.
    A record is read only if it was trained with this recipe on the original
    CIFAR-10 (``ORIGINAL_CIFAR10``).
    """
    recipe = modern.recipe_with(**changes)
    seed = _validate.seed(seed)
    name = modern.run_name(variant, seed)
    listed = any((variant, seed) == (listed_variant, listed_seed)
                 for listed_variant, listed_seed, _ in full_profile_runs())
    train_it = f"`python -m cnncourse.recipe_runs {variant} --seeds {seed}`"
    found = _newest_full_record(name)
    if found is None:
        raise FileNotFoundError(
            f"no full-profile record of {name!r}: " + (
                f"train it with {train_it} (6 to 32 minutes a run on the course's 2-core CPU), or restore "
                "cnncourse/weights from the course's repository" if listed else
                f"{variant!r} with seed {seed} is not one of chapter 12's full-profile runs "
                "(cc.recipe_runs.full_profile_runs() lists them)"))
    path, content = found
    record = content["run"]
    if record["details"]["changes"] != modern.recipe_changes(recipe):
        raise ValueError(f"the record {path.name} was trained with the changes {record['details']['changes']}, "
                         f"not {modern.recipe_changes(recipe)}: pass the changes it was trained with "
                         "(cc.recipe_runs.chapter_runs('full') gives every run with its changes)")
    expected = {"profile": "full", "epochs": recipe["epochs"], "batch_size": recipe["batch_size"],
                "train_size": FULL_TRAIN_IMAGES, "optimizer": _runs.described_optimizer(modern.optimizer(recipe, 1))}
    if not _runs.same_recipe(record, expected):
        raise ValueError(f"the record {path.name} was trained with {_runs.describe_recipe(record)}, but this "
                         f"version's recipe is {_runs.describe_recipe(expected)}: train it again with {train_it}")
    if not _trained_on(record, ORIGINAL_CIFAR10):
        raise ValueError(f"the record {path.name} was trained or tested on other arrays than the original CIFAR-10 "
                         "standardized as this version does (another copy, the lossy JPEG copy of the course's "
                         "first versions, or the float32 standardization before version 0.8.0); train it again "
                         f"with {train_it}")
    return _record_row(variant, seed, recipe, record)


def _newest_full_record(name: str):
    """The newest full-profile record of ``name`` (path, content), or None."""
    full = [(path, content) for path, content in _runs.saved(name) if content.get("run", {}).get("profile") == "full"]
    return max(full, key=lambda found: found[1]["run"].get("saved_at", "")) if full else None


def row(run) -> dict:
    """A trained or reloaded run of the recipe (what ``cc.modern.run_recipe`` returns) as a row of chapter 12's tables."""
    if not isinstance(run, training.TrainingRun) or "tta accuracy" not in run.details:
        raise TypeError(f"row takes a run returned by cc.modern.run_recipe, got {type(run).__name__}")
    details = run.details
    recipe = modern.recipe_with(**{key: tuple(value) if isinstance(value, list) else value
                                   for key, value in details["changes"].items()})
    return _row(details["variant"], details["seed"], recipe, details, run.test_accuracy, run.epochs, run.seconds,
                run.backend, run.device)


def _arm(variant: str) -> str:
    """A run's variant as a row of the tables: without the ablation's width prefix or its recipe's name."""
    return variant.removeprefix("narrow_").removeprefix(f"{FINAL_VARIANT}_")


def _row(variant, seed, recipe, details, test_accuracy, epochs, seconds, backend, device) -> dict:
    return {"variant": _arm(variant), "seed": seed,
            "widths": "-".join(str(width) for width in recipe["widths"]),
            "test accuracy": test_accuracy, "tta accuracy": details["tta accuracy"], "epochs": epochs,
            "fit (min)": None if seconds is None else round(seconds, 1) / 60,  # as the record stores it
            "mean confidence": details["mean confidence"],
            "confidence histogram": details["confidence histogram"], "backend": backend, "device": device}


# Jordan's own ablation of airbench94, in epochs to reach 94 % (mean of many runs on an A100), each feature
# added to the previous ones: https://github.com/KellerJordan/cifar10-zoo/blob/
# 0009008901122bccad68e28e6aa003d3225ad6bb/airbench_ablations/README.md
PAPER_EPOCHS_TO_94 = {
    "no_whitening": (35.0, 21.0),
    "no_identity_init": (21.0, 18.0),
    "no_bias_lr": (18.0, 13.5),
    "no_lookahead": (13.5, 12.0),
    "no_tta": (12.0, 10.8),  # multi-crop test-time augmentation (flip-only TTA was in the baseline)
    "random_flip": (10.8, 9.9),
}


def _spread(values) -> str:
    values = np.asarray(values, dtype=float)
    return "–" if len(values) < 2 else f"{values.min():.4f} to {values.max():.4f}"


ADDITIONS = ("residual",)  # variants that add to the recipe; every other variant removes or weakens an ingredient


def permutation_p(values, reference, *, lower: bool) -> float:
    """The one-sided permutation test of two arms' runs: how often chance alone gives a difference this large.

    If the variant changed nothing, its runs and the reference's would be
    draws of the same thing, and every way of splitting the pooled runs into
    two arms of these sizes equally likely. The p-value is the share of those
    splits whose difference of means is at least as far as the one observed,
    in the direction the variant was expected to move (``lower``: below the
    reference). With three runs an arm, 20 splits: 1/20 = 0.05 when every
    run of the variant is beyond every run of the reference in the expected
    direction, and never less.
    """
    values, reference = (np.asarray(_validate.finite_array(arm, what), dtype=float).ravel()
                         for arm, what in ((values, "values"), (reference, "reference")))
    if math.comb(len(values) + len(reference), len(values)) > 100_000:
        raise ValueError(f"permutation_p enumerates every split of the runs: {len(values)} and {len(reference)} "
                         "runs are too many (it is meant for a few seeds an arm)")
    lower = _validate.flag(lower, "lower")
    pooled = np.concatenate([values, reference])
    sign = -1.0 if lower else 1.0
    observed = sign * (values.mean() - reference.mean())
    tie = 1e-9 * max(1.0, float(np.abs(pooled).max()))  # splits whose difference equals the observed one count
    differences = []
    for chosen in itertools.combinations(range(len(pooled)), len(values)):
        inside = np.zeros(len(pooled), dtype=bool)
        inside[list(chosen)] = True
        differences.append(sign * (pooled[inside].mean() - pooled[~inside].mean()))
    return float(np.mean(np.asarray(differences) >= observed - tie))


def _paired_p(differences) -> float:
    """The one-sided sign-flip test of paired differences (the same networks scored two ways), expected below 0."""
    differences = np.asarray(differences, dtype=float)
    if len(differences) > 16:
        raise ValueError(f"the sign-flip test enumerates every pattern of signs: {len(differences)} seeds are too "
                         "many (it is meant for a few)")
    observed = -differences.sum()
    tie = 1e-9 * max(1.0, float(np.abs(differences).max()))
    flips = [-np.dot(signs, np.abs(differences)) for signs in itertools.product((-1.0, 1.0), repeat=len(differences))]
    return float(np.mean(np.asarray(flips) >= observed - tie))


def ablation_table(rows: list[dict], reference: str = FINAL_VARIANT):
    """The recipe ``reference`` and each variant of it: mean accuracy over seeds, its range, a test, the source's measure.

    Accuracy is the final one, with test-time augmentation; ``no_tta`` is
    the reference's own runs scored without it. Every variant is compared
    with the reference at the same widths. ``p (one-sided)`` tests the
    direction the variant was expected to move the accuracy: down for an
    ingredient removed (``cc.modern.ABLATIONS``), up for one of
    ``ADDITIONS`` (``permutation_p``: 1/20 at best with three runs an arm;
    for ``no_tta``, the same networks scored two ways, a paired sign-flip
    test: 1/8 at best with three seeds).
    """
    if not isinstance(rows, (list, tuple)) or not rows or not all(isinstance(row, dict) for row in rows):
        raise TypeError("rows must be a non-empty list of rows made by cc.recipe_runs.result or recorded")
    for row in rows:
        missing = [key for key in ("variant", "seed", "widths", "test accuracy", "tta accuracy") if key not in row]
        if missing:
            raise ValueError(f"rows must come from cc.recipe_runs.result or recorded; a row has no {', '.join(missing)}")
    if not isinstance(reference, str):
        raise TypeError(f"reference must be the variant every other is compared with, such as "
                        f"{FINAL_VARIANT!r}; got {reference!r}")
    if reference == "no_tta":
        raise ValueError("reference cannot be 'no_tta': that row is the reference scored without test-time "
                         f"augmentation; pass the recipe's variant, such as {FINAL_VARIANT!r}")
    if any(row["variant"] == "no_tta" for row in rows):
        raise ValueError("no run may be called 'no_tta': the table's no_tta row is the reference scored without "
                         "test-time augmentation")
    widths = {row["widths"] for row in rows if row["variant"] != reference} or {row["widths"] for row in rows}
    if len(widths) != 1:
        raise ValueError(f"the ablation rows mix widths {sorted(widths)}; pass the runs of one width")
    width = widths.pop()
    unknown = sorted({row["variant"] for row in rows} - {reference, *modern.ABLATIONS, *ADDITIONS})
    if unknown:
        raise ValueError(f"the variant(s) {unknown} are neither an ingredient removed (cc.modern.ABLATIONS) nor "
                         f"one added (ADDITIONS), so the table cannot tell which way to test them; the variants "
                         f"are {sorted({*modern.ABLATIONS, *ADDITIONS})}")
    runs = sorted((row for row in rows if row["variant"] == reference and row["widths"] == width),
                  key=lambda row: row["seed"])
    if not runs:
        raise ValueError(f"no run of {reference!r} at widths {width}: the table compares every variant with it")
    baseline = [row["tta accuracy"] for row in runs]
    variants = {reference: baseline, "no_tta": [row["test accuracy"] for row in runs]}
    for row in rows:
        if row["variant"] != reference and row["widths"] == width:
            variants.setdefault(row["variant"], []).append(row["tta accuracy"])
    table = []
    for variant, accuracies in variants.items():
        before, after = PAPER_EPOCHS_TO_94.get(variant, (None, None))
        if variant == reference:
            p = None
        elif variant == "no_tta":
            p = _paired_p(np.subtract(accuracies, baseline))
        else:
            p = permutation_p(accuracies, baseline, lower=variant not in ADDITIONS)
        table.append({"variant": variant, "seeds": len(accuracies), "accuracy (mean)": float(np.mean(accuracies)),
                      "range": _spread(accuracies),
                      "change": None if p is None else float(np.mean(accuracies)) - float(np.mean(baseline)),
                      "p (one-sided)": p,
                      "source: epochs to 94 %": "–" if before is None else f"{before:g} without, {after:g} with"})
    return training.results_table(table)


# ---------------------------------------------------------------- chapter 12's full-profile runs

NARROW_WIDTHS = (32, 64, 64)  # the ablation's width: 14 % of the multiply-adds; an epoch took 36 s against 142 s
FULL_TRAIN_IMAGES = 50_000  # the full profile trains on all of CIFAR-10's training images
FULL_PROFILE_SEEDS = (0, 1, 2)  # the seeds of each full-profile recipe and ablation arm

# The quick profile's run: airbench94_muon's recipe, tiny and in float32 (fast on every backend), seconds on a CPU.
QUICK_CHANGES = {**modern.MUON_CHANGES, "widths": (16, 32, 32), "epochs": 4, "batch_size": 250}


def ablation_runs() -> list[tuple[str, int, dict]]:
    """The ablation of the final recipe at ``NARROW_WIDTHS``: the recipe, each ingredient removed, the residual variant.

    Only the widths change: the logits are still divided by 256, as at full
    width. Lookahead and the BatchNorm
    biases' faster rate are airbench94's (SGD) ingredients: the final recipe
    has neither, so they are not ablated.
    Seed 0 of every arm first, then seed 1, then seed 2.
    """
    narrow = {**FINAL_CHANGES, "widths": NARROW_WIDTHS}  # the logits still divided by 256, as at full width
    arms = [(f"narrow_{FINAL_VARIANT}", {})]
    arms += [(f"narrow_{FINAL_VARIANT}_{name}", changes) for name, changes in modern.ABLATIONS.items()
             if modern.recipe_with(**{**narrow, **changes}) != modern.recipe_with(**narrow)]
    arms.append((f"narrow_{FINAL_VARIANT}_residual", {"residual": True}))
    return [(variant, seed, {**narrow, **changes}) for seed in FULL_PROFILE_SEEDS for variant, changes in arms]


def chapter_runs(profile: str, seed: int = 0) -> dict:
    """Chapter 12's runs in a profile, each as (variant, seed, recipe changes).

    - ``"main"``: the run the chapter trains (or reloads) and looks inside;
    - ``"final"``: the final recipe (``FINAL_CHANGES``) on three seeds;
    - ``"sgd"``: airbench94's recipe (the variant ``"recipe"``), trained
      with SGD, on three seeds: what the final recipe is measured against;
    - ``"ablations"``: ``ablation_runs()``.

    The quick profile has only its main run, a tiny version of the final
    recipe (``QUICK_CHANGES``); ``seed`` is its seed (the full profile's
    runs have theirs). The full profile's runs take hours of CPU: ``python -m
    cnncourse.recipe_runs`` trains them once, and the chapter reads their
    records (``recorded``).
    """
    profile = _validate.one_of(profile, ("quick", "full"), "profile")
    seed = _validate.seed(seed)
    if profile == "quick":
        return {"main": ("muon", seed, dict(QUICK_CHANGES)), "final": [], "sgd": [], "ablations": []}
    final = [(FINAL_VARIANT, final_seed, dict(FINAL_CHANGES)) for final_seed in FULL_PROFILE_SEEDS]
    return {"main": final[0], "final": final, "sgd": [("recipe", sgd_seed, {}) for sgd_seed in FULL_PROFILE_SEEDS],
            "ablations": ablation_runs()}


def full_profile_runs() -> list[tuple[str, int, dict]]:
    """Every full-profile run of chapter 12, in the order ``python -m cnncourse.recipe_runs`` trains them:
    the final recipe, airbench94's, then the ablation."""
    runs = chapter_runs("full")
    return [*runs["final"], *runs["sgd"], *runs["ablations"]]


def _train_full_profile(variants=(), seeds=()) -> None:
    """Train (or resume, or skip when saved) chapter 12's full-profile runs, one after the other."""
    known = sorted({variant for variant, _, _ in full_profile_runs()})
    unknown = sorted(set(variants) - set(known))
    if unknown:
        raise SystemExit(f"no full-profile run is called {', '.join(unknown)}; the variants are {', '.join(known)}")
    chosen = [(variant, seed, changes) for variant, seed, changes in full_profile_runs()
              if (not variants or variant in variants) and (not seeds or seed in seeds)]
    if not chosen:
        raise SystemExit(f"no full-profile run has seed {' or '.join(map(str, seeds))}"
                         f"{' for ' + ', '.join(variants) if variants else ''}; the seeds are "
                         f"{', '.join(map(str, FULL_PROFILE_SEEDS))}")
    config.settings("full", quick={}, full={})
    cifar = datasets.load("cifar10")
    for variant, seed, changes in chosen:
        modern.run_recipe(cifar, variant=variant, seed=seed, train=False, **changes)
        keras.backend.clear_session()  # one process trains them all: free each run's graphs and layers


# ---------------------------------------------------------------- how long an epoch takes, per backend

EPOCH_TIMES_FILE = "airbench_cifar10.epoch_times.json"  # in the shipped runs' folder


def time_epoch(data, **changes) -> dict:
    """Time one training epoch of the recipe on ``data`` with this machine's Keras backend.

    A few warm-up steps come first, so that compiling the training step
    (seconds on TensorFlow, longer on JAX) is not counted.
    """
    recipe = modern.recipe_with(**changes)
    model, batches, callbacks, _ = modern.prepare(data, recipe, 0)
    modern.set_whitening(model, batches.images[:5000])
    model.fit(batches, epochs=1, steps_per_epoch=min(3, len(batches)), verbose=0, callbacks=callbacks)
    started = time.perf_counter()
    model.fit(batches, epochs=1, verbose=0, callbacks=callbacks)
    facts = config.environment()
    return {"seconds": round(time.perf_counter() - started, 3), "steps": len(batches),
            "images": len(batches) * batches.batch_size, "batch_size": batches.batch_size,
            "widths": list(recipe["widths"]), **{key: facts[key] for key in
                                                 ("backend", "backend_version", "keras", "device", "date")}}


# The recipes whose CPU cost chapter 12 compares, timed one after the other in one process.
TIMED_VARIANTS = {
    "recipe": {},
    "muon": modern.MUON_CHANGES,
    "recipe, bfloat16": {"precision": "mixed_bfloat16"},
    "muon, bfloat16": {**modern.MUON_CHANGES, "precision": "mixed_bfloat16"},
}
EPOCH_COMPARISON_FILE = "airbench_cifar10.epoch_comparison.json"  # in the shipped runs' folder


def compare_epochs(data, variants: dict | None = None) -> list[dict]:
    """One epoch of each variant, timed one after the other in this process, and what a whole run would take.

    Two timings are comparable only if the machine did the same other work
    during both; timing them back to back in one process on a quiet CPU is
    the closest to that. A run's time is its epochs times the epoch's time
    (``run vs first``: as a multiple of the first variant's run).
    """
    variants = dict(TIMED_VARIANTS if variants is None else variants)
    if not variants or not all(isinstance(name, str) and isinstance(changes, dict)
                                for name, changes in variants.items()):
        raise TypeError("variants must be a non-empty dict of name: recipe changes, such as "
                        "{'muon': cc.modern.MUON_CHANGES}")
    rows = []
    for name, changes in variants.items():
        keras.backend.clear_session()  # each variant builds its own network: free the last one's graph
        measured = time_epoch(data, **changes)
        epochs = modern.recipe_with(**changes)["epochs"]
        rows.append({"variant": name, "epoch (s)": measured["seconds"], "steps": measured["steps"],
                     "batch_size": measured["batch_size"], "epochs": epochs,
                     "run (min)": round(epochs * measured["seconds"] / 60, 2),
                     **{key: measured[key] for key in ("backend", "device", "date")}})
    first = rows[0]["epochs"] * rows[0]["epoch (s)"]
    for row in rows:
        row["run vs first"] = round(row["epochs"] * row["epoch (s)"] / first, 3)
    return rows


def _record_epoch_comparison(folder=None) -> list[dict]:
    """``compare_epochs`` on the full training set, saved (signed) for chapter 12."""
    rows = compare_epochs(datasets.load("cifar10", verbose=False))
    _runs.write_signed(_shipped_folder(folder) / EPOCH_COMPARISON_FILE, {"variants": rows})
    return rows


def _shipped_folder(folder) -> Path:
    """``folder`` (a path), or the shipped runs' folder for ``None``."""
    if folder is None:
        return _runs.shipped_folder()
    return _validate.path(folder, "folder", kind="folder", example="cnncourse/weights")


def epoch_comparison(folder=None):
    """The shipped ``compare_epochs`` measurement, as a table (checked against its checksum)."""
    path = _shipped_folder(folder) / EPOCH_COMPARISON_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {EPOCH_COMPARISON_FILE} in {path.parent.name}: measure it with "
                                "`python -m cnncourse.recipe_runs --compare-epochs` on a quiet CPU (about 15 minutes)")
    return training.results_table(_runs.read_signed(path)["variants"])


def epoch_times(folder=None) -> list[dict]:
    """The shipped measurements of ``time_epoch`` at full width, one per backend (checked against their checksum)."""
    path = _shipped_folder(folder) / EPOCH_TIMES_FILE
    if not path.is_file():
        if folder is not None:
            raise FileNotFoundError(f"no {EPOCH_TIMES_FILE} in {path.parent}: give the folder the measurements were "
                                    "saved in, or None for the ones shipped with the course")
        return []
    return list(_runs.read_signed(path)["backends"].values())


def _record_epoch_time(folder=None) -> dict:
    """Measure ``time_epoch`` on the full training set and add it to the shipped file, under this backend."""
    measured = time_epoch(datasets.load("cifar10", verbose=False))
    path = _shipped_folder(folder) / EPOCH_TIMES_FILE
    times = _runs.read_signed(path)["backends"] if path.is_file() else {}
    times[measured["backend"]] = measured
    _runs.write_signed(path, {"backends": times})
    return measured


def _command_line(arguments=None) -> None:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m cnncourse.recipe_runs",
        description="Train chapter 12's full-profile runs on CIFAR-10 (resumable; a saved run is skipped), or time "
                    "an epoch. Hours on a CPU: start it with nohup, and read the runs back with cc.recipe_runs.recorded.")
    parser.add_argument("variants", nargs="*", help="which variants to train (default: every run), e.g. muon_bf16 recipe")
    parser.add_argument("--seeds", nargs="+", type=int, default=[], help="only these seeds (default: all)")
    parser.add_argument("--time-epoch", action="store_true",
                        help="time one epoch of the recipe with this backend and add it to the shipped file")
    parser.add_argument("--compare-epochs", action="store_true",
                        help="time one epoch of each recipe in TIMED_VARIANTS, one after the other, and ship them")
    options = parser.parse_args(arguments)
    if (options.time_epoch or options.compare_epochs) and (options.variants or options.seeds or
                                                          options.time_epoch == options.compare_epochs):
        parser.error("--time-epoch and --compare-epochs each time the full-width recipes alone: give one of them, "
                     "without variants or seeds")
    if options.time_epoch:
        print(_record_epoch_time())
    elif options.compare_epochs:
        for measured in _record_epoch_comparison():
            print(measured)
    else:
        _train_full_profile(options.variants, options.seeds)


if __name__ == "__main__":
    _command_line()
