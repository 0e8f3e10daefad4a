"""Lesson 00 runs end to end: every gradient check, every check against a definition and
the frozen / input_grad=False checks pass, each row printed in order; bad flags exit 2."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LESSON = os.path.join(ROOT, "lessons", "00_layers.py")
SKIPPING = ["input_grad=False: grads", "input_grad=False: skipped", "frozen(D): input grad",
            "frozen(D): param grads"]
LAYERS = ["Dense", "Maxout", "Embedding", "Conv2d", "ConvTranspose2d", "BatchNorm1d",
          "BatchNorm2d (train)", "BatchNorm2d (eval)", "LayerNorm", "ReLU", "LeakyReLU", "Sigmoid", "Tanh",
          "Dropout", "Flatten", "Reshape", "InstanceNorm2d", "InstanceNorm2d (affine)",
          "ReflectionPad2d", "ResidualBlock", "Sequential (tiny D)"]
LOSSES = ["bce_with_logits", "softmax_cross_entropy", "mse", "l1", "mean (Wasserstein terms)"]
CONTAINERS = ["Conditional (lesson 04)", "Joint (lesson 04)", "Parts (lesson 05, by hand)"]
SECOND_ORDER = [f"{name}: 2nd order" for name in
                ["Dense", "Conv2d", "ConvTranspose2d", "LayerNorm", "ReLU", "LeakyReLU", "Sigmoid",
                 "Tanh", "Dropout", "Flatten", "Reshape"]] + ["WGAN-GP penalty (MLP)",
                                                              "WGAN-GP penalty (conv)"]
DEFINITIONS = ["Conv2d forward", "ConvTranspose2d forward", "ConvTranspose2d = Conv2d^T",
               "InstanceNorm2d forward", "ReflectionPad2d forward", "ReflectionPad2d backward",
               "SGD step", "Adam step", "RMSprop step"]
CHECKS = SKIPPING + LAYERS + LOSSES + CONTAINERS + SECOND_ORDER + DEFINITIONS


def run(*args):
    return subprocess.run([sys.executable, LESSON, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


def test_every_check_passes():
    proc = run("--device", "cpu", "--seed", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = [line.rstrip() for line in proc.stdout.splitlines()
            if line.rstrip().endswith(("pass", "FAIL"))]
    # a row is: name, then columns separated by two or more spaces, then pass or FAIL
    names = [re.split(r"\s{2,}", row)[0] for row in rows]
    assert names == CHECKS, proc.stdout
    for row in rows:
        assert row.endswith("pass"), row
    assert "FAIL" not in proc.stdout
    assert f"all {len(CHECKS)} checks pass" in proc.stdout
    # the skipping rows compare bit for bit: a difference of exactly zero, or nothing run
    for row in rows[:len(SKIPPING)]:
        assert re.split(r"\s{2,}", row)[-2] in ("0.0e+00", "-"), row
    # input_grad=False ran only D's two learners, the first one for its parameters only
    assert "input_grad=False backward ran:  Dense.backward, Maxout.backward_params\n" in proc.stdout


def test_unknown_device_exits_2():
    proc = run("--device", "bogus")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
