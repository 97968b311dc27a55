"""Training speed and memory: the blog's plain ``model.fit`` against bnviz's trainer.

    .venv/bin/python bench/speed.py                 # the blog's setup: 100 epochs, 5 seeds
    .venv/bin/python bench/speed.py --epochs 10 --seeds 1 --memory-trainings 3   # a quick look
    .venv/bin/python bench/speed.py --same-order --memory-trainings 0   # + same batch order

Every measurement runs in a fresh subprocess (so peak memory and import costs are
its own), reference and bnviz alternate within each seed and repeat (so drift of
the machine falls on both), and the reference runs with TensorFlow's default
settings, as the blog's reader would run it. Prints per model and in total:
seconds, reference / bnviz, achieved GFLOP/s and share of the machine's fp32
peak, time from request to the first finished epoch, and peak resident memory;
then test accuracies per seed with the reference's spread; then resident memory
over many trainings in one process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MODELS = ("baseline", "BN after")

from bnviz.worker import WORKER_ENVIRONMENT  # noqa: E402  (after the path set-up)

# -- the machine -------------------------------------------------------------


def fp32_peak() -> tuple[float, str]:
    """Peak fp32 GFLOP/s of this machine's cores, and how it was derived."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = set(re.search(r"^flags\s*:(.*)$", info, re.M).group(1).split()) if info else set()
    mhz_values = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", info, re.M)]
    mhz = max(mhz_values) if mhz_values else 2000.0
    cores = os.cpu_count() or 1
    lanes, isa = (16, "AVX-512") if "avx512f" in flags else (8, "AVX2") if "avx2" in flags \
        else (4, "SSE")
    fma = 2 if "fma" in flags else 1
    units = 2  # two FMA/vector pipes per core on current x86 server cores (Zen 2+, Skylake-SP)
    peak = cores * mhz / 1000 * lanes * fma * units
    how = (f"{cores} cores × {mhz:.0f} MHz × {lanes} fp32 lanes ({isa}) × {fma} (FMA) × "
           f"{units} vector units = {peak:.1f} GFLOP/s")
    return peak, how


def model_flops(placement: str, train_images: int, test_images: int, epochs: int) -> float:
    """FLOPs of training one model: 3 × forward per training image, 1 × per test image."""
    from bnviz.models import build_model

    forward = 0
    for layer in build_model(placement, seed=0).layers:
        kind = type(layer).__name__
        out = layer.output.shape
        if kind == "Conv2D":
            kh, kw, cin, cout = layer.kernel.shape
            forward += 2 * out[1] * out[2] * cout * kh * kw * cin
        elif kind == "Dense":
            forward += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
        elif kind == "BatchNormalization":
            forward += 4 * int(_size(out))
    return epochs * forward * (3 * train_images + test_images)


def _size(shape) -> int:
    total = 1
    for dim in shape[1:]:
        total *= dim
    return total


# -- the two workers (each in its own process) ----------------------------------


def worker_reference(epochs: int, seed: int) -> dict:
    """The blog's code path: Sequential, compile, fit with validation_data, batch 64."""
    started = time.perf_counter()
    import keras

    from bnviz.data import make_split
    from bnviz.models import build_model

    keras.utils.set_random_seed(seed)
    split = make_split("blog", 1000, scale_pixels=False)
    y_train = keras.utils.to_categorical(split.y_train, 10)
    y_test = keras.utils.to_categorical(split.y_test, 10)
    first_epoch: list[float] = []
    marker = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda *_: first_epoch.append(time.perf_counter() - started))
    out: dict = {"models": {}}
    for label, placement in zip(MODELS, ("none", "after"), strict=True):
        model = build_model(placement, seed)
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        start = time.perf_counter()
        history = model.fit(split.x_train, y_train, validation_data=(split.x_test, y_test),
                            batch_size=64, epochs=epochs, verbose=0, callbacks=[marker])
        out["models"][label] = {
            "seconds": time.perf_counter() - start,
            "final_test_accuracy": history.history["val_accuracy"][-1],
            "best_test_accuracy": max(history.history["val_accuracy"]),
        }
    out["total_seconds"] = sum(m["seconds"] for m in out["models"].values())
    out["first_epoch_seconds"] = first_epoch[0]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def worker_reference_same_order(epochs: int, seed: int) -> dict:
    """The blog's ``fit``, one epoch per call, fed the batch order bnviz uses for this seed.

    With the initial weights, dropout seeds and batch order all equal, what is
    left between the two is the arithmetic (kernels, rounding): the accuracies
    show whether the trainers learn alike, without the batch-order noise.
    """
    import keras

    from bnviz.data import make_split
    from bnviz.models import build_model
    from bnviz.training import epoch_order

    split = make_split("blog", 1000, scale_pixels=False)
    y_train = keras.utils.to_categorical(split.y_train, 10)
    y_test = keras.utils.to_categorical(split.y_test, 10)
    out: dict = {"models": {}}
    for label, placement in zip(MODELS, ("none", "after"), strict=True):
        model = build_model(placement, seed)
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
        accuracies = []
        for epoch in range(1, epochs + 1):
            order = epoch_order(seed, epoch, len(split.y_train))
            history = model.fit(split.x_train[order], y_train[order],
                                validation_data=(split.x_test, y_test), batch_size=64,
                                epochs=1, shuffle=False, verbose=0)
            accuracies.append(history.history["val_accuracy"][0])
        out["models"][label] = {"final_test_accuracy": accuracies[-1],
                                "best_test_accuracy": max(accuracies),
                                "first_epoch_test_accuracy": accuracies[0]}
    return out


