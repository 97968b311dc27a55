"""TensorFlow's settings for every bnviz process, in one place, and a check that they hold.

Two settings change what a training computes, not only how fast:

- oneDNN's kernels (``TF_ENABLE_ONEDNN_OPTS``): TensorFlow turns them on by itself only on
  CPUs with AVX-512 VNNI or newer; on AVX2 CPUs they halve a convolution-heavy epoch
  (docs/performance.md). TensorFlow reads the variable once, when it is imported.
- threads per operation (``TF_NUM_INTRAOP_THREADS``): the two models of a comparison train at
  once, each in a thread of its own, so each gets half the cores; with TensorFlow's default
  (every core for every operation) their small kernels contend for the same cores. The number
  of threads also decides how some kernels split their sums, so it changes the last digits of
  a loss. TensorFlow reads it when its runtime starts (the first operation).

So the same seed gives the same curves only where these are the same: every entry point (the
page, a training process, the command line, a Ray task, the tests) calls `apply` before it
imports TensorFlow, and every training calls `check`, which warns when the settings in force
are not the ones asked for (a notebook that imported TensorFlow or Keras before bnviz, say).
A process that imported TensorFlow first kept TensorFlow's oneDNN default, and on AVX2 CPUs
trained other numbers than bnviz's training processes: that made the test suite fail there.
Values already in the environment are the user's choice and win.

Between CPUs identity cannot hold: AVX-512 and AVX2 kernels round differently, and so do
machines whose core counts give other thread counts; curves then differ in their last digits.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import warnings
from pathlib import Path

ONEDNN = "TF_ENABLE_ONEDNN_OPTS"
THREADS = "TF_NUM_INTRAOP_THREADS"
LOG_LEVEL = "TF_CPP_MIN_LOG_LEVEL"


class SettingsWarning(RuntimeWarning):
    """TensorFlow runs with other settings than bnviz asked for."""


def cores() -> int:
    """Cores this process may use: its CPU affinity (`taskset`, cpusets), capped by a CPU
    quota of its control group (cgroup v2 or v1; a container's `--cpus`, a Community Cloud
    box), rounded up."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(count, math.ceil(quota))) if quota else count


def cgroup_cpu_quota() -> float | None:
    """Cores' worth of CPU time this process's control group may use, if it is limited."""
    with contextlib.suppress(OSError, ValueError):
        limit, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]  # v2
        return None if limit == "max" else int(limit) / int(period)
    with contextlib.suppress(OSError, ValueError):
        v1 = Path("/sys/fs/cgroup/cpu")
        limit = int((v1 / "cpu.cfs_quota_us").read_text())
        return None if limit <= 0 else limit / int((v1 / "cpu.cfs_period_us").read_text())
    return None


def defaults() -> dict[str, str]:
    """bnviz's values of TensorFlow's settings in this process (quiet logs as well)."""
    return {ONEDNN: "1", THREADS: str(max(1, cores() // 2)), LOG_LEVEL: "2"}


# What TensorFlow had already fixed when `apply` first ran: whether it was imported (then
# its oneDNN choice was made) and, if its runtime had started, the thread count it started
# with (None: TensorFlow's default).
_fixed_before_apply: dict[str, object] | None = None


def apply() -> None:
    """Put bnviz's settings into this process's environment, keeping values already there.

    Call it before TensorFlow is imported; calling it again does nothing more."""
    global _fixed_before_apply
    if _fixed_before_apply is None:
        _fixed_before_apply = {"imported": "tensorflow" in sys.modules,
                               "started": _runtime_started(),
                               "threads": os.environ.get(THREADS)}
    for name, value in defaults().items():
        os.environ.setdefault(name, value)


def tensorflow_came_first() -> bool:
    """Whether TensorFlow was imported before bnviz's settings were first applied (its
    oneDNN choice was then made without them, whether or not it happens to match)."""
    return bool(_fixed_before_apply and _fixed_before_apply["imported"])


def asked() -> dict[str, object]:
    """The settings this process asks for: oneDNN on or off, threads per operation."""
    apply()
    return {"onednn": os.environ[ONEDNN].strip().lower() in ("1", "true"),
            "threads": int(os.environ[THREADS])}


def in_force() -> dict[str, object]:
    """The settings TensorFlow runs with (imports TensorFlow)."""
    import tensorflow as tf
    from tensorflow.python.util import _pywrap_util_port

    threads: object = tf.config.threading.get_intra_op_parallelism_threads()
    if not threads:  # not set through tf.config: the environment's when the runtime started
        fixed = _fixed_before_apply or {}
        if fixed.get("started"):
            threads = int(fixed["threads"]) if fixed.get("threads") else "TensorFlow's default"
        else:
            threads = int(os.environ[THREADS])
    return {"onednn": bool(_pywrap_util_port.IsMklEnabled()), "threads": threads}


def problems() -> list[str]:
    """Each setting in force that is not the one asked for, in words (empty: all hold)."""
    wanted, running = asked(), in_force()
    found = []
    if running["onednn"] != wanted["onednn"]:
        found.append(f"oneDNN is {'on' if running['onednn'] else 'off'}, asked "
                     f"{'on' if wanted['onednn'] else 'off'} ({ONEDNN}={os.environ[ONEDNN]})")
    if running["threads"] != wanted["threads"]:
        found.append(f"threads per operation: {running['threads']}, asked "
                     f"{wanted['threads']} ({THREADS})")
    return found


_checked = False


def check() -> None:
    """Warn once per process (`SettingsWarning`) if TensorFlow's settings in force are not
    the ones asked for: its curves then differ from bnviz's other runs of the same seed."""
    global _checked
    if _checked:
        return
    _checked = True
    found = problems()
    if found:
        warnings.warn(
            "TensorFlow runs with other settings than bnviz asked for: " + "; ".join(found)
            + ". It was imported or started before bnviz could set them, so this process's "
            "curves differ in their last digits from bnviz's other runs of the same seed. "
            "Import bnviz (or call bnviz.tf_settings.apply()) before TensorFlow or Keras.",
            SettingsWarning, stacklevel=2)


def _runtime_started() -> bool:
    if "tensorflow" not in sys.modules:
        return False
    # A private attribute of TensorFlow's eager context, read defensively: the only way to
    # know whether the runtime (and its thread pool) exists yet.
    with contextlib.suppress(Exception):
        from tensorflow.python.eager import context

        return context.context()._context_handle is not None
    return True
