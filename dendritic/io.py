"""HDF5 results: one ``.h5`` file per run, written atomically.

A result is a nested mapping (``dict`` of ``dict`` ...) whose leaves are NumPy arrays,
Brian quantities, numbers or strings. Groups become HDF5 groups, leaves become datasets.
A quantity is stored as its value in SI base units with two attributes: ``dimensions``
(the seven SI exponents m, kg, s, A, K, mol, cd) and ``unit`` (a readable name). Loading
restores the same quantity, bit for bit.

File-level metadata (seed, target, versions, ...) goes into the root group's attributes.

Writes go to a hidden temporary file in the destination folder
(``.<name>.<pid>.<random>.tmp``), which is flushed, fsync'ed and then renamed over the
destination (``os.replace`` is atomic on POSIX). An interrupted or crashing run therefore
leaves either the previous file or none, never a half-written one; the temporary files
of a process that was killed (``kill -9``) are removed by the next write into the folder
(:func:`remove_stale_temporaries`). Every file carries the root attribute
``dendritic_format``, by which :func:`read_results` tells its files from foreign HDF5.
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

from dendritic.errors import DendriticError, ResultsFileError
from brian2.units.fundamentalunits import (
    DIMENSIONLESS,
    Quantity,
    get_or_create_dimension,
    get_unit,
)

__all__ = ["write_results", "read_results", "read_attributes", "provenance", "machine", "write_json",
           "atomic_path", "usual_permissions", "check_writable", "remove_stale_temporaries", "FORMAT"]

#: value of the root attribute ``dendritic_format`` of every file written here
FORMAT = "dendritic results 1"

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


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def remove_stale_temporaries(folder) -> list[Path]:
    """Remove the temporary files (``.<name>.<pid>.<random>.tmp``) that processes which
    no longer run left in ``folder``; return them. Files of living processes stay."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for candidate in folder.glob(".*.tmp"):
        parts = candidate.name[:-len(".tmp")].rsplit(".", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        if int(parts[1]) != os.getpid() and not _pid_alive(int(parts[1])):
            try:
                candidate.unlink()
                removed.append(candidate)
            except FileNotFoundError:  # removed by another process meanwhile
                pass
    return removed


def check_writable(path) -> Path:
    """Raise :class:`DendriticError` naming ``path`` unless a file can be written there
    (its folder made if needed): checked before a run, not found after it."""
    path = Path(path)
    if path.is_dir():
        raise DendriticError(f"{path}: is a folder; expected the path of a results file (e.g. {path / 'run.h5'})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f"{_temporary_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        os.remove(probe)
    except OSError as error:
        raise DendriticError(f"{path}: cannot write there ({error.strerror or error}); choose another --output") from None
    return path


@contextmanager
def atomic_path(path):
    """Yield a temporary path in ``path``'s folder to write to; when the block ends without
    an exception the file is fsync'ed, given :func:`usual_permissions` and renamed over
    ``path`` (atomic on POSIX); otherwise it is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f"{_temporary_prefix(path)}{os.getpid()}.", suffix=".tmp", dir=path.parent)
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
            f.attrs["dendritic_format"] = FORMAT
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


def _open(path) -> h5py.File:
    path = Path(path)
    if not path.exists():
        raise ResultsFileError(f"{path}: no such results file")
    if path.is_dir():
        raise ResultsFileError(f"{path}: is a folder; expected an HDF5 results file")
    if not h5py.is_hdf5(path):
        raise ResultsFileError(f"{path}: not an HDF5 file (expected a results file written by dendritic)")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise ResultsFileError(f"{path}: a damaged or truncated HDF5 file ({error})") from None


def _readable(path, read, own: bool = False):
    with _open(path) as f:
        if own and "dendritic_format" not in f.attrs and "dendritic_version" not in f.attrs:
            raise ResultsFileError(f"{path}: an HDF5 file not written by dendritic (no 'dendritic_format' "
                                   "attribute)")
        try:
            return read(f)
        except (OSError, KeyError, RuntimeError) as error:
            raise ResultsFileError(f"{path}: a damaged or truncated HDF5 file ({error})") from None


def read_results(path, own: bool = False) -> dict:
    """Read a file written by :func:`write_results` back into a nested ``dict``; a
    missing, damaged or truncated file raises :class:`ResultsFileError`, and so does,
    with ``own``, an HDF5 file that dendritic did not write (files written before
    ``dendritic_format`` existed are recognised by their ``dendritic_version``)."""
    return _readable(path, _read_group, own)


def read_attributes(path, own: bool = False) -> dict:
    """The root attributes (run metadata) of a results file (errors as :func:`read_results`)."""
    return _readable(path, lambda f: {key: _from_attribute(value) for key, value in f.attrs.items()}, own)


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
