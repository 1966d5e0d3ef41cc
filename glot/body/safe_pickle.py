"""Reading the official SMPL/SMPL-H/SMPL-X ``.pkl`` files without running code from them.

A pickle is a small program: every ``GLOBAL`` it names is imported and may be called. The
official body-model files only need numpy array reconstruction, numpy dtypes and scalars,
scipy sparse matrices (``J_regressor``) and chumpy objects (``shapedirs``, ...). This
unpickler resolves exactly those names, and to inert stand-ins wherever possible:

* numpy's own ``_reconstruct`` / ``scalar`` / ``_frombuffer`` / ``ndarray`` / ``dtype``
  (they only build arrays from bytes and a dtype);
* scipy sparse matrices -> :class:`SparseStub` (keeps the stored arrays; densified here with
  numpy, no scipy code runs);
* any ``chumpy`` class -> :class:`ChumpyStub` (keeps the stored state; only a plain ``Ch``
  holding an array ``x`` turns into that array);
* the three helpers Python 2 pickles of these objects use (``copy_reg._reconstructor``,
  ``__builtin__.object``, ``__builtin__.set``, ``_codecs.encode``) -> local functions that
  accept only what those pickles hold.

Nothing from ``builtins``, ``os``, ``subprocess``, ``functools``, ``operator`` ... is ever
returned, and dotted names (protocol 4 attribute chains) are refused. A refused name raises
:class:`glot.errors.UnsafeFileError` naming it.
"""
from __future__ import annotations

import _compat_pickle
import os
import pickle
from typing import Any, BinaryIO

import numpy as np

from ..errors import UnsafeFileError

__all__ = ["SafeBodyUnpickler", "load_body_pickle", "ChumpyStub", "SparseStub", "allowed_globals"]

MAX_DENSE_ELEMENTS = 200_000_000  # a sparse matrix larger than this when dense is not a body model


class _StateStub:
    """A stand-in object that only keeps the state the pickle gives it (nothing runs)."""

    state: Any = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state


class ChumpyStub(_StateStub):
    """Stands in for any chumpy object (chumpy itself does not import on current numpy)."""

    kind = "Ch"  # the chumpy class name (subclasses made by the unpickler set it)

    def value(self) -> np.ndarray:
        """The array of a plain ``chumpy.Ch`` (its ``x``); anything else is not an array."""
        st = self.state
        if self.kind == "Ch" and isinstance(st, dict) and isinstance(st.get("x"), np.ndarray):
            return st["x"]
        raise ValueError(f"a chumpy {self.kind} expression, not a stored array (convert the file to .npz)")


class SparseStub(_StateStub):
    """Stands in for a scipy sparse matrix; :meth:`toarray` densifies the stored arrays."""

    fmt = "csc"  # "csc", "csr" or "coo" (one subclass each)

    def toarray(self) -> np.ndarray:
        st = self.state if isinstance(self.state, dict) else {}
        shape = tuple(int(v) for v in st.get("_shape", st.get("shape", ())))
        data = np.asarray(st.get("data"))
        if len(shape) != 2 or min(shape) < 0 or shape[0] * shape[1] > MAX_DENSE_ELEMENTS:
            raise ValueError(f"sparse {self.fmt} matrix with an unusable shape {shape}")
        if data.dtype == object:
            raise ValueError("sparse matrix with non-numeric data")
        out = np.zeros(shape, dtype=data.dtype)
        if self.fmt in ("csc", "csr"):
            indices, indptr = np.asarray(st.get("indices")), np.asarray(st.get("indptr"))
            outer = shape[1] if self.fmt == "csc" else shape[0]
            if len(indptr) != outer + 1 or len(indices) != len(data) or indptr[-1] != len(data):
                raise ValueError(f"inconsistent sparse {self.fmt} matrix")
            major = np.repeat(np.arange(outer), np.diff(indptr))
            rows, cols = (indices, major) if self.fmt == "csc" else (major, indices)
        else:  # coo: scipy >= 1.13 stores ``coords``, older versions ``row``/``col``
            rows, cols = st["coords"] if "coords" in st else (st.get("row"), st.get("col"))
            rows, cols = np.asarray(rows), np.asarray(cols)
        if len(rows) and (rows.min() < 0 or cols.min() < 0 or rows.max() >= shape[0] or cols.max() >= shape[1]):
            raise ValueError(f"sparse {self.fmt} matrix indices out of range")
        np.add.at(out, (rows.astype(np.intp), cols.astype(np.intp)), data)
        return out


