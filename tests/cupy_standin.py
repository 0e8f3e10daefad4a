"""A strict CuPy stand-in, for the tests only: minigan's GPU code paths, run on the CPU.

minigan's ``--device gpu`` path runs on CuPy, and most of the bugs that sink a NumPy->CuPy
port are not about the GPU at all: a NumPy array slipping into a device expression, an
``np.`` function called on a device array, a ``float()`` forcing a sync in the inner loop,
a checkpoint saved with device arrays in it. This module catches them on any machine. It
is a ``cupy``-like namespace whose ``ndarray`` wraps a NumPy array in a *distinct type*
that NumPy cannot see through, and it enforces CuPy's rules strictly:

* ``numpy.asarray(x)`` / ``numpy.array(x)`` / ``x.__array__()`` raise TypeError;
* an operation that mixes a device array with a NumPy array (or a list) raises, and so
  does ``x[...] = numpy_array`` and a stand-in function given a NumPy array;
* NumPy's ufuncs and array functions reach it through ``__array_ufunc__`` /
  ``__array_function__`` and run only if the stand-in provides the CuPy twin;
* the explicit transfers (``asarray`` / ``array`` of host data, ``asnumpy``, ``x.get()``)
  work and are counted, and so are the sync points (``float``, ``int``, ``bool``,
  ``complex``, ``x.item()``, ``x.tolist()``, printing, ``synchronize()``);
* anything it does not provide fails loudly (AttributeError or TypeError naming it):
  nothing falls back to NumPy silently. ``cupy.random`` is deliberately absent: minigan
  draws every random number on the host (minigan/backend.py).

Each rule's test, with the CuPy documentation or issue it mirrors: tests/test_standin.py.
Where the stand-in is stricter than CuPy, the docstring says so.

Selecting it. The backend honours the test-only environment variable MINIGAN_TEST_CUPY:
with ``MINIGAN_TEST_CUPY=cupy_standin`` (and tests/ on the import path) ``--device gpu``
imports this module instead of ``cupy``. Only the test suite sets it.

Counting. ``counts`` holds the totals ({"h2d", "d2h", "sync"}) and ``events`` one
(kind, what, where) entry per counted event, ``where`` naming the first three callers
outside this file and NumPy, innermost first ("minigan/backend.py:113 <
minigan/backend.py:143 < lessons/02_dcgan.py:102"). ``mark()`` / ``since(mark)`` measure a
stretch of code, e.g. one training step (tests/standin_run.py). Real CuPy has no such
counters; its nearest tool was ``cupyx.allow_synchronize(False)`` (deprecated in v10).
"""
import os
import sys

import numpy as np

__version__ = "0.0-standin"

# ----------------------------------------------------------------------------- counters

counts = {"h2d": 0, "d2h": 0, "sync": 0}
events = []                        # [(kind, what, where)], since the last reset()
_HERE = os.path.abspath(__file__)
_NUMPY = os.path.dirname(np.__file__)


def reset():
    """Zero the counters and forget the events."""
    for k in counts:
        counts[k] = 0
    events.clear()


def mark():
    """A point to measure from: since(mark()) is what happened after it."""
    return dict(counts), len(events)


def since(point):
    """{"h2d": n, "d2h": n, "sync": n, "events": [(kind, what, where), ...]} after ``point``."""
    before, n = point
    out = {k: counts[k] - before[k] for k in counts}
    out["events"] = [list(e) for e in events[n:]]
    return out


def _where(depth=3):
    """'dir/file.py:line < dir/caller.py:line < ...': the first `depth` callers outside
    this file and outside NumPy, innermost first."""
    f, where = sys._getframe(2), []
    while f is not None and len(where) < depth:
        name = f.f_code.co_filename
        if name != _HERE and not name.startswith(_NUMPY):
            where.append(f"{'/'.join(name.replace(os.sep, '/').split('/')[-2:])}:{f.f_lineno}")
        f = f.f_back
    return " < ".join(where) or "?"


def _count(kind, what):
    counts[kind] += 1
    events.append((kind, what, _where()))


# ----------------------------------------------------------------------------- checks

_SCALARS = (bool, int, float, complex, np.generic)        # what CuPy takes as a scalar


