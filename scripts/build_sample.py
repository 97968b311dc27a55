"""Build the Fashion-MNIST sample bundled in bnviz/data/ from the official IDX files.

Usage: python scripts/build_sample.py [IDX_DIR]   (default: Debian's dataset-fashion-mnist)

Keeps the first 5000 training-split images in order (the blog's 2000 and more for
larger training sets) and the first 2000 test-split images, and records the
SHA-256 of each decompressed source file in PROVENANCE.md's table.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bnviz.data import DEBIAN_DIR, IDX_FILES, SAMPLE_PATH, load_idx_dir

TRAIN_KEEP = 5000
TEST_KEEP = 2000


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEBIAN_DIR
    data = load_idx_dir(source)
    np.savez_compressed(
        SAMPLE_PATH,
        train_images=data.train_images[:TRAIN_KEEP],
        train_labels=data.train_labels[:TRAIN_KEEP],
        test_images=data.test_images[:TEST_KEEP],
        test_labels=data.test_labels[:TEST_KEEP],
    )
    print(f"wrote {SAMPLE_PATH} ({SAMPLE_PATH.stat().st_size / 1e6:.2f} MB)")
    for name in IDX_FILES.values():
        digest = hashlib.sha256(gzip.decompress((source / name).read_bytes())).hexdigest()
        print(f"| {name} | {digest} |")


if __name__ == "__main__":
    main()
