"""Data-parallel scaling: samples/s per phase of `threephase run --nproc N` against one process.

    python bench/speed.py --nproc 2 --dataset demo --model minilm --max-steps 30     # CPU, 2 processes
    python bench/speed.py --nproc 8 --dataset sst2 --data-root D --max-steps 300     # 8 GPUs

Both runs are the real command on the same data and settings; every process keeps the same
batch (`--batch`, per process), so N processes train on N times the global batch (weak scaling,
the usual way to read data parallelism). Samples/s of a phase = the global batch x the steps
between its first and last logged loss / the time between those two events: the steady state,
without the phase's set-up, the first step's warm-up or the leader's embeddings. The ratio is
samples/s with N processes / with one; N would be perfect. With --repeats R the two runs
alternate R times and each keeps its best figure per phase (work of others on the machine only
ever slows a run down).

On CPU each process gets one thread (OMP_NUM_THREADS=1), so N processes use N cores. On GPUs
losses are logged every 25 steps: give --max-steps of a few hundred.
Writes bench/results/speed_scaling_<device>_n<N>.json and .md (command, commit, versions).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from provenance import commit, versions

ROOT = Path(__file__).resolve().parents[1]
PHASES = ("dae", "cl", "ft")


def run_once(args, nproc: int, runs: Path) -> dict:
    """One `threephase run` with `nproc` processes; its run folder's per-phase steady-state figures."""
    cmd = [sys.executable, "-m", "threephase_core", "run", "--recipe", "three_phase", "--quiet"]
    cmd += ["--dataset", args.dataset, "--model", args.model, "--max-steps", str(args.max_steps)]
    cmd += ["--runs-dir", str(runs), "--nproc", str(nproc)]
    if args.data_root:
        cmd += ["--data-root", args.data_root]
    if args.device != "auto":
        cmd += ["--device", args.device]
    for phase in PHASES:
        cmd += ["--set", f"{phase}.batch_size={args.batch}"]
    for item in args.overrides:
        cmd += ["--set", item]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "PYTHONPATH": str(ROOT)}
    t0 = time.time()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(cmd)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    (run,) = [p for p in runs.iterdir() if p.is_dir()]
    events = [json.loads(line) for line in (run / "events.jsonl").read_text().splitlines() if line.strip()]
    out = {"command": shlex.join(cmd[1:]), "wall_s": time.time() - t0, "global_batch": args.batch * nproc}
    for phase in PHASES:
        steps = [(e["step"], e["t"]) for e in events if e.get("type") == "loss" and e.get("phase") == phase]
        if len(steps) < 2:
            out[phase] = None
            continue
        (s0, t0_), (s1, t1) = steps[0], steps[-1]
        samples = (s1 - s0) * args.batch * nproc
        out[phase] = {"steps": s1 - s0, "seconds": t1 - t0_, "samples_per_s": samples / (t1 - t0_)}
    return out


def main(args) -> int:
    """`bench/speed.py --nproc N`: one process, then N, then the table."""
    from threephase_core.encoder import device_label, pick_device

    device = pick_device(args.device)
    name = device_label() if device != "cpu" else "CPU"
    result = {"nproc": args.nproc, "device": name, "per_process_batch": args.batch}
    tries: dict[int, list[dict]] = {1: [], args.nproc: []}
    with tempfile.TemporaryDirectory(prefix="threephase-scaling-") as tmp:
        for repeat in range(args.repeats):
            for n in (1, args.nproc):
                runs = Path(tmp) / f"n{n}-{repeat}"
                runs.mkdir()
                tries[n].append(run_once(args, n, runs))
    for n, runs in tries.items():
        best = dict(runs[0])
        for phase in PHASES:
            figures = [r[phase] for r in runs if r[phase]]
            best[phase] = max(figures, key=lambda f: f["samples_per_s"]) if figures else None
        best["tries"] = [{p: r[p]["samples_per_s"] if r[p] else None for p in PHASES} for r in runs]
        result[f"n{n}"] = best
    result["ratio"] = {
        phase: (result[f"n{args.nproc}"][phase]["samples_per_s"] / result["n1"][phase]["samples_per_s"])
        if result["n1"][phase] and result[f"n{args.nproc}"][phase]
        else None
        for phase in PHASES
    }
    result.update(
        command="python bench/speed.py " + shlex.join(sys.argv[1:]),
        commit=commit(),
        versions=versions("torch", "transformers", "sentence-transformers"),
        date=time.strftime("%Y-%m-%d"),
        load_average=os.getloadavg(),
        cpus=os.cpu_count(),
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = f"{'cpu' if device == 'cpu' else _slug(result['device'])}_n{args.nproc}"
    (out / f"speed_scaling_{tag}.json").write_text(json.dumps(result, indent=2))
    table = _table(result)
    (out / f"speed_scaling_{tag}.md").write_text(table + "\n")
    print(table)
    return 0


def _table(r: dict) -> str:
    n = r["nproc"]
    lines = [
        f"# Data-parallel scaling, {n} processes against 1 ({r['device']})",
        "",
        f"`{r['command']}` at commit {r['commit']}, {r['date']}; per-process batch {r['per_process_batch']}, "
        f"global batch {r['per_process_batch']} (1 process) and {r['per_process_batch'] * n} ({n} processes); "
        f"best of {len(r['n1']['tries'])} alternating tries per phase.",
        "",
        f"| phase | 1 process samples/s | {n} processes samples/s | ratio (ideal {n}) |",
        "|---|---:|---:|---:|",
    ]
    for phase in PHASES:
        one, many, ratio = r["n1"][phase], r[f"n{n}"][phase], r["ratio"][phase]
        cells = [f"{x['samples_per_s']:.1f}" if x else "-" for x in (one, many)]
        lines.append(f"| {phase} | {cells[0]} | {cells[1]} | {ratio:.2f} |" if ratio else f"| {phase} | - | - | - |")
    lines += [
        "",
        "Samples/s: global batch x steps between the phase's first and last logged loss / the time between them.",
        f"Every try (samples/s): 1 process {r['n1']['tries']}; {n} processes {r[f'n{n}']['tries']}.",
        f"Machine: {r['cpus']} CPUs, load average {', '.join(f'{x:.1f}' for x in r['load_average'])} at the end "
        "(other work on the machine lowers both columns and the ratio).",
        f"Commands: 1 process `{r['n1']['command']}`; {n} processes `{r[f'n{n}']['command']}`.",
        f"Versions: {r['versions']}",
    ]
    return "\n".join(lines)


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in s.lower()).strip("_")
