"""Chat templates and assistant-only labels: how a conversation becomes token ids for training and prompting.

Every causal LM is trained and prompted through its own chat template (`tokenizer.apply_chat_template`), so
the fine-tuned model sees at serving time exactly the layout it learned. A tokenizer without a template gets
`FALLBACK_TEMPLATE` (ChatML, as SmolLM2 and Qwen2.5 use) and the run records that it did.

Labels are -100 on every token that is not written by the assistant: the system message, the user's turns
and the template's role headers are context, never targets. Each assistant turn's tokens are found by
rendering the conversation up to that turn twice (with the generation prompt, and with the turn itself) and
taking the token span between the two lengths; templates put special tokens at turn boundaries, so the
prefix tokenizes identically inside the whole conversation (checked: a mismatch raises DataValidationError
instead of training on shifted labels).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from models.errors import DataValidationError

log = logging.getLogger(__name__)

IGNORE_INDEX = -100
"""Label of a token the loss skips (PyTorch cross_entropy's ignore_index)."""

FALLBACK_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
"""ChatML, the layout of SmolLM2 and Qwen2.5, for tokenizers that ship no chat template. The markers are
plain text to such a tokenizer (no special tokens are added to its vocabulary), which is enough for the model
to learn where a reply starts and ends; the end marker is also the stop string at generation time."""

FALLBACK_STOP = "<|im_end|>"
"""Where a reply ends under FALLBACK_TEMPLATE (generation stops on it)."""

Messages = Sequence[tuple[str, str]]
"""A conversation as (role, content) pairs; roles are system, user and assistant."""


def ensure_chat_template(tokenizer: Any) -> bool:
    """Give `tokenizer` FALLBACK_TEMPLATE when it has no chat template; True when it did (say so in the run).

    Also sets pad = eos when the tokenizer has no pad token (batches are padded; pads are masked out).
    """
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(tokenizer, "chat_template", None):
        return False
    tokenizer.chat_template = FALLBACK_TEMPLATE
    log.warning("tokenizer %s has no chat template; using the ChatML fallback (<|im_start|>role ... "
                "<|im_end|>)", getattr(tokenizer, "name_or_path", "?"))
    return True


def _dicts(messages: Messages) -> list[dict[str, str]]:
    return [{"role": role, "content": content} for role, content in messages]


def render(tokenizer: Any, messages: Messages, *, add_generation_prompt: bool = False) -> str:
    """The conversation as the model's chat template writes it (text, special-token markers included)."""
    return tokenizer.apply_chat_template(_dicts(messages), tokenize=False,
                                         add_generation_prompt=add_generation_prompt)


def _ids(tokenizer: Any, text: str) -> list[int]:
    # the template already wrote every special token (BOS included where the template has one)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def prompt_ids(tokenizer: Any, prompt_messages: Messages) -> list[int]:
    """Token ids of the conversation so far plus the assistant's header: what generation continues from."""
    return _ids(tokenizer, render(tokenizer, prompt_messages, add_generation_prompt=True))


def encode_chat(tokenizer: Any, messages: Messages, max_length: int) -> tuple[list[int], list[int]]:
    """(input_ids, labels) of one conversation, cut to `max_length` tokens from the start.

    labels equal input_ids on the assistant's tokens (its reply and the template's end-of-turn marker, so the
    model learns to stop) and IGNORE_INDEX everywhere else. A reply cut by max_length keeps its beginning.
    Raises DataValidationError when the template does not tokenize as a prefix of the whole conversation.
    """
    full = _ids(tokenizer, render(tokenizer, messages))
    labels = [IGNORE_INDEX] * len(full)
    for turn, (role, _) in enumerate(messages):
        if role != "assistant":
            continue
        prefix = prompt_ids(tokenizer, messages[:turn])
        start, end = len(prefix), len(_ids(tokenizer, render(tokenizer, messages[: turn + 1])))
        if full[:start] != prefix or end > len(full) or end < start:
            raise DataValidationError(
                f"the chat template of {getattr(tokenizer, 'name_or_path', 'this model')} does not tokenize "
                "a conversation's beginning the same way alone and inside the whole conversation, so the "
                "assistant's tokens cannot be found; use a model whose template marks turns with special "
                "tokens (SmolLM2, Qwen2.5, Llama 3) or a tokenizer without a template (ChatML fallback)")
        labels[start:end] = full[start:end]
    return full[:max_length], labels[:max_length]


def count_tokens(tokenizer: Any, messages: Messages) -> int:
    """Tokens of the whole conversation under the chat template (what max_length must hold)."""
    return len(_ids(tokenizer, render(tokenizer, messages)))
