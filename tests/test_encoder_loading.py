"""Which pooling `load_encoder` gives each kind of model.

A sentence-transformers model keeps its own modules; a plain transformers checkpoint gets
[CLS] pooling (docs/METHOD.md, "The encoder"), whether it is a local folder or a hub id. The hub ids here
are written into the session's private, offline hub cache (conftest sets `HF_HUB_CACHE`), the
layout `huggingface_hub` reads: `models--ORG--NAME/snapshots/<sha>/` plus `refs/main`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from threephase_core.encoder import load_encoder


def _pooling_mode(model) -> str:
    pool = next(m for m in model if type(m).__name__ == "Pooling")
    return pool.get_config_dict()["pooling_mode"]


@pytest.fixture(scope="module")
def plain_bert(tmp_path_factory) -> Path:
    """A 1-layer random BERT saved by transformers (no modules.json), with the MiniLM tokenizer."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from threephase_core.encoder import packaged_minilm_path

    path = tmp_path_factory.mktemp("plain-bert")
    tok = AutoTokenizer.from_pretrained(packaged_minilm_path())
    BertModel(
        BertConfig(
            vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64
        )
    ).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _into_hub_cache(folder: Path, repo_id: str) -> None:
    repo = Path(os.environ["HF_HUB_CACHE"]) / ("models--" + repo_id.replace("/", "--"))
    sha = "0" * 40
    shutil.copytree(folder, repo / "snapshots" / sha, dirs_exist_ok=True)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(sha)


def test_plain_local_folder_gets_cls_pooling(plain_bert):
    assert _pooling_mode(load_encoder(str(plain_bert))) == "cls"


def test_plain_hub_checkpoint_gets_cls_pooling(plain_bert):
    # Before the fix a hub id went straight to SentenceTransformer, which falls back to mean pooling.
    _into_hub_cache(plain_bert, "probe/plain-bert")
    assert _pooling_mode(load_encoder("probe/plain-bert")) == "cls"


def test_sentence_transformers_models_keep_their_pooling(tiny_model_path):
    # The tiny encoder is saved as a sentence-transformers model with mean pooling.
    assert _pooling_mode(load_encoder(tiny_model_path)) == "mean"
    _into_hub_cache(Path(tiny_model_path), "probe/tiny-st")
    assert _pooling_mode(load_encoder("probe/tiny-st")) == "mean"


@pytest.fixture(scope="module")
def tiny_roberta(plain_bert, tmp_path_factory) -> Path:
    """A 1-layer random RoBERTa (positions start at pad_id + 1 = 2, so 514 positions hold 512
    tokens), with the MiniLM tokenizer: enough to exercise the length limit."""
    from transformers import RobertaConfig, RobertaModel

    path = tmp_path_factory.mktemp("tiny-roberta")
    RobertaModel(
        RobertaConfig(
            vocab_size=30522,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=514,
            pad_token_id=1,
        )
    ).save_pretrained(path)
    for name in os.listdir(plain_bert):
        if name.startswith(("tokenizer", "special_tokens", "vocab")):
            shutil.copy(plain_bert / name, path / name)
    return path


def test_max_input_tokens_subtracts_roberta_position_offset(plain_bert, tiny_roberta):
    from threephase_core.encoder import max_input_tokens

    assert max_input_tokens(load_encoder(str(plain_bert))) == 512  # BERT: 512 positions, 512 tokens
    assert max_input_tokens(load_encoder(str(tiny_roberta))) == 512  # RoBERTa: 514 positions, 512 tokens


def test_run_refuses_max_length_past_roberta_limit_and_runs_at_it(tiny_roberta, tmp_path):
    from threephase_core.recipes import build_config
    from threephase_core.runner import run_recipe

    data = tmp_path / "long.csv"
    words = " ".join(f"w{i}" for i in range(600))
    rows = [
        f'"{words if i % 4 == 0 else f"short text {i}"}",{i % 2},{split}'
        for split in ("train", "validation", "test")
        for i in range(8)
    ]
    data.write_text("text,label,split\n" + "\n".join(rows) + "\n")
    results = {}
    for max_length in (512, 514):
        cfg = build_config(
            "ft", [f"model={tiny_roberta}", "device=cpu", "max_steps=1", f"max_length={max_length}", f"dataset={data}"]
        )
        _, results[max_length] = run_recipe(cfg, tmp_path / f"runs{max_length}")
    assert results[512]["state"] == "done"
    assert results[514]["state"] == "failed" and results[514]["input_error"]
    assert "512 tokens" in results[514]["message"]


def test_unwritable_cache_folder_is_a_model_error(tmp_path, monkeypatch):
    from threephase_core.encoder import ModelError

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("THREEPHASE_CACHE", str(blocker / "cache"))
    with pytest.raises(ModelError, match="THREEPHASE_CACHE"):
        load_encoder("tiny")


def test_building_the_tiny_encoder_leaves_the_global_rng_alone(tmp_path):
    """A seeded run that builds the tiny model on first use must draw the same random numbers as
    one that loads it from the cache (building it used to re-seed torch's global RNG)."""
    import torch

    from threephase_core.encoder import make_tiny_encoder

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    make_tiny_encoder(tmp_path / "fresh-tiny")
    assert torch.equal(torch.rand(3), expected)
