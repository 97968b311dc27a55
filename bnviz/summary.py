"""What results say, in tables and words: convergence statistics of a comparison, their
spread over seeds, the loss landscape's summary and verdict, a sweep's run outcomes, and
how numbers are written.

Pure pandas, shared by the page and the command line, so both print the same
numbers the same way; nothing here imports a result or a trainer (results import
it). A *statistic* here is one number per model and seed (epochs to 90 % train
accuracy, best test accuracy, …); charts live in `bnviz.charts`.

Seeds are pairs: each seed trains both models from the same shared-layer weights and the
same batch order, so the headline judges the per-seed differences (`paired_summary`), not
the two models' ranges.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

# Each statistic and its label, in the order tables show them.
LATE_EPOCHS = 10  # the headline's test accuracy: the mean of a run's last this many epochs
STATISTIC_LABELS = {
    "epochs_to_90_train": "Epochs to 90 % train accuracy",
    "epochs_to_99_train": "Epochs to 99 % train accuracy",
    "late_test_accuracy": f"Test accuracy, mean of the last {LATE_EPOCHS} epochs",
    "best_test_accuracy": ("Best test accuracy (best over epochs, on the test set itself: "
                           "optimistic)"),
    "final_test_accuracy": "Final test accuracy",
    "seconds": "Training seconds",
}
STATISTICS = tuple(STATISTIC_LABELS)
DIFFERENCE = "difference ({name} − baseline)"  # name: the normaliser, "BN" for batch norm


def epochs_to_reach(values: pd.Series, epochs: pd.Series, threshold: float) -> float:
    """First epoch at which ``values`` reaches ``threshold`` (NaN if never)."""
    reached = epochs[values.to_numpy() >= threshold]
    return float(reached.iloc[0]) if len(reached) else float("nan")


def convergence_summary(history: pd.DataFrame) -> pd.DataFrame:
    """Per model and seed: epochs to 90 % / 99 % train accuracy, final and best test
    accuracy (and its epoch), the mean test accuracy of the last `LATE_EPOCHS` epochs (of
    all of them in a shorter run; ``late_epochs`` says how many), training seconds.

    The best epoch's test accuracy is chosen on the test set itself, so it flatters every
    model; the late mean is chosen by no look at the test set."""
    rows = []
    for model, runs in history.groupby("model", sort=False):
        for seed, run in runs.groupby("seed", sort=False):
            run = run.sort_values("epoch")
            rows.append({
                "model": model,
                "seed": seed,
                "epochs_to_90_train": epochs_to_reach(run.train_accuracy, run.epoch, 0.90),
                "epochs_to_99_train": epochs_to_reach(run.train_accuracy, run.epoch, 0.99),
                "final_test_accuracy": float(run.test_accuracy.iloc[-1]),
                "best_test_accuracy": float(run.test_accuracy.max()),
                "best_test_epoch": int(run.epoch.iloc[int(np.argmax(run.test_accuracy))]),
                "late_test_accuracy": float(run.test_accuracy.iloc[-LATE_EPOCHS:].mean()),
                "late_epochs": min(len(run), LATE_EPOCHS),
                "seconds": float(run.seconds.sum()),
            })
    return pd.DataFrame(rows)


def seed_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Per model and statistic: mean, sd (NaN for one seed), min, max and how many seeds
    counted.

    Epochs-to-threshold statistics count only the seeds that reached the threshold;
    ``reached`` says how many did.
    """
    rows = []
    for model, runs in summary.groupby("model", sort=False):
        for statistic in STATISTICS:
            values = runs[statistic].dropna()
            rows.append({
                "model": model, "statistic": statistic, "mean": values.mean(),
                "sd": values.std(ddof=1) if len(values) > 1 else float("nan"),
                "low": values.min(), "high": values.max(),
                "reached": len(values), "seeds": len(runs),
            })
    return pd.DataFrame(rows)


