"""Make OPT tokenizers encode text pairs the way the paper's code did, whatever transformers is installed.

The official code ran transformers 4.31 with ``facebook/opt-350m``. Its fast GPT-2 tokenizer got a
``tokenizers`` ``TemplateProcessing`` post-processor with single ``</s> $A`` and pair ``</s> $A $B:1``: the BOS
``</s>`` first, then the tokens of A, then the tokens of B, with no separator between the two texts.

transformers 5 builds OPT's tokenizer (``GPT2Tokenizer``, ``add_bos_token=True``) through
``TokenizersBackend.update_post_processor``, whose pair template is ``</s> $A </s>:1 $B:1``: a second ``</s>``
lands between the texts, so every OPT pair (sentence pairs, extractive-QA windows, RACE option rows) would be
one token longer and differently shaped than in the paper. ``paper_pair_template`` puts the 4.31 template
back. Offsets, ``sequence_ids`` (``None`` for the BOS, 0 for A, 1 for B), truncation and overflow windows all
come from the same Rust encoder as in 4.31, so they match too.

transformers 5 rebuilds the post-processor whenever ``add_bos_token`` or ``add_eos_token`` is *set* (not read);
the fixed tokenizer therefore also routes its own ``update_post_processor`` to the paper template, as 4.31's
fast tokenizer kept its template fixed once built. The template survives calls, copies, pickling and
``save_pretrained`` + ``AutoTokenizer.from_pretrained`` (it is written into ``tokenizer.json``).

BERT and RoBERTa pairs already come out as in the paper (``[CLS] A [SEP] B [SEP]``, ``<s> A </s></s> B </s>``):
their tokenizers are returned untouched.
"""

from __future__ import annotations

import functools

from tokenizers import processors

#: Model types whose pair encoding is replaced; every other model type is left as transformers builds it.
FIXED_MODEL_TYPES = ("opt",)


def paper_pair_template(tokenizer, model_type: str):
    """``tokenizer`` encoding like the paper's code under transformers 4.31: for OPT (``model_type == "opt"``)
    single ``</s> A`` and pair ``</s> A B``; any other model type is returned unchanged. Modifies the
    tokenizer in place and returns it (calling it again is harmless)."""
    if model_type not in FIXED_MODEL_TYPES:
        return tokenizer
    _install_template(tokenizer)
    # transformers 5 calls tokenizer.update_post_processor() when add_bos_token/add_eos_token is set;
    # an instance attribute (a picklable partial) makes that call reinstall the paper template instead.
    tokenizer.update_post_processor = functools.partial(_install_template, tokenizer)
    return tokenizer


def bos_template(bos: str, bos_id: int) -> processors.TemplateProcessing:
    """The 4.31 GPT-2 converter's template with ``add_bos_token``: ``BOS $A`` and ``BOS $A $B:1``."""
    return processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A $B:1", special_tokens=[(bos, bos_id)])


def _install_template(tokenizer) -> None:
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise TypeError(f"{type(tokenizer).__name__} has no `tokenizers` backend; the paper template needs one")
    bos, bos_id = tokenizer.bos_token, tokenizer.bos_token_id
    if bos is None or bos_id is None:
        raise ValueError(f"{type(tokenizer).__name__} has no BOS token to start OPT pairs with")
    backend.post_processor = bos_template(bos, bos_id)


def describe_pair_encoding(tokenizer, a: str, b: str) -> str:
    """The tokens of the pair ``(a, b)`` as the model sees them, decoded one by one and joined with ``|``,
    e.g. ``</s>|The| cat|A| dog`` for a fixed OPT tokenizer."""
    ids = tokenizer(a, b)["input_ids"]
    return "|".join(tokenizer.decode([i]) for i in ids)
