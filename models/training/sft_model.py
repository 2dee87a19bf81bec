"""The causal LM under supervised fine-tuning, wrapped so its forward returns the assistant-only loss.

`ReplyLoss.forward` runs the decoder body, keeps the hidden states of the positions whose next token is a
label, and applies the LM head (and the softmax over the whole vocabulary) to those only: on support
conversations about half of the tokens are prompt and template, and for a small model the head over a 49k
vocabulary is a large part of a step (bench/sft_step.py measures it). The wrapper is what accelerate prepares,
so DDP sees one forward and synchronises gradients as usual; `.lm` is the plain transformers model that is
checkpointed, merged and saved.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
import torch.nn.functional as F

from models.core.config import TrainConfig
from models.modeling.chat_template import IGNORE_INDEX

log = logging.getLogger(__name__)


class ReplyLoss(torch.nn.Module):
    """A causal LM whose forward is the mean cross-entropy over assistant tokens (labels != -100)."""

    def __init__(self, lm: torch.nn.Module) -> None:
        super().__init__()
        self.lm = lm

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor,
                attention_mask: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Mean next-token cross-entropy over the label positions (the training loss)."""
        total, count = self.loss_sum(input_ids, labels, attention_mask, position_ids)
        return total / count.clamp(min=1)

    def loss_sum(self, input_ids: torch.Tensor, labels: torch.Tensor,
                 attention_mask: torch.Tensor | None = None,
                 position_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(summed cross-entropy, number of label tokens) of the batch (validation averages over batches)."""
        body = self.lm.get_decoder()
        hidden = body(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                      use_cache=False).last_hidden_state
        target = labels[:, 1:]
        keep = target != IGNORE_INDEX
        logits = self.lm.get_output_embeddings()(hidden[:, :-1][keep])
        total = F.cross_entropy(logits.float(), target[keep], reduction="sum")
        return total, keep.sum()


def lora_targets(lm: torch.nn.Module) -> list[str] | str:
    """LoRA target modules: the attention projections of Llama-family models (q, k, v, o), else all-linear."""
    names = {name.rsplit(".", 1)[-1] for name, _ in lm.named_modules()}
    wanted = [n for n in ("q_proj", "k_proj", "v_proj", "o_proj") if n in names]
    return wanted or "all-linear"


def wrap_lora(lm: torch.nn.Module, config: TrainConfig) -> torch.nn.Module:
    """`lm` with LoRA adapters (peft) on its attention projections; only the adapters train."""
    from peft import LoraConfig, TaskType, get_peft_model

    lora = LoraConfig(task_type=TaskType.CAUSAL_LM, r=config.lora_r, lora_alpha=config.lora_alpha,
                      lora_dropout=config.lora_dropout, target_modules=lora_targets(lm))
    return get_peft_model(lm, lora)


def plain_lm(lm: torch.nn.Module) -> torch.nn.Module:
    """The transformers model inside a peft wrapper (adapters merged into the weights), or `lm` itself."""
    if hasattr(lm, "merge_and_unload"):
        return lm.merge_and_unload()
    return lm


def trainable_parameters(module: torch.nn.Module) -> int:
    """Parameters the optimizer updates."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def describe(lm: Any) -> str:
    """'LlamaForCausalLM, 134.5M parameters' for logs."""
    return f"{type(lm).__name__}, {sum(p.numel() for p in lm.parameters()) / 1e6:.1f}M parameters"