def clearly_different(a: pd.Series, b: pd.Series) -> bool | None:
    """True if two `seed_summary` rows differ by more than their spreads (ranges do not
    overlap); None when there is a single seed and no spread to judge by.

    Not the headline's rule (`paired_summary` is): it ignores that seeds are pairs, and with
    no real difference it says True 2 / C(2n, n) of the time (10 % at 3 seeds). Kept for
    `bench/variants.py`'s table, which documents it so."""
    if a["seeds"] < 2 or b["seeds"] < 2:
        return None
    return bool(a["high"] < b["low"] or b["high"] < a["low"])


# -- writing numbers -------------------------------------------------------------


def format_statistic(statistic: str, value: float, signed: bool = False) -> str:
    """One value of a statistic: accuracies to 3 places, seconds to 1, epochs whole;
    "—" when missing (a threshold never reached)."""
    if pd.isna(value):
        return "—"
    digits = 3 if "accuracy" in statistic else 1 if statistic == "seconds" else 0
    return f"{value:{'+' if signed else ''}.{digits}f}"


def format_duration(seconds: float | None) -> str:
    """An estimated duration in words: "about 40 s", "about 3 min", "about 1 h 5 min";
    "estimating…" while there is no estimate."""
    if seconds is None:
        return "estimating…"
    if seconds < 60:
        return f"about {max(seconds, 1):.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60} min"


def format_spread(row: pd.Series) -> str:
    """A `seed_summary` row as "mean ± sd": "never" when no seed reached the threshold, no
    ± for a single value, and "(r of n seeds)" when only some seeds reached it."""
    if row["reached"] == 0:
        return "never"
    text = format_statistic(row["statistic"], row["mean"])
    if row["reached"] > 1:
        text += " ± " + format_statistic(row["statistic"], row["sd"])
    if row["reached"] < row["seeds"]:
        text += f" ({row['reached']} of {row['seeds']} seeds)"
    return text


def models_of(summary: pd.DataFrame) -> list[str]:
    """Model labels in training order (baseline first)."""
    return list(summary["model"].unique())


def statistic_labels(summary: pd.DataFrame) -> dict[str, str]:
    """`STATISTIC_LABELS`, the late test accuracy's saying how many epochs it averages when
    the runs are shorter than `LATE_EPOCHS`."""
    epochs = int(summary["late_epochs"].min()) if "late_epochs" in summary else LATE_EPOCHS
    if epochs >= LATE_EPOCHS:
        return STATISTIC_LABELS
    return {**STATISTIC_LABELS, "late_test_accuracy": f"Test accuracy, mean of all {epochs} "
            f"epochs (fewer than {LATE_EPOCHS})"}


def convergence_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One seed: statistics in rows, models in columns, and the BN − baseline difference."""
    values = summary.set_index("model")
    baseline, bn = models_of(summary)
    rows = {}
    for statistic, label in statistic_labels(summary).items():
        difference = values.loc[bn, statistic] - values.loc[baseline, statistic]
        rows[label] = {baseline: format_statistic(statistic, values.loc[baseline, statistic]),
                       bn: format_statistic(statistic, values.loc[bn, statistic]),
                       DIFFERENCE.format(name=normaliser(bn)):
                           format_statistic(statistic, difference, signed=True)}
    return pd.DataFrame(rows).T


def seed_spread_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Several seeds: mean ± sd per statistic (rows) and model (columns)."""
    spread = seed_summary(summary)
    labels = statistic_labels(summary)
    table = spread.assign(value=spread.apply(format_spread, axis=1),
                          statistic=spread["statistic"].map(labels))
    return table.pivot(index="statistic", columns="model", values="value").reindex(
        list(labels.values()))[models_of(summary)]


def per_seed_table(summary: pd.DataFrame) -> pd.DataFrame:
    """`convergence_summary` with every statistic written as text, one row per model and
    seed."""
    shown = summary.astype(object)
    for statistic in STATISTICS:
        shown[statistic] = summary[statistic].map(lambda v, s=statistic: format_statistic(s, v))
    return shown


