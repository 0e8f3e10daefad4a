"""The GPU (CuPy) path agrees with the CPU (NumPy) path.

Skipped unless CuPy is installed and sees a GPU. Every layer is built from the same seed on
both devices (minigan draws on the host, so the weights and dropout masks are identical),
run forward and backward on the same float32 batch, and the outputs, input gradients,
parameter gradients and running statistics are compared within float32 tolerance. A few
layers are also gradient-checked on the GPU in float64.
"""
import numpy as np
import pytest

from conftest import GRAD_TOL, assert_gradcheck, randn
from minigan import backend, losses
from minigan import layers as L
from minigan.gradcheck import check_layer

pytestmark = pytest.mark.gpu

cp = pytest.importorskip("cupy")
try:
    _gpus = cp.cuda.runtime.getDeviceCount()
except Exception:  # CUDA driver missing or broken
    _gpus = 0
if _gpus == 0:
    pytest.skip("CuPy is installed but no GPU is visible", allow_module_level=True)

RTOL, ATOL = 1e-4, 1e-5

# name -> (factory, input shape, or ("int", high, n) for integer indices)
CASES = {
    "Dense": (lambda: L.Dense(12, 7), (6, 12)),
    "Dense (no bias)": (lambda: L.Dense(12, 7, bias=False), (6, 12)),
    "Maxout": (lambda: L.Maxout(12, 4, 3), (6, 12)),
    "Embedding": (lambda: L.Embedding(10, 5), ("int", 10, 16)),
    "Conv2d": (lambda: L.Conv2d(3, 5, 3, stride=1, padding=1), (4, 3, 9, 9)),
    "Conv2d (stride 2)": (lambda: L.Conv2d(3, 5, 4, stride=2, padding=1), (4, 3, 10, 9)),
    "ConvTranspose2d": (lambda: L.ConvTranspose2d(5, 3, 4, stride=2, padding=1), (4, 5, 5, 6)),
    "ConvTranspose2d (op)": (lambda: L.ConvTranspose2d(5, 3, 3, stride=2, padding=1,
                                                       output_padding=1), (4, 5, 4, 4)),
    "BatchNorm1d": (lambda: L.BatchNorm1d(12), (8, 12)),
    "BatchNorm2d": (lambda: L.BatchNorm2d(3), (4, 3, 5, 5)),
    "ReLU": (L.ReLU, (6, 10)),
    "LeakyReLU": (lambda: L.LeakyReLU(0.2), (6, 10)),
    "Sigmoid": (L.Sigmoid, (6, 10)),
    "Tanh": (L.Tanh, (6, 10)),
    "Dropout": (lambda: L.Dropout(0.4), (6, 10)),
    "Flatten": (L.Flatten, (4, 3, 2, 5)),
    "Reshape": (lambda: L.Reshape((3, 2, 2)), (4, 12)),
    "Sequential": (lambda: L.Sequential(
        L.Dense(8, 32), L.BatchNorm1d(32), L.ReLU(), L.Reshape((2, 4, 4)),
        L.ConvTranspose2d(2, 3, 4, stride=2, padding=1), L.Tanh(),
        L.Conv2d(3, 4, 4, stride=2, padding=1), L.LeakyReLU(0.2), L.Dropout(0.3),
        L.Flatten(), L.Dense(64, 1), L.Sigmoid()), (6, 8)),
}


def _input(spec, seed):
    if spec[0] == "int":
        return np.random.default_rng(seed).integers(0, spec[1], spec[2])
    return randn(seed, spec).astype(np.float32)


