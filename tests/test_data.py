"""IDX reader and data loaders, on small files the tests write themselves."""

import gzip
import struct

import numpy as np
import pytest

from dendritic import data


def _idx_bytes(array: np.ndarray, type_code: int, big_endian_dtype: str) -> bytes:
    """Independent IDX encoder (struct-based) to check the reader."""
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(big_endian_dtype).tobytes()


@pytest.mark.parametrize("gzipped", [False, True])
@pytest.mark.parametrize("dtype,code,be", [("u1", 0x08, "u1"), ("i2", 0x0B, ">i2"), ("i4", 0x0C, ">i4"),
                                           ("f4", 0x0D, ">f4"), ("f8", 0x0E, ">f8")])
def test_read_idx_types_and_compression(tmp_path, gzipped, dtype, code, be):
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    raw = _idx_bytes(array, code, be)
    path = tmp_path / "images.idx"  # no .gz in the name: compression is detected from the bytes
    path.write_bytes(gzip.compress(raw) if gzipped else raw)
    out = data.read_idx(path)
    assert out.shape == (3, 4, 5) and out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out, array)


def test_write_idx_round_trip(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    path = data.write_idx(tmp_path / "labels.gz", labels)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    np.testing.assert_array_equal(data.read_idx(path), labels)
    assert gzip.decompress(path.read_bytes()) == _idx_bytes(labels, 0x08, "u1")


def test_read_idx_errors_name_file_and_expectation(tmp_path):
    with pytest.raises(data.DataError, match="missing.idx: no such IDX file"):
        data.read_idx(tmp_path / "missing.idx")
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01x")
    with pytest.raises(data.DataError, match=r"bad.idx: not an IDX file \(expected two zero bytes"):
        data.read_idx(bad)
    short = tmp_path / "short.idx"
    short.write_bytes(_idx_bytes(np.zeros((4, 2), np.uint8), 0x08, "u1")[:-3])
    with pytest.raises(data.DataError, match=r"short.idx: IDX header announces shape \(4, 2\) \(8 bytes"):
        data.read_idx(short)
    unknown = tmp_path / "type.idx"
    unknown.write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x00")
    with pytest.raises(data.DataError, match="type.idx: unknown IDX type byte 0x07"):
        data.read_idx(unknown)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"\x00" * 100)[:20])
    with pytest.raises(data.DataError, match="broken.gz: gzip data is corrupt"):
        data.read_idx(broken)


def _write_split(folder, n_train=7, n_test=3, gz=True, labels_train=None):
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    ext = ".gz" if gz else ""
    images = {s: rng.integers(0, 256, (n, 28, 28)).astype(np.uint8) for s, n in (("train", n_train), ("t10k", n_test))}
    labels = {s: rng.integers(0, 10, n).astype(np.uint8) for s, n in (("train", n_train), ("t10k", n_test))}
    if labels_train is not None:
        labels["train"] = labels_train
    for s in ("train", "t10k"):
        data.write_idx(folder / f"{s}-images-idx3-ubyte{ext}", images[s], compress=gz)
        data.write_idx(folder / f"{s}-labels-idx1-ubyte{ext}", labels[s], compress=gz)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_dataset(tmp_path, gz):
    images, labels = _write_split(tmp_path / "fmnist", gz=gz)
    ds = data.load_fashion_mnist(tmp_path / "fmnist")
    assert ds.x_train.shape == (7, 784) and ds.x_test.shape == (3, 784)
    np.testing.assert_array_equal(ds.x_train, images["train"].reshape(7, -1))
    np.testing.assert_array_equal(ds.y_test, labels["t10k"])
    assert ds.y_train.dtype == np.int64


def test_load_idx_dataset_errors(tmp_path):
    with pytest.raises(data.DataError, match="nowhere: no such folder"):
        data.load_mnist(tmp_path / "nowhere")
    _write_split(tmp_path / "m", labels_train=np.zeros(5, np.uint8))
    with pytest.raises(data.DataError, match="holds 7 images but .*train-labels-idx1-ubyte.gz holds 5 labels"):
        data.load_mnist(tmp_path / "m")
    (tmp_path / "m" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(data.DataError, match="missing t10k-labels-idx1-ubyte"):
        data.load_mnist(tmp_path / "m")


def test_load_mnist_embedded_from_written_csv(tmp_path):
    rng = np.random.default_rng(2)
    rows = np.concatenate([rng.integers(0, 256, (20, 784)), rng.integers(0, 10, (20, 1))], axis=1)
    path = tmp_path / "mnist_5k.csv.gz"
    with gzip.open(path, "wt") as handle:
        np.savetxt(handle, rows, fmt="%d", delimiter=",")
    ds = data.load_mnist_embedded(n_test=5, path=path, shuffle_seed=None)
    np.testing.assert_array_equal(ds.x_train, rows[:15, :784])
    np.testing.assert_array_equal(ds.y_test, rows[15:, 784])
    shuffled = data.load_mnist_embedded(n_test=5, path=path)
    order = np.random.default_rng(0).permutation(20)
    np.testing.assert_array_equal(shuffled.x_test, rows[order[15:], :784])
    with gzip.open(path, "wt") as handle:
        np.savetxt(handle, rows[:, :700], fmt="%d", delimiter=",")
    with pytest.raises(data.DataError, match=r"mnist_5k.csv.gz: expected rows of 784 pixels plus a label"):
        data.load_mnist_embedded(path=path)


def test_standardize_uses_training_statistics():
    train = np.array([[0, 255], [255, 0]], dtype=np.uint8)
    test = np.array([[255, 255]], dtype=np.uint8)
    x_train, x_test = data.standardize(train, test)
    assert x_train.mean() == pytest.approx(0.0) and x_train.std() == pytest.approx(1.0)
    np.testing.assert_allclose(x_test, [[1.0, 1.0]])


def test_installed_sources_if_present():
    """The real files, when this machine has them (skipped otherwise)."""
    if data.FASHION_MNIST_DEBIAN.is_dir():
        ds = data.load_fashion_mnist()
        assert (len(ds.x_train), len(ds.x_test)) == (60000, 10000)
        assert set(np.unique(ds.y_train)) == set(range(10))
    try:
        ds = data.load_mnist_embedded()
    except data.DataError as error:
        pytest.skip(str(error))
    assert len(ds.x_train) + len(ds.x_test) == 5000 and ds.x_train.shape[1] == 784
    assert set(np.unique(ds.y_test)) == set(range(10))  # sorted file: the split must mix labels