# -- seeds as pairs ------------------------------------------------------------------
# Why a paired t-interval at 98 % for each statistic: `paired_summary`'s docstring.

FALSE_CLEAR_RATE = 0.05
HEADLINE_STATISTICS = {
    "epochs_to_90_train": "epochs to 90 % train accuracy",
    "late_test_accuracy": "test accuracy",
}
INTERVAL_LEVEL = 1 - 0.8 * FALSE_CLEAR_RATE / len(HEADLINE_STATISTICS)  # 0.98
# The differences' sd is taken as at least this: epochs are counted whole, so a threshold's
# crossing is known to within an epoch and equal differences at every seed can be rounding
# alone (two whole-epoch roundings differ with an sd of 1/√6 ≈ 0.41 epoch; half an epoch is
# the round figure above it); accuracies are written to three places.
SD_FLOORS = {"epochs_to_90_train": 0.5, "late_test_accuracy": 0.001}


def _t_within(t: float, df: int) -> float:
    """P(|T| ≤ t) for Student's t with ``df`` degrees of freedom, exactly, for whole ``df``
    (Abramowitz & Stegun 26.7.3 and 26.7.4)."""
    theta = math.atan(t / math.sqrt(df))
    cos = math.cos(theta)
    if df % 2:  # odd: 2/π (θ + sin θ (cos θ + 2/3 cos³ θ + …))
        term, series = cos, 0.0
        for j in range(1, (df - 1) // 2 + 1):
            series += term
            term *= cos * cos * (2 * j) / (2 * j + 1)
        return 2 / math.pi * (theta + math.sin(theta) * series)
    term, series = 1.0, 0.0  # even: sin θ (1 + 1/2 cos² θ + 1·3/(2·4) cos⁴ θ + …)
    for j in range(1, df // 2 + 1):
        series += term
        term *= cos * cos * (2 * j - 1) / (2 * j)
    return math.sin(theta) * series


@functools.lru_cache(maxsize=64)
def t_critical(level: float, df: int) -> float:
    """The t such that P(|T| ≤ t) = ``level`` with ``df`` degrees of freedom (4.303 for 95 %
    and 2), by bisection on the exact distribution."""
    low, high = 0.0, 1e7
    for _ in range(200):
        middle = (low + high) / 2
        low, high = (middle, high) if _t_within(middle, df) < level else (low, middle)
    return (low + high) / 2


def paired_interval(differences: np.ndarray, sd_floor: float = 0.0,
                    level: float = INTERVAL_LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean of paired differences (the last axis: one per seed, at least two) with its
    ``level`` t-interval, the sd taken as at least ``sd_floor``: (mean, low, high), each
    of the shape of the other axes. Works on many runs at once (the tests' simulation)."""
    differences = np.asarray(differences, dtype=float)
    pairs = differences.shape[-1]
    mean = differences.mean(axis=-1)
    sd = np.maximum(differences.std(axis=-1, ddof=1), sd_floor)
    half = t_critical(level, pairs - 1) * sd / math.sqrt(pairs)
    return mean, mean - half, mean + half


def is_clear(low: np.ndarray | float, high: np.ndarray | float) -> np.ndarray | bool:
    """Whether an interval leaves zero out (a clear difference)."""
    return np.logical_or(np.asarray(low) > 0, np.asarray(high) < 0)


def paired_differences(summary: pd.DataFrame) -> pd.DataFrame:
    """Per headline statistic and seed: both models' values and the difference (the
    normalised model − baseline); NaN where a model never reached the threshold."""
    models = models_of(summary)
    baseline, other = models[0], models[-1]
    values = summary.set_index(["model", "seed"])
    seeds = list(summary[summary["model"] == baseline]["seed"])
    rows = []
    for statistic, words in HEADLINE_STATISTICS.items():
        for seed in seeds:
            base = values.loc[(baseline, seed), statistic]
            ours = values.loc[(other, seed), statistic] if (other, seed) in values.index \
                else float("nan")
            rows.append({"statistic": statistic, "label": words, "seed": seed,
                         "baseline": base, "normalized": ours, "difference": ours - base})
    return pd.DataFrame(rows)


def paired_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """Per headline statistic: seeds, pairs (seeds where both models have a value: both
    reached the threshold), mean difference with its `INTERVAL_LEVEL` interval, and
    ``clear`` (None with fewer than two pairs); ``half`` is the half-width, the smallest
    mean difference that would be clear with this spread.

    Why a paired t-interval. Both models of a seed start from the same shared-layer weights
    and see the same batches, so most of what a seed does to one model it does to the
    other: the per-seed differences carry only what differs, and a consistent difference
    smaller than the seeds' spread can still be evidence. Comparing the two models' ranges
    throws the pairing away and, with no real difference, still calls them apart
    2 / C(2n, n) of the time (10 % at 3 seeds). An exact sign-flip (permutation) test would
    assume nothing but symmetry, but its smallest two-sided p with n pairs is 2 / 2^n (0.25
    at 3 seeds, 0.0625 at 5): it can never say "clear" at 5 % below 6 seeds, nor at the 2 %
    each statistic gets here below 7, and the gallery holds 3. A paired t-interval can, at
    the price of assuming roughly normal differences. With no real difference the two models
    of a seed are exchangeable, so the differences are symmetric about zero; for symmetric
    differences, normal or heavy-tailed (Laplace), the simulation in tests/test_summary.py
    finds the false-"clear" rate at or below the nominal one. Whole epochs are the one trap:
    three equal differences (+1, +1, +1) have no spread, which a t-interval would call
    infinitely sure; a floor on the differences' sd (`SD_FLOORS`) closes it.

    Why 98 %. The headline judges two statistics, so its 5 % (`FALSE_CLEAR_RATE`) is split
    between them (Bonferroni: the chance that either is called clear wrongly is at most the
    sum). Split evenly it would be 2.5 % each, which two independent normal statistics spend
    to 4.94 %; a fifth of the 5 % is kept back for what the t-interval only approximates
    (whole epochs, tails), so each gets a 98 % interval and the two together at most 4 % on
    paper. At 3 seeds its half-width is 4.0 sd of the differences (t = 6.96 with 2
    degrees of freedom, over √3): three seeds settle only a large, consistent difference,
    and the verdict says what mean difference would have been clear."""
    rows = []
    for statistic, differences in paired_differences(summary).groupby("statistic", sort=False):
        kept = differences["difference"].dropna().to_numpy()
        row = {"statistic": statistic, "label": HEADLINE_STATISTICS[statistic],
               "seeds": len(differences), "pairs": len(kept), "level": INTERVAL_LEVEL,
               "mean": kept.mean() if len(kept) else float("nan"), "low": float("nan"),
               "high": float("nan"), "half": float("nan"), "clear": None}
        if len(kept) >= 2:
            mean, low, high = paired_interval(kept, SD_FLOORS[statistic])
            row.update(low=float(low), high=float(high), half=float(mean - low),
                       clear=bool(is_clear(low, high)))
        rows.append(row)
    return pd.DataFrame(rows)


def paired_difference_frame(summary: pd.DataFrame) -> pd.DataFrame:
    """`paired_differences` of the seeds that count (both models have a value), each row
    with its statistic's mean difference, interval and pair count: the data of
    `bnviz.charts.paired_difference_chart`."""
    intervals = paired_summary(summary)[["statistic", "mean", "low", "high", "pairs", "seeds",
                                         "clear"]]
    return paired_differences(summary).dropna(subset=["difference"]).merge(
        intervals, on="statistic")


def paired_difference_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per seed (rows) and headline statistic (columns): the difference, written; "—" where
    a model never reached the threshold. The CLI prints it; the page draws it as dots."""
    differences = paired_differences(summary)
    differences["shown"] = [_difference(s, v) if pd.notna(v) else "—"
                            for s, v in zip(differences["statistic"], differences["difference"],
                                            strict=True)]
    table = differences.pivot(index="seed", columns="label", values="shown")
    return table[list(HEADLINE_STATISTICS.values())]


def _difference(statistic: str, value: float) -> str:
    """A difference, signed: epochs to one place (a mean of whole epochs), accuracies to three."""
    return f"{value:+.{3 if 'accuracy' in statistic else 1}f}".replace("-", "−")


def sampling_error(accuracy: float, test_images: int) -> float:
    """The standard error of an accuracy measured on ``test_images`` images: √(p(1−p)/N), the
    part of it that another test set of the same size would change."""
    return math.sqrt(accuracy * (1 - accuracy) / test_images)


def sampling_error_note(summary: pd.DataFrame, test_images: int) -> str:
    """The test set's own sampling error at these accuracies, in words."""
    accuracy = float(summary["late_test_accuracy"].mean())
    return (f"On {test_images:,} test images an accuracy near {accuracy:.3f} carries a "
            f"sampling error of ±{sampling_error(accuracy, test_images):.3f} (one standard "
            "error, √(p(1−p)/N)): another test set of that size would move it by about that, "
            "whatever the seeds say.")


def paired_verdict(summary: pd.DataFrame) -> str:
    """What the seeds, taken as pairs, settle about the headline's two statistics (the
    normalised model − baseline), in words; "" for one seed."""
    models = models_of(summary)
    paired = paired_summary(summary)
    seeds = int(paired["seeds"].iloc[0])
    if seeds < 2:
        return ""
    parts = []
    for row in paired.itertuples():
        if row.clear is None:
            parts.append(f"{row.label}: both models reached it in only {row.pairs} of {seeds} "
                         "seeds, too few to judge" if row.pairs else
                         f"{row.label}: no seed where both models reached it")
            continue
        mean, low, high = (_difference(row.statistic, v) for v in (row.mean, row.low, row.high))
        reached = (f", {row.pairs} of {seeds} seeds with both models there"
                   if row.pairs < seeds else "")
        if row.clear:
            parts.append(f"{row.label} {mean} ({row.level * 100:g} % interval {low} to "
                         f"{high}{reached}): a clear difference")
        else:
            parts.append(f"{row.label} {mean} ({low} to {high}{reached}): {row.pairs} seeds "
                         "cannot settle this; with this spread only a mean difference beyond "
                         f"±{_difference(row.statistic, row.half)[1:]} would be clear")
    return (f"Over {seeds} seeds, paired by seed ({normaliser(models[-1])} − baseline): "
            + "; ".join(parts) + ".")



# -- plain words -------------------------------------------------------------------


def normaliser(model: str) -> str:
    """A model label without its placement: "BN", "GroupNorm", "noisy BN"."""
    return model.rsplit(" ", 1)[0]


def _late_words(summary: pd.DataFrame) -> str:
    """Which epochs the headline's test accuracy averages: "the last 10 epochs", or all of a
    shorter run's."""
    epochs = int(summary["late_epochs"].min())
    if epochs >= LATE_EPOCHS:
        return f"the last {LATE_EPOCHS} epochs"
    return f"all {epochs} epoch{'s' if epochs > 1 else ''} (the run is shorter than {LATE_EPOCHS})"


def brief(summary: pd.DataFrame, model: str) -> str:
    """One model's speed to 90 % train accuracy and its test accuracy over the last epochs,
    with their spread ("90 % train accuracy after 6 ± 0 epochs, test accuracy over the last
    10 epochs 0.827 ± 0.023")."""
    spread = seed_summary(summary)
    rows = {row["statistic"]: row for _, row in spread[spread["model"] == model].iterrows()}
    epochs = rows["epochs_to_90_train"]
    reached = (f"90 % train accuracy after {format_spread(epochs)} epochs"
               if epochs["reached"] else "90 % train accuracy never reached")
    return (f"{reached}, test accuracy over {_late_words(summary)} "
            f"{format_spread(rows['late_test_accuracy'])}")


def brief_verdict(summary: pd.DataFrame) -> str:
    """`paired_verdict` in one short sentence, for the page's headline (the intervals and
    what would be clear are on the Convergence tab); "" for one seed."""
    paired = paired_summary(summary)
    seeds = int(paired["seeds"].iloc[0])
    if seeds < 2:
        return ""
    said = []
    for row in paired.itertuples():
        name = "speed" if row.statistic == "epochs_to_90_train" else "accuracy"
        said.append(f"{name} differs clearly" if row.clear else f"{name}: cannot tell")
    return f"Paired over {seeds} seeds: " + "; ".join(said) + "."


def headline(summary: pd.DataFrame, test_images: int | None = None,
             brief: bool = False) -> str:
    """Plain words on how soon each model reached 90 % training accuracy and how well it
    tests over its last epochs, with what the seeds, as pairs, settle (`paired_verdict`);
    ``test_images``: the test set's size, for its sampling error; ``brief``: the page's two
    lines, with `brief_verdict` and without the sampling error."""
    spread = seed_summary(summary)
    baseline, bn = models_of(summary)[0], models_of(summary)[-1]
    seeds = int(spread["seeds"].iloc[0])

    def row(model: str, statistic: str) -> pd.Series:
        return spread[(spread["model"] == model) & (spread["statistic"] == statistic)].iloc[0]

    def value(model: str, statistic: str) -> str:
        return format_spread(row(model, statistic))

    base_90, bn_90 = row(baseline, "epochs_to_90_train"), row(bn, "epochs_to_90_train")
    if base_90["reached"] == 0 and bn_90["reached"] == 0:
        epochs_sentence = "Neither model reached 90 % training accuracy; try more epochs."
    else:
        def after(model: str, unit: str = "") -> str:
            return (f"after {value(model, 'epochs_to_90_train')}{unit}"
                    if row(model, "epochs_to_90_train")["reached"] else "never")

        epochs_sentence = (f"{bn}: 90 % train accuracy {after(bn, ' epochs')}; "
                           f"baseline: {after(baseline)}.")
    error = ""
    if test_images:
        accuracy = float(summary["late_test_accuracy"].mean())
        error = (f"; on {test_images:,} test images each carries ±"
                 f"{sampling_error(accuracy, test_images):.3f} of sampling error")
    over = f"(last {LATE_EPOCHS} epochs):" if brief and "last" in _late_words(summary) else \
        f"over {_late_words(summary)}"
    test_sentence = (f"Test accuracy {over} "
                     f"{value(bn, 'late_test_accuracy')} with {normaliser(bn)}, "
                     f"{value(baseline, 'late_test_accuracy')} without{error}.")
    if seeds == 1:
        verdict = "One run per model: add seeds to see whether the differences are real."
    else:
        verdict = brief_verdict(summary) if brief else paired_verdict(summary)
    return " ".join(part for part in (epochs_sentence, test_sentence, verdict) if part)


# -- the loss landscape (bnviz.landscape's measures) ---------------------------------


def landscape_summary(landscape: pd.DataFrame, direction: str = "update") -> pd.DataFrame:
    """Per model, over the probed steps of the first seed along ``direction`` (``update``:
    the step the optimizer took; ``gradient``: −ηg, `bnviz.landscape.DIRECTIONS`): the
    median range of the loss, the median largest change of the gradient, the median and
    largest β-smoothness, and the median distance of the one-times step."""
    first = landscape[(landscape["seed"] == landscape["seed"].min())
                      & (landscape["direction"] == direction)]
    rows = []
    for model, probes in first.groupby("model", sort=False):
        rows.append({
            "model": model,
            "probes": len(probes),
            "loss_range": float((probes["loss_max"] - probes["loss_min"]).median()),
            "grad_change": float(probes["grad_change_max"].median()),
            "beta_median": float(probes["beta_smoothness"].median()),
            "beta_max": float(probes["beta_smoothness"].max()),
            "distance": float(probes["distance"].median()),
        })
    return pd.DataFrame(rows, columns=["model", "probes", "loss_range", "grad_change",
                                       "beta_median", "beta_max", "distance"])


def landscape_verdict(summary: pd.DataFrame, raw_pixels: bool, optimizer: str = "adam") -> str:
    """What this run's measures along the step taken say about Santurkar et al.'s claim, in
    plain words, including when they do not support it (from a `landscape_summary` of two
    models along ``update``; with SGD that is the paper's own measure)."""
    if len(summary) < 2 or (summary["probes"] == 0).any():
        return "No loss-landscape probes in this run (probe every 0 steps)."
    baseline, bn = summary.iloc[0], summary.iloc[-1]
    keys = ["loss_range", "grad_change", "beta_median"]
    if not np.isfinite(pd.concat([baseline[keys], bn[keys]]).astype(float)).all():
        return ("Some of this run's measures are not finite numbers (a look-ahead step blew "
                "the loss up), so they cannot be compared; the charts leave those steps out.")
    measures = (("loss_range", "the loss varied over a median range of", "{:.3g}"),
                ("grad_change", "the gradient changed by a median of", "{:.3g}"),
                ("beta_median", "the effective β-smoothness had a median of", "{:.3g}"))
    smoother = [bn[key] < baseline[key] for key, _, _ in measures]
    facts = "; ".join(f"{words} {shown.format(bn[key])} (baseline: {shown.format(baseline[key])})"
                      for key, words, shown in measures)
    along = ("the step SGD took, −lr·g: Santurkar et al.'s own measure" if optimizer == "sgd"
             else f"the step {optimizer.capitalize()} took, not along the gradient, so that "
             "both models are probed as far as they really move")
    text = (f"In this run ({int(bn['probes'])} probes per model, first seed), stepping ½ to 4 "
            f"times along {along} (a median step of {bn['distance']:.3g} for the "
            f"{bn['model']} model, {baseline['distance']:.3g} for the baseline), {facts}. ")
    if all(smoother):
        text += ("All three point the way Santurkar et al. found for BN: the "
                 f"{bn['model']} model's loss is smoother and its gradient more predictive "
                 "here.")
    elif not any(smoother):
        text += ("None of the three points the way Santurkar et al. found for BN: by these "
                 f"measures the {bn['model']} model's loss is not smoother in this run.")
    else:
        text += ("The three measures disagree here, so this run neither clearly shows nor "
                 "clearly contradicts Santurkar et al.'s finding.")
    if raw_pixels and any(smoother):
        text += (" With raw 0–255 pixels, part of the gap is the baseline's unscaled input: "
                 "the Scaled pixels preset compares the two on equally scaled images.")
    return text + " One seed is one run: more seeds show whether the gap is reliable."


# -- a learning-rate sweep's runs --------------------------------------------------
# Checked at the end of every epoch, a run *diverges* when its training loss stops being
# a finite number or explodes: above `EXPLODED_FACTOR` times its own first epoch's loss
# (relative, since the raw-pixel baseline starts near 60 and a scaled one near 2), or, in
# the first epoch, above `EXPLODED_LOSS`; it is then stopped at once. A run that ends with
# training accuracy at chance level (`STUCK_ACCURACY` or below, ten classes) did not
# diverge: it is "still learning" when its loss has fallen clearly below both its first
# epoch's and the loss of a network that guesses (ln 10, `CHANCE_LOSS`; below
# `STILL_LEARNING` times the smaller), else "stuck at chance" (a network that gives up and
# predicts the same for every image sits at ln 10, however high its first epoch's loss was).

EXPLODED_LOSS = 1e4  # the first epoch's bound, before the run has a loss of its own
EXPLODED_FACTOR = 10.0
STUCK_ACCURACY = 0.2
STILL_LEARNING = 0.9
CHANCE_LOSS = math.log(10)  # cross-entropy of a uniform guess over ten classes
OUTCOMES = ("trained", "still learning", "stuck at chance", "diverged")


def diverged(train_loss: float, first_loss: float | None) -> bool:
    """True when an epoch's training loss says the run has blown up; ``first_loss`` is the
    run's first epoch's loss (None while that is the epoch being judged)."""
    if not math.isfinite(train_loss):
        return True
    bound = EXPLODED_LOSS if first_loss is None else EXPLODED_FACTOR * first_loss
    return train_loss > bound


def outcome(diverged_at_some_epoch: bool, first_loss: float, last_loss: float,
            last_train_accuracy: float) -> str:
    """One of `OUTCOMES`, by the rules above."""
    if diverged_at_some_epoch:
        return "diverged"
    if last_train_accuracy > STUCK_ACCURACY:
        return "trained"
    learning = last_loss < STILL_LEARNING * min(first_loss, CHANCE_LOSS)
    return "still learning" if learning else "stuck at chance"


def sweep_verdict(table: pd.DataFrame, test_images: int) -> str:
    """What a learning-rate sweep's table (`bnviz.sweep.SWEEP_COLUMNS`) shows, in words: how
    the models compare at the rates both trained at, and up to which rate each trained, with
    each one's best (Bjorck et al. 2018 ask exactly this: is BN better at matched rates, or
    because it permits larger ones?). Every point is one seed's run, so a difference within
    the test set's sampling error is called so."""
    trained = table[table["outcome"] == "trained"]
    models = list(dict.fromkeys(table["model"]))
    if len(models) != 2 or trained.empty:
        return "No run trained at these rates: nothing to compare."
    rates = {model: sorted(trained[trained["model"] == model]["learning_rate"])
             for model in models}
    both = trained.pivot_table(index="learning_rate", columns="model",
                               values="best_test_accuracy").reindex(columns=models).dropna()
    parts = []
    if not both.empty:
        baseline, normalized = models
        gaps = both[normalized] - both[baseline]
        # Two standard errors of a difference of two accuracies measured on the same images
        # (at most: the errors of two models on one test set are positively correlated).
        noise = 2 * math.sqrt(2) * max(sampling_error(float(v), test_images)
                                       for v in both.to_numpy().ravel())
        span = (f"{both.index.min():g}" if len(both) == 1 else
                f"{both.index.min():g} to {both.index.max():g}")
        ahead = int((gaps > noise).sum())
        behind = int((gaps < -noise).sum())
        level = len(gaps) - ahead - behind
        parts.append(
            f"At the rates both models trained at ({span}), {normalized}'s best test accuracy "
            f"minus the baseline's ran from {_difference('accuracy', float(gaps.min()))} to "
            f"{_difference('accuracy', float(gaps.max()))}: ahead beyond the test set's sampling "
            f"error (±{noise:.3f}) at {ahead}, behind at {behind}, level at {level} of "
            f"{len(gaps)} rates")
    else:
        parts.append("No rate trained both models, so they cannot be compared at a matched rate")
    for model in models:
        if not rates[model]:
            parts.append(f"{model} trained at none of these rates")
            continue
        best = trained[trained["model"] == model].sort_values(
            "best_test_accuracy", kind="stable").iloc[-1]
        parts.append(f"{model} trained up to {rates[model][-1]:g} and did best at "
                     f"{best['learning_rate']:g} ({best['best_test_accuracy']:.3f})")
    return "; ".join(parts) + ". One seed per point; best test accuracy over epochs is optimistic."
