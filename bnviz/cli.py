"""Command line: ``python -m bnviz data``, ``params``, ``run`` and ``sweep-lr``."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from bnviz import tf_settings
from bnviz.cluster import ADDRESS_VARIABLE
from bnviz.comparison import ComparisonRequest
from bnviz.config import (
    BASELINE_PLACEMENT,
    ConfigError,
    ExperimentConfig,
    field_meta,
    field_names,
)
from bnviz.data import DataError, class_counts_text, split_of
from bnviz.request import TrainingStopped
from bnviz.summary import (
    headline,
    landscape_summary,
    landscape_verdict,
    paired_difference_table,
    per_seed_table,
    sampling_error_note,
    seed_spread_table,
)
from bnviz.sweep import (
    DEFAULT_RATES,
    DEFAULT_SWEEP_EPOCHS,
    MAX_SWEEP_EPOCHS,
    SweepRequest,
    parse_rates,
)
from bnviz.worker import TrainingCrashed


def _add_config_options(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """One option per configuration field, with the field's own help and default."""
    for name in field_names():
        if name in skip:
            continue
        meta = field_meta(name)
        flag = "--" + name.replace("_", "-")
        text = f"{meta['help']} (default: {meta['default']})"
        if meta["type"] is bool:
            parser.add_argument(flag, dest=name, action=argparse.BooleanOptionalAction,
                                default=None, help=text)
        else:
            parser.add_argument(flag, dest=name, default=None, metavar=name.upper(),
                                choices=meta["choices"], help=text)


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    """The configuration named by the options given; the others keep their defaults."""
    given = {name: getattr(args, name) for name in field_names()
             if getattr(args, name, None) is not None}
    return ExperimentConfig.from_mapping(given)


def command_data(args: argparse.Namespace) -> int:
    """Print the source in use and the images a split trains and tests on."""
    config = config_from_args(args)
    split = split_of(config)
    for warning in split.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"source: {split.source}")
    print(f"split: {config.split}, {len(split.y_train)} training images, "
          f"{len(split.y_test)} test images")
    print(f"training images per class: {class_counts_text(split.class_counts())}")
    print(f"first ten training labels: {split.y_train[:10].tolist()}")
    return 0


def command_params(args: argparse.Namespace) -> int:
    """Print both models' per-layer tables and totals, like Keras' summary(), for the
    normalisation and network asked for (batch norm in the blog's CNN unless
    ``--normalization`` or ``--architecture`` says otherwise)."""
    from bnviz.models import MODEL_PLACEMENTS, model_label, param_counts

    config = config_from_args(args)
    normalization, architecture = config.normalization, config.architecture
    for placement in MODEL_PLACEMENTS:
        table = param_counts(placement, normalization, architecture)
        print(f"Model: {model_label(placement, normalization)} (placement={placement}"
              + ("" if placement == BASELINE_PLACEMENT else f", normalization={normalization}")
              + f", architecture={architecture})")
        print(table.to_string(index=False))
        print(f"Total params: {table.params.sum():,}")
        print(f"Trainable params: {table.trainable.sum():,}")
        print(f"Non-trainable params: {table.non_trainable.sum():,}")
        print()
    return 0


# The exit code of a run stopped by Ctrl-C (as a shell reports a process ended by SIGINT).
STOPPED_EXIT = 130


