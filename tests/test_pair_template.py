"""OPT pairs come out as the paper's code (transformers 4.31) made them: ``</s> A B``, no separator.

The tokenizer is built locally (no Hub): a small byte-level BPE trained here, saved as ``vocab.json`` and
``merges.txt`` with an OPT-like ``tokenizer_config.json`` (``GPT2Tokenizer``, ``add_bos_token``, ``</s>`` as BOS/
EOS/UNK, ``<pad>``; ids ``<s>`` 0, ``<pad>`` 1, ``</s>`` 2, ``<unk>`` 3 as in facebook/opt-350m), loaded with
``AutoTokenizer.from_pretrained(folder)`` like the real checkpoint. "ids(x)" below is ``x`` encoded on its own
without special tokens, which is how the 4.31 template processor saw each text of a pair.
"""

from __future__ import annotations

import copy
import json
import pickle
import random

import pytest
from tokenizers import ByteLevelBPETokenizer
from transformers import AutoTokenizer

from hscore.engine.pair_template import FIXED_MODEL_TYPES, describe_pair_encoding, paper_pair_template

WORDS = ("the a an one cat dog bird fish horse mouse sat ran flew swam jumped slept ate sang on under over near "
         "mat tree house river city garden field road big small red blue green old young happy quick slow "
         "morning evening today yesterday because while and but then very quite never always").split()
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # OPT's ids 0, 1, 2, 3
BOS = 2


def sentence(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words)).capitalize() + "."


def paragraph(rng: random.Random, n_sentences: int) -> str:
    return " ".join(sentence(rng, rng.randint(4, 12)) for _ in range(n_sentences))


