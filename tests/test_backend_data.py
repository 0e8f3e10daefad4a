"""The backend shim, seeding, dtypes, input validation, checkpoints of layers, and MNIST."""
import importlib.util
import os
import subprocess
import sys
import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import SEEDS, randn
from minigan import backend, data, init
from minigan import layers as L
from minigan.backend import DeviceError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAVE_CUPY = importlib.util.find_spec("cupy") is not None


# ----------------------------------------------------------------------------- devices


def test_use_cpu():
    backend.use("cpu")
    assert backend.device() == "cpu"
    assert backend.xp() is np
    assert isinstance(backend.randn(2, 3), np.ndarray)
    assert backend.get_array_module(np.zeros(2)) is np
    x = np.arange(3.0)
    assert backend.to_host(x) is not None and np.array_equal(backend.to_host(x), x)


def test_use_unknown_device_raises():
    with pytest.raises(DeviceError, match="unknown device 'bogus'"):
        backend.use("bogus")
    assert backend.device() == "cpu"                  # unchanged


@pytest.mark.skipif(HAVE_CUPY, reason="CuPy is installed here")
def test_use_gpu_without_cupy_raises_clearly():
    with pytest.raises(DeviceError) as err:
        backend.use("gpu")
    msg = str(err.value)
    assert "CuPy" in msg and "install" in msg and "\n" not in msg
    assert err.value.__cause__ is None and err.value.__suppress_context__   # no chained traceback
    assert backend.device() == "cpu"


@pytest.mark.parametrize("count, message", [(0, "no GPU is visible"), (RuntimeError("no driver"), "no GPU is usable")])
def test_use_gpu_with_cupy_but_no_gpu_raises(monkeypatch, count, message):
    """A stand-in cupy module whose runtime reports no device (or fails)."""
    def get_device_count():
        if isinstance(count, Exception):
            raise count
        return count
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=get_device_count))
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(DeviceError, match=message):
        backend.use("gpu")
    assert backend.device() == "cpu"


def _device_in_subprocess(value):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("MINIGAN_DEVICE", None)
    if value is not None:
        env["MINIGAN_DEVICE"] = value
    code = "from minigan import backend; print(backend.device(), backend.xp().__name__)"
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("value", [None, "cpu"])
def test_env_var_selects_cpu(value):
    proc = _device_in_subprocess(value)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["cpu", "numpy"]


def test_env_var_bogus_device_raises():
    proc = _device_in_subprocess("tpu")
    assert proc.returncode != 0
    assert "DeviceError" in proc.stderr and "unknown device 'tpu'" in proc.stderr


@pytest.mark.skipif(HAVE_CUPY, reason="CuPy is installed here")
def test_env_var_gpu_is_honoured():
    """MINIGAN_DEVICE=gpu is read (and, without CuPy, refused with the clear message)."""
    proc = _device_in_subprocess("gpu")
    assert proc.returncode != 0
    assert "DeviceError" in proc.stderr and "CuPy" in proc.stderr


def test_env_var_read_at_first_use(monkeypatch):
    monkeypatch.setattr(backend, "_state", dict(backend._state, device=None))
    monkeypatch.setenv("MINIGAN_DEVICE", "bogus")
    with pytest.raises(DeviceError):
        backend.device()
    monkeypatch.setenv("MINIGAN_DEVICE", "cpu")
    assert backend.device() == "cpu"


# ----------------------------------------------------------------------------- seeding


def _fresh_layers():
    return [L.Dense(4, 3), L.Maxout(4, 2, 3), L.Embedding(5, 2), L.Conv2d(2, 3, 3),
            L.ConvTranspose2d(2, 3, 4, stride=2), L.BatchNorm2d(3)]


def _all_params(layers):
    return [np.array(o.params[k]) for layer in layers for _, o, k in layer.parameters()]


