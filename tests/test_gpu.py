"""The GPU (CuPy) path agrees with the CPU (NumPy) path, on every machine.

Where CuPy is installed and sees a GPU these tests run on real CuPy; everywhere else on
tests/cupy_standin.py, a strict CuPy stand-in that runs the GPU code paths on the CPU and
raises wherever CuPy would (a NumPy array in a device expression, np. on a device array,
a checkpoint of device arrays, ...). They never skip. What they check:

* every layer's forward and backward on the GPU equals the CPU's (float32 tolerance; both
  devices draw the same weights and dropout masks: minigan draws on the host), the
  losses, the optimizers, the data batches, the classifier's features, and float64
  gradient checks on the GPU;
* checkpoints move between devices: written on the GPU, loaded on the CPU, and back;
* every lesson, 00 to 07, runs with --device gpu: one tiny epoch, then --resume to a
  second, each finishing with samples.npz and metrics.json; with the same seed the GPU
  run draws the same samples as the CPU run;
* per training step of every lesson, the host<->device transfers and sync points stay
  within the budget stated below (counted on the stand-in: real CuPy has no counters,
  so these run on the stand-in even where a GPU is visible). A change that adds a sync
  or a transfer to a lesson's inner loop fails test_lesson_step_budget.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import cupy_standin
from conftest import GRAD_TOL, assert_gradcheck, randn
from minigan import backend, losses, train
from minigan import layers as L
from minigan.gradcheck import check_layer
from minigan.optim import SGD, Adam, RMSprop
from test_lesson00 import CHECKS as LESSON00_CHECKS

pytestmark = pytest.mark.gpu
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")


def _real_cupy():
    """CuPy, if it is installed and sees a GPU; else None (and the stand-in runs)."""
    try:
        import cupy
        return cupy if cupy.cuda.runtime.getDeviceCount() > 0 else None
    except Exception:                  # not installed, or no usable CUDA driver
        return None


REAL_CUPY = _real_cupy()
ON_STANDIN = REAL_CUPY is None
cp = cupy_standin if ON_STANDIN else REAL_CUPY
RTOL, ATOL = 1e-4, 1e-5


@pytest.fixture(autouse=True)
def _gpu_is_the_standin_without_a_gpu(monkeypatch):
    """Without a GPU, "gpu" means the stand-in for the duration of each test."""
    if ON_STANDIN:
        monkeypatch.setenv(backend.TEST_CUPY, "cupy_standin")
    cupy_standin.reset()


def test_which_cupy():
    backend.use("gpu")
    assert backend.xp() is cp


# ----------------------------------------------------------------------------- layers

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
    "InstanceNorm2d": (lambda: L.InstanceNorm2d(3, affine=True), (4, 3, 5, 6)),
    "ReflectionPad2d": (lambda: L.ReflectionPad2d(2), (4, 3, 5, 6)),
    "ResidualBlock": (lambda: L.ResidualBlock(3), (2, 3, 6, 6)),
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


def _dropouts(layer):
    return sum(_dropouts(child) for child in layer) if isinstance(layer, L.Sequential) else \
        int(isinstance(layer, L.Dropout))


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
    start = cupy_standin.mark()
    y, cache = layer.forward(x, train)
    dy = backend.asarray(randn(seed + 3, y.shape).astype(np.float32))
    layer.zero_grad()
    dx = layer.backward(dy, cache)
    if device == "gpu" and ON_STANDIN:               # no sync, no copy but dy's and the
        made = cupy_standin.since(start)             # Dropout masks (drawn on the host)
        assert (made["h2d"], made["d2h"], made["sync"]) == (1 + train * _dropouts(layer), 0, 0), \
            made["events"]
    out = {"y": y, "dx": dx}
    out.update({f"grad {n}": o.grads[k] for n, o, k in layer.parameters()})
    out.update({f"param {n}": o.params[k] for n, o, k in layer.parameters()})
    out.update({f"buffer {n}": o.buffers[k] for n, o, k in layer.named_buffers()})
    if device == "gpu":
        assert isinstance(y, cp.ndarray), f"{name}: the GPU forward returned {type(y)}"
        for key, value in out.items():
            assert value is None or isinstance(value, cp.ndarray), f"{name}: {key} left the GPU"
    return {k: None if v is None else backend.to_host(v) for k, v in out.items()}


def assert_same(gpu, cpu, what):
    """GPU and CPU arrays agree: same dtype, values within float32 tolerance."""
    assert gpu.dtype == cpu.dtype, what
    scale = max(1.0, float(np.abs(cpu).max(initial=0)))
    np.testing.assert_allclose(gpu, cpu, rtol=RTOL, atol=ATOL * scale, err_msg=what)


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
        assert cpu[key].dtype in (np.float32, np.int64), (name, key)
        assert_same(gpu[key], cpu[key], f"{name} ({'train' if train else 'eval'}): {key}")


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
        assert type(loss) is float                   # a loss is a host number: one sync
        return loss, backend.to_host(grad)

    (l_cpu, g_cpu), (l_gpu, g_gpu) = run("cpu"), run("gpu")
    assert l_gpu == pytest.approx(l_cpu, rel=RTOL, abs=ATOL)
    np.testing.assert_allclose(g_gpu, g_cpu, rtol=RTOL, atol=ATOL)


def test_bce_with_a_constant_target_copies_nothing():
    """bce_with_logits(z, 1.0), as every lesson calls it, computes on the device: no copy
    of the target to the device, one sync (the loss value)."""
    backend.use("gpu")
    z = backend.asarray(randn(0, (8, 1)).astype(np.float32))
    start = cupy_standin.mark()
    for target in (0.0, 1.0):
        losses.bce_with_logits(z, target)
    if ON_STANDIN:
        made = cupy_standin.since(start)
        assert (made["h2d"], made["d2h"], made["sync"]) == (0, 0, 2), made["events"]


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


def test_classifier_features_agree():
    """minigan.metrics runs its classifier on the active device; the features it returns
    (host arrays) are the CPU's."""
    from minigan import metrics
    from minigan.data import load_mnist
    images = load_mnist("test")[0][:20]
    backend.use("cpu")
    f_cpu, p_cpu = metrics.features_and_probs(images)
    backend.use("gpu")
    f_gpu, p_gpu = metrics.features_and_probs(images)
    assert isinstance(f_gpu, np.ndarray) and isinstance(p_gpu, np.ndarray)
    np.testing.assert_allclose(f_gpu, f_cpu, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(p_gpu, p_cpu, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- optimizers

OPTIMIZERS = {"SGD": lambda m: SGD(m, lr=0.1, momentum=0.9),
              "Adam": lambda m: Adam(m, lr=0.01, betas=(0.5, 0.999)),
              "RMSprop": lambda m: RMSprop(m, lr=0.01, alpha=0.9)}


def _train_dense(device, make, steps, state=None):
    """A Dense layer and its optimizer after `steps` steps on fixed data (optionally
    starting from a state_dict pair), as host arrays."""
    backend.use(device)
    backend.seed(0)
    layer = L.Dense(6, 4)
    opt = make(layer)
    if state is not None:
        layer.load_state_dict(state[0])
        opt.load_state_dict(state[1])
    for t in range(steps):
        opt.zero_grad()
        y, cache = layer.forward(backend.asarray(randn(t, (5, 6)).astype(np.float32)))
        layer.backward(backend.asarray(randn(10 + t, y.shape).astype(np.float32)), cache)
        opt.step()
    return layer.state_dict(), opt.state_dict()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizers_agree(name):
    (p_cpu, s_cpu), (p_gpu, s_gpu) = (_train_dense(d, OPTIMIZERS[name], 3) for d in ("cpu", "gpu"))
    assert p_cpu.keys() == p_gpu.keys() and s_cpu.keys() == s_gpu.keys()
    for k in p_cpu:
        assert isinstance(p_gpu[k], np.ndarray), k               # state_dict: host copies
        assert_same(p_gpu[k], p_cpu[k], f"{name} param {k}")
    for k in s_cpu:
        if k in ("t", "lr"):
            assert s_gpu[k] == s_cpu[k]
        else:
            assert isinstance(s_gpu[k], np.ndarray), k
            assert_same(s_gpu[k], s_cpu[k], f"{name} state {k}")


@pytest.mark.parametrize("src, dst", [("gpu", "cpu"), ("cpu", "gpu")])
def test_checkpoint_moves_between_devices(tmp_path, src, dst):
    """A checkpoint (parameters + optimizer state) written on one device loads on the other
    and training continues as if it had not moved."""
    make = OPTIMIZERS["Adam"]
    params, state = _train_dense(src, make, 2)
    path = str(tmp_path / "checkpoint.npz")
    train.save_checkpoint(path, {**{f"model/{k}": v for k, v in params.items()},
                                 **{f"optim/{k}": v for k, v in state.items() if k not in ("t", "lr")}},
                          {"optim": {"t": state["t"], "lr": state["lr"]}})
    arrays, meta = train.load_checkpoint(path)
    loaded = ({k[6:]: v for k, v in arrays.items() if k.startswith("model/")},
              {**{k[6:]: v for k, v in arrays.items() if k.startswith("optim/")}, **meta["optim"]})
    moved = _train_dense(dst, make, 1, state=loaded)
    stayed = _train_dense(src, make, 1, state=loaded)
    for k in stayed[0]:
        assert_same(moved[0][k], stayed[0][k], f"{src} -> {dst}: param {k}")


# ----------------------------------------------------------------------------- lessons

QUICK = ["--subset", "192", "--batch-size", "64", "--n-samples", "30", "--sample-interval", "2"]
# the flags of each lesson's short run (its default network), and whether to measure it
LESSONS = {
    "01_gan": [],
    "02_dcgan": [],
    "03_wgan": ["--no-warmup-schedule", "--n-critic", "2", "--eval-every", "1",
                "--eval-samples", "50"],
    "04_cgan": [],
    "05_acgan": [],
    "06_wgan_gp": ["--dim", "4", "--n-critic", "1"],
}
MEASURED = ("03_wgan", "04_cgan")       # the resumed GPU run also computes the metrics

# Per training step, counted on the stand-in:
#   h2d   host->device copies. minigan draws every random number on the host and copies
#         it over (backend.randn / rand / randint): the noise z, G's labels (05), and one
#         mask per Dropout layer per forward pass. Nothing else: the data set is copied
#         once, before the first step, and a batch is an index into it.
#   d2h   device->host copies: none, but one (the grid's images) on a step that saves a
#         sample grid.
#   sync  one per loss value the step computes (a loss returns a Python float, the
#         number the lesson logs) and per accuracy lesson 05 logs; nothing else.
BUDGET = {
    "01_gan": {"h2d": 1, "sync": 3},       # z | BCE(D(x), 1), BCE(D(G(z)), 0), G's BCE
    "02_dcgan": {"h2d": 1, "sync": 3},     # the same
    "03_wgan": {"critic": {"h2d": 1, "sync": 2},   # z | mean D(x), mean D(G(z))
                "G": {"h2d": 2, "sync": 3}},       # + a fresh z | + G's mean D(G(z))
    "04_cgan": {"h2d": 2, "sync": 5},      # z, wrong labels | BCE real, fake, mismatched,
                                           # G's BCE in each of 2 G steps
    "05_acgan": {"h2d": 2 + 4 * 3,         # z, labels, 4 Dropout masks x 3 passes through D
                 "sync": 8},               # | BCE x 3, cross-entropy x 3, 2 accuracies
    "06_wgan_gp": {"critic": {"h2d": 2, "sync": 3},   # z, eps | mean D(x), mean D(G(z)), penalty
                   "G": {"h2d": 3, "sync": 4}},       # + a fresh z | + G's mean D(G(z))
}


def _subprocess(cmd, standin):
    env = dict(os.environ)
    env.pop(backend.TEST_CUPY, None)
    env.pop("CUPY_STANDIN_DEVICES", None)
    if standin:
        env[backend.TEST_CUPY] = "cupy_standin"
        env["PYTHONPATH"] = TESTS + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=600)


def run_lesson(name, device, *flags, record=None):
    """python lessons/<name>.py --device <device> flags...; on the stand-in with record=,
    through tests/standin_run.py, which writes the per-step counts to `record`."""
    path = os.path.join(ROOT, "lessons", f"{name}.py")
    standin = device == "gpu" and (ON_STANDIN or record is not None)
    cmd = [sys.executable, path] if record is None else \
        [sys.executable, os.path.join(TESTS, "standin_run.py"), record, path]
    proc = _subprocess(cmd + ["--device", device, *flags], standin)
    assert proc.returncode == 0, f"{name} --device {device} {' '.join(map(str, flags))}:\n" \
                                 + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module", params=list(LESSONS))
def lesson_runs(request, tmp_path_factory):
    """Four short runs of one lesson: one epoch on the GPU and on the CPU (same seed),
    then each resumed to a second epoch from the *other* device's checkpoint."""
    name = request.param
    base = tmp_path_factory.mktemp(name)
    flags = [*QUICK, *LESSONS[name]]
    measure = [] if name in MEASURED else ["--no-eval"]
    out = {k: base / k for k in ("gpu", "cpu", "gpu_resumed", "cpu_resumed")}
    record = base / "steps.json"
    procs = {
        "gpu": run_lesson(name, "gpu", *flags, "--no-eval", "--epochs", "1", "--out", out["gpu"],
                          record=record if ON_STANDIN else None),
        "cpu": run_lesson(name, "cpu", *flags, "--no-eval", "--epochs", "1", "--out", out["cpu"]),
        "gpu_resumed": run_lesson(name, "gpu", *flags, *measure, "--epochs", "2", "--out",
                                  out["gpu_resumed"], "--resume", out["cpu"] / "checkpoint.npz"),
        "cpu_resumed": run_lesson(name, "cpu", *flags, "--no-eval", "--epochs", "2", "--out",
                                  out["cpu_resumed"], "--resume", out["gpu"] / "checkpoint.npz"),
    }
    if not ON_STANDIN:                   # the budget is counted on the stand-in regardless
        run_lesson(name, "gpu", *flags, "--no-eval", "--epochs", "1", "--out", base / "standin",
                   record=record)
    with open(record) as f:
        steps = json.load(f)["steps"]
    return name, out, procs, steps


def _samples(folder):
    with np.load(folder / "samples.npz") as f:
        return {k: f[k] for k in f.files}


def _checkpoint(folder):
    with np.load(folder / "checkpoint.npz") as f:
        arrays = {k: f[k] for k in f.files if k != "__meta__"}
        return arrays, json.loads(str(f["__meta__"]))


def test_lesson_runs_and_resumes_on_gpu(lesson_runs):
    name, out, procs, _ = lesson_runs
    for run, epochs in (("gpu", 1), ("gpu_resumed", 2)):
        for f in ("checkpoint.npz", "samples.npz", "metrics.json", "losses.png",
                  f"epoch_{epochs:03d}.png"):
            assert (out[run] / f).exists(), f"{name} {run}: no {f}"
        images = _samples(out[run])["images"]
        assert images.shape == (30, 28, 28) and images.dtype == np.float32
        assert 0 <= images.min() and images.max() <= 1 and images.std() > 0
        with open(out[run] / "metrics.json") as f:
            metrics = json.load(f)
        assert metrics["device"] == "gpu" and metrics["epochs"] == epochs
        arrays, meta = _checkpoint(out[run])
        assert meta["epoch"] == epochs and all(a.dtype != object for a in arrays.values())
    assert "resumed at epoch 2, step 0 of" in procs["gpu_resumed"].stdout
    if name in MEASURED:                 # the metrics ran on the device too
        with open(out["gpu_resumed"] / "metrics.json") as f:
            metrics = json.load(f)
        assert np.isfinite(metrics["frechet_distance"]) and len(metrics["class_shares"]) == 10
        if name == "03_wgan":
            assert len(metrics["w_heldout"]) == 1 and (out["gpu_resumed"] / "w_vs_fd.png").exists()


def test_lesson_same_seed_same_samples_as_cpu(lesson_runs):
    """The same seed draws the same samples on the GPU as on the CPU, and a run resumed on
    one device from the other's checkpoint continues the same. On the stand-in (NumPy
    underneath) they agree to rounding; on a real GPU to float32 training noise."""
    name, out, _, _ = lesson_runs
    tol = 1e-6 if ON_STANDIN else 2e-2
    for gpu, cpu in (("gpu", "cpu"), ("gpu_resumed", "cpu_resumed")):
        s_gpu, s_cpu = _samples(out[gpu]), _samples(out[cpu])
        assert s_gpu.keys() == s_cpu.keys()
        if "labels" in s_cpu:
            assert np.array_equal(s_gpu["labels"], s_cpu["labels"])
        diff = float(np.abs(s_gpu["images"] - s_cpu["images"]).max())
        assert diff <= tol, f"{name}: {gpu} vs {cpu} samples differ by up to {diff}"
    (a_gpu, m_gpu), (a_cpu, m_cpu) = _checkpoint(out["gpu"]), _checkpoint(out["cpu"])
    assert a_gpu.keys() == a_cpu.keys()
    for k in a_cpu:
        # On a real GPU, Adam's moments (optim/*/m, v) are not compared: they are running
        # averages of the gradient itself, which in a GAN's first steps is the difference of
        # a real and a fake term that nearly cancel, and for a bias that feeds BatchNorm is
        # analytically zero (pure rounding). No device can match them to a tolerance: on one
        # CPU, switching OpenBLAS's kernel (OPENBLAS_CORETYPE=Haswell vs Sandybridge) moves
        # lesson 05's moments by 5% of their norm after 3 steps of this run. The parameters
        # the moments drove are compared, entry by entry.
        if not ON_STANDIN and k.startswith("optim/"):
            continue
        scale = max(1.0, float(np.abs(a_cpu[k]).max(initial=0)))
        assert np.abs(a_gpu[k] - a_cpu[k]).max(initial=0) <= tol * scale, f"{name}: checkpoint {k}"
    assert m_gpu["rng"] == m_cpu["rng"] and m_gpu["data_rng"] == m_cpu["data_rng"]


def assert_within_budget(label, budget, steps):
    """Every recorded step within `budget` (see BUDGET); a failure lists the events."""
    assert steps, f"{label}: no training step was recorded"
    for i, step in enumerate(steps):
        allowed = budget["G" if step["logged"] else "critic"] if "critic" in budget else budget
        sampled = int(step["sampled"])                    # a grid: its d2h (+ masks, if any)
        allowed = {"h2d": allowed["h2d"] + sampled * allowed.get("sample_h2d", 0),
                   "d2h": sampled, "sync": allowed["sync"]}
        over = {k: step[k] for k in allowed if step[k] > allowed[k]}
        assert not over, (f"{label}, step {i + 1}: {over} over the budget {allowed}; "
                          "events (kind, what, where):\n  "
                          + "\n  ".join(" ".join(e) for e in step["events"]))


def test_lesson_step_budget(lesson_runs):
    name, _, _, steps = lesson_runs
    assert_within_budget(name, BUDGET[name], steps)
    assert any(s["sampled"] for s in steps) or name == "03_wgan"


# The lessons' other networks: one counted run each, on the stand-in (and on real CuPy
# where there is a GPU), with their budgets.
VARIANTS = {
    "01_gan --arch paper": {"h2d": 1 + 3 * 2, "sync": 3},    # z, 3 Dropout masks x 2 D passes
    "02_dcgan --arch small": BUDGET["02_dcgan"],
    "02_dcgan --arch keras": {"h2d": 1 + 4 * 3, "sync": 3},  # z, 4 Dropout masks x 3 D passes
    "03_wgan --arch dcgan": BUDGET["03_wgan"],
    "04_cgan --arch paper": {"h2d": 1 + 3 * 3 + 2, "sync": 3,   # z, D's 3 masks x 3 passes, G's 2
                             "sample_h2d": 2},        # + G's 2 masks: it samples with dropout on
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_lesson_variant_on_gpu(variant, tmp_path):
    name, *extra = variant.split()
    flags = [*QUICK, *LESSONS[name], *extra, "--no-eval", "--epochs", "1"]
    record = tmp_path / "steps.json"
    run_lesson(name, "gpu", *flags, "--out", tmp_path / "standin", record=record)
    if not ON_STANDIN:
        run_lesson(name, "gpu", *flags, "--out", tmp_path / "gpu")
    assert (tmp_path / "standin" / "samples.npz").exists()
    with open(record) as f:
        assert_within_budget(variant, VARIANTS[variant], json.load(f)["steps"])


def test_an_added_sync_breaks_the_budget(monkeypatch):
    """The budget is tight: lesson 02's step (minigan.bench's dcgan_step, on the stand-in)
    with one float() more, as a careless `if loss > 0` or `.item()` would add, fails it."""
    from minigan.bench import make_dcgan
    monkeypatch.setenv(backend.TEST_CUPY, "cupy_standin")
    backend.use("gpu")
    G, _, step = make_dcgan(4)

    def record(fn):
        start = cupy_standin.mark()
        fn()
        return {**cupy_standin.since(start), "logged": True, "sampled": False}

    assert_within_budget("02_dcgan", BUDGET["02_dcgan"], [record(step)])

    def step_with_a_sync():
        step()
        float(G[0].params["W"].sum())                 # e.g. logging a weight's norm
    with pytest.raises(AssertionError, match="'sync': 4"):
        assert_within_budget("02_dcgan", BUDGET["02_dcgan"], [record(step_with_a_sync)])


def test_lesson00_passes_on_gpu():
    proc = _subprocess([sys.executable, os.path.join(ROOT, "lessons", "00_layers.py"),
                        "--device", "gpu", "--seed", "1"], ON_STANDIN)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"all {len(LESSON00_CHECKS)} checks pass" in proc.stdout


def test_bench_runs_on_gpu():
    proc = _subprocess([sys.executable, "-m", "minigan.bench", "--device", "gpu", "--skip-layers",
                        "--repeats", "1", "--batch-size", "8"], ON_STANDIN)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["name"] for line in lines] == ["sgemm", "dcgan_step", "dcgan_large_step", "dcgan_fc_step",
                                                 "cgan_step", "wgan_gp_critic_step"]
    assert lines[0]["device"] == "gpu"


def test_gpu_flag_without_a_gpu_is_one_line(tmp_path):
    """--device gpu where CuPy sees no GPU: one line on stderr, exit 2 (the stand-in plays
    that machine; a missing CuPy: test_train.py and test_standin.py)."""
    env_cmd = [sys.executable, os.path.join(ROOT, "lessons", "04_cgan.py"), "--device", "gpu",
               "--out", str(tmp_path)]
    env = dict(os.environ, CUPY_STANDIN_DEVICES="0", **{backend.TEST_CUPY: "cupy_standin"})
    env["PYTHONPATH"] = TESTS + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(env_cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: --device gpu: CuPy is installed but no GPU is visible"]


QUICK07 = ["--subset", "24", "--batch-size", "8", "--channels", "2", "--d-channels", "2",
           "--residual-blocks", "1", "--pool-size", "4", "--sample-interval", "2", "--epochs", "1"]


def test_cyclegan_on_gpu_same_as_cpu_and_within_budget(tmp_path):
    """Lesson 07 (it writes translations.npz, not samples.npz): --device gpu on the stand-in
    translates the test digits as the CPU run does, and every step stays in its budget:
    no transfer (both data sets live on the device, the history buffers draw on the host
    and keep device arrays), and one sync per loss: G's 2 LSGAN + 4 L1 terms,
    the discriminators' 4 LSGAN terms."""
    record = tmp_path / "steps.json"
    run_lesson("07_cyclegan", "gpu", *QUICK07, "--eval-every", "0", "--out", tmp_path / "gpu",
               record=record if ON_STANDIN else None)
    run_lesson("07_cyclegan", "cpu", *QUICK07, "--eval-every", "0", "--out", tmp_path / "cpu")
    with np.load(tmp_path / "gpu" / "translations.npz") as g, np.load(tmp_path / "cpu" / "translations.npz") as c:
        for k in ("a_to_b", "b_to_a"):
            assert float(np.abs(g[k] - c[k]).max()) <= (1e-5 if ON_STANDIN else 2e-2), k
    if not ON_STANDIN:
        run_lesson("07_cyclegan", "gpu", *QUICK07, "--eval-every", "0", "--out", tmp_path / "s",
                   record=record)
    with open(record) as f:
        steps = json.load(f)["steps"]
    # the one exception: B's shuffled order, uploaded when B's pass starts (inside the
    # first step here; A's order goes up before the step's record begins)
    assert_within_budget("07_cyclegan", {"h2d": 1, "sync": 10}, steps[:1])
    assert_within_budget("07_cyclegan", {"h2d": 0, "sync": 10}, steps[1:])
    assert len(steps) == 3 and any(s["sampled"] for s in steps)
