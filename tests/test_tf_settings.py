"""Same seed, same curves: TensorFlow runs with bnviz's settings in every process, and a
training says so when it cannot (bnviz.tf_settings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bnviz import tf_settings


def test_this_process_trains_with_the_settings_bnviz_asks_for():
    # tests/test_inside.py imports Keras when it is collected, before any test runs: had
    # the settings not been applied first (tests/conftest.py, as every entry point does),
    # this process would train with TensorFlow's own thread count (and on AVX2 CPUs without
    # oneDNN), and its curves would differ from a training process's.
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # the runtime has started: its thread count is fixed now
    assert not tf_settings.tensorflow_came_first()  # on every CPU, whatever its defaults
    assert tf_settings.problems() == []
    assert tf_settings.in_force() == tf_settings.asked()


def test_the_threads_per_operation_follow_the_cores_and_a_cpu_quota(monkeypatch):
    # A one-core quota on a many-core host (a Community Cloud box, a container's --cpus)
    # counts as one core; no quota leaves the affinity's count.
    monkeypatch.setattr(tf_settings.os, "sched_getaffinity", lambda _pid: set(range(8)))
    monkeypatch.setattr(tf_settings, "cgroup_cpu_quota", lambda: 1.0)
    assert tf_settings.cores() == 1
    assert tf_settings.defaults()[tf_settings.THREADS] == "1"
    monkeypatch.setattr(tf_settings, "cgroup_cpu_quota", lambda: 2.5)
    assert tf_settings.cores() == 3
    monkeypatch.setattr(tf_settings, "cgroup_cpu_quota", lambda: None)
    assert tf_settings.cores() == 8
    assert tf_settings.defaults()[tf_settings.THREADS] == "4"


# Trains twice and prints the SettingsWarnings it got; {first} runs before bnviz is imported.
_TRAIN_TWICE = """
import json, warnings
{first}
from bnviz.config import ExperimentConfig
from bnviz.training import train_comparison
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for seed in (1, 2):
        train_comparison(ExperimentConfig(epochs=1, train_size=100, seed=seed))
print(json.dumps([str(w.message) for w in caught if w.category.__name__ == "SettingsWarning"]))
"""


def _warnings_of(first: str) -> list[str]:
    # Without the settings this process put into its environment: the child's own order
    # of imports decides.
    environment = {name: value for name, value in os.environ.items()
                   if name not in (tf_settings.ONEDNN, tf_settings.THREADS)}
    done = subprocess.run([sys.executable, "-c", _TRAIN_TWICE.format(first=first)],
                          capture_output=True, text=True, env=environment, timeout=300,
                          cwd=os.getcwd(), check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2,
                    reason="on one core TensorFlow's thread count is bnviz's")
def test_a_process_that_started_tensorflow_before_bnviz_is_warned_once_when_it_trains():
    # A notebook that used Keras before it imported bnviz: TensorFlow's runtime started
    # with a thread per core, not bnviz's one per two.
    found = _warnings_of("import keras; keras.ops.ones(1)")
    assert len(found) == 1, found
    assert "threads per operation" in found[0] and "Import bnviz" in found[0]
    assert _warnings_of("import bnviz.training") == []  # bnviz first: nothing to say
