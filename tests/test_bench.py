"""python -m minigan.bench: the JSON lines other tools read keep their names."""
import json
import subprocess
import sys


def test_bench_lines():
    proc = subprocess.run([sys.executable, "-m", "minigan.bench", "--skip-layers", "--repeats", "1",
                           "--batch-size", "8"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["name"] for line in lines] == ["sgemm", "dcgan_step", "dcgan_large_step"]
    for line in lines[1:]:
        assert line["batch_size"] == 8 and line["ms"] > 0 and line["gemm_gflop_per_step"] > 0
    # two different networks: lesson 02's default D has a third convolution and half the
    # channels, so its step multiplies a different (smaller) amount than the small one's
    assert lines[2]["gemm_gflop_per_step"] != lines[1]["gemm_gflop_per_step"]
