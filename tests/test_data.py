import gzip

import numpy as np
import pytest

from bnviz import data
from bnviz.data import DataError, load_bundled, load_dataset, make_split, read_idx


def test_bundled_sample_holds_real_fashion_mnist():
    sample = load_bundled()
    assert sample.train_images.shape[1:] == (28, 28)
    assert sample.train_images.dtype == np.uint8
    assert len(sample.train_images) >= 2000 and len(sample.test_images) >= 1000
    assert set(np.unique(sample.train_labels[:1000])) == set(range(10))
    assert data.SAMPLE_PATH.stat().st_size < 5_000_000


def test_blog_split_is_first_1000_then_next_1000():
    split = make_split("blog", 1000, scale_pixels=False)
    sample = load_bundled()
    assert split.x_train.shape == (1000, 28, 28, 1) and split.x_train.dtype == np.float32
    assert split.x_test.shape == (1000, 28, 28, 1)
    np.testing.assert_array_equal(split.x_train[..., 0], sample.train_images[:1000])
    np.testing.assert_array_equal(split.x_test[..., 0], sample.train_images[1000:2000])
    assert split.x_train.max() == 255.0


def test_larger_blog_training_sets_keep_the_same_test_images():
    small, large = make_split("blog", 500, True), make_split("blog", 1500, True)
    np.testing.assert_array_equal(small.x_test, large.x_test)
    assert len(large.y_train) == 1500 and large.x_train.max() <= 1.0


def test_official_split_tests_on_the_test_split():
    split = make_split("official", 300, False)
    np.testing.assert_array_equal(split.y_test, load_bundled().test_labels[:1000])


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
    loaded = load_dataset()
    assert loaded.source == "bundled sample"
    assert any("t10k-labels-idx1-ubyte.gz" in w for w in loaded.warnings)


def test_data_dir_is_preferred_when_valid(tmp_path, monkeypatch):
    _fake_idx_dir(tmp_path / "idx", images=3000)
    monkeypatch.setenv("BNVIZ_DATA_DIR", str(tmp_path / "idx"))
    loaded = load_dataset(min_train=2000)
    assert loaded.source.endswith(str(tmp_path / "idx")) and not loaded.warnings


def test_too_small_sources_are_skipped_with_a_reason(tmp_path, monkeypatch):
    _fake_idx_dir(tmp_path / "idx", images=50)
    monkeypatch.setenv("BNVIZ_DATA_DIR", str(tmp_path / "idx"))
    loaded = load_dataset(min_train=1000)
    assert "fewer than the 1000 needed" in loaded.warnings[0]
    assert len(loaded.train_images) >= 1000