def command_run(args: argparse.Namespace) -> int:
    """Train both models with a progress bar and write history.csv and summary.json.

    Ctrl-C stops the training at its next step and writes the same files with the whole
    epochs done (summary.json says where it stopped); a second Ctrl-C quits at
    once, writing nothing. (With ``--ray`` Ctrl-C quits: the cluster's tasks are not
    stopped early.)"""
    config = config_from_args(args)
    if args.landscape and config.landscape_every == 0:
        raise ConfigError("landscape_every", "--landscape needs probes: give --landscape-every "
                          "a number of steps above 0")
    out = Path(args.out)
    request = ComparisonRequest(config)
    from bnviz.training import train_comparison

    progress: Any = None
    done = 0

    def on_epoch(row: dict[str, Any]) -> None:
        nonlocal done, progress
        if progress is None:
            # Made at the first epoch, when TensorFlow is loaded anyway: importing Keras up
            # front would keep the trainer from reading the images while TensorFlow loads.
            from keras.utils import Progbar

            # Test accuracies are shown as they are, not averaged over updates (Progbar's
            # default).
            progress = Progbar(target=request.progress_rows(), unit_name="epoch",
                               stateful_metrics=["base_test_acc", "bn_test_acc"])
        done += 1
        name = "base" if row["model"] == "baseline" else "bn"
        progress.update(done, values=[(f"{name}_test_acc", row["test_accuracy"])], finalize=False)

    if args.ray:
        from bnviz.cluster import RayRunner

        print(f"training on the Ray cluster at {args.ray}, one task per seed", file=sys.stderr)
        result = RayRunner(args.ray)(request, on_epoch)
    else:
        stop = threading.Event()

        def on_interrupt(signum: int, frame: Any) -> None:
            if stop.is_set():  # the second Ctrl-C: now, without waiting for the epoch
                print("\nquit", file=sys.stderr, flush=True)
                sys.stdout.flush()
                os._exit(STOPPED_EXIT)
            stop.set()
            print("\nstopping; the whole epochs done will be written (Ctrl-C again to quit at "
                  "once)", file=sys.stderr, flush=True)

        previous = signal.signal(signal.SIGINT, on_interrupt)
        try:
            result = train_comparison(config, on_epoch=on_epoch, should_stop=stop.is_set)
        except TrainingStopped:
            print("stopped before the first epoch ended: nothing written", file=sys.stderr)
            return STOPPED_EXIT
        finally:
            signal.signal(signal.SIGINT, previous)
    if progress is not None:
        progress.update(done, finalize=True)
    out.mkdir(parents=True, exist_ok=True)
    result.history.to_csv(out / "history.csv", index=False)
    written = [out / "history.csv", out / "summary.json"]
    if args.landscape:
        result.landscape.to_csv(out / "landscape.csv", index=False)
        written.append(out / "landscape.csv")
    if args.png:
        written += write_pngs(result, out)
    summary = result.summary()
    (out / "summary.json").write_text(json.dumps({
        "config": config.to_dict(),
        "config_hash": config.config_hash(),
        "data_source": result.data_source,
        "warnings": list(result.warnings),
        # JSON has no NaN: a threshold never reached is null.
        "models": summary.astype(object).where(summary.notna(), None).to_dict(orient="records"),
        "stopped": {"seed": result.stopped_seed, "epoch": result.stopped_epoch,
                    "note": result.stop_note()} if result.partial else None,
    }, indent=2) + "\n")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"data: {result.data_source}")
    print(per_seed_table(summary).to_string(index=False))
    if result.seeds_shown > 1:
        print(seed_spread_table(summary).to_string())
        # Seeds are pairs: each seed's difference, the page's dots (bnviz.summary).
        print(paired_difference_table(summary).to_string())
    print(sampling_error_note(summary, len(result.test_labels)))
    print(headline(summary, len(result.test_labels)))
    if args.landscape:
        print(landscape_verdict(landscape_summary(result.landscape),
                                raw_pixels=config.raw_pixels, optimizer=config.optimizer))
    print("wrote " + ", ".join(str(path) for path in written))
    if result.partial:
        print(f"{result.stop_note()} (Ctrl-C): the files hold the epochs done", file=sys.stderr)
        return STOPPED_EXIT
    return 0


def write_pngs(result: Any, out: Path) -> list[Path]:
    """The page's charts of a comparison as PNG files (vl-convert)."""
    from bnviz import charts

    charts_by_file = {
        "curves.png": charts.learning_curves(result.history),
        "parameters.png": charts.parameters_chart(result.layer_tables),
        "relu_inputs.png": charts.relu_input_chart(result.relu_inputs),
    }
    modes, _ = result.bn_modes_at()
    if not modes.empty:  # layer and group norm have no two modes to compare
        charts_by_file["bn_modes.png"] = charts.bn_modes_chart(modes)
    if not result.landscape.empty:
        charts_by_file["landscape.png"] = charts.landscape_chart(result.landscape)
    paths = []
    for name, chart in charts_by_file.items():
        (out / name).write_bytes(charts.to_png(chart))
        paths.append(out / name)
    return paths


