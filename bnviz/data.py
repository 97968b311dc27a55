"""Fashion-MNIST, offline first.

Sources, in order of preference:

1. the four official IDX ``.gz`` files in ``$BNVIZ_DATA_DIR``;
2. Debian's ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``);
3. the real sample bundled with this package (``bnviz/data/fashion_mnist_sample.npz``);
4. ``tensorflow_datasets`` (downloads; only tried when nothing local is big enough).

A file that is missing, truncated or corrupt is reported by name, with what is
wrong, and the loader falls back to the next source with a warning.

Every image is known by its *IDX index*, its position in the official file, so
the same experiment picks the same images from every source. The ``blog`` split
takes them in the order in which tensorflow-datasets stores Fashion-MNIST's
``train`` split, the order the blog's ``tfds.load`` read them in: each example's
key is its IDX index, and examples are sorted by the MD5 of the split name
followed by the key as a decimal string (`tfds_order`).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bnviz.config import ExperimentConfig

log = logging.getLogger(__name__)

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
NUM_CLASSES = len(CLASS_NAMES)
IMAGE_SHAPE = (28, 28)
TEST_SIZE = 1000  # the blog evaluates on 1000 images; both splits keep that size
SPLIT_SIZES = {"train": 60_000, "test": 10_000}  # images in each official file
BLOG_TRAIN = 1000  # the blog trains on the first 1000 images of tfds' order, tests on the next

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
SAMPLE_PATH = Path(__file__).with_name("data") / "fashion_mnist_sample.npz"
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension


class DataError(Exception):
    """A data file that cannot be used; the message names the file and the fault."""


@dataclass(frozen=True)
class FashionMNIST:
    """Images (N, 28, 28) uint8 and labels (N,) uint8 of both official splits, or of part
    of them: ``train_ids`` and ``test_ids`` give each image's IDX index."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    warnings: tuple[str, ...] = field(default=())
    train_ids: np.ndarray | None = None  # None: the whole file, in its own order
    test_ids: np.ndarray | None = None

    def ids(self, part: str) -> np.ndarray:
        """The IDX index of each image of ``part`` ("train" or "test")."""
        given = getattr(self, f"{part}_ids")
        return np.arange(len(getattr(self, f"{part}_labels"))) if given is None else given

    def pick(self, part: str, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Images and labels of ``part`` with these IDX indices, in this order; None when
        this source lacks any of them."""
        held = self.ids(part)
        position = np.full(SPLIT_SIZES[part], -1, dtype=np.int64)
        position[held] = np.arange(len(held))
        if ids.size and (ids.min() < 0 or ids.max() >= len(position)
                         or (position[ids] < 0).any()):
            return None
        chosen = position[ids]
        return getattr(self, f"{part}_images")[chosen], getattr(self, f"{part}_labels")[chosen]


@dataclass(frozen=True)
class Split:
    """The images one experiment trains and evaluates on, ready for Keras."""

    x_train: np.ndarray  # float32 (N, 28, 28, 1)
    y_train: np.ndarray  # int32 (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    warnings: tuple[str, ...] = field(default=())

    def class_counts(self) -> list[int]:
        """Training images per class, in `CLASS_NAMES` order."""
        return np.bincount(self.y_train, minlength=NUM_CLASSES).tolist()


def class_counts_text(counts: list[int]) -> str:
    """"T-shirt/top 107, Trouser 105, …": images per class in words."""
    return ", ".join(f"{name} {count}" for name, count in zip(CLASS_NAMES, counts, strict=True))


@functools.cache
def tfds_order(part: str) -> np.ndarray:
    """IDX indices of ``part`` ("train" or "test") in the order tensorflow-datasets stores
    and reads Fashion-MNIST: sorted by MD5(split name + key), the key being the IDX index
    written in decimal (tensorflow_datasets/core/hashing.py; checked against it by the
    tests)."""
    salt = hashlib.md5(part.encode())

    def digest(key: int) -> bytes:
        md5 = salt.copy()
        md5.update(str(key).encode())
        return md5.digest()

    order = np.array(sorted(range(SPLIT_SIZES[part]), key=digest), dtype=np.int64)
    order.flags.writeable = False  # cached and shared: nobody may reorder it
    return order


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzip or plain), checking magic number, header and size."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise DataError(f"{path}: cannot decompress ({error}); the file is truncated or corrupt") \
            from None
    if len(raw) < 8:
        raise DataError(f"{path}: only {len(raw)} bytes, too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (_IMAGES_MAGIC, _LABELS_MAGIC):
        raise DataError(f"{path}: magic number {magic:#010x} is not an IDX ubyte file "
                        f"(expected {_IMAGES_MAGIC:#010x} or {_LABELS_MAGIC:#010x})")
    ndim = magic & 0xFF
    header_end = 4 + 4 * ndim
    if len(raw) < header_end:
        raise DataError(f"{path}: header is cut off")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    body = len(raw) - header_end
    if body != expected:
        raise DataError(f"{path}: header promises {expected} bytes of data for shape {shape}, "
                        f"file holds {body}; it is truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_end).reshape(shape)


def load_idx_dir(directory: Path) -> FashionMNIST:
    """Load the four official IDX files from a directory and check them together."""
    directory = Path(directory)
    arrays = {key: read_idx(directory / name) for key, name in IDX_FILES.items()}
    data = FashionMNIST(**arrays, source=f"IDX files in {directory}")
    _validate(data, str(directory))
    return data


def load_bundled(path: Path = SAMPLE_PATH) -> FashionMNIST:
    """The real Fashion-MNIST sample shipped inside the package (see PROVENANCE.md)."""
    try:
        with np.load(path) as archive:
            arrays = {key: archive[key] for key in (*IDX_FILES, "train_ids", "test_ids")}
    except FileNotFoundError:
        raise DataError(f"{path}: bundled sample is missing") from None
    except Exception as error:  # zip, pickle and key errors all mean "corrupt"
        raise DataError(f"{path}: bundled sample cannot be read ({error})") from None
    arrays["train_ids"] = arrays["train_ids"].astype(np.int64)
    arrays["test_ids"] = arrays["test_ids"].astype(np.int64)
    data = FashionMNIST(**arrays, source="bundled sample")
    _validate(data, str(path))
    return data


def load_tfds() -> FashionMNIST:  # pragma: no cover - needs network
    """Download Fashion-MNIST with tensorflow-datasets, as the blog post does."""
    try:
        import tensorflow_datasets as tfds

        train, test = tfds.as_numpy(
            tfds.load("fashion_mnist", split=["train", "test"], batch_size=-1,
                      as_supervised=True)
        )
    except Exception as error:
        raise DataError(f"tensorflow-datasets could not provide fashion_mnist ({error})") \
            from None
    return FashionMNIST(
        train_images=train[0][..., 0], train_labels=train[1].astype(np.uint8),
        test_images=test[0][..., 0], test_labels=test[1].astype(np.uint8),
        source="tensorflow-datasets",
        train_ids=tfds_order("train"), test_ids=tfds_order("test"),  # read in stored order
    )


def _validate(data: FashionMNIST, where: str) -> None:
    for part in ("train", "test"):
        images = getattr(data, f"{part}_images")
        labels = getattr(data, f"{part}_labels")
        if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
            raise DataError(f"{where}: {part} images have shape {images.shape}, "
                            f"expected (N, 28, 28)")
        if labels.shape != (images.shape[0],):
            raise DataError(f"{where}: {images.shape[0]} {part} images but "
                            f"{labels.shape[0]} labels")
        if labels.size and labels.max() >= NUM_CLASSES:
            raise DataError(f"{where}: {part} labels go up to {labels.max()}, expected 0..9")
        ids = data.ids(part)
        in_range = not ids.size or (ids.min() >= 0 and ids.max() < SPLIT_SIZES[part])
        if ids.shape != labels.shape or not in_range or len(np.unique(ids)) != ids.size:
            raise DataError(f"{where}: the {part} images' IDX indices are not distinct indices "
                            f"below {SPLIT_SIZES[part]}, one per image")


# Each source is read once per process; a failed read is not cached and is retried.
_cached_idx_dir = functools.lru_cache(maxsize=4)(load_idx_dir)
_cached_bundled = functools.lru_cache(maxsize=1)(load_bundled)


def clear_cache() -> None:
    """Forget the sources read so far (after the files on disk changed)."""
    _cached_idx_dir.cache_clear()
    _cached_bundled.cache_clear()


def full_dataset_dirs() -> list[Path]:
    """Directories that may hold the full dataset, most specific first."""
    dirs = []
    if os.environ.get("BNVIZ_DATA_DIR"):
        dirs.append(Path(os.environ["BNVIZ_DATA_DIR"]))
    dirs.append(DEBIAN_DIR)
    return dirs


def load_dataset(needed: Mapping[str, np.ndarray]) -> FashionMNIST:
    """The first local source that holds the images ``needed``: IDX indices by part
    ("train", "test").

    Problems with a source become warnings on the result (and log lines); only
    when no source at all is usable does this raise `DataError`.
    """
    warnings: list[str] = []
    candidates = [d for d in full_dataset_dirs() if d.exists() or d != DEBIAN_DIR]
    loaders = [functools.partial(_cached_idx_dir, d) for d in candidates] + [_cached_bundled]
    for loader in loaders:
        try:
            data = loader()
        except DataError as error:
            warnings.append(f"{error}; falling back to the next source.")
            log.warning("%s", error)
            continue
        if all(data.pick(part, ids) is not None for part, ids in needed.items()):
            return FashionMNIST(**{**data.__dict__, "warnings": tuple(warnings)})
        warnings.append(f"{data.source} holds {len(data.train_images)} training and "
                        f"{len(data.test_images)} test images, not all of those needed.")
    try:
        data = load_tfds()
    except DataError as error:
        warnings.append(str(error))
        raise DataError(" ".join(warnings) + " Install Debian's dataset-fashion-mnist or set "
                        "BNVIZ_DATA_DIR to a folder with the four official IDX files.") from None
    return FashionMNIST(**{**data.__dict__, "warnings": tuple(warnings)})


def split_ids(split: str, train_size: int) -> tuple[str, np.ndarray, str, np.ndarray]:
    """Which images an experiment uses: (part, IDX indices) of its training images, then of
    its test images.

    ``blog``: tensorflow-datasets' order of the training split (`tfds_order`); the blog
    trains on its first 1000 images and tests on the next 1000. The test set stays fixed
    whatever the training size, so runs of different sizes compare on the same images:
    smaller training sets are a prefix, larger ones continue after the test block.
    ``official``: the first ``train_size`` images of the training file, tested on the
    first 1000 of the test file.
    """
    if split == "blog":
        order = tfds_order("train")
        train = np.concatenate([order[:min(train_size, BLOG_TRAIN)],
                                order[BLOG_TRAIN + TEST_SIZE:
                                      TEST_SIZE + max(train_size, BLOG_TRAIN)]])
        return "train", train, "train", order[BLOG_TRAIN:BLOG_TRAIN + TEST_SIZE]
    if split == "official":
        return "train", np.arange(train_size), "test", np.arange(TEST_SIZE)
    raise ValueError(f"unknown split {split!r}")


def split_fingerprint(split: str, train_size: int) -> str:
    """A short hash of which images a split trains and tests on (their parts and IDX
    indices), so a result can tell whether it was trained on the images the split uses now."""
    train_part, train_ids, test_part, test_ids = split_ids(split, train_size)
    digest = hashlib.sha256(f"{train_part}:{test_part}:".encode())
    digest.update(np.ascontiguousarray(train_ids, dtype="<i8").tobytes())
    digest.update(np.ascontiguousarray(test_ids, dtype="<i8").tobytes())
    return digest.hexdigest()[:16]


def make_split(split: str, train_size: int, scale_pixels: bool, binarize: bool = False
               ) -> Split:
    """Train and test arrays for one experiment, as float32 NHWC and int labels: pixels raw
    (0..255), scaled to [0, 1], or binarised (``binarize``: 1 where a pixel is at least
    `BINARY_THRESHOLD`, else 0; it overrides ``scale_pixels``)."""
    train_part, train_ids, test_part, test_ids = split_ids(split, train_size)
    needed: dict[str, np.ndarray] = {}
    for part, ids in ((train_part, train_ids), (test_part, test_ids)):
        needed[part] = np.concatenate([needed.get(part, np.array([], np.int64)), ids])
    data = load_dataset(needed)
    x_train, y_train = data.pick(train_part, train_ids)
    x_test, y_test = data.pick(test_part, test_ids)
    return Split(
        x_train=_to_input(x_train, scale_pixels, binarize), y_train=y_train.astype(np.int32),
        x_test=_to_input(x_test, scale_pixels, binarize), y_test=y_test.astype(np.int32),
        source=data.source, warnings=data.warnings,
    )


def split_of(config: ExperimentConfig) -> Split:
    """The images an experiment trains and tests on, as its network reads them."""
    return make_split(config.split, config.train_size, config.scale_pixels, config.binarize)


# Half of the 0..255 range: binarised MNIST is usually cut at 0.5 of the scaled pixel.
BINARY_THRESHOLD = 128


def _to_input(images: np.ndarray, scale_pixels: bool, binarize: bool = False) -> np.ndarray:
    if binarize:
        return (images >= BINARY_THRESHOLD).astype(np.float32)[..., np.newaxis]
    pixels = images.astype(np.float32)[..., np.newaxis]
    return pixels / 255.0 if scale_pixels else pixels
