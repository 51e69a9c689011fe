"""Run several bench/accuracy.py jobs at once on one GPU, then merge their rows.

    python bench/parallel.py --workers 6 --out OUT --common "--data-root D --model M" jobs.txt

Why: with all-MiniLM-L6-v2 one training process keeps an H100 busy only a few per cent of
the time (its steps are bound by kernel launches and Python), so independent runs in
parallel processes finish several times sooner. Throughput figures must NOT come from such
runs (bench/speed.py runs alone); accuracy does not depend on it.

Each line of the jobs file is one argument list for --script (accuracy.py or tune.py) (`#` starts a comment). Job i
writes to OUT/shards/i and its log to OUT/shards/i.log; at the end every shard's rows are
merged into OUT/accuracy_<device>.json (+ .md), tune.py tables are joined into
OUT/tune_all.md (tables and winners best_*.json in OUT/tune/), and the logs joined into
OUT/jobs.log.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jobs", help="file with one accuracy.py argument list per line")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--out", required=True)
    ap.add_argument("--common", default="", help="arguments added to every job")
    ap.add_argument("--script", default="accuracy.py", help="bench script each job runs (accuracy.py or tune.py)")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads per job (OMP_NUM_THREADS)")
    ap.add_argument(
        "--deadline",
        type=float,
        default=0,
        help="seconds; then running jobs are stopped (their finished rows kept) and the rest skipped",
    )
    args = ap.parse_args()
    lines = [ln.split("#", 1)[0].strip() for ln in Path(args.jobs).read_text().splitlines()]
    jobs = [ln for ln in lines if ln]
    out = Path(args.out)
    shards = out / "shards"
    if shards.exists():  # stale shards from an earlier call would be merged with these
        import shutil

        shutil.rmtree(shards)
    shards.mkdir(parents=True, exist_ok=True)
    env = {
        **__import__("os").environ,
        "OMP_NUM_THREADS": str(args.threads),
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONUNBUFFERED": "1",
    }

    t0 = time.time()

    def run(i: int) -> tuple[int, int, float]:
        left = args.deadline - (time.time() - t0) if args.deadline else None
        if left is not None and left <= 0:
            print(f"job {i} skipped (deadline): {jobs[i]}", flush=True)
            return i, -1, 0.0
        cmd = [
            sys.executable,
            str(ROOT / "bench" / args.script),
            *shlex.split(args.common),
            *shlex.split(jobs[i]),
            "--out",
            str(shards / str(i)),
            "--runs-dir",
            f"/tmp/threephase_parallel_runs/{i}",
        ]
        t = time.time()
        with open(shards / f"{i}.log", "w") as log:
            log.write(" ".join(cmd) + "\n")
            log.flush()
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
            try:
                rc = proc.wait(timeout=left)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
                log.write("\n[stopped at the deadline]\n")
        dt = time.time() - t
        print(f"job {i} rc={rc} {dt:.0f}s: {jobs[i]}", flush=True)
        return i, rc, dt

    with ThreadPoolExecutor(args.workers) as pool:
        results = list(pool.map(run, range(len(jobs))))
    print(f"{len(jobs)} jobs in {time.time() - t0:.0f}s; failed: {[i for i, rc, _ in results if rc] or 'none'}")
    with open(out / "jobs.log", "w") as all_logs:
        for i in range(len(jobs)):
            all_logs.write(f"===== job {i}: {jobs[i]}\n")
            log = shards / f"{i}.log"
            all_logs.write(log.read_text() if log.exists() else "(skipped at the deadline)\n")
    if sorted(shards.glob("*/tune_rows_*.json")):  # tune.py jobs (may be split by seed): pool them
        tables = out / "tune"
        subprocess.call(
            [sys.executable, str(ROOT / "bench" / "tune.py"), "--collect", str(shards), "--out", str(tables)]
        )
        (out / "tune_all.md").write_text("\n".join(p.read_text() for p in sorted(tables.glob("tune_*.md"))))
    found = sorted(shards.glob("*/accuracy_*.json"))
    if found:
        subprocess.call(
            [sys.executable, str(ROOT / "bench" / "accuracy.py"), "--merge", *map(str, found), "--out", str(out)]
        )
    return 1 if any(rc for _, rc, _ in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
