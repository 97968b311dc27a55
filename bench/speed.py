"""Training speed and memory: the blog's plain ``model.fit`` against bnviz's trainer.

    .venv/bin/python bench/speed.py                 # the blog's setup: 100 epochs, 5 seeds
    .venv/bin/python bench/speed.py --epochs 10 --seeds 1 --memory-trainings 3   # a quick look
    .venv/bin/python bench/speed.py --cores 1       # on one core (CPU affinity)
    .venv/bin/python bench/speed.py --isa avx2      # AVX2 kernels on an AVX-512 machine
    .venv/bin/python bench/speed.py --same-order --memory-trainings 0   # + same batch order
    .venv/bin/python bench/speed.py --bnviz-root DIR  # bnviz from another checkout (before/after)

Each side is a whole process, timed from its start to its results: the blog's code
path (a script: import, data, ``Sequential``, ``compile``, ``fit`` with validation data
for each model) and ``python -m bnviz run --out DIR`` (the CLI writing its files).
Reference and bnviz alternate within each seed and repeat (so drift of the machine falls
on both), and the reference runs with TensorFlow's default settings, as the blog's reader
would run it. Prints the CPU, its vector features and the fp32 peak assumed; per model and
in wall clock: seconds, reference / bnviz, achieved GFLOP/s and share of that peak; the
seconds from the process's start to its first finished epoch (cold start) and to the
page's first epoch through a training process without a warm spare; peak resident memory;
then test accuracies per seed with the reference's spread; then resident memory over many
trainings in one process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The bnviz whose workers run: this checkout, or another (--bnviz-root) for a before/after.
BNVIZ_ROOT = Path(os.environ.get("BENCH_BNVIZ_ROOT", ROOT))
sys.path.insert(0, str(BNVIZ_ROOT))
MODELS = ("baseline", "BN after")
FIRST_EPOCH = "first epoch done"  # the reference's marker line; bnviz's is its progress bar
VECTOR_FEATURES = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile",
                   "amx_bf16")

from bnviz.worker import WORKER_ENVIRONMENT  # noqa: E402  (after the path set-up)

# -- the machine -------------------------------------------------------------


def cpu_flags() -> set[str]:
    """The CPU's feature flags, from /proc/cpuinfo (empty where there is none)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    found = re.search(r"^flags\s*:(.*)$", info, re.M)
    return set(found.group(1).split()) if found else set()


def cpu_description() -> str:
    """The CPU model and which of the vector features that matter here it has."""
    name = platform.processor() or "unknown CPU"
    if Path("/proc/cpuinfo").exists():
        found = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.M)
        name = found.group(1).strip() if found else name
    flags = cpu_flags()
    have = [f for f in VECTOR_FEATURES if f in flags]
    missing = [f for f in VECTOR_FEATURES if f not in flags]
    return (f"{name}, {os.cpu_count()} logical cores; vector features: {' '.join(have) or '-'}"
            + (f" (not: {' '.join(missing)})" if missing else ""))


