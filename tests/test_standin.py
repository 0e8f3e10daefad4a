"""The CuPy stand-in (tests/cupy_standin.py) enforces CuPy's rules: one test per rule, each
with the CuPy documentation section or issue it mirrors. The stand-in is what lets
tests/test_gpu.py run minigan's GPU path on a machine without a GPU, so these tests are
what makes "it passed on the stand-in" mean something."""
import sys

import numpy as np
import pytest

import cupy_standin as cp
from minigan import backend


@pytest.fixture(autouse=True)
def _fresh_counters():
    cp.reset()
    yield
    cp.reset()


def dev(*shape, dtype=np.float32):
    """A device array 0, 1, 2, ... (made without counting a transfer)."""
    return cp.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)


# ----------------------------------------------------------------------------- the type


def test_device_array_is_a_distinct_type():
    # CuPy docs, "Multi-Dimensional Array (ndarray)": cupy.ndarray and numpy.ndarray "are
    # not implicitly convertible to each other"; "NumPy/CuPy Generic Code Support":
    # cupy.get_array_module returns cupy for a device array, numpy otherwise
    x = dev(3)
    assert isinstance(x, cp.ndarray) and not isinstance(x, np.ndarray)
    assert cp.get_array_module(x) is cp
    assert cp.get_array_module(np.zeros(3), 1.0) is np


def test_numpy_cannot_convert_a_device_array():
    # CuPy's ndarray.__array__ (cupy/_core/core.pyx; CuPy issue 589, pull request 3421):
    # "TypeError: Implicit conversion to a NumPy array is not allowed. Please use `.get()`"
    x = dev(3)
    for convert in (np.asarray, np.array, lambda a: a.__array__(), lambda a: np.asarray(a, np.float64)):
        with pytest.raises(TypeError, match="Implicit conversion"):
            convert(x)


def test_checkpointing_a_device_array_raises():
    # where that rule bites a training script. With real CuPy, np.savez would dispatch to
    # cupy.savez (__array_function__), which copies to the host behind the caller's back;
    # the stand-in provides no savez, so a checkpoint that holds device arrays fails here.
    # minigan's checkpoints hold host copies (Layer.state_dict, Optimizer.state_dict).
    import io
    with pytest.raises(TypeError, match="no implementation found for 'numpy.savez'"):
        np.savez(io.BytesIO(), w=dev(3))


# ----------------------------------------------------------------------------- mixing


@pytest.mark.parametrize("op", ["device + host", "host + device", "device * host 0-d",
                                "host == device", "np.add(device, host)"])
def test_mixing_with_a_numpy_array_raises(op):
    # CuPy's ndarray.__array_ufunc__ docstring: "raise ... instead of silently converting a
    # numpy array"; its kernels reject it: "TypeError: Unsupported type <class
    # 'numpy.ndarray'>" (cupy/_core/_kernel.pyx, _preprocess_args)
    x, h = dev(3), np.ones(3, np.float32)
    run = {"device + host": lambda: x + h, "host + device": lambda: h + x,
           "device * host 0-d": lambda: x * np.array(2.0, np.float32),
           "host == device": lambda: h == x, "np.add(device, host)": lambda: np.add(x, h)}[op]
    with pytest.raises(TypeError, match="Unsupported type"):
        run()


def test_mixing_with_a_list_raises():
    # same place in CuPy: a list is not a scalar nor a cupy.ndarray -> "Unsupported type"
    with pytest.raises(TypeError, match="Unsupported type <class 'list'>"):
        dev(2) + [1.0, 2.0]


def test_scalars_mix_freely():
    # CuPy's kernels take Python and NumPy scalars as scalars (_preprocess_args converts
    # them); a Python float does not promote a float32 array (NumPy 2's rules, which CuPy
    # v14 follows)
    x = dev(3)
    for y in (x * 2.0, 2.0 * x, x * np.float32(2), np.float32(2) * x, 1 - x, x / 3):
        assert isinstance(y, cp.ndarray) and y.dtype == np.float32
    assert cp.counts == {"h2d": 0, "d2h": 0, "sync": 0}


