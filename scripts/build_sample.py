"""Build the Fashion-MNIST sample bundled in bnviz/data/ from the official IDX files.

Usage: python scripts/build_sample.py [IDX_DIR]   (default: Debian's dataset-fashion-mnist)

Keeps, with each image's IDX index (its position in the official file):

* training file: the first 5000 images of tensorflow-datasets' order (`bnviz.data.tfds_order`:
  the blog's 1000 training and 1000 test images, then 3000 more for larger blog training
  sets), then the first 1000 images in the file's own order (the ``official`` split) that are
  not among them;
* test file: the first 1000 images (the ``official`` split's test set).

Prints the SHA-256 of each decompressed source file for PROVENANCE.md's table.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bnviz.data import DEBIAN_DIR, IDX_FILES, SAMPLE_PATH, TEST_SIZE, load_idx_dir, tfds_order

BLOG_KEEP = 5000
OFFICIAL_KEEP = 1000


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEBIAN_DIR
    data = load_idx_dir(source)
    blog = tfds_order("train")[:BLOG_KEEP]
    official = np.setdiff1d(np.arange(OFFICIAL_KEEP), blog)  # those the blog part lacks
    train_ids = np.concatenate([blog, official])
    test_ids = np.arange(TEST_SIZE)
    np.savez_compressed(
        SAMPLE_PATH,
        train_images=data.train_images[train_ids], train_labels=data.train_labels[train_ids],
        train_ids=train_ids.astype(np.uint16),
        test_images=data.test_images[test_ids], test_labels=data.test_labels[test_ids],
        test_ids=test_ids.astype(np.uint16),
    )
    print(f"wrote {SAMPLE_PATH} ({SAMPLE_PATH.stat().st_size / 1e6:.2f} MB): "
          f"{len(train_ids)} training-file images ({len(blog)} in tensorflow-datasets' order, "
          f"{len(official)} more of the file's first {OFFICIAL_KEEP}), {len(test_ids)} test-file "
          "images")
    for name in IDX_FILES.values():
        digest = hashlib.sha256(gzip.decompress((source / name).read_bytes())).hexdigest()
        print(f"| {name} | {digest} |")


if __name__ == "__main__":
    main()