def fp32_peak(cores: int, isa: str | None = None) -> tuple[float, str]:
    """Peak fp32 GFLOP/s of ``cores`` of this machine's cores (with oneDNN capped at ``isa``,
    if given), and how it was derived."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    flags = cpu_flags()
    mhz_values = [float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", info, re.M)]
    mhz = max(mhz_values) if mhz_values else 2000.0
    wide = "avx512f" in flags and isa != "avx2"
    lanes, isa = (16, "AVX-512") if wide else (8, "AVX2") if "avx2" in flags else (4, "SSE")
    cores = cores or os.cpu_count() or 1
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
    import keras

    from bnviz.data import make_split
    from bnviz.models import build_model

    keras.utils.set_random_seed(seed)
    split = make_split("blog", 1000, scale_pixels=False)
    y_train = keras.utils.to_categorical(split.y_train, 10)
    y_test = keras.utils.to_categorical(split.y_test, 10)
    marked: list[bool] = []

    def mark_first_epoch(*_: object) -> None:
        if not marked:  # the parent times this line: the first finished epoch
            print(FIRST_EPOCH, flush=True)
            marked.append(True)

    marker = keras.callbacks.LambdaCallback(on_epoch_end=mark_first_epoch)
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


def run_bnviz_cli(epochs: int, seed: int, env: dict, cores: int | None) -> dict:
    """``python -m bnviz run`` as a user runs it, timed from its start to its files."""
    with tempfile.TemporaryDirectory() as out:
        timed = timed_process([sys.executable, "-m", "bnviz", "run", "--epochs", str(epochs),
                               "--seed", str(seed), "--out", out], env, cores,
                              markers=("base_test_acc", "bn_test_acc"), cwd=BNVIZ_ROOT)
        summary = json.loads((Path(out) / "summary.json").read_text())
        import pandas as pd

        history = pd.read_csv(Path(out) / "history.csv")
    models = {row["model"]: row for row in summary["models"]}
    return {
        "models": {label: {
            "seconds": float(history.loc[history["model"] == label, "seconds"].sum()),
            "final_test_accuracy": float(models[label]["final_test_accuracy"]),
            "best_test_accuracy": float(models[label]["best_test_accuracy"]),
            "first_epoch_test_accuracy": float(history.query(
                "model == @label and epoch == 1")["test_accuracy"].iloc[0]),
        } for label in MODELS},
        "total_seconds": timed["wall"],
        "first_epoch_seconds": timed["marks"]["base_test_acc"],
        "both_first_epoch_seconds": timed["marks"]["bn_test_acc"],
        "peak_rss_mb": timed["peak_rss_mb"],
    }


def run_reference(epochs: int, seed: int, env: dict, cores: int | None) -> dict:
    """The blog's code path as a whole process (this script's reference worker)."""
    timed = timed_process([sys.executable, __file__, "--worker", "reference", str(epochs),
                           str(seed)], env, cores, markers=(FIRST_EPOCH,))
    result = json.loads(timed["output"].strip().splitlines()[-1])
    result.update(total_seconds=timed["wall"], first_epoch_seconds=timed["marks"][FIRST_EPOCH],
                  peak_rss_mb=timed["peak_rss_mb"])
    return result


def timed_process(command: list[str], env: dict, cores: int | None, markers: tuple[str, ...],
                  cwd: Path | None = None) -> dict:
    """Run ``command``; its wall time, when each marker first showed in its output (seconds
    from the start), its output and its peak resident memory."""
    def pin() -> None:
        if cores:
            os.sched_setaffinity(0, set(range(cores)))

    # stderr goes to a file: read after stdout's end, a full pipe would block the child.
    with tempfile.TemporaryFile() as errors_file:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors_file,
                                   stdin=subprocess.DEVNULL, env=env, cwd=cwd, preexec_fn=pin)
        output, marks = b"", {}
        while chunk := os.read(process.stdout.fileno(), 65536):
            output += chunk
            for marker in markers:
                if marker not in marks and marker.encode() in output:
                    marks[marker] = time.perf_counter() - started
        _, status, usage = os.wait4(process.pid, 0)
        errors_file.seek(0)
        errors = errors_file.read()
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 or len(marks) < len(markers):
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n"
                         f"{errors.decode()[-3000:]}")
    return {"wall": wall, "marks": marks, "output": output.decode(),
            "peak_rss_mb": usage.ru_maxrss / 1024}


def worker_page_cold(epochs: int) -> dict:
    """The page's way without a warm spare: a JobManager whose runner starts a training
    process only when the request comes; seconds from submitting to the first row of each
    model."""
    from bnviz.comparison import ComparisonRequest
    from bnviz.config import ExperimentConfig
    from bnviz.jobs import DONE, JobManager
    from bnviz.store import ResultsStore
    from bnviz.worker import ProcessRunner

    with tempfile.TemporaryDirectory() as cache:
        manager = JobManager(ResultsStore(Path(cache)), runner=ProcessRunner(keep_spare=False))
        submitted = time.perf_counter()
        job = manager.submit(ComparisonRequest(ExperimentConfig(epochs=epochs)))
        first: dict[str, float] = {}
        while len(first) < 2 and job.status not in (DONE, "failed"):
            for row in list(job.rows):
                first.setdefault(row["model"], time.perf_counter() - submitted)
            time.sleep(0.01)
        while job.status not in (DONE, "failed"):
            time.sleep(0.05)
        manager.close()
    if job.status != DONE:
        raise SystemExit(f"training failed: {job.error}")
    return {"first_row_s": min(first.values()), "both_first_s": max(first.values())}


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


WORKERS = {"reference": worker_reference, "same-order": worker_reference_same_order}


def run_worker(*args: str, env: dict | None = None, cores: int | None = None) -> dict:
    """Run this script as a worker subprocess (on ``cores`` cores, if given) and parse its
    JSON answer."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    # In bnviz's checkout, so that the training processes it starts (`python -m ...`) run it.
    done = subprocess.run([sys.executable, __file__, "--worker", *args], capture_output=True,
                          text=True, env=environment, cwd=BNVIZ_ROOT, check=False,
                          preexec_fn=(lambda: os.sched_setaffinity(0, set(range(cores))))
                          if cores else None)
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
    parser.add_argument("--cores", type=int, default=None,
                        help="pin both sides to this many cores (CPU affinity)")
    parser.add_argument("--isa", choices=("avx2",), default=None,
                        help="avx2: cap oneDNN at AVX2 on both sides and run the reference "
                             "without oneDNN, as TensorFlow does by default on AVX2 CPUs")
    parser.add_argument("--page-cold", type=int, default=3,
                        help="times to measure the page's first epoch without a warm spare")
    parser.add_argument("--bnviz-root", type=Path, default=None,
                        help="run bnviz's side from this checkout (e.g. a worktree of an "
                             "older commit, for a before/after)")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "page-cold":
            print(json.dumps(worker_page_cold(int(rest[0]))))
        elif kind == "memory":
            print(json.dumps(worker_memory(int(rest[0]), int(rest[1]))))
        elif kind == "memory-jobs":
            print(json.dumps(worker_memory_jobs(int(rest[0]), int(rest[1]), float(rest[2]))))
        else:
            print(json.dumps(WORKERS[kind](int(rest[0]), int(rest[1]))))
        return

    global BNVIZ_ROOT
    if args.bnviz_root:
        BNVIZ_ROOT = args.bnviz_root.resolve()
        os.environ["BENCH_BNVIZ_ROOT"] = str(BNVIZ_ROOT)  # for the workers
    peak, how = fp32_peak(args.cores, args.isa)
    flops = {label: model_flops(p, 1000, 1000, args.epochs)
             for label, p in zip(MODELS, ("none", "after"), strict=True)}
    print(f"cpu: {cpu_description()}")
    print(f"fp32 peak assumed: {how}")
    if args.isa == "avx2":
        print("AVX2 simulated: oneDNN capped at AVX2 (ONEDNN_MAX_CPU_ISA=AVX2) on both sides, "
              "the reference without oneDNN (TF_ENABLE_ONEDNN_OPTS=0) as TensorFlow runs on "
              "AVX2 CPUs; TensorFlow's own (Eigen) kernels are the same build either way")
    if args.cores:
        print(f"pinned to {args.cores} core(s) (CPU affinity), both sides")
    print(f"bnviz: {BNVIZ_ROOT} (git {git_head(BNVIZ_ROOT)})")
    print(f"work: {args.epochs} epochs, 1000 train + 1000 test images, batch 64; FLOPs per "
          f"model: " + ", ".join(f"{k} {v / 1e12:.2f} TFLOP" for k, v in flops.items()))
    base = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    isa = {"ONEDNN_MAX_CPU_ISA": "AVX2"} if args.isa == "avx2" else {}
    environments = {"reference": {**base, **isa, **(
                        {"TF_ENABLE_ONEDNN_OPTS": "0"} if args.isa == "avx2" else {})},
                    "bnviz": {**base, **isa}}
    runs: dict[str, list[dict]] = {"reference": [], "bnviz": []}
    for seed in range(1, 0 if args.memory_only else args.seeds + 1):
        for repeat in range(args.repeats):
            order = ("reference", "bnviz") if (seed + repeat) % 2 else ("bnviz", "reference")
            for kind in order:
                run = run_reference if kind == "reference" else run_bnviz_cli
                result = run(args.epochs, seed, environments[kind], args.cores)
                result["seed"] = seed
                runs[kind].append(result)
                print(f"  seed {seed} run {repeat + 1}: {kind:9s} {result['total_seconds']:6.1f} s "
                      f"(first epoch {result['first_epoch_seconds']:.1f} s)", flush=True)
    page_cold = [run_worker("page-cold", "2", env={**environments["bnviz"],
                                                    "PYTHONPATH": str(BNVIZ_ROOT)},
                            cores=args.cores)
                 for _ in range(0 if args.memory_only else args.page_cold)]

    if not args.memory_only:
        report_speed(runs, flops, peak, page_cold)
        if args.same_order:
            report_same_order(runs["bnviz"], args.epochs)
    if args.memory_trainings:
        report_memory(args)