def test_setting_a_device_array_from_a_numpy_array_raises():
    # CuPy issue 593, "cupy_array[:] = numpy_array does not work": ValueError
    # "non-scalar numpy.ndarray cannot be used for fill" (still so unless the experimental
    # CUPY_EXPERIMENTAL_SLICE_COPY is set)
    x = dev(3)
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray"):
        x[...] = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray"):
        x[1:] = np.ones(2, np.float32)


def test_setting_a_device_array_from_a_list_raises():
    # CuPy issue 5070, "Setting CuPy array with list of values": TypeError Unsupported type
    with pytest.raises(TypeError, match="Unsupported type <class 'list'>"):
        dev(2)[...] = [1.0, 2.0]


def test_setting_from_device_arrays_and_scalars_works():
    x = dev(3)
    x[...] = cp.ones(3, np.float32)
    x[0] = 5.0
    x[1:] = np.float32(7)
    assert x.get().tolist() == [5.0, 7.0, 7.0]


def test_cupy_functions_reject_numpy_arrays_and_lists():
    # "Unsupported type" again (CuPy's routines run its kernels); for zeros_like and the
    # other *_like routines the stand-in is stricter than CuPy, which would quietly build
    # a device array from a host template: in minigan that is always a bug
    h = np.ones(3, np.float32)
    for call in (lambda: cp.exp(h), lambda: cp.maximum(h, 0), lambda: cp.exp([1.0, 2.0]),
                 lambda: cp.concatenate([dev(3), h]), lambda: cp.zeros_like(h),
                 lambda: cp.broadcast_to(h, (2, 3)), lambda: cp.where(dev(3) > 0, h, 0.0),
                 lambda: cp.clip(h, 0, 1), lambda: cp.lib.stride_tricks.as_strided(h)):
        with pytest.raises(TypeError, match="Unsupported type"):
            call()


def test_out_must_be_a_device_array():
    # CuPy ufuncs write into cupy.ndarray outputs only (a host out= is "Unsupported type")
    with pytest.raises(TypeError, match="Unsupported type"):
        np.add(dev(3), dev(3), out=np.empty(3, np.float32))


# ----------------------------------------------------------------------------- dispatch


def test_numpy_ufuncs_run_on_the_device():
    # CuPy docs, "Interoperability" > NumPy: cupy.ndarray implements __array_ufunc__, so
    # "numpy.exp(cupy.ones(3)) will call cupy.exp" and returns a cupy.ndarray
    x = dev(3)
    for y in (np.exp(x), np.tanh(x), np.maximum(x, 1.0), x @ dev(3, 2)):
        assert isinstance(y, cp.ndarray)
    out = cp.zeros(3, np.float32)
    assert np.add(x, 1.0, out=out) is out and out.get().tolist() == [1.0, 2.0, 3.0]


def test_ufunc_methods_without_a_cupy_twin_raise():
    # CuPy's __array_ufunc__ handles only method "__call__" ("at" is commented out: "Don't
    # use for now, interface uncertain"), so np.add.at / np.add.reduce on a device array
    # raise TypeError; the stand-in's own ufuncs have no .at either (cupyx.scatter_add is
    # CuPy's scatter-add; minigan's col2im needs none, see minigan/im2col.py)
    x = dev(4)
    with pytest.raises(TypeError):
        np.add.at(x, cp.arange(2), 1.0)
    with pytest.raises(TypeError):
        np.add.reduce(x)
    with pytest.raises(AttributeError, match="add.at is not provided"):
        cp.add.at(x, cp.arange(2), 1.0)


def test_numpy_array_functions_run_on_the_device():
    # CuPy docs, "Interoperability": cupy.ndarray implements __array_function__ (NEP 18),
    # "numpy.sum(arr)" returns a cupy.ndarray
    x = dev(2, 3)
    for y in (np.concatenate([x, x]), np.sum(x), np.mean(x, axis=0), np.clip(x, 1, 2),
              np.where(x > 1, x, 0.0), np.tile(x, (2, 1)), np.zeros_like(x)):
        assert isinstance(y, cp.ndarray)