class _ObjectBase:
    """What ``__builtin__.object`` resolves to: usable only as ``_reconstructor``'s base."""

    __slots__ = ()


_OBJECT = _ObjectBase()


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """``copy_reg._reconstructor`` restricted to the stand-in classes on ``object``."""
    if base is not _OBJECT or not (isinstance(cls, type) and issubclass(cls, (ChumpyStub, SparseStub))):
        raise UnsafeFileError(f"refused: copy_reg._reconstructor called with {cls!r}, {base!r}")
    return cls.__new__(cls)


def _encode(text: Any, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as Python 3 pickles of bytes use it (``latin1`` text only)."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafeFileError("refused: _codecs.encode used for something other than latin1 bytes")
    return text.encode("latin1")


def _set(items: Any = ()) -> set:
    """``__builtin__.set`` as chumpy's pickled state uses it (a list of plain items)."""
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, (str, int, float)) for v in items):
        raise UnsafeFileError("refused: set() of something other than plain values")
    return set(items)


_SPARSE = {fmt: type(f"{fmt}_matrix", (SparseStub,), {"fmt": fmt}) for fmt in ("csc", "csr", "coo")}


def _numpy_names() -> dict[tuple[str, str], Any]:
    # the installed numpy's own functions, whichever module spelling the file used
    reconstruct = np.zeros(0).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    names: dict[tuple[str, str], Any] = {}
    for core in ("numpy.core", "numpy._core"):
        names[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        names[(f"{core}.multiarray", "scalar")] = scalar
        names[(f"{core}.numeric", "_frombuffer")] = frombuffer
    names[("numpy", "ndarray")] = np.ndarray
    names[("numpy", "dtype")] = np.dtype
    return names


def _sparse_names() -> dict[tuple[str, str], Any]:
    names: dict[tuple[str, str], Any] = {}
    for fmt, cls in _SPARSE.items():
        for module in (f"scipy.sparse.{fmt}", f"scipy.sparse._{fmt}", "scipy.sparse"):
            names[(module, f"{fmt}_matrix")] = cls
            names[(module, f"{fmt}_array")] = cls
    return names


def allowed_globals() -> dict[tuple[str, str], Any]:
    """Every ``(module, name)`` an SMPL file may refer to, and what it resolves to."""
    names = {**_numpy_names(), **_sparse_names()}
    for mod in ("copy_reg", "copyreg"):
        names[(mod, "_reconstructor")] = _reconstructor
    for mod in ("__builtin__", "builtins"):
        names[(mod, "object")] = _OBJECT
        names[(mod, "set")] = _set
    names[("_codecs", "encode")] = _encode
    return names


_ALLOWED = allowed_globals()


def _chumpy_stub(name: str) -> type:
    return type(name, (ChumpyStub,), {"kind": name})


class SafeBodyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only :func:`allowed_globals` and chumpy stand-ins."""

    def __init__(self, file: BinaryIO, source: str = "SMPL file") -> None:
        super().__init__(file, encoding="latin1")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        if (module == "chumpy" or module.startswith("chumpy.")) and name.isidentifier():
            return _chumpy_stub(name)  # inert: no chumpy code exists or runs
        found = _ALLOWED.get((module, name))
        if found is None:
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)  # Python 2 names, said as today's
            raise UnsafeFileError(f"{self.source}: refused: it refers to {module}.{name}, which a body-model file "
                                  "never needs (loading it could run code); the file was not loaded")
        return found

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeFileError(f"{self.source}: refused: it uses persistent ids, which a body-model file never has")


def load_body_pickle(path: str | os.PathLike) -> Any:
    """Unpickle an SMPL-family ``.pkl`` with :class:`SafeBodyUnpickler` (latin1, Python 2 files)."""
    with open(path, "rb") as fh:
        return SafeBodyUnpickler(fh, source=str(path)).load()
