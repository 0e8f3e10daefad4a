"""Lesson 00 runs end to end: every layer's gradient check passes, bad flags exit 2."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSON = os.path.join(ROOT, "lessons", "00_layers.py")
LAYERS = ["Dense", "Maxout", "Embedding", "Conv2d", "ConvTranspose2d", "BatchNorm1d",
          "BatchNorm2d (train)", "BatchNorm2d (eval)", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
          "Dropout", "Flatten", "Reshape", "Sequential"]


def run(*args):
    return subprocess.run([sys.executable, LESSON, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_every_layer_passes():
    proc = run("--device", "cpu", "--seed", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line for line in proc.stdout.splitlines() if line.rstrip().endswith(("pass", "FAIL"))]
    assert len(rows) == len(LAYERS), proc.stdout
    for name in LAYERS:
        row = next((r for r in rows if r.startswith(name)), None)
        assert row is not None, f"no row for {name}:\n{proc.stdout}"
        assert row.rstrip().endswith("pass"), row
    assert "FAIL" not in proc.stdout


def test_unknown_device_exits_2():
    proc = run("--device", "bogus")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