def _unsupported(x, where):
    # CuPy's kernels reject everything that is neither a cupy.ndarray nor a scalar with
    # "TypeError: Unsupported type <class ...>" (cupy/_core/_kernel.pyx, _preprocess_args)
    hint = (" (a NumPy array on the device path: move it with cupy.asarray, explicitly)"
            if isinstance(x, (np.ndarray, list, tuple)) else "")
    return TypeError(f"Unsupported type {type(x)} in {where}{hint}")


def _operand(x, where):
    """An operand of an elementwise operation: a device array or a scalar."""
    if type(x) is ndarray:
        return x._a
    if isinstance(x, _SCALARS):
        return x
    raise _unsupported(x, where)


def _dev(x, where):
    """An argument that must be a device array (no scalars, no NumPy arrays, no lists)."""
    if type(x) is ndarray:
        return x._a
    raise _unsupported(x, where)


def _out(out, where):
    if out is None:
        return None
    if isinstance(out, tuple) and len(out) == 1:
        out = out[0]
    return _dev(out, where + " out=")


def _wrap(a):
    """A NumPy result as a device array (views stay views); a NumPy scalar becomes a 0-d
    array, as CuPy's reductions and element reads return 0-d arrays, not scalars."""
    if isinstance(a, np.ndarray):
        out = object.__new__(ndarray)
        out._a = a
        return out
    if isinstance(a, np.generic):
        return _wrap(np.asarray(a))
    if isinstance(a, tuple):
        return tuple(_wrap(x) for x in a)
    return a


def _index(key):
    """An index: device arrays pass to NumPy as the arrays they hold. A list or a NumPy
    array works in CuPy too (``a[[1, 3]]``, cupy.ndarray.__getitem__'s docstring), copied
    to the device first: here it works and counts as a host->device transfer."""
    if isinstance(key, tuple):
        return tuple(_index(k) for k in key)
    if type(key) is ndarray:
        return key._a
    if key is None or key is Ellipsis or isinstance(key, (int, slice, np.integer)):
        return key
    if isinstance(key, (list, np.ndarray)):
        _count("h2d", "index array")
        return np.asarray(key)
    raise IndexError(f"cupy stand-in: unsupported index {type(key)}")


# ----------------------------------------------------------------------------- ufuncs


class ufunc:
    """A CuPy ufunc: operands are device arrays or scalars, ``out`` a device array.
    Only ``__call__``: ``add.at``, ``reduce`` and the other methods are not provided."""

    def __init__(self, np_ufunc, name=None):
        self._f = np_ufunc
        self.__name__ = name or np_ufunc.__name__
        self.nin, self.nout = np_ufunc.nin, np_ufunc.nout

    def __call__(self, *args, out=None, dtype=None, casting="same_kind"):
        return _apply(self._f, args, out, dtype, casting)

    def __getattr__(self, name):
        raise AttributeError(f"cupy stand-in: {self.__name__}.{name} is not provided")

    def __repr__(self):
        return f"<ufunc '{self.__name__}' (cupy stand-in)>"


def _apply(f, args, out=None, dtype=None, casting="same_kind"):
    where = f"cupy.{f.__name__}"
    ops = [_operand(x, where) for x in args]
    kwargs = {"casting": casting}
    if dtype is not None:
        kwargs["dtype"] = dtype
    if out is not None:
        target = _out(out, where)
        f(*ops, out=target, **kwargs)
        return out[0] if isinstance(out, tuple) else out
    return _wrap(f(*ops, **kwargs))


# The ufuncs the stand-in provides; CuPy has every one of them under the same name.
_UFUNCS = [
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "negative",
    "positive", "power", "remainder", "mod", "absolute", "sign", "exp", "expm1", "log",
    "log1p", "log2", "log10", "sqrt", "square", "reciprocal", "tanh", "sinh", "cosh",
    "sin", "cos", "tan", "arctan", "maximum", "minimum", "fmax", "fmin", "greater",
    "greater_equal", "less", "less_equal", "equal", "not_equal", "logical_and",
    "logical_or", "logical_not", "logical_xor", "isfinite", "isinf", "isnan", "floor",
    "ceil", "rint", "trunc", "bitwise_and", "bitwise_or", "bitwise_xor", "invert", "matmul",
]
for _name in _UFUNCS:
    globals()[_name] = ufunc(getattr(np, _name), _name)
abs = ufunc(np.absolute, "absolute")          # noqa: A001  (cupy.abs is cupy.absolute)
del _name


# ----------------------------------------------------------------------------- ndarray


class _Flags:
    def __init__(self, a):
        self.c_contiguous = a.flags.c_contiguous
        self.f_contiguous = a.flags.f_contiguous
        self.owndata = a.flags.owndata


