"""HDF5 results: one ``.h5`` file per run, written atomically.

A result is a nested mapping (``dict`` of ``dict`` ...) whose leaves are NumPy arrays,
Brian quantities, numbers or strings. Groups become HDF5 groups, leaves become datasets.
A quantity is stored as its value in SI base units with two attributes: ``dimensions``
(the seven SI exponents m, kg, s, A, K, mol, cd) and ``unit`` (a readable name). Loading
restores the same quantity, bit for bit.

File-level metadata (seed, target, versions, ...) goes into the root group's attributes.

Writes go to a hidden temporary file in the destination folder, which is flushed,
fsync'ed and then renamed over the destination (``os.replace`` is atomic on POSIX). An
interrupted or crashing run therefore leaves either the previous file or none, never a
half-written one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

import h5py
import numpy as np
from brian2.units.fundamentalunits import (
    DIMENSIONLESS,
    Quantity,
    get_or_create_dimension,
    get_unit,
)

__all__ = ["write_results", "read_results", "read_attributes", "provenance", "machine", "write_json",
           "atomic_path", "usual_permissions"]

_DIMENSIONS_ATTR = "dimensions"
_UNIT_ATTR = "unit"


def _versions() -> dict:
    """name -> version of dendritic, Brian 2, NumPy, h5py and Python."""
    import sys

    import brian2

    import dendritic

    return {"dendritic": dendritic.__version__, "brian2": brian2.__version__, "numpy": np.__version__,
            "h5py": h5py.__version__, "python": sys.version.split()[0]}


def provenance(**run) -> dict:
    """Root attributes every results file carries: the run's own keys (``experiment``,
    ``seed``, ``target`` ...) plus package versions, command line and creation time."""
    import datetime
    import sys

    return {
        **run,
        **{f"{name}_version": version for name, version in _versions().items()},
        "command": " ".join(sys.argv),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def usual_permissions(path) -> None:
    """Give a file the mode a plain ``open(path, "w")`` would (0666 minus the umask):
    ``tempfile.mkstemp`` creates 0600 files, which the atomic rename would keep."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


@contextmanager
def atomic_path(path):
    """Yield a temporary path in ``path``'s folder to write to; when the block ends without
    an exception the file is fsync'ed, given :func:`usual_permissions` and renamed over
    ``path`` (atomic on POSIX); otherwise it is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp_name
        with open(tmp_name, "rb") as handle:
            os.fsync(handle.fileno())
        usual_permissions(tmp_name)
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)


def write_results(path, results: Mapping, attrs: Mapping | None = None) -> Path:
    """Write ``results`` (a nested mapping) to ``path`` atomically; return the path.

    ``attrs`` become attributes of the root group (scalars or strings; ``None`` is
    stored as the string ``"None"``).
    """
    path = Path(path)
    with atomic_path(path) as tmp_name:
        with h5py.File(tmp_name, "w") as f:
            for key, value in (attrs or {}).items():
                f.attrs[key] = _attribute_value(value)
            _write_group(f, results, where="/")
    return path


def write_json(path, payload, **dumps_options) -> Path:
    """Write ``payload`` as JSON to ``path`` atomically; return the path. It is encoded
    before any file is touched, so a value JSON cannot hold leaves the old file as it was.
    ``dumps_options`` go to :func:`json.dumps` (default ``indent=2``)."""
    text = json.dumps(payload, **({"indent": 2} | dumps_options))
    path = Path(path)
    with atomic_path(path) as tmp_name:
        with open(tmp_name, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    return path


def machine() -> dict:
    """The computer and software a benchmark ran on: platform, processor, logical
    cores, 1/5/15-minute load average and the package versions (:func:`_versions`)."""
    import platform

    return {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
            "load_average": list(os.getloadavg()), **_versions()}


def read_results(path) -> dict:
    """Read a file written by :func:`write_results` back into a nested ``dict``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such results file")
    with h5py.File(path, "r") as f:
        return _read_group(f)


def read_attributes(path) -> dict:
    """The root attributes (run metadata) of a results file."""
    with h5py.File(Path(path), "r") as f:
        return {key: _from_attribute(value) for key, value in f.attrs.items()}


def _write_group(group: h5py.Group, mapping: Mapping, where: str) -> None:
    for key, value in mapping.items():
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(f"results key {key!r} at {where}: expected a non-empty string without '/'")
        if isinstance(value, Mapping):
            _write_group(group.create_group(key), value, where=f"{where}{key}/")
        else:
            _write_leaf(group, key, value, where=f"{where}{key}")


def _write_leaf(group: h5py.Group, key: str, value, where: str) -> None:
    if isinstance(value, str):
        group.create_dataset(key, data=value, dtype=h5py.string_dtype())
        return
    if value is None:
        raise ValueError(f"results entry {where} is None: store a value or leave the key out")
    if isinstance(value, Quantity):
        dimensions = value.dim
        data = np.asarray(value)  # SI base units
    else:
        dimensions = None
        data = np.asarray(value)
    if data.dtype.kind == "U":  # an array of text (e.g. pattern names)
        group.create_dataset(key, data=data.astype(object), dtype=h5py.string_dtype())
        return
    if data.dtype == object:
        raise ValueError(f"results entry {where}: cannot store an object array ({type(value).__name__})")
    kwargs = {"compression": "gzip", "compression_opts": 4} if data.size > 4096 else {}
    dataset = group.create_dataset(key, data=data, **kwargs)
    if dimensions is not None:
        dataset.attrs[_DIMENSIONS_ATTR] = np.array([float(d) for d in dimensions._dims])
        dataset.attrs[_UNIT_ATTR] = str(get_unit(dimensions)) if dimensions is not DIMENSIONLESS else "1"


def _read_group(group: h5py.Group) -> dict:
    out = {}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            out[key] = _read_group(item)
        else:
            out[key] = _read_leaf(item)
    return out


def _read_leaf(dataset: h5py.Dataset):
    if h5py.check_string_dtype(dataset.dtype) is not None:
        text = dataset.asstr()[()]
        return np.asarray(text, dtype=str) if isinstance(text, np.ndarray) else text
    data = dataset[()]
    if _DIMENSIONS_ATTR in dataset.attrs:
        dimensions = get_or_create_dimension(tuple(dataset.attrs[_DIMENSIONS_ATTR]))
        return Quantity(data, dim=dimensions)
    return data


def _attribute_value(value):
    if value is None:
        return "None"
    if isinstance(value, Quantity):
        return str(value)
    if isinstance(value, (str, bool, int, float, np.integer, np.floating)):
        return value
    return str(value)


def _from_attribute(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value
