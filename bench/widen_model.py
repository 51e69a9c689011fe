"""Widen an fp16 safetensors model folder to fp32 (the device copy travels as fp16 to fit the
transfer limit). Usage: python bench/widen_model.py SRC DST

Kept for the commands recorded in earlier results; `bench/device_carry.py unpack` does this and
decompresses the data in one step."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from device_carry import widen_model  # noqa: E402

widen_model(Path(sys.argv[1]), Path(sys.argv[2]))
print(f"widened {sys.argv[1]} -> {sys.argv[2]}")
