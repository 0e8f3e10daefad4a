"""Interruptions: a run stopped at any step and resumed ends exactly where an
uninterrupted run ends; Ctrl-C and SIGTERM save; a full disk keeps the last good
checkpoint; an --out that cannot be written stops the run before it trains.

Runs are interrupted at an exact step with MINIGAN_SIGNAL_AT_STEP=N[:TERM][:K]
(minigan/train.py): the lesson sends itself the signal right after step N is logged,
as a user's Ctrl-C would arrive during step N + 1.
"""
import errno
import json
import os
import shlex
import subprocess
import sys
from argparse import Namespace

import numpy as np
import pytest

from minigan import backend, train
from minigan.data import Batches
from minigan.layers import Dense
from minigan.optim import Adam

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS = os.path.join(ROOT, "tests")
Q = ["--subset", "128", "--batch-size", "32", "--no-eval", "--n-samples", "30",
     "--sample-interval", "3"]
# lesson -> (tiny flags, the step after which the signal comes: inside epoch 2, not at its end)
LESSONS = {
    "01_gan": (Q, 6),                                                  # 4 steps an epoch
    "01_gan --arch paper": (Q + ["--arch", "paper", "--select-every", "1", "--lr", "0.05"], 5),
    "02_dcgan": (Q + ["--arch", "small"], 5),
    "03_wgan": (Q + ["--no-warmup-schedule", "--n-critic", "2", "--eval-every", "1",
                     "--eval-samples", "50"], 3),                       # 2 G steps an epoch
    "04_cgan": (Q, 6),
    "05_acgan": (Q, 7),
    "06_wgan_gp": (Q + ["--dim", "4", "--n-critic", "2"], 3),
    "07_cyclegan": (["--subset", "48", "--batch-size", "8", "--channels", "2", "--d-channels", "2",
                     "--residual-blocks", "1", "--eval-every", "3", "--eval-images", "20",
                     "--pool-size", "4", "--no-eval", "--sample-interval", "4"], 9),  # 6 an epoch
}


def run(argv, env=None, standin=False):
    full = dict(os.environ, **(env or {}))
    full.pop(backend.TEST_CUPY, None)
    if standin:
        full[backend.TEST_CUPY] = "cupy_standin"
        full["PYTHONPATH"] = TESTS + os.pathsep + full.get("PYTHONPATH", "")
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, cwd=ROOT,
                          env=full, timeout=600)


def lesson_argv(key, out, epochs=2, device="cpu"):
    name, *arch = key.split()
    flags, _ = LESSONS[key]
    return [sys.executable, f"lessons/{name}.py", *flags, *arch, "--epochs", str(epochs),
            "--device", device, "--out", out]


def final_state(folder):
    with np.load(os.path.join(folder, "checkpoint.npz")) as f:
        arrays = {k: f[k] for k in f.files if k != "__meta__"}
        meta = json.loads(str(f["__meta__"]))
    outputs = "translations.npz" if os.path.exists(os.path.join(folder, "translations.npz")) \
        else "samples.npz"                                           # lesson 07 translates
    with np.load(os.path.join(folder, outputs)) as f:
        arrays.update({f"{outputs}/{k}": f[k] for k in f.files})
    kept = ("rng", "data_rng", "optim_scalars", "extra", "history", "step", "epoch", "position")
    return arrays, {k: meta[k] for k in kept}


def interrupted_then_resumed(key, out, device="cpu", standin=False, sig="INT"):
    """Stop the run after its signal step, check the one line it prints, run the command
    that line gives, and return (the interrupted process, the resumed one)."""
    _, at = LESSONS[key]
    stopped = run(lesson_argv(key, out, device=device), {"MINIGAN_SIGNAL_AT_STEP": f"{at}:{sig}"},
                  standin)
    code = {"INT": 130, "TERM": 143}[sig]
    assert stopped.returncode == code, stopped.stderr[-2000:]
    last = stopped.stderr.strip().splitlines()[-1]
    assert "Traceback" not in stopped.stderr
    assert os.path.join(out, "checkpoint.npz") in last and "resume with: python " in last, last
    command = shlex.split(last.split("resume with: ", 1)[1])
    assert command[-1] == "--resume"
    resumed = run([sys.executable, *command[1:]], standin=standin)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    return stopped, resumed