def _run(device, name, train, seed=0):
    """Build, forward and backward on one device; everything comes back as host arrays."""
    factory, spec = CASES[name]
    backend.use(device)
    backend.seed(seed)
    layer = factory()
    if train is False:                               # eval: non-trivial running statistics
        layer.forward(backend.asarray(_input(spec, seed + 10)), True)
    x = backend.asarray(_input(spec, seed + 1))
    backend.seed(seed + 2)                           # the same dropout mask on both devices
    y, cache = layer.forward(x, train)
    dy = backend.asarray(randn(seed + 3, y.shape).astype(np.float32))
    layer.zero_grad()
    dx = layer.backward(dy, cache)
    out = {"y": y, "dx": dx}
    out.update({f"grad {n}": o.grads[k] for n, o, k in layer.parameters()})
    out.update({f"param {n}": o.params[k] for n, o, k in layer.parameters()})
    out.update({f"buffer {n}": o.buffers[k] for n, o, k in layer.named_buffers()})
    if device == "gpu":
        assert isinstance(y, cp.ndarray), f"{name}: the GPU forward returned {type(y)}"
        for key, value in out.items():
            assert value is None or isinstance(value, cp.ndarray), f"{name}: {key} left the GPU"
    return {k: None if v is None else backend.to_host(v) for k, v in out.items()}


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", list(CASES))
def test_cpu_and_gpu_agree(name, train):
    cpu = _run("cpu", name, train)
    gpu = _run("gpu", name, train)
    assert cpu.keys() == gpu.keys()
    for key in cpu:
        if cpu[key] is None:
            assert gpu[key] is None, (name, key)
            continue
        assert gpu[key].dtype == cpu[key].dtype == (np.float32 if cpu[key].dtype.kind == "f"
                                                    else cpu[key].dtype), (name, key)
        scale = max(1.0, float(np.abs(cpu[key]).max(initial=0)))
        np.testing.assert_allclose(gpu[key], cpu[key], rtol=RTOL, atol=ATOL * scale,
                                   err_msg=f"{name} ({'train' if train else 'eval'}): {key}")


@pytest.mark.parametrize("name", ["bce_with_logits", "softmax_cross_entropy", "mse", "l1", "mean"])
def test_losses_agree(name):
    z = randn(0, (8, 5)).astype(np.float32)
    t = np.random.default_rng(1).uniform(0, 1, (8, 5)).astype(np.float32)
    labels = np.random.default_rng(2).integers(0, 5, 8)

    def run(device):
        backend.use(device)
        zz, tt = backend.asarray(z), backend.asarray(t)
        args = {"bce_with_logits": (zz, tt), "softmax_cross_entropy": (zz, backend.asarray(labels)),
                "mse": (zz, tt), "l1": (zz, tt), "mean": (zz,)}[name]
        loss, grad = getattr(losses, name)(*args)
        return loss, backend.to_host(grad)

    (l_cpu, g_cpu), (l_gpu, g_gpu) = run("cpu"), run("gpu")
    assert l_gpu == pytest.approx(l_cpu, rel=RTOL, abs=ATOL)
    np.testing.assert_allclose(g_gpu, g_cpu, rtol=RTOL, atol=ATOL)


GPU_GRADCHECKS = {
    "Dense": (lambda: L.Dense(5, 4), (3, 5)),
    "Conv2d": (lambda: L.Conv2d(2, 3, 3, stride=2, padding=1), (2, 2, 5, 5)),
    "ConvTranspose2d": (lambda: L.ConvTranspose2d(2, 3, 4, stride=2, padding=1), (2, 2, 3, 3)),
    "BatchNorm2d": (lambda: L.BatchNorm2d(2), (3, 2, 3, 3)),
    "Tanh": (L.Tanh, (3, 4)),
}


@pytest.mark.parametrize("name", list(GPU_GRADCHECKS))
def test_gradcheck_on_gpu(name):
    backend.use("gpu")
    backend.seed(0)
    factory, shape = GPU_GRADCHECKS[name]
    layer = factory()
    x = backend.asarray(randn(1, shape))
    errs = check_layer(layer, x)
    assert layer.params == {} or all(isinstance(p, cp.ndarray) and p.dtype == np.float64
                                     for p in layer.params.values())
    assert_gradcheck(f"{name} (GPU)", errs, tol=GRAD_TOL)


def test_batches_on_gpu():
    from minigan.data import Batches
    backend.use("gpu")
    x, y = np.arange(40, dtype=np.float32).reshape(20, 2), np.arange(20)
    batches = Batches(x, y, 6, seed=1)
    gpu_order = [backend.to_host(yb).tolist() for _, yb in batches]
    for xb, yb in Batches(x, y, 6, seed=1):
        assert isinstance(xb, cp.ndarray) and isinstance(yb, cp.ndarray)
    backend.use("cpu")
    assert [yb.tolist() for _, yb in Batches(x, y, 6, seed=1)] == gpu_order
