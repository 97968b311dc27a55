import gzip
import os

import numpy as np
import pytest

from bnviz import data
from bnviz.data import DataError, load_bundled, load_dataset, make_split, read_idx, tfds_order

BLOG_FIRST_TEN = [2, 1, 8, 4, 1, 9, 2, 2, 0, 2]  # what the blog's tfds.load reads first


@pytest.fixture
def sample_only(monkeypatch, tmp_path):
    """No full dataset on this machine: the bundled sample is the only local source."""
    monkeypatch.delenv("BNVIZ_DATA_DIR", raising=False)
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "absent")


@pytest.fixture
def debian_files():
    """Debian's dataset-fashion-mnist: skipped on a developer machine without it; CI, whose
    test command installs it, fails instead."""
    if not data.DEBIAN_DIR.exists():
        message = f"{data.DEBIAN_DIR} not found: apt-get install dataset-fashion-mnist"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return data.DEBIAN_DIR


def test_bundled_sample_holds_real_fashion_mnist_with_its_indices():
    sample = load_bundled()
    assert sample.train_images.shape[1:] == (28, 28) and sample.train_images.dtype == np.uint8
    assert len(sample.train_ids) == len(sample.train_images) >= 5000
    assert len(sample.test_ids) == len(sample.test_images) >= 1000
    assert data.SAMPLE_PATH.stat().st_size < 5_000_000


@pytest.mark.parametrize("part", ["train", "test"])
def test_the_order_is_tensorflow_datasets_own(part):
    from tensorflow_datasets.core.hashing import Hasher

    hasher = Hasher(part)
    expected = sorted(range(data.SPLIT_SIZES[part]), key=hasher.hash_key)
    np.testing.assert_array_equal(tfds_order(part), expected)


def test_the_blog_split_from_the_bundled_sample_is_the_blogs(sample_only):
    split = make_split("blog", 1000, scale_pixels=False)
    assert split.source == "bundled sample"
    assert split.y_train[:10].tolist() == BLOG_FIRST_TEN
    assert split.x_train.shape == split.x_test.shape == (1000, 28, 28, 1)
    assert split.x_train.dtype == np.float32 and split.x_train.max() == 255.0


@pytest.mark.parametrize("via", ["Debian's folder", "BNVIZ_DATA_DIR"])
def test_the_full_files_give_the_blog_split_the_samples_images(debian_files, via, tmp_path,
                                                              monkeypatch):
    if via == "BNVIZ_DATA_DIR":
        (tmp_path / "idx").symlink_to(debian_files, target_is_directory=True)
        monkeypatch.setenv("BNVIZ_DATA_DIR", str(tmp_path / "idx"))
    for split_name, train_size in (("blog", 1000), ("blog", 4000), ("official", 1000)):
        full = make_split(split_name, train_size, scale_pixels=False)
        assert full.source.startswith("IDX files in") and not full.warnings
        with monkeypatch.context() as only_sample:
            only_sample.delenv("BNVIZ_DATA_DIR", raising=False)
            only_sample.setattr(data, "DEBIAN_DIR", tmp_path / "absent")
            data.clear_cache()
            sampled = make_split(split_name, train_size, scale_pixels=False)
        assert sampled.source == "bundled sample"
        for name in ("x_train", "y_train", "x_test", "y_test"):
            np.testing.assert_array_equal(getattr(full, name), getattr(sampled, name))
    assert make_split("blog", 1000, False).y_train[:10].tolist() == BLOG_FIRST_TEN


def test_blog_training_sets_grow_after_the_test_images(sample_only):
    order = tfds_order("train")
    small, large = make_split("blog", 500, True), make_split("blog", 1500, True)
    np.testing.assert_array_equal(small.x_test, large.x_test)
    assert len(large.y_train) == 1500 and large.x_train.max() <= 1.0
    np.testing.assert_array_equal(large.x_train[:500], small.x_train)
    sample = load_bundled()
    expected = sample.pick("train", np.concatenate([order[:1000], order[2000:2500]]))
    np.testing.assert_array_equal(large.y_train, expected[1])
    np.testing.assert_array_equal(large.y_test, sample.pick("train", order[1000:2000])[1])


def test_official_split_tests_on_the_test_file(sample_only):
    split = make_split("official", 300, False)
    sample = load_bundled()
    np.testing.assert_array_equal(split.y_test, sample.pick("test", np.arange(1000))[1])
    np.testing.assert_array_equal(split.y_train, sample.pick("train", np.arange(300))[1])


def test_a_source_lacking_some_images_is_not_picked_from():
    sample = load_bundled()
    assert sample.pick("train", tfds_order("train")[:5000]) is not None
    assert sample.pick("train", tfds_order("train")[:5001]) is None
    assert sample.pick("test", np.arange(1001)) is None


def _write_idx(path, array, magic):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def _fake_idx_dir(directory, images=5):
    directory.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for part in ("train", "t10k"):
        _write_idx(directory / f"{part}-images-idx3-ubyte.gz",
                   rng.integers(0, 255, (images, 28, 28)), 0x803)
        _write_idx(directory / f"{part}-labels-idx1-ubyte.gz", np.arange(images) % 10, 0x801)


def test_idx_reader_checks_magic_and_size(tmp_path):
    _fake_idx_dir(tmp_path)
    assert read_idx(tmp_path / "train-images-idx3-ubyte.gz").shape == (5, 28, 28)
    bad_magic = tmp_path / "bad.gz"
    bad_magic.write_bytes(gzip.compress(b"\x00\x00\x09\x99" + b"\x00" * 20))
    with pytest.raises(DataError, match=r"bad\.gz: magic number"):
        read_idx(bad_magic)


def test_truncated_file_gives_a_message_naming_it(tmp_path):
    _fake_idx_dir(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: header promises"):
        read_idx(path)
    path.write_bytes(path.read_bytes()[:50])  # a cut gzip stream
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(path)


def test_corrupt_data_dir_falls_back_to_the_sample_with_a_warning(tmp_path, monkeypatch):
    _fake_idx_dir(tmp_path / "idx")
    (tmp_path / "idx" / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not gzip, not idx")
    monkeypatch.setenv("BNVIZ_DATA_DIR", str(tmp_path / "idx"))
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "absent")
    loaded = load_dataset({"train": np.arange(5)})
    assert loaded.source == "bundled sample"
    assert any("t10k-labels-idx1-ubyte.gz" in w for w in loaded.warnings)


def test_data_dir_is_preferred_when_valid(tmp_path, monkeypatch):
    _fake_idx_dir(tmp_path / "idx", images=3000)
    monkeypatch.setenv("BNVIZ_DATA_DIR", str(tmp_path / "idx"))
    loaded = load_dataset({"train": np.arange(2000), "test": np.arange(1000)})
    assert loaded.source.endswith(str(tmp_path / "idx")) and not loaded.warnings


def test_too_small_sources_are_skipped_with_a_reason(tmp_path, monkeypatch):
    _fake_idx_dir(tmp_path / "idx", images=50)
    monkeypatch.setenv("BNVIZ_DATA_DIR", str(tmp_path / "idx"))
    loaded = load_dataset({"train": np.arange(1000)})
    assert "holds 50 training and 50 test images, not all of those needed" in loaded.warnings[0]
    assert loaded.pick("train", np.arange(1000)) is not None


def test_negative_or_too_large_indices_are_never_picked():
    sample = load_bundled()
    assert sample.pick("train", np.array([-1])) is None
    assert sample.pick("test", np.array([10_000])) is None
    assert not tfds_order("train").flags.writeable