def command_sweep(args: argparse.Namespace) -> int:
    """Both models at each learning rate; writes sweep.csv (and sweep.png with --png)."""
    from bnviz.training import sweep_learning_rates

    request = SweepRequest(config_from_args(args), parse_rates(args.learning_rates),
                           args.sweep_epochs)
    out = Path(args.out)

    def on_point(row: dict[str, Any]) -> None:
        shown = "—" if row["diverged"] else f"{row['best_test_accuracy']:.3f}"
        print(f"  lr {row['learning_rate']:<8g} {row['model']:10s} best test {shown:>6s}  "
              f"{row['outcome']} ({row['epochs_run']} epochs)", flush=True)

    if args.ray:
        from bnviz.cluster import RayRunner

        print(f"training on the Ray cluster at {args.ray}, one task per learning rate and "
              "model", file=sys.stderr)
        result = RayRunner(args.ray)(request, on_point)
    else:
        result = sweep_learning_rates(request, on_point=on_point)
    out.mkdir(parents=True, exist_ok=True)
    result.table.to_csv(out / "sweep.csv", index=False)
    written = [out / "sweep.csv"]
    if args.png:
        from bnviz import charts

        (out / "sweep.png").write_bytes(charts.to_png(charts.sweep_chart(result.table)))
        written.append(out / "sweep.png")
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


def command_lessons(args: argparse.Namespace) -> int:
    """Print the built-in lessons with their steps; exit 1 when a step's result is not in the
    gallery (it would train when a class opens it), 2 when a lesson file is not valid."""
    from bnviz.gallery import Gallery
    from bnviz.lessons import LessonError, lessons_report

    try:
        text, complete = lessons_report(Gallery())
    except LessonError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(text)
    return 0 if complete else 1


def _add_ray_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ray", metavar="ADDRESS", default=os.environ.get(ADDRESS_VARIABLE),
                        help="train on the Ray cluster at ADDRESS (host:port, ray://host:port "
                        f"or auto; default: ${ADDRESS_VARIABLE}), each seed or sweep point a "
                        "task of its own")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m bnviz``."""
    parser = argparse.ArgumentParser(
        prog="python -m bnviz",
        description="Batch normalisation, compared: a baseline CNN against a BN CNN "
        "on Fashion-MNIST.")
    commands = parser.add_subparsers(dest="command", required=True)
    data = commands.add_parser("data", help="print the data source and a split's images")
    _add_config_options(data, skip=tuple(name for name in field_names()
                                         if name not in ("split", "train_size")))
    data.set_defaults(handler=command_data)
    params = commands.add_parser("params", help="print both models' parameter tables")
    _add_config_options(params, skip=tuple(name for name in field_names()
                                           if name not in ("normalization", "architecture")))
    params.set_defaults(handler=command_params)
    run = commands.add_parser("run", help="train both models and write their histories")
    _add_config_options(run)
    run.add_argument("--out", required=True, help="directory for history.csv and summary.json")
    run.add_argument("--png", action="store_true", help="also write the charts as PNG files")
    run.add_argument("--landscape", action="store_true",
                     help="also write landscape.csv: the loss-landscape measures of both models "
                     "(Santurkar et al. 2018), probed every --landscape-every steps")
    _add_ray_option(run)
    run.set_defaults(handler=command_run)
    sweep = commands.add_parser("sweep-lr", help="both models over a grid of learning rates")
    _add_config_options(sweep, skip=("learning_rate", "epochs", "seeds", "landscape_every"))
    rates = ",".join(f"{rate:.0e}".replace("e-0", "e-") for rate in DEFAULT_RATES)
    sweep.add_argument("--learning-rates", default=rates,
                       help=f"comma-separated learning rates (default: {rates})")
    sweep.add_argument("--epochs", dest="sweep_epochs", type=int, default=DEFAULT_SWEEP_EPOCHS,
                       help=f"epochs per run (default: {DEFAULT_SWEEP_EPOCHS}, at most "
                       f"{MAX_SWEEP_EPOCHS})")
    sweep.add_argument("--out", required=True, help="directory for sweep.csv")
    sweep.add_argument("--png", action="store_true", help="also write sweep.png")
    _add_ray_option(sweep)
    sweep.set_defaults(handler=command_sweep)
    lessons = commands.add_parser("lessons", help="list the lessons and their steps, and check "
                                  "that every step's result is in the gallery")
    lessons.set_defaults(handler=command_lessons)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    tf_settings.apply()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (ConfigError, DataError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except TrainingCrashed as error:  # a cluster unreachable, a worker lost: no traceback
        print(f"error: {error.plain or error}", file=sys.stderr)
        return 3