def worker_bnviz(epochs: int, seed: int) -> dict:
    """bnviz's trainer on the same configuration."""
    started = time.perf_counter()
    from bnviz.config import ExperimentConfig
    from bnviz.training import train_comparison

    first_epoch: list[float] = []
    config = ExperimentConfig(epochs=epochs, seed=seed)
    start = time.perf_counter()
    result = train_comparison(
        config, on_epoch=lambda _: first_epoch.append(time.perf_counter() - started))
    total = time.perf_counter() - start
    summary = result.summary().set_index("model")
    return {
        "models": {label: {
            "seconds": float(summary.loc[label, "seconds"]),
            "final_test_accuracy": float(summary.loc[label, "final_test_accuracy"]),
            "best_test_accuracy": float(summary.loc[label, "best_test_accuracy"]),
            "first_epoch_test_accuracy": float(result.history.query(
                "model == @label and epoch == 1")["test_accuracy"].iloc[0]),
        } for label in MODELS},
        "total_seconds": total,
        "first_epoch_seconds": first_epoch[0],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def worker_memory(trainings: int, epochs: int) -> dict:
    """Resident memory before, after the first and after the last of many trainings."""
    from bnviz.config import ExperimentConfig
    from bnviz.training import train_comparison

    def rss_mb() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") \
            / 2**20

    before = rss_mb()
    after: list[float] = []
    for index in range(trainings):
        placement = ("after", "before")[index % 2]
        train_comparison(ExperimentConfig(epochs=epochs, seed=100 + index, placement=placement))
        after.append(rss_mb())
    return {"before_mb": before, "after_first_mb": after[0], "after_last_mb": after[-1],
            "trainings": trainings}


def worker_memory_jobs(trainings: int, epochs: int, pause: float) -> dict:
    """The app's way: a JobManager whose trainings run in worker processes.

    Reports the server process's resident memory (it never imports TensorFlow)
    before and after, and the largest peak of any training process.
    """
    import tempfile

    from bnviz.comparison import ComparisonRequest
    from bnviz.config import ExperimentConfig
    from bnviz.jobs import DONE, JobManager
    from bnviz.store import ResultsStore
    from bnviz.worker import ProcessRunner

    def rss_mb() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") \
            / 2**20

    with tempfile.TemporaryDirectory() as cache:
        manager = JobManager(ResultsStore(Path(cache)), runner=ProcessRunner())
        before = rss_mb()
        after: list[float] = []
        first_epoch: list[float] = []
        for index in range(trainings):
            placement = ("after", "before")[index % 2]
            time.sleep(pause)  # between requests, as between clicks: the spare warms up
            submitted = time.perf_counter()
            job = manager.submit(ComparisonRequest(ExperimentConfig(
                epochs=epochs, seed=200 + index, placement=placement)))
            while not job.rows and job.status not in (DONE, "failed"):
                time.sleep(0.01)
            first_epoch.append(time.perf_counter() - submitted)
            while job.status not in (DONE, "failed"):
                time.sleep(0.05)
            if job.status != DONE:
                raise SystemExit(f"training failed: {job.error}")
            after.append(rss_mb())
        manager.close()
    return {"before_mb": before, "after_first_mb": after[0], "after_last_mb": after[-1],
            "trainings": trainings, "first_epoch_median_s": statistics.median(first_epoch),
            "first_epoch_max_s": max(first_epoch),
            "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "tensorflow_in_server": "tensorflow" in sys.modules}


WORKERS = {"reference": worker_reference, "bnviz": worker_bnviz,
           "same-order": worker_reference_same_order}


def run_worker(*args: str, env: dict | None = None) -> dict:
    """Run this script as a worker subprocess and parse its JSON answer."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    done = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True,
                          text=True, env=environment, check=False)
    if done.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the report ----------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=5, help="seeds 1..N, each run both ways")
    parser.add_argument("--repeats", type=int, default=1, help="timed runs per seed and side")
    parser.add_argument("--memory-trainings", type=int, default=20)
    parser.add_argument("--memory-epochs", type=int, default=3)
    parser.add_argument("--pause", type=float, default=15.0,
                        help="seconds between the JobManager's requests (default 15)")
    parser.add_argument("--memory-only", action="store_true",
                        help="skip the speed comparison, measure memory and latency only")
    parser.add_argument("--same-order", action="store_true",
                        help="also run the reference fed bnviz's batch order, per seed "
                             "(accuracy without batch-order noise; untimed, ~4 min per seed)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "memory":
            print(json.dumps(worker_memory(int(rest[0]), int(rest[1]))))
        elif kind == "memory-jobs":
            print(json.dumps(worker_memory_jobs(int(rest[0]), int(rest[1]), float(rest[2]))))
        else:
            print(json.dumps(WORKERS[kind](int(rest[0]), int(rest[1]))))
        return

    peak, how = fp32_peak()
    flops = {label: model_flops(p, 1000, 1000, args.epochs)
             for label, p in zip(MODELS, ("none", "after"), strict=True)}
    print(f"machine: {how}")
    print(f"work: {args.epochs} epochs, 1000 train + 1000 test images, batch 64; FLOPs per "
          f"model: " + ", ".join(f"{k} {v / 1e12:.2f} TFLOP" for k, v in flops.items()))
    runs: dict[str, list[dict]] = {"reference": [], "bnviz": []}
    for seed in range(1, 0 if args.memory_only else args.seeds + 1):
        for repeat in range(args.repeats):
            order = ("reference", "bnviz") if (seed + repeat) % 2 else ("bnviz", "reference")
            for kind in order:
                # bnviz runs with the environment its training processes get in the app.
                env = WORKER_ENVIRONMENT if kind == "bnviz" else None
                result = run_worker(kind, str(args.epochs), str(seed), env=env)
                result["seed"] = seed
                runs[kind].append(result)
                print(f"  seed {seed} run {repeat + 1}: {kind:9s} {result['total_seconds']:6.1f} s",
                      flush=True)

    if not args.memory_only:
        report_speed(runs, flops, peak)
        if args.same_order:
            report_same_order(runs["bnviz"], args.epochs)
    if args.memory_trainings:
        report_memory(args)


def report_speed(runs: dict[str, list[dict]], flops: dict[str, float], peak: float) -> None:
    """Speed, first epoch, peak memory and accuracy tables of the timed runs."""

    def median(kind: str, key: str, model: str | None = None) -> float:
        values = [r["models"][model][key] if model else r[key] for r in runs[kind]]
        return statistics.median(values)

    print("\nspeed (medians over runs)")
    print(f"{'':22s}{'reference s':>12s}{'bnviz s':>10s}{'ratio':>8s}"
          f"{'ref GFLOP/s':>13s}{'bnviz GFLOP/s':>15s}{'bnviz % peak':>14s}")
    for model in MODELS:
        ref, ours = median("reference", "seconds", model), median("bnviz", "seconds", model)
        print(f"{model:22s}{ref:12.1f}{ours:10.1f}{ref / ours:8.2f}{flops[model] / ref / 1e9:13.1f}"
              f"{flops[model] / ours / 1e9:15.1f}{100 * flops[model] / ours / 1e9 / peak:13.0f}%")
    ref, ours = median("reference", "total_seconds"), median("bnviz", "total_seconds")
    total_flops = sum(flops.values())
    print(f"{'total (wall clock)':22s}{ref:12.1f}{ours:10.1f}{ref / ours:8.2f}"
          f"{total_flops / ref / 1e9:13.1f}{total_flops / ours / 1e9:15.1f}"
          f"{100 * total_flops / ours / 1e9 / peak:13.0f}%")
    print("  (bnviz trains both models at once: its per-model seconds overlap, the total is "
          "wall clock)")
    print(f"{'first epoch (cold)':22s}{median('reference', 'first_epoch_seconds'):12.1f}"
          f"{median('bnviz', 'first_epoch_seconds'):10.1f}   seconds from start of the process's "
          "work, TensorFlow import included")
    print(f"{'peak resident memory':22s}{median('reference', 'peak_rss_mb'):12.0f}"
          f"{median('bnviz', 'peak_rss_mb'):10.0f}   MB")

    print("\ntest accuracy per seed (final / best)")
    for model in MODELS:
        for key in ("final_test_accuracy", "best_test_accuracy"):
            ref_values = [r["models"][model][key] for r in runs["reference"]]
            our_values = [r["models"][model][key] for r in runs["bnviz"]]
            low, high = min(ref_values), max(ref_values)
            inside = all(low - 1e-9 <= v <= high + 1e-9 for v in our_values)
            mean_inside = low - 1e-9 <= statistics.mean(our_values) <= high + 1e-9
            print(f"  {model:9s} {key:20s} reference "
                  + " ".join(f"{v:.3f}" for v in ref_values)
                  + f" (range {low:.3f}–{high:.3f}, mean {statistics.mean(ref_values):.3f}); bnviz "
                  + " ".join(f"{v:.3f}" for v in our_values)
                  + f" (mean {statistics.mean(our_values):.3f}) "
                  + ("all inside" if inside else "mean inside" if mean_inside else "OUTSIDE"))



def report_same_order(bnviz_runs: list[dict], epochs: int) -> None:
    """Per seed: the reference fed bnviz's batch order against bnviz, same seed."""
    print("\ntest accuracy with the same batch order (reference fit fed bnviz's order; "
          "first epoch / best / final)")
    for ours in bnviz_runs:
        theirs = run_worker("same-order", str(epochs), str(ours["seed"]))
        for model in MODELS:
            figures = [(run["models"][model]["first_epoch_test_accuracy"],
                        run["models"][model]["best_test_accuracy"],
                        run["models"][model]["final_test_accuracy"]) for run in (theirs, ours)]
            print(f"  seed {ours['seed']} {model:9s} reference "
                  + " / ".join(f"{v:.3f}" for v in figures[0]) + "   bnviz "
                  + " / ".join(f"{v:.3f}" for v in figures[1]))


def report_memory(args: argparse.Namespace) -> None:
    """Resident memory over many trainings: in one process, and through the JobManager."""
    memory = run_worker("memory", str(args.memory_trainings), str(args.memory_epochs),
                        env=WORKER_ENVIRONMENT)
    growth = memory["after_last_mb"] - memory["after_first_mb"]
    print(f"\nmemory, {memory['trainings']} trainings in one process calling the trainer "
          f"directly ({args.memory_epochs} epochs each, placements alternating): "
          f"{memory['before_mb']:.0f} MB before, {memory['after_first_mb']:.0f} MB after the "
          f"first, {memory['after_last_mb']:.0f} MB after the last: growth {growth:+.0f} MB")
    jobs = run_worker("memory-jobs", str(args.memory_trainings), str(args.memory_epochs),
                      str(args.pause))
    growth = jobs["after_last_mb"] - jobs["after_first_mb"]
    print(f"memory, {jobs['trainings']} trainings through the app's JobManager (each in a "
          f"worker process): server {jobs['before_mb']:.0f} MB before, "
          f"{jobs['after_first_mb']:.0f} MB after the first, {jobs['after_last_mb']:.0f} MB "
          f"after the last: growth {growth:+.0f} MB; largest training process peak "
          f"{jobs['worker_peak_mb']:.0f} MB; TensorFlow imported by the server: "
          f"{jobs['tensorflow_in_server']}")
    print(f"first epoch through the app's JobManager (warm spare worker): median "
          f"{jobs['first_epoch_median_s']:.1f} s, slowest {jobs['first_epoch_max_s']:.1f} s "
          f"from request to the first finished epoch ({args.pause:g} s between requests)")


if __name__ == "__main__":
    main()