@pytest.fixture(scope="session")
def opt_folder(tmp_path_factory):
    """A folder laid out like facebook/opt-350m's tokenizer files (no tokenizer.json)."""
    folder = tmp_path_factory.mktemp("opt-like")
    rng = random.Random(0)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator([sentence(rng, rng.randint(3, 12)) for _ in range(400)], vocab_size=500,
                            min_frequency=1, special_tokens=SPECIALS, show_progress=False)
    bpe.save_model(str(folder))
    config = {"errors": "replace", "add_prefix_space": False, "add_bos_token": True, "tokenizer_class": "GPT2Tokenizer",
              "bos_token": "</s>", "eos_token": "</s>", "unk_token": "</s>", "pad_token": "<pad>"}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    (folder / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": "</s>", "eos_token": "</s>", "unk_token": "</s>", "pad_token": "<pad>"}))
    (folder / "config.json").write_text(json.dumps(
        {"model_type": "opt", "bos_token_id": 2, "eos_token_id": 2, "pad_token_id": 1, "vocab_size": 500}))
    return folder


@pytest.fixture
def raw(opt_folder):
    """The tokenizer as the installed transformers builds it."""
    return AutoTokenizer.from_pretrained(opt_folder)


@pytest.fixture
def tok(opt_folder):
    """The tokenizer with the paper's pair template."""
    return paper_pair_template(AutoTokenizer.from_pretrained(opt_folder), "opt")


def ids(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def test_tokenizer_is_opt_like(raw):
    assert type(raw).__name__ == "GPT2Tokenizer"
    assert [raw.convert_tokens_to_ids(t) for t in SPECIALS] == [0, 1, 2, 3]
    assert (raw.bos_token, raw.bos_token_id, raw.pad_token_id, raw.add_bos_token) == ("</s>", BOS, 1, True)


def test_unpatched_pair_puts_bos_between_the_texts(raw):
    """What transformers 5 (``TokenizersBackend.update_post_processor`` with ``add_bos_token``) does without the
    fix: ``</s> A </s> B``, the second ``</s>`` counted with B (type id 1, sequence id None). The paper had
    ``</s> A B``."""
    a, b = "The cat sat.", "A dog ran."
    enc = raw(a, b, return_token_type_ids=True)
    assert enc["input_ids"] == [BOS] + ids(raw, a) + [BOS] + ids(raw, b)
    assert enc["token_type_ids"] == [0] * (1 + len(ids(raw, a))) + [1] * (1 + len(ids(raw, b)))
    assert enc.sequence_ids(0) == [None] + [0] * len(ids(raw, a)) + [None] + [1] * len(ids(raw, b))
    assert raw(a)["input_ids"] == [BOS] + ids(raw, a)  # single texts were already right


def test_single_text_is_bos_then_text(tok):
    for text in ("The cat sat.", "a", " Leading space and trailing ", ""):
        assert tok(text)["input_ids"] == [BOS] + ids(tok, text)


def test_pair_is_bos_then_a_then_b(tok):
    a, b = "A b", "C d"
    enc = tok(a, b, return_token_type_ids=True)
    assert enc["input_ids"] == [BOS] + ids(tok, a) + ids(tok, b)
    assert enc["input_ids"].count(BOS) == 1
    assert enc["token_type_ids"] == [0] * (1 + len(ids(tok, a))) + [1] * len(ids(tok, b))
    assert enc.sequence_ids(0) == [None] + [0] * len(ids(tok, a)) + [1] * len(ids(tok, b))
    assert set(tok(a, b)) == {"input_ids", "attention_mask"}  # as 4.31: no token_type_ids unless asked
    assert describe_pair_encoding(tok, "The cat sat.", "A dog ran.") == "</s>|The| cat| sat|.|A| dog| ran|."


def test_truncation_keeps_bos_and_cuts_the_longer_text_first(tok):
    rng = random.Random(1)
    long_a, long_b, short_b = sentence(rng, 14), sentence(rng, 14), "Big dog."
    la, lb = ids(tok, long_a), ids(tok, long_b)
    assert len(la) >= 10 and len(lb) >= 8 and len(ids(tok, short_b)) <= 3
    # only A is too long: B stays whole, A fills the rest
    enc = tok(long_a, short_b, truncation=True, max_length=8)["input_ids"]
    assert enc == [BOS] + la[:8 - 1 - len(ids(tok, short_b))] + ids(tok, short_b)
    # both too long: the 8 text tokens are shared evenly
    enc = tok(long_a, long_b, truncation=True, max_length=9)["input_ids"]
    assert enc == [BOS] + la[:4] + lb[:4]
    assert tok(long_a, truncation=True, max_length=5)["input_ids"] == [BOS] + la[:4]


def test_batch_pairs_with_padding(tok):
    firsts, seconds = ["The cat sat.", "A dog", "Old river"], ["A dog ran.", "Big", "near the happy city."]
    enc = tok(firsts, seconds, padding=True, truncation=True, max_length=64)
    width = max(1 + len(ids(tok, a)) + len(ids(tok, b)) for a, b in zip(firsts, seconds))
    for row, mask, a, b in zip(enc["input_ids"], enc["attention_mask"], firsts, seconds):
        expected = [BOS] + ids(tok, a) + ids(tok, b)
        assert row == expected + [tok.pad_token_id] * (width - len(expected))
        assert mask == [1] * len(expected) + [0] * (width - len(expected))


def test_extractive_qa_windows(tok):
    """The SQuAD call: every window is ``</s> question context-slice``, sequence ids None/0/1, offsets slice the
    context to each token's text, and consecutive windows overlap by ``stride`` context tokens."""
    rng = random.Random(2)
    questions = ["Where did the cat sleep?", "Why was the dog happy?"]
    contexts = [paragraph(rng, 120), paragraph(rng, 5)]
    enc = tok(questions, contexts, truncation="only_second", max_length=384, stride=128,
              return_overflowing_tokens=True, return_offsets_mapping=True)
    mapping = enc["overflow_to_sample_mapping"]
    assert mapping.count(0) >= 3 and mapping.count(1) == 1  # the long context really overflows
    next_start = {0: 0, 1: 0}
    for i, example in enumerate(mapping):
        question, context = questions[example], contexts[example]
        q_ids, c_ids = ids(tok, question), ids(tok, context)
        window, seq, offsets = enc["input_ids"][i], enc.sequence_ids(i), enc["offset_mapping"][i]
        assert window[0] == BOS and seq[0] is None and tuple(offsets[0]) == (0, 0)
        assert BOS not in window[1:]
        assert seq[1:] == [0] * len(q_ids) + [1] * (len(window) - 1 - len(q_ids))
        assert window[1:1 + len(q_ids)] == q_ids
        context_part = window[1 + len(q_ids):]
        start = next_start[example]
        assert context_part == c_ids[start:start + len(context_part)]
        for token_id, (s, e) in zip(context_part, offsets[1 + len(q_ids):]):
            assert context[s:e] == tok.decode([token_id])
        last = start + len(context_part) == len(c_ids)
        assert len(window) == 384 or last
        next_start[example] = start + len(context_part) - 128
    assert all(next_start[k] + 128 == len(ids(tok, contexts[k])) for k in next_start)  # contexts fully covered


def test_template_survives_later_changes(tok, tmp_path):
    """transformers 5 rebuilds the post-processor when add_bos_token/add_eos_token is set; the fixed tokenizer
    keeps the paper template through that, through copies and pickling, and through save/reload."""
    a, b = "The cat sat.", "A dog ran."
    expected = [BOS] + ids(tok, a) + ids(tok, b)
    assert tok.add_bos_token is True
    tok.add_bos_token = True
    tok.add_eos_token = False
    tok.pad_token = "<pad>"
    assert tok(a, b)["input_ids"] == expected
    for clone in (copy.copy(tok), copy.deepcopy(tok), pickle.loads(pickle.dumps(tok))):
        assert clone(a, b)["input_ids"] == expected
        clone.add_bos_token = True
        assert clone(a, b)["input_ids"] == expected
    assert tok(a, b)["input_ids"] == expected
    assert paper_pair_template(tok, "opt") is tok and tok(a, b)["input_ids"] == expected
    tok.save_pretrained(tmp_path / "saved")
    assert AutoTokenizer.from_pretrained(tmp_path / "saved")(a, b)["input_ids"] == expected


@pytest.mark.parametrize("model_type", ["roberta", "bert"])
def test_other_model_types_are_untouched(raw, model_type):
    assert model_type not in FIXED_MODEL_TYPES
    before = raw.backend_tokenizer.to_str()
    pair = raw("The cat sat.", "A dog ran.")["input_ids"]
    assert paper_pair_template(raw, model_type) is raw
    assert raw.backend_tokenizer.to_str() == before
    assert "update_post_processor" not in vars(raw)
    assert raw("The cat sat.", "A dog ran.")["input_ids"] == pair