@pytest.mark.parametrize("key", list(LESSONS))
def test_interrupted_mid_epoch_resumes_bit_for_bit(tmp_path, key):
    straight, stopped = str(tmp_path / "straight"), str(tmp_path / "stopped")
    proc = run(lesson_argv(key, straight))
    assert proc.returncode == 0, proc.stderr[-2000:]
    _, resumed = interrupted_then_resumed(key, stopped)
    # the resumed run restarts inside epoch 2, where the signal stopped it
    line = next(l for l in resumed.stdout.splitlines() if l.startswith("resumed at"))
    epoch, position = (int(w.strip(",")) for w in line.split()[3:6:2])
    steps = int(line.split()[7])
    assert epoch == 2 and 0 < position < steps, line
    a, meta_a = final_state(straight)
    b, meta_b = final_state(stopped)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k], b[k]), f"{key}: {k} differs after the resume"
    assert json.loads(json.dumps(meta_a)) == json.loads(json.dumps(meta_b))


def test_sigterm_saves_and_exits_143(tmp_path):
    out = str(tmp_path / "term")
    stopped, resumed = interrupted_then_resumed("02_dcgan", out, sig="TERM")
    assert "SIGTERM" in stopped.stderr.strip().splitlines()[-1]
    assert "resumed at epoch 2, step 1 of 4" in resumed.stdout


def test_second_ctrl_c_exits_at_once_without_writing(tmp_path):
    out = tmp_path / "twice"
    proc = run(lesson_argv("02_dcgan", str(out)), {"MINIGAN_SIGNAL_AT_STEP": "2:INT:2"})
    assert proc.returncode == 130
    assert not (out / "checkpoint.npz").exists()                  # step 2 of epoch 1: none yet
    assert "resume with" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.gpu
