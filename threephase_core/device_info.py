"""The device label the workbench shows, without importing torch where it can be avoided.

Importing torch takes seconds; the workbench shows the device on every page, so its first page
would wait for torch. On Linux, a machine with no NVIDIA driver loaded (no
``/proc/driver/nvidia/gpus``) cannot run CUDA, so its label is the CPU's without asking torch.
Anywhere else, or once torch is imported anyway, torch says (`encoder.device_label`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")


def cpu_label() -> str:
    return f"CPU ({os.cpu_count()} cores)"


def surely_no_cuda() -> bool:
    """True where CUDA certainly cannot run (Linux without an NVIDIA driver), known without torch."""
    return "torch" not in sys.modules and sys.platform.startswith("linux") and not NVIDIA_GPUS.exists()


def device_label() -> str:
    """'NVIDIA H100 80GB HBM3' or 'CPU (2 cores)'."""
    if surely_no_cuda():
        return cpu_label()
    from threephase_core.encoder import device_label as torch_label

    return torch_label()