def test_numpy_functions_without_a_cupy_twin_raise():
    # CuPy's __array_function__ returns NotImplemented when cupy has no function of that
    # name, and NumPy raises TypeError ("no implementation found for ..."); a NumPy
    # function outside the protocol (as_strided, np.asarray inside) raises on __array__
    x = dev(2, 3)
    for call in (lambda: np.linalg.norm(x), lambda: np.median(x), lambda: np.cov(x),
                 lambda: np.lib.stride_tricks.as_strided(x)):
        with pytest.raises(TypeError):
            call()


# ----------------------------------------------------------------------------- counted


def test_transfers_are_counted():
    # CuPy docs, "Basics of CuPy" > Data Transfer: cupy.asarray moves host data to the
    # current device, cupy.asnumpy / ndarray.get move it back; cupy.asarray of a device
    # array is no copy ("If a is already on the device, no copy is performed")
    h = np.arange(3, dtype=np.float32)
    x = cp.asarray(h)
    assert cp.counts == {"h2d": 1, "d2h": 0, "sync": 0}
    cp.asarray(x), cp.asarray(x, dtype=np.float64), cp.array(x)        # on the device
    assert cp.counts["h2d"] == 1
    cp.asarray([1.0, 2.0]), cp.asarray(1.0), cp.array(h)               # host data: copies
    assert cp.counts["h2d"] == 4
    a, b = cp.asnumpy(x), x.get()
    assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
    assert cp.counts["d2h"] == 2
    cp.asnumpy(h)                                                      # already on the host
    assert cp.counts == {"h2d": 4, "d2h": 2, "sync": 0}


def test_device_copies_do_not_alias_host_data():
    # cupy.asarray copies into device memory: changing the host array afterwards does not
    # change the device array (a NumPy-backed stub that kept a view would hide such bugs)
    h = np.zeros(3, np.float32)
    x = cp.asarray(h)
    h[0] = 1.0
    assert x.get()[0] == 0.0


def test_sync_points_are_counted():
    # CuPy's ndarray.__float__ / __int__ / item() / tolist() are self.get() underneath
    # (cupy/_core/core.pyx): each waits for the device; so does printing; and
    # cupy.cuda.Device().synchronize() / Stream.synchronize() by definition
    x = dev(1).sum()                                  # 0-d
    float(x), int(x), bool(x), complex(x), x.item(), x.tolist(), f"{x:.1f}", repr(x)
    cp.cuda.Device().synchronize()
    cp.cuda.get_current_stream().synchronize()
    cp.cuda.Stream.null.synchronize()
    cp.cuda.runtime.deviceSynchronize()
    assert cp.counts == {"h2d": 0, "d2h": 0, "sync": 12}
    assert [e[2].split(":")[0] for e in cp.events] == ["tests/test_standin.py"] * 12


def test_if_on_a_device_value_is_a_sync():
    # `if loss > 0:` reads a device value on the host: bool() of a 0-d array, a sync
    x = dev(3)
    if x.sum() > 0:
        pass
    assert cp.counts["sync"] == 1


def test_reductions_and_element_reads_return_0d_device_arrays():
    # CuPy docs, "Differences between CuPy and NumPy" > "Reduction methods return
    # zero-dimensional array": NumPy returns a scalar, CuPy a 0-d cupy.ndarray; an element
    # read is a 0-d view (writing to it writes the array)
    x = dev(2, 3)
    for y in (x.sum(), x.max(), x.argmax(), x[1, 2], x.mean()):
        assert isinstance(y, cp.ndarray) and y.ndim == 0
    x[0, 0][...] = 9.0
    assert x.get()[0, 0] == 9.0
    assert cp.counts["sync"] == 0


