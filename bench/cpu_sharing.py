"""Does a run share the CPU gracefully? The demo run alone, and beside one CPU-bound process.

Runs ``python -m threephase_core run --dataset demo --recipe three_phase`` (in a fresh process each
time, as a person would) alone and then beside a 2-thread matrix multiply (numpy), back to back,
`--repeats` times, for each engine setting compared:

* ``auto``: the engine's own choice (threads.py: idle OpenMP threads sleep, a thread per core);
* ``all-cores-spinning`` (with ``--compare``): what the engine did before, torch's defaults: one
  thread per core, and idle threads that spin (libgomp's default spin count);
* ``one-thread`` (with ``--settings``): one intra-op thread, idle threads asleep.

Fair sharing of the cores between the run and the other process gives a slowdown of about 2x; the
target is at most 2.5x. The other process's matrix multiplies per second are recorded too (alone and
beside each run), so the figures show who paid for a slowdown.

Timings need a quiet machine: run it with nothing else on the CPU. Writes
``cpu_sharing_cpu.md`` and ``.json`` to `--out` with the command, the commit and the versions.

    python bench/cpu_sharing.py --repeats 2 --compare
    python bench/cpu_sharing.py --repeats 1 --set max_steps=3 --out /tmp/cs     # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from provenance import commit, versions_text

ROOT = Path(__file__).resolve().parents[1]
OTHER_THREADS = 2
PACKAGES = ("torch", "numpy", "transformers")  # the versions the results file names
# The other process: square matrix multiplies in OTHER_THREADS BLAS threads until SIGTERM; prints its rate.
OTHER_PROCESS = f"""
import signal, sys, time
import numpy as np
from threadpoolctl import threadpool_limits
threadpool_limits({OTHER_THREADS})
a = np.random.default_rng(0).random((1024, 1024))
n, t0, stop = 0, time.perf_counter(), []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
print("ready", flush=True)
while not stop:
    a @ a
    n += 1
print(n / (time.perf_counter() - t0), flush=True)
"""
SETTINGS = {
    "auto": {},
    # torch's defaults before threads.py: a thread per core, idle threads spinning (libgomp's default count).
    "all-cores-spinning": {"THREEPHASE_THREADS": str(len(os.sched_getaffinity(0))), "GOMP_SPINCOUNT": "300000"},
    # one thread, idle threads asleep: what an earlier auto rule (give up the cores others keep busy)
    # chose beside the other process on 2 cores.
    "one-thread": {"THREEPHASE_THREADS": "1"},
}


def start_other() -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    proc = subprocess.Popen([sys.executable, "-c", OTHER_PROCESS], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def stop_other(proc: subprocess.Popen) -> float:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    return float(out.strip().splitlines()[-1])


def other_alone(seconds: float) -> float:
    """The other process's matrix multiplies per second with the machine to itself."""
    proc = start_other()
    time.sleep(seconds)
    return stop_other(proc)


def demo_run(setting: str, overrides: list[str], model: str, runs_dir: str) -> dict:
    """One demo run in a fresh process; its wall time (process start to exit) and the run's own."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(SETTINGS[setting])
    cmd = [sys.executable, "-m", "threephase_core", "run", "--dataset", "demo", "--recipe", "three_phase"]
    cmd += ["--model", model, "--runs-dir", runs_dir, "--quiet"]
    for item in overrides:
        cmd += ["--set", item]
    before = set(Path(runs_dir).iterdir())
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    cpu = _children_cpu() - cpu0
    if proc.returncode != 0:
        raise SystemExit(f"the demo run failed ({setting}): {proc.stderr.strip()[-2000:]}")
    (run,) = set(Path(runs_dir).iterdir()) - before
    status = json.loads((run / "status.json").read_text())
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines()]
    threads = [e["threads"] for e in events if e.get("type") == "threads"]
    return {
        "process_s": round(wall, 2),
        "cpu_s": round(cpu, 2),  # CPU time the run's process used: spinning threads inflate it
        "run_s": round(status["wall_s"], 2),
        "phase_walls": {k: round(v, 2) for k, v in status["phase_walls"].items()},
        "threads_chosen": threads,
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=2, help="alone/beside pairs per setting")
    ap.add_argument("--compare", action="store_true", help="also measure torch's defaults (all cores, spinning)")
    ap.add_argument("--settings", default=None, help=f"comma-separated, from {', '.join(SETTINGS)} (default: auto)")
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="a run setting, key=value")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    settings = ["auto", "all-cores-spinning"] if args.compare else ["auto"]
    if args.settings:
        settings = [s.strip() for s in args.settings.split(",") if s.strip()]
        unknown = [s for s in settings if s not in SETTINGS]
        if unknown:
            raise SystemExit(f"error: unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    result = {
        "command": " ".join(["python", "bench/cpu_sharing.py", *sys.argv[1:]]),
        "commit": commit(),
        "versions": versions_text(*PACKAGES),
        "cores": len(os.sched_getaffinity(0)),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "other_process": f"numpy 1024x1024 matrix multiplies in {OTHER_THREADS} BLAS threads",
        "settings": {},
    }
    result["other_alone_per_s"] = round(other_alone(15.0), 2)
    with tempfile.TemporaryDirectory(prefix="cpu-sharing-") as runs_dir:
        demo_run("auto", ["max_steps=1"], args.model, runs_dir)  # warm the disk caches; not counted
        for setting in settings:
            pairs = []
            for i in range(args.repeats):
                alone = demo_run(setting, args.overrides, args.model, runs_dir)
                other = start_other()
                beside = demo_run(setting, args.overrides, args.model, runs_dir)
                other_rate = stop_other(other)
                pair = {"alone": alone, "beside": beside, "other_beside_per_s": round(other_rate, 2)}
                pair["slowdown"] = round(beside["process_s"] / alone["process_s"], 2)
                pairs.append(pair)
                print(
                    f"{setting} #{i}: alone {alone['process_s']} s, beside {beside['process_s']} s "
                    f"({pair['slowdown']}x); other process {other_rate:.2f}/s beside, "
                    f"{result['other_alone_per_s']}/s alone",
                    flush=True,
                )
            result["settings"][setting] = {
                "pairs": pairs,
                "median_slowdown": round(statistics.median(p["slowdown"] for p in pairs), 2),
            }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "cpu_sharing_cpu.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "cpu_sharing_cpu.md").write_text(_markdown(result))
    print(f"wrote {out / 'cpu_sharing_cpu.md'}")
    return 0


def _markdown(r: dict) -> str:
    lines = [
        "# The demo run alone and beside one CPU-bound process",
        "",
        f"`{r['command']}` at commit {r['commit'] or '(unknown)'}; {r['versions']}; {r['cores']} cores; load "
        f"average at the start {r['load_average_at_start']}. The other process: {r['other_process']}, "
        f"{r['other_alone_per_s']} per second alone. Each pair was measured back to back (alone, then beside); "
        "fair sharing gives about 2x.",
        "",
        "| setting | pair | alone (s) | beside (s) | slowdown | CPU s alone / beside | threads chosen beside "
        "| other process beside (/s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in r["settings"].items():
        for i, p in enumerate(s["pairs"]):
            lines.append(
                f"| {name} | {i} | {p['alone']['process_s']} | {p['beside']['process_s']} | {p['slowdown']}x | "
                f"{p['alone']['cpu_s']} / {p['beside']['cpu_s']} | {p['beside']['threads_chosen'] or '-'} | "
                f"{p['other_beside_per_s']} |"
            )
    lines += ["", *(f"- {name}: median slowdown {s['median_slowdown']}x" for name, s in r["settings"].items()), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