def git_head(root: Path) -> str:
    """The short commit of a checkout, or '?'."""
    done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() or "?"


def report_speed(runs: dict[str, list[dict]], flops: dict[str, float], peak: float,
                 page_cold: list[dict]) -> None:
    """Speed, first epoch, peak memory and accuracy tables of the timed runs."""

    def median(kind: str, key: str, model: str | None = None) -> float:
        values = [r["models"][model][key] if model else r[key] for r in runs[kind]]
        return statistics.median(values)

    print("\nspeed (medians over runs; each side a whole process, start to results written)")
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
    print("  (per model: the reference's fit and bnviz's epochs, which run both models at once "
          "and overlap; total: the whole process, imports and start-up included)")
    print(f"{'first epoch (cold)':22s}{median('reference', 'first_epoch_seconds'):12.1f}"
          f"{median('bnviz', 'first_epoch_seconds'):10.1f}   seconds from the process's start "
          "to its first finished epoch")
    print(f"{'both models epoch 1':22s}{'':12s}{median('bnviz', 'both_first_epoch_seconds'):10.1f}"
          "   seconds to the first epoch of the second model")
    if page_cold:
        firsts = [p["first_row_s"] for p in page_cold]
        both = [p["both_first_s"] for p in page_cold]
        print(f"{'page, no warm spare':22s}{'':12s}{statistics.median(firsts):10.1f}   seconds "
              f"from Train to the first epoch on the page (median of {len(firsts)}: "
              + " ".join(f"{v:.1f}" for v in firsts)
              + f"; both models {statistics.median(both):.1f})")
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
