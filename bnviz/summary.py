"""What results say, in tables and words: convergence statistics of a comparison, their
spread over seeds, the loss landscape's summary and verdict, a sweep's run outcomes, and
how numbers are written.

Pure pandas, shared by the page and the command line, so both print the same
numbers the same way; nothing here imports a result or a trainer (results import
it). A *statistic* here is one number per model and seed (epochs to 90 % train
accuracy, best test accuracy, …); charts live in `bnviz.charts`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# Each statistic and its label, in the order tables show them.
STATISTIC_LABELS = {
    "epochs_to_90_train": "Epochs to 90 % train accuracy",
    "epochs_to_99_train": "Epochs to 99 % train accuracy",
    "best_test_accuracy": "Best test accuracy",
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
    accuracy (and its epoch), training seconds."""
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
    overlap); None when there is a single seed and no spread to judge by."""
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


def convergence_table(summary: pd.DataFrame) -> pd.DataFrame:
    """One seed: statistics in rows, models in columns, and the BN − baseline difference."""
    values = summary.set_index("model")
    baseline, bn = models_of(summary)
    rows = {}
    for statistic, label in STATISTIC_LABELS.items():
        difference = values.loc[bn, statistic] - values.loc[baseline, statistic]
        rows[label] = {baseline: format_statistic(statistic, values.loc[baseline, statistic]),
                       bn: format_statistic(statistic, values.loc[bn, statistic]),
                       DIFFERENCE.format(name=normaliser(bn)):
                           format_statistic(statistic, difference, signed=True)}
    return pd.DataFrame(rows).T


def seed_spread_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Several seeds: mean ± sd per statistic (rows) and model (columns)."""
    spread = seed_summary(summary)
    table = spread.assign(value=spread.apply(format_spread, axis=1),
                          statistic=spread["statistic"].map(STATISTIC_LABELS))
    return table.pivot(index="statistic", columns="model", values="value").reindex(
        list(STATISTIC_LABELS.values()))[models_of(summary)]


def per_seed_table(summary: pd.DataFrame) -> pd.DataFrame:
    """`convergence_summary` with every statistic written as text, one row per model and
    seed."""
    shown = summary.astype(object)
    for statistic in STATISTICS:
        shown[statistic] = summary[statistic].map(lambda v, s=statistic: format_statistic(s, v))
    return shown


# -- plain words -------------------------------------------------------------------


def normaliser(model: str) -> str:
    """A model label without its placement: "BN", "GroupNorm", "noisy BN"."""
    return model.rsplit(" ", 1)[0]


def brief(summary: pd.DataFrame, model: str) -> str:
    """One model's speed to 90 % train accuracy and best test accuracy, with their spread
    ("90 % train accuracy after 6 ± 0 epochs, best test accuracy 0.847 ± 0.005")."""
    spread = seed_summary(summary)
    rows = {row["statistic"]: row for _, row in spread[spread["model"] == model].iterrows()}
    epochs = rows["epochs_to_90_train"]
    reached = (f"90 % train accuracy after {format_spread(epochs)} epochs"
               if epochs["reached"] else "90 % train accuracy never reached")
    return f"{reached}, best test accuracy {format_spread(rows['best_test_accuracy'])}"


def headline(summary: pd.DataFrame) -> str:
    """Plain words on how soon each model reached 90 % training accuracy, honest about spread."""
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
        epochs_sentence = (f"{bn}: 90 % train accuracy after "
                           f"{value(bn, 'epochs_to_90_train')} epochs; "
                           f"baseline: after {value(baseline, 'epochs_to_90_train')}.")
    test_sentence = (f"Best test accuracy {value(bn, 'best_test_accuracy')} with "
                     f"{normaliser(bn)}, "
                     f"{value(baseline, 'best_test_accuracy')} without.")
    if seeds == 1:
        verdict = "One run per model: add seeds to see whether the differences are real."
    else:
        verdicts: list[tuple[str, bool]] = []
        for statistic, words in (("epochs_to_90_train", "speed to 90 % train accuracy"),
                                 ("best_test_accuracy", "best test accuracy")):
            ours, theirs = row(bn, statistic), row(baseline, statistic)
            if ours["reached"] and theirs["reached"]:
                verdicts.append((words, clearly_different(ours, theirs)))
        clear = "a clear difference (the seeds' ranges do not overlap)"
        unclear = "no clear difference (the ranges overlap)"
        if len(verdicts) == 2 and verdicts[0][1] == verdicts[1][1]:
            # One verdict for both: the headline stays within two lines on a projector.
            verdict = (f"Over {seeds} seeds, " + ("both differences are clear (the seeds' "
                       "ranges do not overlap)." if verdicts[0][1] else
                       "neither difference is clear (the seeds' ranges overlap)."))
        else:
            verdict = (f"Over {seeds} seeds, " + "; ".join(
                f"{words}: {clear if different else unclear}" for words, different in verdicts)
                + "." if verdicts else "")
    return " ".join(part for part in (epochs_sentence, test_sentence, verdict) if part)


# -- the loss landscape (bnviz.landscape's measures) ---------------------------------


def landscape_summary(landscape: pd.DataFrame) -> pd.DataFrame:
    """Per model, over the probed steps of the first seed: the median range of the loss along
    the gradient, the median largest change of the gradient, and the median and largest
    β-smoothness."""
    first = landscape[landscape["seed"] == landscape["seed"].min()]
    rows = []
    for model, probes in first.groupby("model", sort=False):
        rows.append({
            "model": model,
            "probes": len(probes),
            "loss_range": float((probes["loss_max"] - probes["loss_min"]).median()),
            "grad_change": float(probes["grad_change_max"].median()),
            "beta_median": float(probes["beta_smoothness"].median()),
            "beta_max": float(probes["beta_smoothness"].max()),
        })
    return pd.DataFrame(rows)


def landscape_verdict(summary: pd.DataFrame, raw_pixels: bool) -> str:
    """What this run's measures say about Santurkar et al.'s claim, in plain words, including
    when they do not support it (from a `landscape_summary` of two models)."""
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
    text = (f"In this run ({int(bn['probes'])} probes per model, first seed), stepping along "
            f"the gradient from the {bn['model']} model's weights, {facts}. ")
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
