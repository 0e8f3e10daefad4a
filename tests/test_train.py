"""The shared plumbing: short lesson runs, checkpoints, resume, and bad input."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from minigan import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = ["--subset", "256", "--batch-size", "64", "--no-eval", "--n-samples", "50",
         "--sample-interval", "2"]


def lesson(name, *argv, check=True):
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "lessons", name), *argv],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    if check:
        assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def checkpoint_arrays(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files if k != "__meta__"}


@pytest.mark.parametrize("name,extra", [("01_gan.py", []), ("01_gan.py", ["--arch", "paper"]),
                                        ("01_gan.py", ["--g-loss", "minimax"]), ("02_dcgan.py", []),
                                        ("02_dcgan.py", ["--arch", "keras"])])
def test_short_run_writes_everything(tmp_path, name, extra):
    lesson(name, *QUICK, *extra, "--epochs", "1", "--out", str(tmp_path))
    for f in ("checkpoint.npz", "epoch_001.png", "losses.png", "samples.npz", "metrics.json",
              "step_000002.png"):
        assert (tmp_path / f).exists(), f
    with np.load(tmp_path / "samples.npz") as f:
        images = f["images"]
    assert images.shape == (50, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1 and images.std() > 0


def test_01_noise_default_follows_arch_and_uniform_draws_other_z(tmp_path):
    """--arch paper draws the authors' latest mnist.yaml's uniform z unless told otherwise,
    --arch mlp a Gaussian; the two noises change every z, grid and training alike."""
    runs = {}
    for name, flags in {"paper": ["--arch", "paper"], "paper-gaussian": ["--arch", "paper", "--noise", "gaussian"],
                        "mlp": []}.items():
        out = tmp_path / name
        lesson("01_gan.py", *QUICK, *flags, "--epochs", "1", "--no-eval", "--out", str(out))
        with np.load(out / "checkpoint.npz") as f:
            runs[name] = json.loads(str(f["__meta__"]))["args"]["noise"], checkpoint_arrays(out / "checkpoint.npz")
    assert [runs[k][0] for k in ("paper", "paper-gaussian", "mlp")] == ["uniform", "gaussian", "gaussian"]
    uniform, gaussian = runs["paper"][1], runs["paper-gaussian"][1]
    assert any(not np.array_equal(gaussian[k], uniform[k]) for k in gaussian)
    proc = lesson("01_gan.py", *QUICK, "--noise", "laplace", "--out", str(tmp_path / "x"), check=False)
    assert proc.returncode == 2 and "--noise" in proc.stderr


def test_01_schedule_shift_trains_at_a_later_epochs_rate(tmp_path):
    """--schedule-shift S: the rate of each step is the unshifted schedule's S epochs of
    steps later, and the flag is refused for --arch mlp."""
    lesson("01_gan.py", *QUICK, "--arch", "paper", "--epochs", "1", "--schedule-shift", "1350",
           "--out", str(tmp_path))
    with np.load(tmp_path / "checkpoint.npz") as f:
        meta = json.loads(str(f["__meta__"]))
    steps = meta["steps_per_epoch"]                              # 256 digits / 64 = 4
    g = meta["optim_scalars"]["G"]
    # the last step's rate: 0.1 / 1.000004^(t - 1 + 1350 epochs of steps), t counted after it
    assert g["lr"] == pytest.approx(0.1 / 1.000004 ** (g["t"] - 1 + 1350 * steps), rel=1e-12)
    proc = lesson("01_gan.py", *QUICK, "--schedule-shift", "10", "--out", str(tmp_path / "x"), check=False)
    assert proc.returncode == 2 and "--schedule-shift" in proc.stderr


def test_dcgan_g_steps_updates_g_that_many_times_per_d_step(tmp_path):
    lesson("02_dcgan.py", *QUICK, "--arch", "small", "--g-steps", "2", "--epochs", "1",
           "--no-eval", "--out", str(tmp_path))
    with np.load(tmp_path / "checkpoint.npz") as f:
        steps = json.loads(str(f["__meta__"]))["optim_scalars"]
    assert steps["D"]["t"] > 0 and steps["G"]["t"] == 2 * steps["D"]["t"]


@pytest.mark.parametrize("extra,g_lr", [([], 1e-3), (["--arch", "small"], 2e-4),
                                        (["--arch", "small", "--g-lr", "5e-4"], 5e-4)])
def test_dcgan_g_lr_is_gs_rate_and_lr_is_ds(tmp_path, extra, g_lr):
    """--g-lr sets G's Adam rate (per-arch default: InfoGAN's 1e-3 for fc), --lr D's."""
    lesson("02_dcgan.py", *QUICK, *extra, "--decay-from", "1", "--epochs", "1", "--no-eval",
           "--out", str(tmp_path))
    with np.load(tmp_path / "checkpoint.npz") as f:
        meta = json.loads(str(f["__meta__"]))
    assert meta["args"]["g_lr"] == g_lr
    assert meta["optim_scalars"]["G"]["lr"] == g_lr and meta["optim_scalars"]["D"]["lr"] == 2e-4