@given(seed=SEEDS)
def test_same_seed_same_init(seed):
    backend.seed(seed)
    a = _all_params(_fresh_layers())
    noise_a = backend.randn(3, 4)
    backend.seed(seed)
    b = _all_params(_fresh_layers())
    noise_b = backend.randn(3, 4)
    for pa, pb in zip(a, b):
        np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(noise_a, noise_b)
    backend.seed(seed + 1)
    c = _all_params(_fresh_layers())
    assert not np.array_equal(a[0], c[0])


def test_rng_state_round_trip():
    backend.seed(1)
    backend.randn(5)
    state = backend.rng_state()
    first = (backend.randn(4), backend.rand(3), backend.randint(10, 6))
    backend.seed(999)
    backend.set_rng_state(state)
    second = (backend.randn(4), backend.rand(3), backend.randint(10, 6))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert first[0].dtype == np.float32 and first[1].dtype == np.float32
    assert first[2].dtype.kind == "i" and 0 <= first[2].min() and first[2].max() < 10


def test_initializers_statistics():
    backend.seed(0)
    w = init.normal((200, 300), std=0.02)
    assert w.dtype == np.float32 and abs(w.std() - 0.02) < 1e-3 and abs(w.mean()) < 1e-3
    u = init.glorot_uniform((200, 300))
    bound = np.sqrt(6 / 500)
    assert np.abs(u).max() <= bound and np.abs(u).max() > 0.99 * bound
    assert init.fans((8, 3, 4, 4)) == (48, 128) and init.fans((8, 3, 4, 4), transposed=True) == (128, 48)
    model = init.dcgan_init(L.Sequential(L.Conv2d(1, 8, 3), L.BatchNorm2d(8)))
    assert not model[0].params["b"].any() and not model[1].params["beta"].any()
    assert abs(model[1].params["gamma"].mean() - 1) < 0.05


# ----------------------------------------------------------------------------- float32 throughout


def _float32_cases():
    f32 = np.float32
    return [
        (L.Dense(4, 3), randn(0, (5, 4)).astype(f32)),
        (L.Dense(4, 3, bias=False), randn(0, (5, 4)).astype(f32)),
        (L.Maxout(4, 2, 3), randn(0, (5, 4)).astype(f32)),
        (L.Embedding(6, 3), np.array([0, 5, 2, 2])),
        (L.Conv2d(2, 3, 3, stride=2, padding=1), randn(0, (2, 2, 6, 6)).astype(f32)),
        (L.Conv2d(2, 3, 3, bias=False), randn(0, (2, 2, 6, 6)).astype(f32)),
        (L.ConvTranspose2d(2, 3, 4, stride=2, padding=1, output_padding=1), randn(0, (2, 2, 3, 3)).astype(f32)),
        (L.ConvTranspose2d(2, 3, 3, bias=False), randn(0, (2, 2, 3, 3)).astype(f32)),
        (L.BatchNorm1d(4), randn(0, (5, 4)).astype(f32)),
        (L.BatchNorm2d(2), randn(0, (3, 2, 4, 4)).astype(f32)),
        (L.ReLU(), randn(0, (3, 4)).astype(f32)),
        (L.LeakyReLU(0.2), randn(0, (3, 4)).astype(f32)),
        (L.Sigmoid(), randn(0, (3, 4)).astype(f32)),
        (L.Tanh(), randn(0, (3, 4)).astype(f32)),
        (L.Dropout(0.5), randn(0, (3, 4)).astype(f32)),
        (L.Flatten(), randn(0, (3, 2, 2, 2)).astype(f32)),
        (L.Reshape((2, 4)), randn(0, (3, 8)).astype(f32)),
        (L.Sequential(L.Dense(3, 8), L.BatchNorm1d(8), L.ReLU(), L.Reshape((2, 2, 2)),
                      L.ConvTranspose2d(2, 1, 4, stride=2, padding=1), L.Tanh(), L.Conv2d(1, 2, 3),
                      L.LeakyReLU(), L.Dropout(0.2), L.Flatten(), L.Dense(8, 1), L.Sigmoid()),
         randn(0, (4, 3)).astype(f32)),
    ]


