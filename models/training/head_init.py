"""LP-FT: start a fine-tune from a linear probe's head instead of a random one (Kumar et al. 2022).

A fresh classification head is random: the first steps of a fine-tune push large, noisy gradients
through the pretrained body and distort its features while the head is still guessing; with a small
budget (the quick demo's few hundred steps) the run ends before it has recovered. LP-FT fits the head
first, as a linear probe on the frozen body's own features (the input of the model's last classifier
layer, dropout off), then fine-tunes everything: the loss starts low and the body moves only where the
task needs it.

`init_head_from_probe` does the first half for any Hugging Face sequence classifier whose head ends in an
`nn.Linear` (`classifier`, `score`, or the last Linear inside a head module), behind the lean BERT
forward or not: one forward pass over the training texts, a multinomial logistic regression
(C = config.classic_c, as the linear_probe method), and the coefficients copied into that layer.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from models.errors import TrainingError
from models.modeling import lean_bert as fastpath
from models.modeling.tokenize import EncodedTexts, pad_batch, sorted_batches

log = logging.getLogger(__name__)

_HEAD_NAMES = ("classifier", "score")
"""Attribute names of a sequence classifier's head in transformers (BERT-family, LLM-style)."""


def head_layer(model: nn.Module) -> nn.Linear:
    """The Linear layer that produces the logits (the one LP-FT initialises).

    Raises TrainingError when the model has no `classifier`/`score` head ending in an nn.Linear.
    """
    inner = fastpath.unwrap(model)
    for name in _HEAD_NAMES:
        head = getattr(inner, name, None)
        if isinstance(head, nn.Linear):
            return head
        if isinstance(head, nn.Module):
            linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
            if linears:
                return linears[-1]
    raise TrainingError(f"{type(inner).__name__} has no linear classification head (classifier or score); "
                        "use head_init='random' for this model")


@torch.inference_mode()
def head_features(model: nn.Module, encoded: EncodedTexts, *, batch_size: int, pad_id: int,
                  device: torch.device) -> np.ndarray:
    """The inputs of `head_layer(model)` for every text, float32 [n, in_features], in `encoded`'s order.

    A decoder LLM's head (LlamaForSequenceClassification's `score`) runs on every token and its logits are
    pooled at the rightmost token that is not `pad_id`: the features are that token's hidden state.

    Runs the model in eval mode (no dropout) and restores its training mode afterwards.
    """
    layer = head_layer(model)
    captured: list[torch.Tensor] = []
    hook = layer.register_forward_pre_hook(lambda _module, args: captured.append(args[0].detach()))
    was_training = model.training
    model.eval()
    out = np.zeros((len(encoded), layer.in_features), dtype=np.float32)
    try:
        for rows in sorted_batches(encoded.lengths, batch_size):
            batch = pad_batch(encoded, rows, pad_id)
            captured.clear()
            model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device))
            if len(captured) != 1:
                raise TrainingError(f"the head layer ran {len(captured)} times in one forward pass; "
                                    "LP-FT needs a single linear head")
            features = captured[0]
            if features.ndim == 3:  # a decoder LLM scores every token, then keeps each row's last real one
                ids = batch["input_ids"].to(features.device)
                last = (torch.arange(ids.shape[1], device=ids.device) * (ids != pad_id)).argmax(-1)
                features = features[torch.arange(len(rows), device=ids.device), last]
            out[rows] = features.float().reshape(len(rows), -1).cpu().numpy()
    finally:
        hook.remove()
        model.train(was_training)
    return out


def init_head_from_probe(model: nn.Module, encoded: EncodedTexts, num_labels: int, *, c: float, seed: int,
                         batch_size: int, pad_id: int, device: torch.device) -> dict[str, Any]:
    """Fit a logistic regression on the frozen model's head inputs and copy it into the head layer.

    Classes absent from the training split get a zero weight row and an intercept below every other, so
    they are never predicted at the start (as the linear_probe method gives them probability 0). Returns
    what it did: probe training accuracy, features, seconds (recorded as the run's `head_init` event).
    """
    from sklearn.linear_model import LogisticRegression

    start = time.monotonic()
    layer = head_layer(model)
    if layer.out_features != num_labels:
        raise TrainingError(f"the head has {layer.out_features} outputs for {num_labels} classes")
    features = head_features(model, encoded, batch_size=batch_size, pad_id=pad_id, device=device)
    labels = np.asarray(encoded.labels)
    classes = np.unique(labels)
    weight = np.zeros((num_labels, layer.in_features), dtype=np.float32)
    bias = np.zeros(num_labels, dtype=np.float32)
    if len(classes) >= 2:
        probe = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        probe.fit(features, labels)
        coef, intercept = probe.coef_, probe.intercept_
        if coef.shape[0] == 1:  # sklearn's binary form: one row for the positive class
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-0.5, 0.5]) * intercept[0]
        weight[probe.classes_] = coef
        bias[probe.classes_] = intercept
        train_accuracy = float(probe.score(features, labels))
    else:
        train_accuracy = 1.0
    missing = np.setdiff1d(np.arange(num_labels), classes)
    if len(missing):
        bias[missing] = bias[classes].min() - 10.0
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(weight).to(layer.weight.dtype))
        if layer.bias is not None:
            layer.bias.copy_(torch.from_numpy(bias).to(layer.bias.dtype))
    seconds = time.monotonic() - start
    log.info("LP-FT head from a linear probe on %d texts: train accuracy %.3f in %.1f s", len(encoded),
             train_accuracy, seconds)
    return {"probe_train_accuracy": round(train_accuracy, 6), "features": int(layer.in_features),
            "n_train": len(encoded), "seconds": round(seconds, 3), "bias": layer.bias is not None}
