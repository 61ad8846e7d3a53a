"""The pipeline's own cost: the same tasks on 2 Dask workers and one after another.

Both runs compute every task of one pipeline file from scratch (each in a new
output folder, nothing skipped), with one torch thread per task: ``sync``
runs them in this process one after another, ``local`` on a Dask LocalCluster
of ``--workers`` processes. The speed-up is the ratio of the two wall-clock
times (2 on 2 cores is the ideal); the overhead is what the cluster's wall
time adds to the tasks' own time (the sum of the records' ``wall_s``, divided
by the workers). The two runs alternate over ``--rounds`` rounds, order
swapped every round, because the shared machine's speed drifts.

Run from the repository root (the smoke pipeline by default):

    PYTHONPATH=. .venv/bin/python benchmarks/bench_pipeline_overhead.py \\
        [--pipeline pipelines/smoke.yml] [--workers 2] [--rounds 1]
"""

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from augsleep.pipeline import load_pipeline, run_pipeline
from augsleep.pipeline.records import read_records


def one_run(path, scheduler, workers, folder, size="full"):
    """Run every task of the pipeline into a fresh folder; return the times."""
    out = Path(folder) / f"{scheduler}-{time.monotonic_ns()}"
    # Synthetic nights are written once into a shared folder before timing.
    pipeline = load_pipeline(path, size=size)
    if pipeline.dataset["loader"] == "synthetic_mass":
        pipeline.dataset["path"] = str(Path(folder) / "data")
    start = time.perf_counter()
    summary = run_pipeline(
        pipeline,
        out,
        scheduler=scheduler,
        n_workers=workers,
        torch_threads=1,
        progress=False,
    )
    wall = time.perf_counter() - start
    records = read_records(out / "records")
    shutil.rmtree(out)
    assert summary.n_run == summary.n_tasks, summary
    return {
        "wall_s": wall,
        "tasks_s": sum(r["timings"]["wall_s"] for r in records),
        "n_tasks": summary.n_tasks,
        "n_failed": summary.n_failed,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline", default="pipelines/smoke.yml")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--size", default="full", help="the file's size to run")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    results = {"sync": [], "local": []}
    with tempfile.TemporaryDirectory() as folder:
        # Write synthetic data (if any) before the first timed run.
        pipeline = load_pipeline(args.pipeline, size=args.size)
        if pipeline.dataset["loader"] == "synthetic_mass":
            from augsleep.pipeline.datasets import write_synthetic_mass

            write_synthetic_mass(Path(folder) / "data", **pipeline.dataset["synthetic"])
        for r in range(args.rounds):
            order = ["sync", "local"] if r % 2 == 0 else ["local", "sync"]
            for scheduler in order:
                res = one_run(args.pipeline, scheduler, args.workers, folder, args.size)
                results[scheduler].append(res)
                print(
                    f"round {r}: {scheduler:<5} {res['n_tasks']} tasks "
                    f"({res['n_failed']} failed): wall {res['wall_s']:.1f} s, "
                    f"tasks' own time {res['tasks_s']:.1f} s",
                    flush=True,
                )
    for r, (seq, par) in enumerate(zip(results["sync"], results["local"], strict=True)):
        ideal = par["tasks_s"] / args.workers
        print(
            f"round {r}: speed-up {seq['wall_s'] / par['wall_s']:.2f} "
            f"(ideal {args.workers}); cluster wall {par['wall_s']:.1f} s vs its "
            f"tasks' time / workers {ideal:.1f} s: overhead "
            f"{par['wall_s'] - ideal:.1f} s; tasks' time on the cluster / "
            f"one after another: {par['tasks_s'] / seq['tasks_s']:.2f}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