@pytest.mark.parametrize("train", [True, False])
def test_float32_stays_float32(train):
    """No silent float64 upcast anywhere in forward or backward (a 2x slowdown otherwise)."""
    for layer, x in _float32_cases():
        y, cache = layer.forward(x, train)
        assert y.dtype == np.float32, (layer, "forward", y.dtype)
        dy = np.ones_like(y)
        layer.zero_grad()
        dx = layer.backward(dy, cache)
        if x.dtype.kind == "f":
            assert dx.dtype == np.float32 and dx.shape == x.shape, (layer, "backward", dx.dtype)
        for name, owner, key in layer.parameters():
            assert owner.params[key].dtype == np.float32, (layer, name)
            assert owner.grads[key].dtype == np.float32, (layer, name, "grad")
        for name, owner, key in layer.named_buffers():
            assert owner.buffers[key].dtype == np.float32, (layer, name, "buffer")


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize("layer, shape", [
    (L.Dense(4, 3), (5, 3)), (L.Dense(4, 3), (5, 4, 1)), (L.Dense(4, 3), (4,)),
    (L.Maxout(4, 2, 2), (5, 5)),
    (L.Conv2d(2, 3, 3), (1, 3, 5, 5)), (L.Conv2d(2, 3, 3), (2, 5, 5)),
    (L.ConvTranspose2d(2, 3, 3), (1, 3, 4, 4)), (L.ConvTranspose2d(2, 3, 3), (2, 4, 4)),
    (L.BatchNorm1d(4), (5, 3)), (L.BatchNorm1d(4), (5, 4, 1, 1)),
    (L.BatchNorm2d(2), (5, 3, 2, 2)), (L.BatchNorm2d(2), (5, 2)),
    (L.Reshape((2, 3)), (4, 5)),
])
def test_wrong_input_shape_raises(layer, shape):
    with pytest.raises(ValueError, match=r"shape|reshape|expects"):
        layer.forward(np.zeros(shape, np.float32))


def test_embedding_rejects_bad_indices():
    with pytest.raises(ValueError):
        L.Embedding(5, 2).forward(np.array([0.0, 1.0]))
    with pytest.raises(ValueError):
        L.Embedding(5, 2).forward(np.array([[0, 1]]))


def test_dropout_probability_validated():
    for p in (-0.1, 1.0, 1.5):
        with pytest.raises(ValueError):
            L.Dropout(p)


def test_dropout_statistics():
    backend.seed(0)
    x = np.ones((200, 500), np.float32)
    y, _ = L.Dropout(0.3).forward(x)
    assert abs((y == 0).mean() - 0.3) < 0.01
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    assert abs(y.mean() - 1) < 0.02                   # expectation preserved
    np.testing.assert_array_equal(L.Dropout(0.3).forward(x, train=False)[0], x)


# ----------------------------------------------------------------------------- layer checkpoints


def _model(seed):
    backend.seed(seed)
    return L.Sequential(L.Conv2d(1, 2, 3), L.BatchNorm2d(2), L.Flatten(), L.Dense(8, 2))


