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


def run_epochs(session: Session, progress: Progress) -> None:
    """Train from `progress`'s position until the epochs, max_steps or early stopping end the run.

    Checkpoints every config.checkpoint_every_steps steps and at every epoch end (after validation).
    """
    meter, clock = ThroughputMeter(session.accelerator.num_processes), Clock(progress.global_step)
    while (progress.epoch < session.config.epochs and progress.global_step < session.total_steps
           and not progress.stopped_early):
        batches = epoch_batches(session, progress)
        session.model.train()
        for index in range(progress.batch_index, len(batches)):
            batch = pad_batch(session.train, batches[index], session.pad_id)
            loss = train_step(session, batch)
            progress.global_step, progress.batch_index = progress.global_step + 1, index + 1
            meter.add(loss, len(batches[index]), int(batch["attention_mask"].sum()))
            if (progress.global_step % session.config.log_every_steps == 0
                    or progress.global_step == session.total_steps):
                log_step(session, progress, meter, len(batches),
                         clock.eta_s(progress.global_step, session.total_steps))
            if progress.global_step >= session.total_steps:
                break
            every = session.config.checkpoint_every_steps
            if every and progress.global_step % every == 0 and index + 1 < len(batches):
                with meter.paused():
                    clock.bank(progress)
                    save_checkpoint(session, progress)
        with meter.paused():
            end_epoch(session, progress)
            clock.bank(progress)
            save_checkpoint(session, progress)
            session.model.train()


def epoch_batches(session: Session, progress: Progress) -> list[np.ndarray]:
    """This process's batches of training-row indices for epoch `progress.epoch`, in training order (a
    seam).

    Length-grouped and shuffled with sampler_seed + epoch, then sharded over the processes; a pure function
    of (seed, epoch), so a resumed run replays the same batches from progress.batch_index on.
    """
    a = session.accelerator
    batches = length_grouped_batches(session.train.lengths, progress.batch_size,
                                     progress.sampler_seed + progress.epoch)
    return shard_batches(batches, a.process_index, a.num_processes)


def train_step(session: Session, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """One optimizer step on one padded batch (a seam); returns the loss as a detached device scalar."""
    device = session.accelerator.device
    logits = session.model(
        input_ids=batch["input_ids"].to(device, non_blocking=True),
        attention_mask=batch["attention_mask"].to(device, non_blocking=True),
    ).logits
    loss = F.cross_entropy(logits.float(), batch["labels"].to(device, non_blocking=True))
    session.accelerator.backward(loss)
    if session.config.max_grad_norm > 0:
        session.accelerator.clip_grad_norm_(session.model.parameters(), session.config.max_grad_norm)
    session.optimizer.step()
    session.scheduler.step()
    session.optimizer.zero_grad(set_to_none=True)
    return loss.detach()


# ---------------------------------------------------------------- evaluation and early stopping


def predict_probs(session: Session, encoded: EncodedTexts) -> np.ndarray:
    """Class probabilities [n, num_labels] (float32, split order), computed on all processes and gathered."""
    a = session.accelerator
    model = a.unwrap_model(session.model)
    model.eval()
    indices, logits = [], []
    batches = sorted_batches(encoded.lengths, session.config.eval_batch_size)
    batches = batches[a.process_index :: a.num_processes]  # this process's share
    with torch.inference_mode(), a.autocast():
        for rows in batches:
            batch = pad_batch(encoded, rows, session.pad_id)
            out = model(input_ids=batch["input_ids"].to(a.device),
                        attention_mask=batch["attention_mask"].to(a.device))
            logits.append(out.logits.float())
            indices.append(batch["index"].to(a.device))
    local_logits = torch.cat(logits) if logits else torch.zeros(0, session.num_labels, device=a.device)
    local_index = torch.cat(indices) if indices else torch.zeros(0, dtype=torch.long, device=a.device)
    # processes hold different counts: pad to equal length (index -1 marks padding), gather, scatter back
    local_index = a.pad_across_processes(local_index, dim=0, pad_index=-1)
    local_logits = a.pad_across_processes(local_logits, dim=0, pad_index=0)
    all_index, all_logits = a.gather_for_metrics((local_index, local_logits))
    keep = all_index >= 0
    probs = np.zeros((len(encoded), session.num_labels), dtype=np.float32)
    probs[all_index[keep].cpu().numpy()] = torch.softmax(all_logits[keep], dim=-1).cpu().numpy()
    return probs


def _validation_metrics(session: Session) -> dict[str, float]:
    probs = predict_probs(session, session.validation)
    labels = session.validation.labels
    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)
    return {"val_accuracy": float((probs.argmax(axis=1) == labels).mean()),
            "val_loss": float(-np.log(picked).mean())}


def end_epoch(session: Session, progress: Progress) -> None:
    """Validate, keep the best weights, decide early stopping; then move the position to the next epoch.

    With config.validate_every_epoch False only the last epoch validates (its weights are kept as they are).
    """
    last = progress.epoch + 1 >= session.config.epochs or progress.global_step >= session.total_steps
    if len(session.validation) == 0 or not (session.config.validate_every_epoch or last):
        progress.epoch, progress.batch_index = progress.epoch + 1, 0
        return
    metrics = _validation_metrics(session)
    improved = progress.best_val_accuracy is None or metrics["val_accuracy"] > progress.best_val_accuracy
    if improved:
        progress.best_val_accuracy, progress.best_epoch = metrics["val_accuracy"], progress.epoch + 1
        progress.epochs_without_improvement = 0
        if session.config.validate_every_epoch:  # else this is the last epoch: its weights are the result
            save_best_weights(session)
    else:
        progress.epochs_without_improvement += 1
    patience = session.config.early_stopping_patience
    more_to_do = not last
    progress.stopped_early = bool(patience) and more_to_do and progress.epochs_without_improvement >= patience
    record = {"epoch": progress.epoch + 1, "step": progress.global_step, **metrics, "improved": improved,
              "best_val_accuracy": progress.best_val_accuracy, "stopped_early": progress.stopped_early}
    progress.history.append(record)
    log.info("epoch %d: val accuracy %.4f loss %.4f%s", progress.epoch + 1, metrics["val_accuracy"],
             metrics["val_loss"], " (early stop)" if progress.stopped_early else "")
    if session.accelerator.is_main_process:
        session.writer.event(kind="epoch", **record)
    progress.epoch, progress.batch_index = progress.epoch + 1, 0
