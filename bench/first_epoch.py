"""Cold start of one trainer, in this process: building it, its first epoch (which includes
tracing and compiling the epoch function) and ten more epochs.

    .venv/bin/python bench/first_epoch.py [--placement after] [--train-size 1000]

Prints seconds for each phase and the CPU model, since compile times differ by CPU.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def cpu_name() -> str:
    """The CPU model, from /proc/cpuinfo where there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--placement", default="after", choices=("none", "after", "before"))
    parser.add_argument("--train-size", type=int, default=1000)
    args = parser.parse_args()
    begin = time.perf_counter()
    from bnviz.data import make_split
    from bnviz.training import ModelTrainer, epoch_order

    split = make_split("blog", args.train_size, scale_pixels=False)
    imported = time.perf_counter()
    trainer = ModelTrainer(args.placement, 64, "adam")
    trainer.start(1, 0.001, split)
    built = time.perf_counter()
    trainer.run_epoch(epoch_order(1, 1, len(split.y_train)))
    first = time.perf_counter()
    for epoch in range(2, 12):
        trainer.run_epoch(epoch_order(1, epoch, len(split.y_train)))
    done = time.perf_counter()
    print(f"{cpu_name()}: import and data {imported - begin:.1f} s, "
          f"build {built - imported:.1f} s, first epoch (compile included) "
          f"{first - built:.1f} s, next 10 epochs {done - first:.2f} s "
          f"({args.placement}, {args.train_size} images)")


if __name__ == "__main__":
    main()
