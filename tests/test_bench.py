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
                                                 "wgan_gp_critic_step"]
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