def test_indexing_with_host_indices_is_a_transfer():
    # cupy.ndarray.__getitem__'s docstring: a[[1, 3]] works; the index list is copied to
    # the device first. A device index array costs nothing.
    x = dev(5)
    x[[1, 3]], x[np.array([0, 2])]
    assert cp.counts["h2d"] == 2
    x[cp.arange(2)], x[1:3], x[x > 2]
    assert cp.counts["h2d"] == 2


def test_views_write_through():
    # CuPy's reshape/transpose/slices are views, as NumPy's: minigan's gradient check
    # perturbs a parameter through x.reshape(-1)
    x = dev(2, 3)
    flat = x.reshape(-1)
    flat[4] = -1.0
    x.T[0, 1] = -2.0
    assert x.get().tolist() == [[0.0, 1.0, 2.0], [-2.0, -1.0, 5.0]]


def test_as_strided_has_cupys_signature():
    # CuPy docs, cupy.lib.stride_tricks.as_strided(x, shape=None, strides=None): a view,
    # strides in bytes (minigan's im2col)
    x = dev(4, 4)
    s0, s1 = x.strides
    win = cp.lib.stride_tricks.as_strided(x, shape=(3, 3, 2, 2), strides=(s0, s1, s0, s1))
    assert isinstance(win, cp.ndarray) and win.shape == (3, 3, 2, 2)
    assert win[1, 2].get().tolist() == [[6.0, 7.0], [10.0, 11.0]]
    with pytest.raises(TypeError):
        cp.lib.stride_tricks.as_strided(x, (2,), (4,), False)     # no subok/writeable


def test_cuda_runtime_device_count(monkeypatch):
    # CuPy docs, cupy.cuda.runtime.getDeviceCount(): the number of visible GPUs (what
    # minigan's backend checks); CUPY_STANDIN_DEVICES=0 plays a machine with none
    assert cp.cuda.runtime.getDeviceCount() == 1
    monkeypatch.setenv("CUPY_STANDIN_DEVICES", "0")
    assert cp.cuda.runtime.getDeviceCount() == 0


def test_what_is_not_provided_fails_loudly():
    # a module or an array without the attribute raises AttributeError, as CuPy does for
    # what it lacks: nothing falls back to NumPy. cupy.random is left out on purpose:
    # minigan draws every random number on the host (minigan/backend.py)
    with pytest.raises(AttributeError, match="on the host"):
        cp.random.standard_normal((2,))
    for get in (lambda: cp.linalg, lambda: cp.cuda.Event, lambda: cp.lib.pad,
                lambda: cp.cuda.runtime.memGetInfo, lambda: dev(3).cumsum):
        with pytest.raises(AttributeError):
            get()


# ----------------------------------------------------------------------------- backend


def test_the_backend_selects_the_standin_only_when_asked(monkeypatch):
    # MINIGAN_TEST_CUPY is test-only: with it "gpu" is the stand-in; without it, the
    # backend imports cupy itself
    monkeypatch.setenv(backend.TEST_CUPY, "cupy_standin")
    backend.use("gpu")
    assert backend.xp() is cp
    x = backend.randn(2, 3)
    assert isinstance(x, cp.ndarray) and backend.get_array_module(x) is cp
    assert isinstance(backend.to_host(x), np.ndarray)
    assert cp.counts == {"h2d": 1, "d2h": 1, "sync": 0}
    monkeypatch.delenv(backend.TEST_CUPY)
    monkeypatch.setitem(sys.modules, "cupy", None)                # as if CuPy were missing
    with pytest.raises(backend.DeviceError, match="needs CuPy"):
        backend.use("gpu")


def test_no_gpu_visible_is_one_clear_error(monkeypatch):
    monkeypatch.setenv(backend.TEST_CUPY, "cupy_standin")
    monkeypatch.setenv("CUPY_STANDIN_DEVICES", "0")
    monkeypatch.setitem(backend._state, "cupy", None)              # forget a checked CuPy
    with pytest.raises(backend.DeviceError, match="no GPU is visible"):
        backend.use("gpu")