def test_interrupted_mid_epoch_resumes_bit_for_bit_on_the_standin(tmp_path):
    key = "04_cgan"
    straight, stopped = str(tmp_path / "straight"), str(tmp_path / "stopped")
    proc = run(lesson_argv(key, straight, device="gpu"), standin=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    interrupted_then_resumed(key, stopped, device="gpu", standin=True)
    a, meta_a = final_state(straight)
    b, meta_b = final_state(stopped)
    for k in a:
        assert np.array_equal(a[k], b[k]), f"stand-in {key}: {k} differs after the resume"
    assert meta_a["history"] == meta_b["history"] and meta_a["rng"] == meta_b["rng"]


def test_resume_mid_epoch_with_another_batch_size_is_one_line(tmp_path):
    out = str(tmp_path / "bs")
    run(lesson_argv("02_dcgan", out), {"MINIGAN_SIGNAL_AT_STEP": "5"})
    argv = lesson_argv("02_dcgan", out) + ["--batch-size", "16", "--resume"]
    proc = run(argv)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--batch-size" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("make_out", ["a file", "under a file"])
def test_out_that_cannot_be_written_stops_before_training(tmp_path, make_out):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker if make_out == "a file" else blocker / "sub"
    proc = run(lesson_argv("02_dcgan", str(out)))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error: cannot write to --out")
    assert "epoch 1" not in proc.stderr


# ------------------------------------------------------------------ in-process: the Run


def toy_run(tmp_path, minutes, epochs=2):
    """A Run over a one-layer 'model' on 6 batches an epoch, as a lesson would drive it."""
    args = train.make_parser("toy", "", epochs, 4, 1e-2).parse_args(
        ["--out", str(tmp_path), "--checkpoint-minutes", str(minutes)])
    train.setup(args)
    model = Dense(3, 1)
    opt = Adam(model, lr=1e-2)
    data = Batches(np.random.default_rng(0).standard_normal((24, 3)).astype(np.float32),
                   np.zeros(24), 4)
    return train.Run(args, "toy", models={"m": model}, optimizers={"m": opt}, data=data), model, opt


def train_toy(run, model, opt, on_step=None):
    for _ in run.epochs():
        for x, _ in run.batches():
            opt.zero_grad()
            y, cache = model.forward(x)
            model.backward(2 * y / len(y), cache)
            opt.step()
            run.log(loss=float((y ** 2).mean()))
            if on_step:
                on_step(run)
        run.end_epoch()


def test_checkpoints_inside_an_epoch_every_m_minutes(tmp_path, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(train.time, "monotonic", lambda: clock[0])
    saves = []
    real_save = train.Run.save

    def recording_save(self, mid_epoch=False):
        saves.append((self.epoch, self.data.position, mid_epoch))
        return real_save(self, mid_epoch)

    monkeypatch.setattr(train.Run, "save", recording_save)
    run, model, opt = toy_run(tmp_path, minutes=0.5)

    def tick(run):
        clock[0] += 20.0                          # each step "takes" 20 s: a save every 30 s
    train_toy(run, model, opt, tick)
    mid = [s for s in saves if s[2]]
    ends = [s for s in saves if not s[2]]
    assert ends == [(0, 6, False), (1, 6, False)]
    # after steps 2, 4 (30 s passed) and, in epoch 2, after steps 2 and 4 again (the epoch
    # end's save restarts the clock); never after the epoch's last step
    assert mid == [(0, 2, True), (0, 4, True), (1, 2, True), (1, 4, True)]


def test_checkpoint_minutes_zero_writes_at_epoch_ends_only(tmp_path, monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(train.time, "monotonic", lambda: clock[0])
    saves = []
    real_save = train.Run.save
    monkeypatch.setattr(train.Run, "save", lambda self, mid_epoch=False: (
        saves.append(mid_epoch), real_save(self, mid_epoch))[1])
    run, model, opt = toy_run(tmp_path, minutes=0)
    train_toy(run, model, opt, lambda run: clock.__setitem__(0, clock[0] + 1e6))
    assert saves == [False, False]


def test_full_disk_keeps_the_last_checkpoint_and_training_goes_on(tmp_path, monkeypatch, capsys):
    clock = [0.0]
    monkeypatch.setattr(train.time, "monotonic", lambda: clock[0])
    run, model, opt = toy_run(tmp_path, minutes=0.5, epochs=2)
    path = tmp_path / "checkpoint.npz"
    real_savez = np.savez
    state = {"fail": False, "written": []}

    def flaky_savez(f, **arrays):
        if state["fail"]:
            f.write(b"half a checkpoint")            # the disk fills up mid-write
            state["fail"] = False
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        state["written"].append(json.loads(str(arrays["__meta__"]))["step"])
        return real_savez(f, **arrays)

    monkeypatch.setattr(train.np, "savez", flaky_savez)

    def step(run):
        clock[0] += 20.0
        if run.step == 8:                             # epoch 2, after its 2nd step: this save fails
            state["fail"] = True
            state["before"] = path.read_bytes()
        if run.step == 9:                             # nothing was written over the good one
            assert path.read_bytes() == state["before"]
            assert not os.path.exists(str(path) + ".tmp")
    train_toy(run, model, opt, step)
    err = capsys.readouterr().err
    warnings = [l for l in err.splitlines() if l.startswith("warning:")]
    assert len(warnings) == 1 and "No space left on device" in warnings[0]
    assert "the previous one is kept" in warnings[0]
    # the failed write at step 8 is retried by the next one (step 10), and the run finished
    assert 8 not in state["written"] and 10 in state["written"] and state["written"][-1] == 12
    arrays, meta = train.load_checkpoint(str(path))
    assert meta["epoch"] == 2 and meta["step"] == 12


def test_checkpoint_records_training_time_and_position(tmp_path):
    run, model, opt = toy_run(tmp_path, minutes=0, epochs=1)
    seen = {}

    def step(run):
        if run.step == 3:
            run.save(mid_epoch=True)
            seen.update(train.load_checkpoint(str(tmp_path / "checkpoint.npz"))[1])
    train_toy(run, model, opt, step)
    assert seen["epoch"] == 0 and seen["position"] == 3 and seen["steps_per_epoch"] == 6
    assert seen["training_seconds"] == seen["epoch_seconds_so_far"] > 0
