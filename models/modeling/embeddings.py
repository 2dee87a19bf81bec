"""The linear probe's model: a frozen encoder's mean-pooled, L2-normalised embeddings + a logistic head.

Training (models.training.probe) fits the head; serving (models.serving.predictors) rebuilds the same
embedding function from model/base.json and loads the head. The head is saved with joblib (our own run
folders only: loading it unpickles).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import torch

from models.core.device import resolve_device
from models.core.runs import atomic_path, write_json_atomic
from models.modeling.tokenize import iter_padded_batches, mean_pool, pad_token_id, tokenize_all

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression

HEAD_FILE = "head.joblib"
"""The fitted logistic head in a probe run's model/ folder."""
BASE_FILE = "base.json"
"""The encoder reference (model, max_length, pooling) in a probe run's model/ folder."""


@torch.inference_mode()
def embed_token_ids(encoder: Any, token_ids: list[list[int]], *, batch_size: int, pad_id: int,
                    progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Mean-pooled, L2-normalised embeddings, float32 [len(token_ids), hidden], in input order.

    Batches are sorted by length and padded per batch (models.modeling.tokenize); `progress`, if given,
    is called with the number of texts finished after each batch. No texts: an empty [0, 0] array.
    A few texts (one batch, as a server's dynamic batch is) go through one packed forward pass instead
    when the encoder allows it (`can_pack`): same embeddings, no compute spent on padding.
    """
    device = next(encoder.parameters()).device
    if can_pack(encoder, token_ids, batch_size):
        packed = _packed_embeddings(encoder, token_ids, device)
        if progress is not None:
            progress(len(token_ids))
        return packed
    out: np.ndarray | None = None
    for idx, batch in iter_padded_batches(token_ids, batch_size, pad_id, device):
        hidden = encoder(**batch).last_hidden_state  # [B, T, H]
        pooled = torch.nn.functional.normalize(mean_pool(hidden, batch["attention_mask"]).float(), dim=-1)
        if out is None:
            out = np.empty((len(token_ids), pooled.shape[-1]), dtype=np.float32)
        out[idx] = pooled.cpu().numpy()
        if progress is not None:
            progress(len(idx))
    if out is None:
        return np.zeros((0, 0), dtype=np.float32)
    return out


PACKABLE_MODEL_TYPES = frozenset({"bert"})
"""Encoders whose forward takes per-token position_ids and a prepared 4D additive attention mask, with
absolute positions counted from 0 (BERT and its descendants: MiniLM, BGE, E5, GTE-base...). RoBERTa-style
models offset positions by the padding index and are left on the padded path."""
PACK_MAX_TOKENS = 1024
"""Longest packed sequence: attention over a packed sequence grows with its length squared."""


def can_pack(encoder: Any, token_ids: Sequence[Sequence[int]], batch_size: int) -> bool:
    """Whether these texts go through one packed forward pass (several texts of one batch, a BERT-type
    encoder with sdpa or eager attention, at most PACK_MAX_TOKENS tokens in all)."""
    config = getattr(encoder, "config", None)
    if config is None or not 1 < len(token_ids) <= batch_size:
        return False
    if getattr(config, "model_type", None) not in PACKABLE_MODEL_TYPES:
        return False
    if getattr(config, "_attn_implementation", "eager") not in ("sdpa", "eager"):
        return False
    total = sum(len(ids) for ids in token_ids)
    longest = max(len(ids) for ids in token_ids)
    return total <= PACK_MAX_TOKENS and longest <= int(getattr(config, "max_position_embeddings", 512))


def _packed_embeddings(encoder: Any, token_ids: Sequence[Sequence[int]], device: torch.device) -> np.ndarray:
    """Every text as one segment of a single sequence: positions restart at 0 in each segment and a
    block-diagonal mask keeps each token's attention inside its own text, so each text's hidden states
    are those of a forward pass on it alone (to float rounding), without a padded token computed.

    Padding a dynamic batch of short requests to its longest text wastes most of the work (BANKING77:
    44% of a 16-text batch's tokens are real); measured on 2 CPU cores, MiniLM embeds 16-text batches
    about 1.7-1.9x faster packed (bench/embed_packing.py), embeddings equal to 1e-7."""
    lengths = torch.tensor([len(ids) for ids in token_ids], device=device)
    flat = torch.tensor([t for ids in token_ids for t in ids], dtype=torch.long, device=device).unsqueeze(0)
    positions = torch.cat([torch.arange(n, device=device) for n in lengths.tolist()]).unsqueeze(0)
    segment = torch.repeat_interleave(torch.arange(len(token_ids), device=device), lengths)
    dtype = next(encoder.parameters()).dtype
    mask = torch.zeros((len(segment), len(segment)), dtype=dtype, device=device)
    mask.masked_fill_(segment[:, None] != segment[None, :], torch.finfo(dtype).min)
    hidden = encoder(input_ids=flat, position_ids=positions, token_type_ids=torch.zeros_like(flat),
                     attention_mask=mask[None, None]).last_hidden_state[0].float()  # [T, H]
    sums = torch.zeros((len(token_ids), hidden.shape[-1]), dtype=torch.float32, device=device)
    sums.index_add_(0, segment, hidden)
    pooled = torch.nn.functional.normalize(sums / lengths[:, None].float(), dim=-1)
    return pooled.cpu().numpy().astype(np.float32, copy=False)


def embed_texts(
    encoder: Any,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 128,
    max_length: int = 128,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Mean-pooled, L2-normalised embeddings, float32 [len(texts), hidden], in input order.

    `progress`, if given, is called with the number of texts finished after each batch.
    """
    token_ids = tokenize_all(tokenizer, texts, max_length)
    return embed_token_ids(encoder, token_ids, batch_size=batch_size, pad_id=pad_token_id(tokenizer),
                           progress=progress)


def load_frozen_encoder(model: str, device_name: str = "auto") -> tuple[Any, Any]:
    """(encoder in eval mode on the chosen device, tokenizer) for a registry name or folder.

    Raises ModelNotFoundError (unknown model) or DeviceError (device missing).
    """
    from models.modeling.loading import load_encoder, load_tokenizer
    from models.modeling.registry import resolve_model

    spec = resolve_model(model)
    encoder = load_encoder(spec).to(resolve_device(device_name)).eval()
    return encoder, load_tokenizer(spec)


def save_head(head: LogisticRegression, model_dir: Path, base: dict[str, Any]) -> None:
    """Save the fitted head and the encoder reference (base.json) atomically."""
    model_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(model_dir / HEAD_FILE) as tmp:
        joblib.dump(head, tmp)
    write_json_atomic(model_dir / BASE_FILE, base)


def load_head(model_dir: Path) -> LogisticRegression:
    """The head saved by `save_head` (our own run folders only: this unpickles)."""
    return joblib.load(Path(model_dir) / HEAD_FILE)


def head_proba(head: LogisticRegression, embeddings: np.ndarray, num_labels: int) -> np.ndarray:
    """Probabilities [n, num_labels]; classes missing from training get 0."""
    probs = np.zeros((len(embeddings), num_labels), dtype=np.float64)
    probs[:, head.classes_.astype(int)] = head.predict_proba(embeddings)
    return probs
