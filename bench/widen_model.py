"""Widen an fp16 safetensors model folder to fp32 (the device copy travels as fp16 to fit the
transfer limit). Usage: python bench/widen_model.py SRC DST"""
import shutil
import sys
from pathlib import Path

from safetensors.torch import load_file, save_file

src, dst = Path(sys.argv[1]), Path(sys.argv[2])
if dst.exists():
    shutil.rmtree(dst)
shutil.copytree(src, dst)
sd = load_file(str(src / "model.safetensors"))
save_file({k: v.float() if v.is_floating_point() else v for k, v in sd.items()}, str(dst / "model.safetensors"))
print(f"widened {src} -> {dst}")