def test_state_dict_round_trip():
    a, b = _model(0), _model(1)
    a.forward(randn(0, (3, 1, 4, 4)).astype(np.float32))         # move BN's running stats
    state = a.state_dict()
    assert {"0.W", "0.b", "1.gamma", "1.beta", "1.running_mean", "1.running_var", "3.W", "3.b"} == set(state)
    b.load_state_dict(state)
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v, state[k])
    x = randn(1, (2, 1, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(a.forward(x, train=False)[0], b.forward(x, train=False)[0])
    state["0.W"][...] = 0                                        # a copy, not a view
    assert a[0].params["W"].any()


def test_load_state_dict_wrong_shape_raises():
    model = _model(0)
    state = model.state_dict()
    state["3.W"] = np.zeros((9, 2), np.float32)
    with pytest.raises(ValueError, match="shape"):
        model.load_state_dict(state)
    state = model.state_dict()
    del state["1.running_var"]
    with pytest.raises(ValueError, match="running_var"):
        model.load_state_dict(state)


# ----------------------------------------------------------------------------- MNIST


@pytest.fixture(scope="module")
def mnist():
    return {split: data.load_mnist(split) for split in ("train", "valid", "test")}


@pytest.mark.parametrize("split, n", [("train", 50000), ("valid", 10000), ("test", 10000)])
def test_mnist_splits(mnist, split, n):
    x, y = mnist[split]
    assert x.shape == (n, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (n,) and y.dtype == np.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    counts = np.bincount(y, minlength=10)
    assert counts.min() > 0.08 * n and counts.max() < 0.12 * n
    assert 0.1 < x.mean() < 0.15                      # MNIST's mean pixel is ~0.13


def test_mnist_train_plus_valid(mnist):
    x, y = data.load_mnist("train+valid")
    assert x.shape == (60000, 1, 28, 28) and y.shape == (60000,)
    np.testing.assert_array_equal(x[:50000], mnist["train"][0])
    np.testing.assert_array_equal(y[50000:], mnist["valid"][1])
    # the splits are disjoint images: no test image reappears in train (spot check)
    test_x = mnist["test"][0][:50].reshape(50, -1)
    train_x = mnist["train"][0][:5000].reshape(5000, -1)
    assert not any((train_x == t).all(axis=1).any() for t in test_x)


def test_mnist_unknown_split():
    with pytest.raises(data.DataError, match="split"):
        data.load_mnist("training")


def test_mnist_missing_file(tmp_path):
    with pytest.raises(data.DataError, match="not found"):
        data.load_mnist(path=str(tmp_path / "nope.npz"))


@pytest.mark.parametrize("where", ["start", "middle", "end"])
def test_mnist_corrupt_file_raises(tmp_path, monkeypatch, where):
    """The checksum guards the shipped file: a corrupt copy at MNIST_PATH is refused."""
    raw = bytearray(open(data.MNIST_PATH, "rb").read())
    i = {"start": 100, "middle": len(raw) // 2, "end": len(raw) - 10}[where]
    raw[i] ^= 0xFF
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(bytes(raw))
    monkeypatch.setattr(data, "MNIST_PATH", str(bad))
    with pytest.raises(data.DataError, match="corrupt"):
        data.load_mnist("train", path=str(bad))


# ----------------------------------------------------------------------------- Batches


@given(n=st.integers(1, 60), bs=st.integers(1, 60), seed=SEEDS)
def test_batches(n, bs, seed):
    if bs > n:
        with pytest.raises(ValueError):
            data.Batches(np.zeros((n, 2)), np.zeros(n), bs)
        return
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)       # row i is [2i, 2i+1]
    y = np.arange(n)
    batches = data.Batches(x, y, bs, seed=seed)
    assert len(batches) == n // bs
    seen_epochs = []
    for _ in range(2):
        seen = []
        for xb, yb in batches:
            assert xb.shape == (bs, 2) and yb.shape == (bs,)      # only full batches
            np.testing.assert_array_equal(xb[:, 0], 2 * yb)       # x and y stay paired
            seen.extend(yb.tolist())
        assert len(seen) == len(set(seen)) == (n // bs) * bs       # each sample at most once
        seen_epochs.append(seen)
    again = [yb.tolist() for _, yb in data.Batches(x, y, bs, seed=seed)]
    assert sum(again, []) == seen_epochs[0]                        # same seed, same order


def test_batches_reshuffle_and_resume():
    x, y = np.zeros((100, 1)), np.arange(100)
    b = data.Batches(x, y, 10, seed=3)
    e1 = [yb.tolist() for _, yb in b]
    state = b.state_dict()
    e2 = [yb.tolist() for _, yb in b]
    assert e1 != e2                                                # a new order every epoch
    other = data.Batches(x, y, 10, seed=4)
    assert [yb.tolist() for _, yb in other] != e1                  # seed matters
    resumed = data.Batches(x, y, 10, seed=0)
    resumed.load_state_dict(state)
    assert [yb.tolist() for _, yb in resumed] == e2                # checkpoint resumes order