class ndarray:
    """A device array. It holds a NumPy array, but is a distinct type that NumPy cannot
    convert (``__array__`` raises), and every operation checks its operands as CuPy does.
    Build one with asarray/zeros/...; ``ndarray(shape, dtype)`` allocates as CuPy's does."""

    __slots__ = ("_a",)
    __array_priority__ = 100                 # as cupy.ndarray
    __hash__ = None

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is not None or strides is not None:
            raise NotImplementedError("cupy stand-in: ndarray(memptr=, strides=) is not provided")
        self._a = np.empty(shape, dtype=dtype, order=order)

    # --- attributes
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    flags = property(lambda self: _Flags(self._a))
    T = property(lambda self: _wrap(self._a.T))

    # --- NumPy may not look inside
    def __array__(self, dtype=None, copy=None):
        # cupy/_core/core.pyx, ndarray.__array__ (CuPy issue 589, pull request 3421)
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, np_ufunc, method, *inputs, **kwargs):
        # CuPy's ndarray.__array_ufunc__: __call__ of a ufunc CuPy has, else NotImplemented
        # (NumPy then raises TypeError); a NumPy array among the operands raises TypeError
        if method != "__call__" or np_ufunc.__name__ not in _UFUNCS:
            return NotImplemented
        unknown = set(kwargs) - {"out", "dtype", "casting"}
        if unknown:
            raise TypeError(f"cupy stand-in: {np_ufunc.__name__}() does not take {sorted(unknown)}")
        return _apply(np_ufunc, inputs, **kwargs)

    def __array_function__(self, func, types, args, kwargs):
        # CuPy's ndarray.__array_function__: the function of the same name in the same
        # submodule of cupy, else NotImplemented (NumPy then raises TypeError)
        if func.__module__ != "numpy" or func.__name__ not in _FUNCTIONS:
            return NotImplemented
        if not all(issubclass(t, (ndarray, np.ndarray)) for t in types):
            return NotImplemented
        return _FUNCTIONS[func.__name__](*args, **kwargs)

    # --- explicit transfers and sync points (counted)
    def get(self, stream=None, order="C", out=None, blocking=True):
        """A NumPy copy on the host: a device->host transfer."""
        _count("d2h", "ndarray.get()")
        if out is not None:
            out[...] = self._a
            return out
        return np.array(self._a, order=order, copy=True)

    def item(self):
        _count("sync", "ndarray.item()")
        return self._a.item()

    def tolist(self):
        _count("sync", "ndarray.tolist()")
        return self._a.tolist()

    def __float__(self):
        _count("sync", "float()")
        return float(self._a)

    def __int__(self):
        _count("sync", "int()")
        return int(self._a)

    def __complex__(self):
        _count("sync", "complex()")
        return complex(self._a)

    def __bool__(self):
        _count("sync", "bool()")
        return bool(self._a)

    def __repr__(self):
        _count("sync", "repr()")
        return repr(self._a)

    def __str__(self):
        _count("sync", "str()")
        return str(self._a)

    def __format__(self, spec):
        _count("sync", "format()")
        return format(self._a, spec)

    # --- container
    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._a)))

    def __getitem__(self, key):
        key = _index(key)
        out = self._a[key]
        if not isinstance(out, np.ndarray):      # one element: CuPy returns a 0-d view
            keys = key if isinstance(key, tuple) else (key,)
            if not any(k is Ellipsis for k in keys):
                out = self._a[keys + (Ellipsis,)]
        return _wrap(out)

    def __setitem__(self, key, value):
        if type(value) is ndarray:
            value = value._a
        elif isinstance(value, np.ndarray) and value.ndim > 0:
            # CuPy issue 593: "non-scalar numpy.ndarray cannot be used for fill"
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill "
                             "(cupy stand-in: move it with cupy.asarray, explicitly)")
        elif not isinstance(value, _SCALARS + (np.ndarray,)):
            raise _unsupported(value, "ndarray.__setitem__")   # CuPy issue 5070 (a list)
        self._a[_index(key)] = value

    def __copy__(self):
        return self.copy()

    def __deepcopy__(self, memo):
        return self.copy()

    # --- shape and type
    def reshape(self, *shape, order="C"):
        return _wrap(self._a.reshape(*shape, order=order))

    def transpose(self, *axes):
        return _wrap(self._a.transpose(*axes))

    def swapaxes(self, a, b):
        return _wrap(self._a.swapaxes(a, b))

    def ravel(self, order="C"):
        return _wrap(self._a.ravel(order))

    def flatten(self, order="C"):
        return _wrap(self._a.flatten(order))

    def squeeze(self, axis=None):
        return _wrap(self._a.squeeze(axis))

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        return _wrap(self._a.astype(dtype, order=order, copy=copy))

    def copy(self, order="C"):
        return _wrap(self._a.copy(order))

    def fill(self, value):
        self._a.fill(_operand(value, "ndarray.fill"))

    # --- reductions (a 0-d array, never a scalar)
    def sum(self, axis=None, dtype=None, out=None, keepdims=False):
        return _reduce(self._a.sum, out, axis=axis, dtype=dtype, keepdims=keepdims)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False):
        return _reduce(self._a.mean, out, axis=axis, dtype=dtype, keepdims=keepdims)

    def var(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return _reduce(self._a.var, out, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
        return _reduce(self._a.std, out, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)

    def max(self, axis=None, out=None, keepdims=False):
        return _reduce(self._a.max, out, axis=axis, keepdims=keepdims)

    def min(self, axis=None, out=None, keepdims=False):
        return _reduce(self._a.min, out, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, out=None, dtype=None, keepdims=False):
        return _reduce(self._a.argmax, out, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, out=None, dtype=None, keepdims=False):
        return _reduce(self._a.argmin, out, axis=axis, keepdims=keepdims)

    def any(self, axis=None, out=None, keepdims=False):
        return _reduce(self._a.any, out, axis=axis, keepdims=keepdims)

    def all(self, axis=None, out=None, keepdims=False):
        return _reduce(self._a.all, out, axis=axis, keepdims=keepdims)

    def clip(self, min=None, max=None, out=None):          # noqa: A002  (CuPy's names)
        return clip(self, min, max, out)

    def dot(self, b, out=None):
        return _wrap(np.dot(self._a, _dev(b, "ndarray.dot"), out=_out(out, "ndarray.dot")))

    # --- arithmetic: every operand checked (_apply); in place writes into self
    def __neg__(self):
        return _apply(np.negative, (self,))

    def __pos__(self):
        return _apply(np.positive, (self,))

    def __abs__(self):
        return _apply(np.absolute, (self,))

    def __invert__(self):
        return _apply(np.invert, (self,))


def _reduce(method, out, **kwargs):
    if out is not None:
        method(out=_out(out, "reduction"), **kwargs)
        return out
    return _wrap(method(**kwargs))


def _binary(np_ufunc):
    def op(self, other):
        return _apply(np_ufunc, (self, other))

    def rop(self, other):
        return _apply(np_ufunc, (other, self))

    def iop(self, other):
        return _apply(np_ufunc, (self, other), out=self)
    return op, rop, iop


for _op, _f in [("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                ("truediv", np.true_divide), ("floordiv", np.floor_divide),
                ("mod", np.remainder), ("pow", np.power), ("matmul", np.matmul),
                ("and", np.bitwise_and), ("or", np.bitwise_or), ("xor", np.bitwise_xor)]:
    _o, _r, _i = _binary(_f)
    setattr(ndarray, f"__{_op}__", _o)
    setattr(ndarray, f"__r{_op}__", _r)
    setattr(ndarray, f"__i{_op}__", _i)
for _op, _f in [("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal)]:
    setattr(ndarray, f"__{_op}__", _binary(_f)[0])
del _op, _f, _o, _r, _i


# ----------------------------------------------------------------------------- transfers


def asarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    """A device array of ``a``. Host data (a NumPy array, a list, a scalar) is copied to
    the device: a counted host->device transfer. A device array is returned as it is (or
    cast, or copied with copy=True, on the device)."""
    if type(a) is ndarray:
        return array(a, dtype, copy=bool(copy), order=order or "K")
    _count("h2d", "cupy.asarray")
    return _wrap(np.array(a, dtype=dtype, order=order or "K", copy=True))


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    """As asarray, but a device array is copied (on the device) unless copy=False."""
    if type(obj) is ndarray:
        return _wrap(np.array(obj._a, dtype=dtype, copy=copy or None, order=order, ndmin=ndmin))
    _count("h2d", "cupy.array")
    return _wrap(np.array(obj, dtype=dtype, copy=True, order=order, ndmin=ndmin))


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    """A NumPy array of ``a``: a counted device->host transfer for a device array."""
    if type(a) is ndarray:
        return a.get(stream, order, out)
    return np.asarray(a, order=order)


def get_array_module(*args):
    """This module if any argument is a device array, else numpy (CuPy's rule)."""
    return sys.modules[__name__] if any(type(a) is ndarray for a in args) else np


# ----------------------------------------------------------------------------- routines
# CuPy's signatures. Array arguments must be device arrays (a NumPy array raises,
# where CuPy raises or, for a few creation routines, would silently copy it).


def zeros(shape, dtype=float, order="C"):
    return _wrap(np.zeros(shape, dtype, order))


def ones(shape, dtype=float, order="C"):
    return _wrap(np.ones(shape, dtype, order))


def empty(shape, dtype=float, order="C"):
    return _wrap(np.empty(shape, dtype, order))


def full(shape, fill_value, dtype=None, order="C"):
    return _wrap(np.full(shape, _operand(fill_value, "cupy.full"), dtype, order))


def arange(start, stop=None, step=1, dtype=None):
    return _wrap(np.arange(start, stop, step, dtype=dtype))


def zeros_like(a, dtype=None, order="K", subok=None, shape=None):
    return _wrap(np.zeros_like(_dev(a, "cupy.zeros_like"), dtype, order, shape=shape))


def ones_like(a, dtype=None, order="K", subok=None, shape=None):
    return _wrap(np.ones_like(_dev(a, "cupy.ones_like"), dtype, order, shape=shape))


def empty_like(a, dtype=None, order="K", subok=None, shape=None):
    return _wrap(np.empty_like(_dev(a, "cupy.empty_like"), dtype, order, shape=shape))


def full_like(a, fill_value, dtype=None, order="K", subok=None, shape=None):
    return _wrap(np.full_like(_dev(a, "cupy.full_like"), _operand(fill_value, "cupy.full_like"),
                              dtype, order, shape=shape))


def ascontiguousarray(a, dtype=None):
    return _wrap(np.ascontiguousarray(_dev(a, "cupy.ascontiguousarray"), dtype=dtype))


def reshape(a, newshape, order="C"):
    return _wrap(np.reshape(_dev(a, "cupy.reshape"), newshape, order=order))


def transpose(a, axes=None):
    return _wrap(np.transpose(_dev(a, "cupy.transpose"), axes))


def broadcast_to(array, shape):
    return _wrap(np.broadcast_to(_dev(array, "cupy.broadcast_to"), shape))


def concatenate(tup, axis=0, out=None, *, dtype=None, casting="same_kind"):
    arrays = [_dev(a, "cupy.concatenate") for a in tup]
    return _wrap(np.concatenate(arrays, axis, out=_out(out, "cupy.concatenate"),
                                dtype=dtype, casting=casting))


def stack(tup, axis=0, out=None, *, dtype=None, casting="same_kind"):
    arrays = [_dev(a, "cupy.stack") for a in tup]
    return _wrap(np.stack(arrays, axis, out=_out(out, "cupy.stack"), dtype=dtype, casting=casting))


def tile(A, reps):
    return _wrap(np.tile(_dev(A, "cupy.tile"), reps))


def repeat(a, repeats, axis=None):
    return _wrap(np.repeat(_dev(a, "cupy.repeat"), repeats, axis))


def pad(array, pad_width, mode="constant", **kwargs):
    return _wrap(np.pad(_dev(array, "cupy.pad"), pad_width, mode, **kwargs))


def where(condition, x=None, y=None):
    if x is None and y is None:
        return _wrap(np.where(_dev(condition, "cupy.where")))
    return _wrap(np.where(_dev(condition, "cupy.where"), _operand(x, "cupy.where"),
                          _operand(y, "cupy.where")))


def clip(a, a_min, a_max, out=None):
    lo = None if a_min is None else _operand(a_min, "cupy.clip")
    hi = None if a_max is None else _operand(a_max, "cupy.clip")
    target = _out(out, "cupy.clip")
    result = np.clip(_dev(a, "cupy.clip"), lo, hi, out=target)
    return out if out is not None else _wrap(result)


def allclose(a, b, rtol=1.e-5, atol=1.e-8, equal_nan=False):
    """A 0-d bool device array, as CuPy's (reading it is a sync)."""
    return _wrap(np.array(np.allclose(_operand(a, "cupy.allclose"), _operand(b, "cupy.allclose"),
                                      rtol, atol, equal_nan)))


def sum(a, axis=None, dtype=None, out=None, keepdims=False):         # noqa: A001
    return _dev_array(a, "cupy.sum").sum(axis, dtype, out, keepdims)


def mean(a, axis=None, dtype=None, out=None, keepdims=False):
    return _dev_array(a, "cupy.mean").mean(axis, dtype, out, keepdims)


def amax(a, axis=None, out=None, keepdims=False):
    return _dev_array(a, "cupy.amax").max(axis, out, keepdims)


def amin(a, axis=None, out=None, keepdims=False):
    return _dev_array(a, "cupy.amin").min(axis, out, keepdims)


max = amax                                                            # noqa: A001
min = amin                                                            # noqa: A001


def argmax(a, axis=None, dtype=None, out=None, keepdims=False):
    return _dev_array(a, "cupy.argmax").argmax(axis, out, dtype, keepdims)


def dot(a, b, out=None):
    return _dev_array(a, "cupy.dot").dot(b, out)


def _dev_array(a, where):
    _dev(a, where)
    return a


# the functions NumPy's __array_function__ protocol may hand to the stand-in
_FUNCTIONS = {f.__name__: f for f in [
    zeros_like, ones_like, empty_like, full_like, ascontiguousarray, reshape, transpose,
    broadcast_to, concatenate, stack, tile, repeat, pad, where, clip, allclose, sum, mean,
    amax, amin, argmax, dot]}
_FUNCTIONS.update(max=amax, min=amin)


class _Namespace:
    """A sub-namespace of cupy (cupy.lib, cupy.cuda, ...); a missing name fails loudly."""

    def __init__(self, name, **members):
        self._name = name
        self.__dict__.update(members)

    def __getattr__(self, name):
        raise AttributeError(f"cupy stand-in: {self._name}.{name} is not provided "
                             "(add it to tests/cupy_standin.py, with CuPy's signature, "
                             "if CuPy has it)")


def _as_strided(x, shape=None, strides=None):
    """cupy.lib.stride_tricks.as_strided(x, shape=None, strides=None): a view (bytes strides)."""
    return _wrap(np.lib.stride_tricks.as_strided(_dev(x, "cupy.lib.stride_tricks.as_strided"),
                                                 shape, strides))


lib = _Namespace("cupy.lib", stride_tricks=_Namespace("cupy.lib.stride_tricks",
                                                      as_strided=_as_strided))


# ----------------------------------------------------------------------------- cuda


def _device_count():
    """1, or CUPY_STANDIN_DEVICES (a test sets 0 to play a machine without a GPU)."""
    return int(os.environ.get("CUPY_STANDIN_DEVICES", "1"))


def _synchronize():
    _count("sync", "synchronize()")


class Device:
    """cupy.cuda.Device(device=None): the current device (the stand-in has one)."""

    def __init__(self, device=None):
        self.id = 0 if device is None else int(device)

    def synchronize(self):
        _synchronize()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class Stream:
    """cupy.cuda.Stream: only the null stream and its synchronize()."""

    def synchronize(self):
        _synchronize()


Stream.null = Stream()


cuda = _Namespace(
    "cupy.cuda",
    runtime=_Namespace("cupy.cuda.runtime", getDeviceCount=_device_count,
                       deviceSynchronize=_synchronize),
    Device=Device, Stream=Stream, get_current_stream=lambda device=None: Stream.null)


class _MemoryPool:
    """cupy.get_default_memory_pool(): the stand-in allocates with NumPy, so its pool is
    always empty (0 bytes)."""

    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


_POOL = _MemoryPool()


def get_default_memory_pool():
    return _POOL


# ----------------------------------------------------------------------------- types

float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64 = np.int8, np.int16, np.int32, np.int64
uint8, uint32, uint64 = np.uint8, np.uint32, np.uint64
bool_, intp, dtype = np.bool_, np.intp, np.dtype
newaxis, pi, e, inf, nan = None, np.pi, np.e, np.inf, np.nan


def __getattr__(name):
    """Anything else: a loud error, never a silent fallback to NumPy."""
    if name.startswith("__"):
        raise AttributeError(name)
    why = (" (minigan draws every random number on the host: backend.randn/rand/randint)"
           if name == "random" else "")
    raise AttributeError(f"cupy stand-in: cupy.{name} is not provided{why}; add it to "
                         "tests/cupy_standin.py, with CuPy's signature, if CuPy has it")