@pytest.mark.parametrize("name", ["01_gan.py", "04_cgan.py"])
def test_paper_schedule_and_model_selection_resume_bit_identically(tmp_path, name):
    """--arch paper (01 and 04): the decaying rate (a function of the optimizer's step
    count), the momentum (of the epoch), the validation scores and the kept best_G all come
    back from the checkpoint: 2 epochs straight == 1 epoch + a resumed one, to the last bit."""
    a, b = tmp_path / "a", tmp_path / "b"
    flags = [*QUICK, "--arch", "paper", "--select-every", "1", "--lr", "0.05"]
    lesson(name, *flags, "--epochs", "2", "--out", str(a))
    lesson(name, *flags, "--epochs", "1", "--out", str(b))
    lesson(name, *flags, "--epochs", "2", "--out", str(b), "--resume")
    ca, cb = checkpoint_arrays(a / "checkpoint.npz"), checkpoint_arrays(b / "checkpoint.npz")
    assert any(k.startswith("model/best_G/") for k in ca)
    for k in ca:
        assert np.array_equal(ca[k], cb[k]), k
    ma = json.loads(str(np.load(a / "checkpoint.npz")["__meta__"]))
    mb = json.loads(str(np.load(b / "checkpoint.npz")["__meta__"]))
    assert [p["epoch"] for p in ma["extra"]["selection"]["points"]] == [1, 2]
    assert ma["extra"] == mb["extra"] and ma["optim_scalars"] == mb["optim_scalars"]
    assert ma["optim_scalars"]["G"]["lr"] < 0.05                 # decayed at every step


def test_resume_is_bit_identical(tmp_path):
    """2 epochs straight == 1 epoch + a resumed epoch, on the CPU, to the last bit."""
    a, b = tmp_path / "a", tmp_path / "b"
    # The lr schedule's length is --epochs, so "1 epoch, then resume to 2" follows another
    # schedule than "2 epochs" unless the rate is constant (--decay-from 1); the schedule
    # itself is a function of the restored step (test_linear_decay).
    flags = [*QUICK, "--arch", "small", "--decay-from", "1"]
    lesson("02_dcgan.py", *flags, "--epochs", "2", "--out", str(a))
    lesson("02_dcgan.py", *flags, "--epochs", "1", "--out", str(b))
    lesson("02_dcgan.py", *flags, "--epochs", "2", "--out", str(b), "--resume")
    ca, cb = checkpoint_arrays(a / "checkpoint.npz"), checkpoint_arrays(b / "checkpoint.npz")
    assert ca.keys() == cb.keys() and len(ca) > 20
    for k in ca:
        assert np.array_equal(ca[k], cb[k]), k
    sa, sb = np.load(a / "samples.npz")["images"], np.load(b / "samples.npz")["images"]
    assert np.array_equal(sa, sb)


@pytest.mark.parametrize("argv", [["--epochs", "-1"], ["--epochs", "0"], ["--batch-size", "0"],
                                  ["--device", "tpu"], ["--lr", "-0.1"], ["--no-such-flag"],
                                  ["--arch", "resnet"]])
def test_bad_flags_exit_2(argv):
    proc = lesson("01_gan.py", *argv, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]     # one line
    assert proc.stderr.startswith("python lessons/01_gan.py: error: ") and "Traceback" not in proc.stderr


def test_gpu_without_cupy_is_one_line(tmp_path):
    pytest.importorskip("numpy")
    try:
        import cupy  # noqa: F401
        pytest.skip("CuPy is installed here")
    except ImportError:
        pass
    proc = lesson("02_dcgan.py", "--device", "gpu", "--out", str(tmp_path), check=False)
    assert proc.returncode == 2
    assert "CuPy" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_resume_errors_are_one_line(tmp_path):
    lesson("01_gan.py", *QUICK, "--epochs", "1", "--out", str(tmp_path))
    ckpt = str(tmp_path / "checkpoint.npz")
    # another lesson's checkpoint
    proc = lesson("02_dcgan.py", *QUICK, "--out", str(tmp_path / "x"), "--resume", ckpt, check=False)
    assert proc.returncode == 2 and "01_gan" in proc.stderr and "Traceback" not in proc.stderr
    # the same lesson with other shapes
    proc = lesson("01_gan.py", *QUICK, "--latent-dim", "64", "--out", str(tmp_path / "y"),
                  "--resume", ckpt, check=False)
    assert proc.returncode == 2 and "shape" in proc.stderr and "Traceback" not in proc.stderr
    # a corrupt file
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a checkpoint")
    proc = lesson("01_gan.py", *QUICK, "--out", str(tmp_path / "z"), "--resume", str(bad), check=False)
    assert proc.returncode == 2 and "checkpoint" in proc.stderr and "Traceback" not in proc.stderr
    # nothing to resume from
    proc = lesson("01_gan.py", *QUICK, "--out", str(tmp_path / "empty"), "--resume", check=False)
    assert proc.returncode == 2 and "no checkpoint" in proc.stderr


