"""python -m minigan.bench: the JSON lines other tools read keep their names."""
import json
import os
import subprocess
import sys


def test_bench_lines():
    proc = subprocess.run([sys.executable, "-m", "minigan.bench", "--skip-layers", "--repeats", "1",
                           "--batch-size", "8"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["name"] for line in lines] == ["sgemm", "dcgan_step", "dcgan_large_step", "dcgan_fc_step",
                                                 "cgan_step", "wgan_gp_critic_step"]
    for line in lines[1:4]:
        assert line["batch_size"] == 8 and line["ms"] > 0 and line["gemm_gflop_per_step"] > 0
    # two different networks: lesson 02's default D has a third convolution and half the
    # channels, so its step multiplies a different (smaller) amount than the small one's
    assert lines[2]["gemm_gflop_per_step"] != lines[1]["gemm_gflop_per_step"]


def test_bench_penalty_line_and_blas_warning():
    env = dict(os.environ, OPENBLAS_CORETYPE="Haswell")
    env.pop("OPENBLAS_L2_SIZE", None)
    proc = subprocess.run([sys.executable, "-m", "minigan.bench", "--skip-layers", "--repeats", "1",
                           "--batch-size", "4"], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = {line["name"]: line for line in map(json.loads, proc.stdout.splitlines())}
    assert lines["sgemm"]["openblas_env"] == {"OPENBLAS_CORETYPE": "Haswell"}
    assert "OPENBLAS_CORETYPE set" in proc.stderr and "do not compare" in proc.stderr
    gp = lines["wgan_gp_critic_step"]
    # (timings of one repeat at batch 4 are noise: only the line's fields are checked)
    assert gp["ms"] > 0 and gp["ms_without_penalty"] > 0 and gp["dim"] == 32
    ratio = gp["ms"] / gp["ms_without_penalty"]          # of the rounded ms: within rounding
    assert abs(gp["penalty_cost"] - ratio) <= 0.01 + 0.01 * ratio


def test_bench_only_prints_one_step_line():
    proc = subprocess.run([sys.executable, "-m", "minigan.bench", "--only", "dcgan_step", "--repeats", "1",
                           "--batch-size", "4"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["name"] for line in lines] == ["dcgan_step"] and lines[0]["batch_size"] == 4
    bad = subprocess.run([sys.executable, "-m", "minigan.bench", "--only", "nope"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "cgan_step" in bad.stderr


def test_cgan_step_trains_both_networks():
    """The bench's copy of lesson 04's step moves every parameter of G and D (a G or D left
    out of the step would keep its initial weights) and returns finite losses."""
    import numpy as np
    from minigan import bench
    G, D, step = bench.make_cgan(batch_size=8)
    before = [net.state_dict() for net in (G, D)]
    loss_d, loss_g = step()
    for net, old in zip((G, D), before):
        new = net.state_dict()
        weights = [k for k in old if k.endswith("W")]
        assert len(weights) >= 4
        assert all(not np.array_equal(old[k], new[k]) for k in weights), weights
    assert np.isfinite(loss_d) and np.isfinite(loss_g)


def test_breakdown_of_each_network():
    """--breakdown [LINE]: one line per layer pass of that line's network, then the rest
    and the total under the line's name; an unknown name is refused."""
    from minigan import bench
    G, D, _ = bench.BREAKDOWN["dcgan_fc_step"](4)
    proc = subprocess.run([sys.executable, "-m", "minigan.bench", "--breakdown", "dcgan_fc_step",
                           "--repeats", "1", "--batch-size", "4"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    names = [line["name"] for line in lines]
    for prefix, model in (("G", G), ("D", D)):
        for i, layer in enumerate(model):
            for kind in ("fwd", "bwd"):
                assert f"{prefix}[{i}] {type(layer).__name__} {kind}" in names
    assert "D[6] Dense bwd" in names                        # fc's 6272 -> 1024 layer
    assert names[-2:] == ["rest (losses, optimizers, noise)", "dcgan_fc_step total"]
    assert all(line["ms_per_step"] >= 0 for line in lines[:-2]) and lines[-1]["ms_per_step"] > 0
    assert bench.step_breakdown(4, 1)[-1]["name"] == "dcgan_step total"   # the default, unrenamed
    bad = subprocess.run([sys.executable, "-m", "minigan.bench", "--breakdown", "fc"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
