"""Run a lesson on the CuPy stand-in and record what every training step transferred and
synchronised (tests/test_gpu.py reads the record; not a test file itself).

    python tests/standin_run.py RECORD.json lessons/02_dcgan.py --device gpu [flags...]

The stand-in is selected as every test selects it (MINIGAN_TEST_CUPY=cupy_standin) and the
lesson runs unchanged, as __main__. Only minigan.train.Run.batches is wrapped, to cut the
stand-in's counters at every step: a step is everything the lesson does between getting
one batch and asking for the next. RECORD.json holds one entry per step:
{"h2d", "d2h", "sync": counts, "logged": whether it called run.log, "sampled": whether it
saved a sample grid, "events": [[kind, what, where], ...]}, and the run's totals.
"""
import json
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    record_path, lesson, *argv = sys.argv[1:]
    sys.path[:0] = [HERE, os.path.dirname(HERE)]
    os.environ["MINIGAN_TEST_CUPY"] = "cupy_standin"
    import cupy_standin
    from minigan import train

    steps = []
    batches = train.Run.batches

    def counted_batches(run):
        for batch in batches(run):
            start, step = cupy_standin.mark(), run.step
            yield batch
            record = cupy_standin.since(start)
            record["logged"] = run.step != step
            record["sampled"] = record["logged"] and run.should_sample()
            steps.append(record)

    train.Run.batches = counted_batches
    sys.argv = [lesson, *argv]
    try:
        runpy.run_path(lesson, run_name="__main__")
    finally:
        with open(record_path, "w") as f:
            json.dump({"steps": steps, "totals": cupy_standin.counts}, f)


if __name__ == "__main__":
    main()
