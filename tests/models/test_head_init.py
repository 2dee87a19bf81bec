"""LP-FT (head_init='probe'): the head starts from a logistic regression on the frozen model's own head
inputs, so the loss at step 0 is lower than with a random head; validate_every_epoch=False validates once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from models.core.config import TrainConfig
from models.data.types import DataSplits
from models.errors import ConfigError, TrainingError
from models.modeling.tokenize import encode_texts, pad_batch, pad_token_id
from models.training.checkpoints import BEST_WEIGHTS
from models.training.head_init import head_features, head_layer, init_head_from_probe
from models.training.setup import load_model_and_tokenizer
from models.training.train import train


def _model(tiny_model: str, data: DataSplits, seed: int = 0):
    torch.manual_seed(seed)  # the fresh head is random: the same one for each call
    config = TrainConfig(method="full", model=tiny_model, dataset="sentiment_labelled_sentences")
    model, tokenizer = load_model_and_tokenizer(config, data.label_names)
    return model, tokenizer, encode_texts(tokenizer, data.train.texts, data.train.labels, 32)


def _loss(model: torch.nn.Module, encoded, pad_id: int) -> float:
    model.eval()
    batch = pad_batch(encoded, np.arange(len(encoded)), pad_id)
    with torch.inference_mode():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return float(F.cross_entropy(logits.float(), batch["labels"]))


def test_config_checks_head_init_and_validation_choice() -> None:
    assert TrainConfig().head_init == "random" and TrainConfig().validate_every_epoch
    assert TrainConfig(method="full", head_init="probe").head_init == "probe"
    with pytest.raises(ConfigError, match="head_init must be one of random, probe"):
        TrainConfig(head_init="zeros")
    with pytest.raises(ConfigError, match="method full only"):
        TrainConfig(method="lora", head_init="probe")
    with pytest.raises(ConfigError, match="early_stopping_patience=0"):
        TrainConfig(validate_every_epoch=False)
    assert not TrainConfig(validate_every_epoch=False, early_stopping_patience=0).validate_every_epoch
    assert TrainConfig.from_dict({"head_init": "probe", "method": "full"}).head_init == "probe"


def test_head_layer_is_the_classifier_behind_the_lean_forward(tiny_model: str, sentences: DataSplits) -> None:
    model, _, _ = _model(tiny_model, sentences)
    assert type(model).__name__ == "FastSequenceClassifier"
    assert head_layer(model) is model.classifier
    with pytest.raises(TrainingError, match="no linear classification head"):
        head_layer(torch.nn.Sequential(torch.nn.Linear(2, 2)))


def test_head_features_are_the_classifier_inputs_in_split_order(tiny_model: str,
                                                                sentences: DataSplits) -> None:
    model, tokenizer, encoded = _model(tiny_model, sentences)
    model.train()
    pad_id = pad_token_id(tokenizer)
    features = head_features(model, encoded, batch_size=7, pad_id=pad_id, device=torch.device("cpu"))
    assert model.training  # mode restored
    model.eval()
    with torch.inference_mode():
        for row in (0, 5, len(encoded) - 1):
            batch = pad_batch(encoded, np.array([row]), pad_id)
            hidden = model.bert(input_ids=batch["input_ids"]).last_hidden_state
            pooled = torch.tanh(model.bert.pooler.dense(hidden[:, 0]))
            np.testing.assert_allclose(features[row], pooled[0].numpy(), atol=1e-5)


def test_probe_head_copies_a_logistic_regression_and_starts_with_a_lower_loss(
        tiny_model: str, sentences: DataSplits) -> None:
    model, tokenizer, encoded = _model(tiny_model, sentences)
    pad_id = pad_token_id(tokenizer)
    random_loss = _loss(model, encoded, pad_id)
    features = head_features(model, encoded, batch_size=32, pad_id=pad_id, device=torch.device("cpu"))
    info = init_head_from_probe(model, encoded, sentences.num_labels, c=100.0, seed=0, batch_size=32,
                                pad_id=pad_id, device=torch.device("cpu"))
    expected = LogisticRegression(C=100.0, max_iter=2000, random_state=0).fit(features, encoded.labels)
    # binary: sklearn's one row w for class 1 becomes (-w/2, +w/2): the same probabilities
    logits = features @ model.classifier.weight.detach().numpy().T + model.classifier.bias.detach().numpy()
    probs = torch.softmax(torch.from_numpy(logits), dim=-1).numpy()
    np.testing.assert_allclose(probs, expected.predict_proba(features), atol=1e-4)
    assert info["probe_train_accuracy"] == pytest.approx(expected.score(features, encoded.labels))
    assert info["features"] == model.classifier.in_features and info["n_train"] == len(encoded)
    probe_loss = _loss(model, encoded, pad_id)
    # a random tiny BERT's features separate the sentences only a little: lower, by a small margin
    assert probe_loss < random_loss, (probe_loss, random_loss)


def test_classes_missing_from_training_start_with_the_lowest_score(tiny_model: str,
                                                                   sentences: DataSplits) -> None:
    three = dataclasses.replace(sentences, label_names=(*sentences.label_names, "unseen"))
    model, tokenizer, encoded = _model(tiny_model, three)
    init_head_from_probe(model, encoded, three.num_labels, c=1.0, seed=0, batch_size=32,
                         pad_id=pad_token_id(tokenizer), device=torch.device("cpu"))
    weight, bias = model.classifier.weight.detach(), model.classifier.bias.detach()
    assert torch.all(weight[2] == 0) and bias[2] < bias[:2].min() - 5
    with pytest.raises(TrainingError, match="outputs for"):
        init_head_from_probe(model, encoded, 5, c=1.0, seed=0, batch_size=32, pad_id=0,
                             device=torch.device("cpu"))


def test_lp_ft_run_records_the_probe_and_validates_only_after_the_last_epoch(
        tmp_path: Path, tiny_model: str, sentences: DataSplits) -> None:
    config = TrainConfig(method="full", model=tiny_model, dataset="sentiment_labelled_sentences", epochs=2,
                         batch_size=16, eval_batch_size=32, max_length=32, learning_rate=1e-3,
                         runs_dir=str(tmp_path / "runs"), num_threads=1, seed=0, head_init="probe",
                         validate_every_epoch=False, early_stopping_patience=0, run_name="lpft")
    result = train(config, sentences)
    head = result.extra["head_init"]
    assert head["head_init"] == "probe" and 0.5 <= head["probe_train_accuracy"] <= 1.0
    assert result.train_seconds >= head["seconds"]
    assert [h["epoch"] for h in result.extra["history"]] == [2]  # one validation, after the last epoch
    assert not (result.run_dir / "checkpoints" / BEST_WEIGHTS).exists()  # the last weights are the model
    assert result.metrics["accuracy"] >= 0.0 and (result.run_dir / "model" / "model.safetensors").is_file()
