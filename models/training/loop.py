"""The fine-tuning loop: epochs of length-grouped batches, one optimizer step each, validation per epoch.

It follows accelerate's nlp_example: the model and optimizer are `prepare`d (models.training.setup), each
step calls `accelerator.backward`, evaluation runs on every process and is collected with
`gather_for_metrics`, and only the main process writes files. Two public seams, as that example's
`get_dataloaders`: `epoch_batches` (which rows form this epoch's batches) and `train_step` (one optimizer
step); tests replace them instead of reaching into the loop.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F

from models.modeling.tokenize import (
    EncodedTexts,
    length_grouped_batches,
    pad_batch,
    shard_batches,
    sorted_batches,
)
from models.training.checkpoints import save_best_weights, save_checkpoint
from models.training.meters import Clock, ThroughputMeter, log_step
from models.training.session import Progress, Session

log = logging.getLogger(__name__)


def run_epochs(s: Session, p: Progress) -> None:
    """Train from `p`'s position until the epochs, max_steps or early stopping end the run.

    Checkpoints every config.checkpoint_every_steps steps and at every epoch end (after validation).
    """
    meter, clock = ThroughputMeter(s.accelerator.num_processes), Clock(p.global_step)
    while p.epoch < s.config.epochs and p.global_step < s.total_steps and not p.stopped_early:
        batches = epoch_batches(s, p)
        s.model.train()
        for index in range(p.batch_index, len(batches)):
            batch = pad_batch(s.train, batches[index], s.pad_id)
            loss = train_step(s, batch)
            p.global_step, p.batch_index = p.global_step + 1, index + 1
            meter.add(loss, len(batches[index]), int(batch["attention_mask"].sum()))
            if p.global_step % s.config.log_every_steps == 0 or p.global_step == s.total_steps:
                log_step(s, p, meter, len(batches), clock.eta_s(p.global_step, s.total_steps))
            if p.global_step >= s.total_steps:
                break
            every = s.config.checkpoint_every_steps
            if every and p.global_step % every == 0 and index + 1 < len(batches):
                with meter.paused():
                    clock.bank(p)
                    save_checkpoint(s, p)
        with meter.paused():
            end_epoch(s, p)
            clock.bank(p)
            save_checkpoint(s, p)
            s.model.train()


def epoch_batches(s: Session, p: Progress) -> list[np.ndarray]:
    """This process's batches of training-row indices for epoch `p.epoch`, in training order (a seam).

    Length-grouped and shuffled with sampler_seed + epoch, then sharded over the processes; a pure function
    of (seed, epoch), so a resumed run replays the same batches from p.batch_index on.
    """
    a = s.accelerator
    batches = length_grouped_batches(s.train.lengths, p.batch_size, p.sampler_seed + p.epoch)
    return shard_batches(batches, a.process_index, a.num_processes)


def train_step(s: Session, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """One optimizer step on one padded batch (a seam); returns the loss as a detached device scalar."""
    device = s.accelerator.device
    logits = s.model(
        input_ids=batch["input_ids"].to(device, non_blocking=True),
        attention_mask=batch["attention_mask"].to(device, non_blocking=True),
    ).logits
    loss = F.cross_entropy(logits.float(), batch["labels"].to(device, non_blocking=True))
    s.accelerator.backward(loss)
    if s.config.max_grad_norm > 0:
        s.accelerator.clip_grad_norm_(s.model.parameters(), s.config.max_grad_norm)
    s.optimizer.step()
    s.scheduler.step()
    s.optimizer.zero_grad(set_to_none=True)
    return loss.detach()


# ---------------------------------------------------------------- evaluation and early stopping


def predict_probs(s: Session, encoded: EncodedTexts) -> np.ndarray:
    """Class probabilities [n, num_labels] (float32, split order), computed on all processes and gathered."""
    a = s.accelerator
    model = a.unwrap_model(s.model)
    model.eval()
    indices, logits = [], []
    batches = sorted_batches(encoded.lengths, s.config.eval_batch_size)[a.process_index :: a.num_processes]
    with torch.inference_mode(), a.autocast():
        for rows in batches:
            batch = pad_batch(encoded, rows, s.pad_id)
            out = model(input_ids=batch["input_ids"].to(a.device),
                        attention_mask=batch["attention_mask"].to(a.device))
            logits.append(out.logits.float())
            indices.append(batch["index"].to(a.device))
    local_logits = torch.cat(logits) if logits else torch.zeros(0, s.num_labels, device=a.device)
    local_index = torch.cat(indices) if indices else torch.zeros(0, dtype=torch.long, device=a.device)
    # processes hold different counts: pad to equal length (index -1 marks padding), gather, scatter back
    local_index = a.pad_across_processes(local_index, dim=0, pad_index=-1)
    local_logits = a.pad_across_processes(local_logits, dim=0, pad_index=0)
    all_index, all_logits = a.gather_for_metrics((local_index, local_logits))
    keep = all_index >= 0
    probs = np.zeros((len(encoded), s.num_labels), dtype=np.float32)
    probs[all_index[keep].cpu().numpy()] = torch.softmax(all_logits[keep], dim=-1).cpu().numpy()
    return probs


def _validation_metrics(s: Session) -> dict[str, float]:
    probs = predict_probs(s, s.validation)
    labels = s.validation.labels
    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
    return {"val_accuracy": float((probs.argmax(axis=1) == labels).mean()),
            "val_loss": float(-np.log(picked).mean())}


def end_epoch(s: Session, p: Progress) -> None:
    """Validate, keep the best weights, decide early stopping; then move the position to the next epoch."""
    if len(s.validation) == 0:
        p.epoch, p.batch_index = p.epoch + 1, 0
        return
    metrics = _validation_metrics(s)
    improved = p.best_val_accuracy is None or metrics["val_accuracy"] > p.best_val_accuracy
    if improved:
        p.best_val_accuracy, p.best_epoch = metrics["val_accuracy"], p.epoch + 1
        p.epochs_without_improvement = 0
        save_best_weights(s)
    else:
        p.epochs_without_improvement += 1
    patience = s.config.early_stopping_patience
    more_to_do = p.epoch + 1 < s.config.epochs and p.global_step < s.total_steps
    p.stopped_early = bool(patience) and more_to_do and p.epochs_without_improvement >= patience
    record = {"epoch": p.epoch + 1, "step": p.global_step, **metrics, "improved": improved,
              "best_val_accuracy": p.best_val_accuracy, "stopped_early": p.stopped_early}
    p.history.append(record)
    log.info("epoch %d: val accuracy %.4f loss %.4f%s", p.epoch + 1, metrics["val_accuracy"],
             metrics["val_loss"], " (early stop)" if p.stopped_early else "")
    if s.accelerator.is_main_process:
        s.writer.event(kind="epoch", **record)
    p.epoch, p.batch_index = p.epoch + 1, 0