def test_unwritable_out(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = lesson("02_dcgan.py", *QUICK, "--out", str(blocker / "sub"), check=False)
    assert proc.returncode == 2 and "--out" in proc.stderr and "Traceback" not in proc.stderr


def test_nan_loss_stops_and_keeps_checkpoint(tmp_path, capsys):
    from argparse import Namespace

    from minigan import train
    from minigan.data import Batches
    from minigan.layers import Dense
    from minigan.optim import Adam
    args = train.make_parser("t", "", 1, 4, 1e-3).parse_args(["--out", str(tmp_path)])
    train.setup(args)
    model = Dense(2, 1)
    data = Batches(np.zeros((8, 2), np.float32), np.zeros(8), 4)
    run = train.Run(args, "t", {"m": model}, {"m": Adam(model)}, data)
    for _ in run.epochs():
        run.log(loss=1.0)
        run.end_epoch()
    saved = checkpoint_arrays(tmp_path / "checkpoint.npz")
    run.epoch = 1
    with pytest.raises(SystemExit) as exc:
        run.log(loss=float("nan"))
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert "loss became nan at step 2" in err and "checkpoint" in err
    after = checkpoint_arrays(tmp_path / "checkpoint.npz")
    assert all(np.array_equal(saved[k], after[k]) for k in saved)
    assert isinstance(args, Namespace)


def test_command_line_names_the_blas_threads_it_ran_with(monkeypatch):
    for var in train.THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    assert train.command_line(["lessons/01_gan.py", "--epochs", "2"]) == "python lessons/01_gan.py --epochs 2"
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert train.command_line(["lessons/01_gan.py"]) == \
        "OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python lessons/01_gan.py"


def test_linear_decay():
    """Constant for the first `start` share of the steps, then linearly to 0 at the end."""
    lr = [train.linear_decay(1.0, step, 100, start=0.6) for step in range(101)]
    assert lr[:60] == [1.0] * 60
    np.testing.assert_allclose(lr[60:], (100 - np.arange(60, 101)) / 40, rtol=1e-12)
    assert train.linear_decay(2e-4, 99, 100, start=1.0) == 2e-4          # start=1: constant


def test_arch_defaults_fill_only_unset_flags():
    table = {"big": {"epochs": 7, "batch_size": 64}, "tiny": {"epochs": 20}}
    p = train.make_parser("xx", "", arch_table=table)
    p.add_argument("--arch", choices=tuple(table), default="big")
    args = train.apply_arch_defaults(p.parse_args(["--epochs", "3"]), table)
    assert (args.epochs, args.batch_size) == (3, 64)
    args = train.apply_arch_defaults(p.parse_args(["--arch", "tiny"]), table)
    assert args.epochs == 20
    assert "7 for --arch big, 20 for --arch tiny" in " ".join(p.format_help().split())


def test_checkpoint_of_another_arch_is_refused(tmp_path):
    """--resume of a checkpoint written by another network: one line that names it."""
    lesson("02_dcgan.py", *QUICK, "--arch", "small", "--epochs", "1", "--out", str(tmp_path))
    proc = lesson("02_dcgan.py", *QUICK, "--epochs", "2", "--out", str(tmp_path), "--resume",
                  check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--arch small" in proc.stderr and "02_dcgan" in proc.stderr


def test_parzen_selection_keeps_the_best_g():
    """ParzenSelection copies G into best_G only when its validation Parzen score beats
    every earlier one: real validation digits (a high score) then noise (a low one)."""
    from minigan.data import load_mnist
    from minigan.layers import Dense
    G, best_G = Dense(3, 2), Dense(3, 2)
    selection = train.ParzenSelection(G, best_G)
    digits = load_mnist("valid")[0][:50]
    weights_then = G.params["W"].copy()
    selection(1, digits)
    np.testing.assert_array_equal(best_G.params["W"], weights_then)
    G.params["W"][...] += 1.0                                       # G moves on ...
    selection(2, np.random.default_rng(0).random((50, 28, 28)))     # ... and draws noise
    np.testing.assert_array_equal(best_G.params["W"], weights_then)  # best_G stays
    first, second = selection.points
    assert (first["epoch"], second["epoch"]) == (1, 2)
    assert first["valid_parzen"] > second["valid_parzen"]
