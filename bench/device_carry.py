"""Pack, here, what a benchmark run on the lent GPU machine needs; unpack it there.

The device machine has no network and no `../shared`, and at most 64 MiB (the working tree
included) travels per call. So the model travels as fp16 safetensors (all-MiniLM-L6-v2: 45 MB
instead of 91) and is widened back to fp32 there, and datasets travel as they are, except the
big ones (IMDB's 21 MB of parquet), which travel as xz-compressed JSON lines (17.8 MB).

Here (the folder is git-ignored; name it in the device tool's `carry`):

    python bench/device_carry.py pack --out .devcarry --datasets snips_builtin_intents,snips2,sst2,sst5,ag_news,massive_en_us
    python bench/device_carry.py pack --out .devcarry_imdb --datasets imdb --xz-over-mb 5

There, at the start of every command:

    python3 bench/device_carry.py unpack .devcarry --model-out /tmp/minilm

then `--data-root .devcarry/data --model /tmp/minilm` for the bench scripts.
"""
from __future__ import annotations

import argparse
import json
import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_BYTES = 64 * 2**20
MODEL_DIR, DATA_DIR = "model16", "data"
MARKER = "threephase_carry.json"  # written by pack: what the folder holds; unpack checks it


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def working_tree_bytes() -> int:
    """What travels besides the carried folders: tracked and untracked-not-ignored files."""
    try:
        names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return 0
    return sum((ROOT / n).stat().st_size for n in names.decode().split("\0") if n and (ROOT / n).is_file())


def copy_model(src: Path, dst: Path, dtype, ignore=None) -> None:
    """Copy a model folder with its floating-point safetensors weights cast to `dtype`."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(src, dst, ignore=ignore)
    sd = load_file(str(src / "model.safetensors"))
    save_file({k: v.to(dtype) if v.is_floating_point() else v for k, v in sd.items()}, str(dst / "model.safetensors"))


def pack_model(src: Path, dst: Path) -> None:
    """Copy the model folder, its safetensors weights narrowed to fp16 (other weight formats left out)."""
    import torch

    if not (src / "model.safetensors").exists():
        raise SystemExit(f"error: {src} has no model.safetensors")
    copy_model(src, dst, torch.float16, shutil.ignore_patterns("*.bin", "*.onnx", "*.h5", "*.msgpack", "onnx", "openvino"))


def widen_model(src: Path, dst: Path) -> None:
    """The fp16 copy back to fp32 (training starts from the same weights, rounded to fp16)."""
    import torch

    if dst.exists():
        shutil.rmtree(dst)
    copy_model(src, dst, torch.float32)


def pack_dataset(src: Path, dst: Path, xz_over_bytes: int) -> None:
    """Copy one dataset folder; parquet files over `xz_over_bytes` become `<split>.jsonl.xz`."""
    import pandas as pd

    dst.mkdir(parents=True)
    for f in sorted(src.iterdir()):
        if f.suffix == ".parquet" and f.stat().st_size > xz_over_bytes:
            df = pd.read_parquet(f)
            with lzma.open(dst / f"{f.stem}.jsonl.xz", "wt", encoding="utf-8", preset=6) as out:
                df.to_json(out, orient="records", lines=True, force_ascii=False)
        elif f.is_file():
            shutil.copy2(f, dst / f.name)


def unpack_data(root: Path) -> list[Path]:
    """Every `*.jsonl.xz` under `root` decompressed beside itself (the loaders read `.jsonl`)."""
    done = []
    for f in sorted(root.rglob("*.jsonl.xz")):
        target = f.with_suffix("")  # train.jsonl.xz -> train.jsonl
        if not target.exists():  # written whole or not at all (a call cut short leaves no half file)
            partial = target.with_name(target.name + ".partial")
            with lzma.open(f, "rb") as src, open(partial, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
            os.replace(partial, target)
        done.append(target)
    return done


def pack(args) -> int:
    out = Path(args.out)
    if out.exists():
        if not (out / MARKER).exists():
            raise SystemExit(f"error: {out} exists and was not made by this script; pick a new --out or remove it yourself")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    datasets = [d for d in args.datasets.split(",") if d]
    if args.model:
        src = Path(args.model)
        if args.model == "minilm":
            sys.path.insert(0, str(ROOT))
            from threephase_core.encoder import packaged_minilm_path

            src = Path(packaged_minilm_path())
        pack_model(src, out / MODEL_DIR)
    root = Path(args.data_root)
    for name in datasets:
        if not (root / name).is_dir():
            raise SystemExit(f"error: no dataset folder {root / name}")
        pack_dataset(root / name, out / DATA_DIR / name, int(args.xz_over_mb * 1e6))
    (out / MARKER).write_text(json.dumps({"model": bool(args.model), "datasets": datasets}))
    size = folder_bytes(out)
    tree = working_tree_bytes()
    sizes = {p.name: folder_bytes(p) for p in sorted(out.iterdir()) if p.is_dir()}
    report = {"out": str(out), "bytes": size, "sizes": sizes, "working_tree_bytes": tree, "limit_bytes": LIMIT_BYTES, "fits": size + tree <= LIMIT_BYTES}
    print(json.dumps(report, indent=1))
    if not report["fits"]:
        print(f"warning: {size / 2**20:.1f} MiB + the working tree is over the 64 MiB a call carries; split it into two folders", file=sys.stderr)
        return 1
    return 0


def unpack(args) -> int:
    root = Path(args.folder)
    if not (root / MARKER).exists():
        print(f"error: {root} has no {MARKER}: make it with `python bench/device_carry.py pack --out {root}`", file=sys.stderr)
        return 1
    packed = json.loads((root / MARKER).read_text())
    missing = [str(root / DATA_DIR / d) for d in packed["datasets"] if not (root / DATA_DIR / d).is_dir()]
    if packed["model"] and not (root / MODEL_DIR / "model.safetensors").exists():
        missing.append(str(root / MODEL_DIR / "model.safetensors"))
    if missing:
        print(f"error: {root} lacks what pack put there: {', '.join(missing)}", file=sys.stderr)
        return 1
    files = unpack_data(root / DATA_DIR) if packed["datasets"] else []
    if packed["model"]:
        widen_model(root / MODEL_DIR, Path(args.model_out))
        print(f"model: {root / MODEL_DIR} -> {args.model_out} (fp32)")
    print(f"data: {', '.join(packed['datasets']) or 'none'} under {root / DATA_DIR} ({len(files)} file(s) decompressed)")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="here: model as fp16, datasets, into one folder to carry")
    p.add_argument("--out", default=str(ROOT / ".devcarry"))
    p.add_argument("--model", default="minilm", help="'minilm' (the packaged one), a model folder, or '' for none")
    p.add_argument("--data-root", default=str(ROOT.parent / "shared" / "datasets"))
    p.add_argument("--datasets", default="snips_builtin_intents,snips2,sst2,sst5,ag_news,massive_en_us")
    p.add_argument("--xz-over-mb", type=float, default=5.0, help="parquet files bigger than this travel as .jsonl.xz")
    u = sub.add_parser("unpack", help="there: fp32 model, decompressed data")
    u.add_argument("folder")
    u.add_argument("--model-out", default="/tmp/minilm")
    args = ap.parse_args(argv)
    return pack(args) if args.cmd == "pack" else unpack(args)


if __name__ == "__main__":
    raise SystemExit(main())
