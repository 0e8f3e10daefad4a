"""The array-module shim: one place decides whether arrays live in NumPy or CuPy.

    from minigan import backend
    backend.use("gpu")          # or MINIGAN_DEVICE=gpu in the environment
    xp = backend.xp()           # numpy or cupy, looked up at call time

Layers never import numpy or cupy for their arithmetic; they call ``backend.xp()`` (or
``get_array_module(x)``) when they run, so switching device after import works. Nothing
in numpy or cupy is patched.

Random numbers are drawn on the host from one seeded NumPy generator and then moved to
the active device. The draws are tiny next to a training step's arithmetic, and this buys
two things a course wants: the same seed gives the same initial weights and noise on the
CPU and on the GPU, and the generator's state is a plain dict a checkpoint can store.
"""
import ctypes
import importlib
import os
import sys

import numpy as np

DEVICES = ("cpu", "gpu")

# For the test suite only: MINIGAN_TEST_CUPY=<module> makes "gpu" import that module in
# place of cupy. The tests set it to their strict CuPy stand-in (tests/cupy_standin.py),
# which runs the GPU code paths on the CPU and counts host<->device transfers and syncs.
# Never set it outside the tests.
TEST_CUPY = "MINIGAN_TEST_CUPY"


class DeviceError(RuntimeError):
    """The requested device cannot be used (unknown name, CuPy missing, no GPU)."""


_state = {"device": None, "rng": np.random.default_rng(0), "cupy": None}


def _keep_freed_memory():
    """Ask glibc to keep big freed blocks for reuse instead of returning them to the OS.

    A training step allocates and frees the same few large arrays (activations, im2col
    matrices) every time. By default glibc gives blocks of tens of MB back to the kernel
    and maps them again on the next allocation, which costs a page fault and a freshly
    zeroed page per 4 KB (about 25 MB, several percent of a DCGAN step on the CPU).
    Raising the trim and mmap thresholds keeps that memory in the process: its RSS stays
    at its peak instead of going up and down. Linux/glibc only; a no-op elsewhere.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 1 << 30)      # M_TRIM_THRESHOLD: keep up to 1 GB of freed heap
        libc.mallopt(-3, 32 << 20)     # M_MMAP_THRESHOLD: heap, not mmap, up to 32 MB
    except (OSError, AttributeError):  # not glibc (e.g. musl): leave the allocator alone
        pass


_keep_freed_memory()


def _cupy():
    """Import CuPy and check once that a GPU is visible, or raise one clear DeviceError."""
    name = os.environ.get(TEST_CUPY) or "cupy"
    if _state["cupy"] is not None and _state["cupy"] is sys.modules.get(name):
        return _state["cupy"]                                    # checked before
    try:
        cupy = importlib.import_module(name)
    except ImportError:
        raise DeviceError("--device gpu needs CuPy: pip install -e '.[gpu-cuda13]' for CUDA 13, "
                          "'.[gpu-cuda12]' for CUDA 12 (nvidia-smi shows which)") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken
        raise DeviceError(f"--device gpu: CuPy is installed but no GPU is usable ({exc})") from None
    if count == 0:
        raise DeviceError("--device gpu: CuPy is installed but no GPU is visible")
    _state["cupy"] = cupy
    return cupy


def use(device):
    """Select "cpu" (NumPy) or "gpu" (CuPy) for every array created from now on."""
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}: choose one of {', '.join(DEVICES)}")
    if device == "gpu":
        _cupy()
    _state["device"] = device


def device():
    """The active device name; the first call reads MINIGAN_DEVICE (default "cpu")."""
    if _state["device"] is None:
        use(os.environ.get("MINIGAN_DEVICE", "cpu"))
    return _state["device"]


def xp():
    """The active array module: numpy on the CPU, cupy on the GPU."""
    return _cupy() if device() == "gpu" else np


def get_array_module(x):
    """numpy or cupy, whichever owns the array x (works for either without importing cupy)."""
    return np if isinstance(x, (np.ndarray, np.generic)) else xp()


def asarray(x, dtype=None):
    """Move a host (or device) array onto the active device."""
    return xp().asarray(x, dtype=dtype)


def to_host(x):
    """A NumPy copy of any array (a no-op view for NumPy arrays)."""
    if isinstance(x, (np.ndarray, np.generic)):
        return np.asarray(x)
    return x.get()


# ----------------------------------------------------------------------------- random


def seed(s):
    """Reseed the generator every minigan draw uses (weights, noise, dropout, shuffles)."""
    _state["rng"] = np.random.default_rng(s)


def rng():
    """The host NumPy Generator behind every draw."""
    return _state["rng"]


def rng_state():
    """The generator's state, a plain dict, for checkpoints."""
    return _state["rng"].bit_generator.state


def set_rng_state(state):
    _state["rng"].bit_generator.state = state


def randn(*shape, std=1.0, dtype=np.float32):
    """N(0, std^2) samples on the active device."""
    return asarray((std * _state["rng"].standard_normal(shape)).astype(dtype))


def rand(*shape, low=0.0, high=1.0, dtype=np.float32):
    """U(low, high) samples on the active device."""
    return asarray(_state["rng"].uniform(low, high, shape).astype(dtype))


def randint(high, *shape):
    """Integers in [0, high) on the active device."""
    return asarray(_state["rng"].integers(0, high, shape))
