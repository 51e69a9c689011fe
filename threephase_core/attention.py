"""Attention masks without host synchronisation, for the GPU.

transformers' SDPA path checks whether a padding mask is all ones (`mask.all()`) so that it
can drop the mask; on CUDA that reads a value back from the device, so the CPU waits for the
GPU at every forward pass. Our steps are bound by the CPU issuing kernels, so every wait costs
the overlap of CPU and GPU work (bench/profile_dae.py found 2 such waits per DAE step; with
this module, and the DAE's mask-free cross-attention, it finds none).
The skip rarely applies to our batches anyway (a padded batch always has a zero), so we
register a copy of the SDPA attention under another name whose mask function never tries it,
through transformers' own extension points (`AttentionInterface`, `AttentionMaskInterface`).
The attention computed is the same; `tests/test_attention.py` checks it.
"""

from __future__ import annotations

NAME = "sdpa_nosync"
_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    def sdpa_mask_nosync(*args, **kwargs):
        # Only a given padding mask needs the check; with none, the stock skip costs nothing.
        if kwargs.get("attention_mask") is not None:
            kwargs["allow_is_bidirectional_skip"] = False
        return sdpa_mask(*args, **kwargs)

    AttentionInterface.register(NAME, sdpa_attention_forward)
    AttentionMaskInterface.register(NAME, sdpa_mask_nosync)
    _registered = True


def avoid_mask_syncs(hf_model) -> bool:
    """Switch a transformers model that uses SDPA to the no-sync variant; True if it did.
    Models on another attention path, and transformers versions without these extension
    points, are left as they are."""
    config = getattr(hf_model, "config", None)
    if getattr(config, "_attn_implementation", None) not in ("sdpa", NAME):
        return False
    try:
        _register()
        hf_model.set_attn_implementation(NAME)
    except Exception:  # an older transformers: keep the stock path
        return False
    return config._attn_implementation == NAME
