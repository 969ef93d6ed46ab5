"""Task kinds: encodings, targets, per-row correctness and metrics, checked by hand on tiny inputs."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from hscore.data import BUILTIN, Split, text_split
from hscore.dynamics import TrainingDynamics
from hscore.engine import batches, kinds
from hscore.engine.batches import classify_step, pad_batch
from hscore.engine.kinds import EncodingSettings, Features
from hscore.engine.kinds.classification import Classification
from hscore.engine.kinds.extractive_qa import ExtractiveQA, window_targets
from hscore.engine.kinds.multiple_choice import MultipleChoice
from hscore.errors import ConfigError

CPU = torch.device("cpu")


class Spy:
    """A tokenizer that records the texts it is called with (BERT's normalisation hides whitespace)."""

    def __init__(self, tokenizer):
        self.tokenizer, self.calls = tokenizer, []

    def __call__(self, *args, **kwargs):
        self.calls.append(args)
        return self.tokenizer(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)


def _segments(tokenizer, ids, types):
    """(first text, second text) of a BERT pair encoding, decoded."""
    ids, types = np.asarray(ids), np.asarray(types)
    sep = tokenizer.sep_token_id
    first = [t for t, k in zip(ids[1:], types[1:]) if k == 0 and t != sep]
    second = [t for t, k in zip(ids, types) if k == 1 and t != sep]
    return tokenizer.decode(first), tokenizer.decode(second)


# --- the registry -------------------------------------------------------------------------------

def test_every_task_has_a_registered_kind_and_a_head():
    assert set(kinds.KINDS) == {"classification", "extractive_qa", "multiple_choice"}
    for task in BUILTIN.values():
        assert task.kind in kinds.KINDS, task.name
        assert kinds.get_kind(task.kind).name == task.kind
        for model_type in ("bert", "roberta", "opt"):
            assert kinds.get_kind(task.kind).head(model_type) in kinds.HEADS
    assert BUILTIN["squad_v2"].kind == "extractive_qa" and BUILTIN["squad_v2"].metric == "f1"
    assert BUILTIN["race"].kind == "multiple_choice" and BUILTIN["race"].num_labels == 4
    with pytest.raises(KeyError, match="ranking"):
        kinds.get_kind("ranking")


def test_heads_by_model_type():
    assert Classification().head("opt") == Classification().head("bert") == "sequence_classification"
    assert ExtractiveQA().head("opt") == ExtractiveQA().head("roberta") == "question_answering"
    assert MultipleChoice().head("bert") == MultipleChoice().head("roberta") == "multiple_choice"
    assert MultipleChoice().head("opt") == "option_rows"  # OPT has no multiple-choice head
    assert kinds.HEADS["option_rows"] == kinds.HEADS["sequence_classification"]   # the same Auto class


# --- classification -----------------------------------------------------------------------------

def test_classification_encodes_one_row_per_example(tiny_tokenizer):
    split = text_split([4, 9, 2], ["a short one", "word " * 50, "two"], ["x y", "z", "w " * 40], [1, 0, 2])
    rows = Classification().encode(split, tiny_tokenizer, EncodingSettings(16, 0), "sequence_classification")
    assert len(rows) == 3
    np.testing.assert_array_equal(rows.example_id, [4, 9, 2])
    np.testing.assert_array_equal(rows.targets, [1, 0, 2])
    np.testing.assert_array_equal(rows.labels, [1, 0, 2])
    np.testing.assert_array_equal(rows.feature, [0, 0, 0])
    assert [len(s) for s in rows.input_ids] == [8, 16, 16]  # [CLS] a short one [SEP] x y [SEP]; truncated
    assert _segments(tiny_tokenizer, rows.input_ids[0], rows.token_type_ids[0]) == ("a short one", "x y")
    single = Classification().encode(text_split([0], ["hello there"], None, [0]), tiny_tokenizer,
                                     EncodingSettings(16, 0), "sequence_classification")
    assert tiny_tokenizer.decode(single.input_ids[0]) == "[CLS] hello there [SEP]"


def test_classification_trivial_is_the_majority_class():
    train = text_split(range(3), ["a", "b", "c"], None, [1, 1, 0])
    evaluation = text_split(range(5), list("vwxyz"), None, [1, 0, 1, 2, 0])
    kind = Classification()
    # the training majority (1) is right on 2 of 5
    assert kind.trivial(train, evaluation, "sequence_classification", "accuracy") == {"accuracy": 40.0}
    # macro F1 of always 1: class 1 has F1 2*2/(2*2+3) = 4/7, classes 0 and 2 have 0
    f1 = kind.trivial(train, evaluation, "sequence_classification", "macro_f1")
    assert f1 == {"macro_f1": pytest.approx(100 * (4 / 7) / 3)}


def test_classify_step_by_hand():
    logits = torch.tensor([[0.0, math.log(3.0)], [math.log(4.0), 0.0], [math.log(3.0), 0.0]])
    targets = torch.tensor([1, 1, 0])
    out = classify_step(logits, targets)
    assert out.correct.tolist() == [True, False, True]
    # softmax rows: [1/4, 3/4], [4/5, 1/5], [3/4, 1/4]
    np.testing.assert_allclose(out.gold_prob.numpy(), [0.75, 0.2, 0.75], atol=1e-6)
    assert out.loss.item() == pytest.approx(-(2 * math.log(0.75) + math.log(0.2)) / 3, abs=1e-6)
    np.testing.assert_array_equal(out.logits.numpy(), logits.numpy())


# --- extractive QA ------------------------------------------------------------------------------

FILLER_A = "The old tower stands on a hill above the river. " * 3
ANSWER_SENTENCE = "Its builder was Anna Smith, a famous architect from Vienna. "
FILLER_B = "Many visitors climb the stairs every summer to see the valley. " * 3
LONG_CONTEXT = FILLER_A + ANSWER_SENTENCE + FILLER_B
QA_SETTINGS = EncodingSettings(max_length=32, doc_stride=8)


@pytest.fixture(scope="module")
def qa_split():
    start = LONG_CONTEXT.index("Anna Smith")
    return Split(np.array([10, 11, 12]), np.array([1, 0, 1]), {
        "question": ["   Who built the tower?", "What is the tower made of?", "Where is the tower?"],
        "context": [LONG_CONTEXT, LONG_CONTEXT, "The tower is on a hill near Paris"],
        "answers": [{"text": ["Anna Smith"], "answer_start": [start]},
                    {"text": [], "answer_start": []},
                    {"text": ["Paris"], "answer_start": [28]}],   # the last word of its context
    })


@pytest.fixture(scope="module")
def qa_rows(qa_split, tiny_tokenizer):
    return ExtractiveQA().encode(qa_split, tiny_tokenizer, QA_SETTINGS, "question_answering")


def test_qa_question_is_left_stripped(qa_split, tiny_tokenizer):
    spy = Spy(tiny_tokenizer)
    ExtractiveQA().encode(qa_split, spy, QA_SETTINGS, "question_answering")
    questions, contexts = spy.calls[0][:2]
    assert questions == ["Who built the tower?", "What is the tower made of?", "Where is the tower?"]
    assert contexts == qa_split["context"]


def test_qa_windows_cover_a_long_context_with_stride(qa_split, qa_rows, tiny_tokenizer):
    windows = {i: int(np.sum(qa_rows.example_id == i)) for i in (10, 11, 12)}
    context_tokens = len(tiny_tokenizer(LONG_CONTEXT, add_special_tokens=False)["input_ids"])
    question_tokens = len(tiny_tokenizer("Who built the tower?", add_special_tokens=False)["input_ids"])
    room = 32 - question_tokens - 3                        # [CLS] q [SEP] context [SEP]
    # each window after the first adds room - stride new context tokens
    assert windows[10] == 1 + math.ceil((context_tokens - room) / (room - 8)) > 1
    assert windows[12] == 1
    # rows are grouped by question, in split order; feature = window index within the question
    assert qa_rows.example_id.tolist() == [10] * windows[10] + [11] * windows[11] + [12]
    assert qa_rows.feature.tolist() == list(range(windows[10])) + list(range(windows[11])) + [0]
    assert qa_rows.extra["example_position"].tolist() == [0] * windows[10] + [1] * windows[11] + [2]
    assert all(len(ids) <= 32 for ids in qa_rows.input_ids)
    # consecutive windows of a question share `stride` context tokens
    first, second = (np.flatnonzero(qa_rows.example_id == 10)[:2])
    ctx = lambda w: [t for t, k in zip(qa_rows.input_ids[w], qa_rows.token_type_ids[w]) if k == 1][:-1]
    assert ctx(first)[-8:] == ctx(second)[:8]
    # together the windows hold the whole context
    spans = [o for w in np.flatnonzero(qa_rows.example_id == 10) for o in qa_rows.offsets[w] if o is not None]
    assert min(s for s, _ in spans) == 0 and max(e for _, e in spans) == len(LONG_CONTEXT.rstrip())


def test_qa_offsets_slice_the_context_and_are_none_elsewhere(qa_split, qa_rows, tiny_tokenizer):
    for w, (ids, types, offsets) in enumerate(zip(qa_rows.input_ids, qa_rows.token_type_ids, qa_rows.offsets)):
        context = qa_split["context"][qa_rows.extra["example_position"][w]]
        assert len(offsets) == len(ids)
        is_context = [k == 1 and t != tiny_tokenizer.sep_token_id for t, k in zip(ids, types)]
        assert [o is not None for o in offsets] == is_context      # question, [CLS] and [SEP]s: None
        for token, offset in zip(tiny_tokenizer.convert_ids_to_tokens(ids), offsets):
            if offset is not None:
                assert context[offset[0]:offset[1]].lower() == token.removeprefix("##")


def test_qa_targets_are_the_answer_span_inside_a_window_else_cls(qa_split, qa_rows, tiny_tokenizer):
    answer_start = LONG_CONTEXT.index("Anna Smith")
    inside = 0
    for w in np.flatnonzero(qa_rows.example_id == 10):
        spans = [o for o in qa_rows.offsets[w] if o is not None]
        s, e = qa_rows.targets[w]
        if spans[0][0] <= answer_start and spans[-1][1] >= answer_start + len("Anna Smith"):
            inside += 1
            assert 0 < s <= e
            assert tiny_tokenizer.decode(qa_rows.input_ids[w][s:e + 1]) == "anna smith"
            assert qa_rows.offsets[w][s][0] == answer_start
            assert qa_rows.offsets[w][e][1] == answer_start + len("Anna Smith")
            assert qa_rows.labels[w] == 1
        else:
            assert (s, e) == (0, 0) and qa_rows.labels[w] == 0      # (cls, cls): [CLS] is token 0
    windows = int(np.sum(qa_rows.example_id == 10))
    assert 1 <= inside < windows  # some windows hold the answer, some do not
    # the unanswerable question: (cls, cls) in every window
    unanswerable = qa_rows.example_id == 11
    assert (qa_rows.targets[unanswerable] == 0).all() and (qa_rows.labels[unanswerable] == 0).all()
    assert qa_rows.targets.shape == (len(qa_rows), 2) and qa_rows.targets.dtype == np.int64


def test_qa_answer_at_the_end_of_the_context(qa_rows, tiny_tokenizer):
    """The answer is the context's last token: its target must not run onto the final [SEP]."""
    (w,) = np.flatnonzero(qa_rows.example_id == 12)
    s, e = qa_rows.targets[w]
    assert tiny_tokenizer.decode(qa_rows.input_ids[w][s:e + 1]) == "paris"
    assert (s, e) == (len(qa_rows.input_ids[w]) - 2,) * 2


def test_qa_stride_must_be_less_than_half_the_window(qa_split, tiny_tokenizer):
    with pytest.raises(ConfigError, match="doc_stride"):
        ExtractiveQA().encode(qa_split, tiny_tokenizer, EncodingSettings(32, 16), "question_answering")


# window: [CLS] q q [SEP] Alpha beta gamma delta [SEP], context "Alpha beta gamma delta" seen from char 100
IDS = [101, 7, 8, 102, 20, 21, 22, 23, 102]
SEQ = [None, 0, 0, None, 1, 1, 1, 1, None]
OFFSETS = [(0, 0), (0, 3), (4, 8), (0, 0), (100, 105), (106, 110), (111, 116), (117, 122), (0, 0)]


@pytest.mark.parametrize("answer, start, expected", [
    ("beta", 106, (5, 5)),              # one token
    ("beta gamma", 106, (5, 6)),        # two tokens
    ("Alpha", 100, (4, 4)),             # the first context token
    ("delta", 117, (7, 7)),             # the last context token (not the [SEP] after it)
    ("eta gam", 107, (5, 6)),           # starts and ends inside tokens: the tokens holding them
    ("delta and more", 117, (0, 0)),    # runs past the window
    ("omega", 40, (0, 0)),              # before the window
    ("zeta", 300, (0, 0)),              # after the window
])
def test_window_targets_on_hand_made_offsets(answer, start, expected):
    assert window_targets(IDS, OFFSETS, SEQ, {"text": [answer], "answer_start": [start]}, 101) == expected


def test_window_targets_unanswerable_and_cls_position():
    assert window_targets(IDS, OFFSETS, SEQ, {"text": [], "answer_start": []}, 101) == (0, 0)
    # the first answer counts; the cls position is where the cls token is
    shifted = [5] + IDS
    answers = {"text": ["gamma", "beta"], "answer_start": [111, 106]}
    assert window_targets(shifted, [(0, 0)] + OFFSETS, [None] + SEQ, answers, 101) == (7, 7)
    assert window_targets(shifted, [(0, 0)] + OFFSETS, [None] + SEQ, {"text": [], "answer_start": []}, 101) == (1, 1)


def test_qa_step_by_hand():
    # start softmax rows: [1/5, 3/5, 1/5] and [1/4, 1/4, 1/2]; end rows: [1/2, 1/4, 1/4] and [1/6, 1/6, 2/3]
    start = torch.log(torch.tensor([[1.0, 3.0, 1.0], [1.0, 1.0, 2.0]]))
    end = torch.log(torch.tensor([[2.0, 1.0, 1.0], [1.0, 1.0, 4.0]]))
    targets = torch.tensor([[1, 0], [2, 1]])   # row 0: both argmaxes right; row 1: start right, end wrong
    out = ExtractiveQA().step(SimpleNamespace(start_logits=start, end_logits=end), targets)
    assert out.correct.tolist() == [True, False]
    np.testing.assert_allclose(out.gold_prob.numpy(), [(3 / 5 + 1 / 2) / 2, (1 / 2 + 1 / 6) / 2], atol=1e-6)
    ce_start = -(math.log(3 / 5) + math.log(1 / 2)) / 2
    ce_end = -(math.log(1 / 2) + math.log(1 / 6)) / 2
    assert out.loss.item() == pytest.approx((ce_start + ce_end) / 2, abs=1e-6)
    assert out.logits is None and ExtractiveQA().num_logits("question_answering", 2) == 0
    both_wrong = ExtractiveQA().step(SimpleNamespace(start_logits=start, end_logits=end),
                                     torch.tensor([[0, 1], [0, 0]]))
    assert both_wrong.correct.tolist() == [False, False]


def test_qa_trivial_answers_null(qa_split):
    # SQuAD v2 metric: the null answer is right on the unanswerable question only
    out = ExtractiveQA().trivial(qa_split, qa_split, "question_answering", "f1")
    assert out == {"f1": pytest.approx(100 / 3), "exact": pytest.approx(100 / 3)}


def test_qa_without_unanswerable_questions_scores_by_the_v1_rules():
    # prediction "" against references ["the", "Paris"]: v1.1 exact match 1 (it keeps "the"), v2 0
    split = Split(np.array([1]), np.array([1]), {"question": ["Where?"], "context": ["the Paris"],
                                                 "answers": [{"text": ["the", "Paris"], "answer_start": [0, 4]}]})
    kind = ExtractiveQA()
    assert kind.score(split, [""], v1=True)[0] == {"f1": 0.0, "exact": 100.0}
    assert kind.score(split, [""])[0] == {"f1": 0.0, "exact": 0.0}
    assert kind.trivial(split, split, "question_answering", "f1", null_answers=False)["exact"] == 100.0
    assert kind.scoring_rules({"null_answers": False}) == "squad_v1.1" and kind.scoring_rules({}) is None


# --- multiple choice ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mc_split():
    return Split(np.array([5, 6]), np.array([2, 0]), {
        "context": ["Jim went shopping.", "It was a clear day."],
        "question": ["Jim bought a new _.", "What color was the sky?"],
        "options": [["mat", "hat", "dog"], ["blue", "red", "green"]],
    })


def test_multiple_choice_head_rows_hold_k_sequences(mc_split, tiny_tokenizer):
    spy = Spy(tiny_tokenizer)
    rows = MultipleChoice().encode(mc_split, spy, EncodingSettings(64, 0), "multiple_choice")
    firsts, seconds = spy.calls[0][:2]
    assert firsts == ["Jim went shopping."] * 3 + ["It was a clear day."] * 3
    assert seconds == ["Jim bought a new mat.", "Jim bought a new hat.", "Jim bought a new dog.",
                       "What color was the sky? blue", "What color was the sky? red", "What color was the sky? green"]
    assert len(rows) == 2 and rows.extra["options"] == 3
    assert all(len(r) == 3 for r in rows.input_ids) and all(len(r) == 3 for r in rows.token_type_ids)
    np.testing.assert_array_equal(rows.targets, [2, 0])
    np.testing.assert_array_equal(rows.labels, [2, 0])
    np.testing.assert_array_equal(rows.example_id, [5, 6])
    np.testing.assert_array_equal(rows.feature, [0, 0])
    assert _segments(tiny_tokenizer, rows.input_ids[0][1], rows.token_type_ids[0][1]) == (
        "jim went shopping.", "jim bought a new hat.")
    assert _segments(tiny_tokenizer, rows.input_ids[1][2], rows.token_type_ids[1][2]) == (
        "it was a clear day.", "what color was the sky? green")
    # a batch of such rows is [B, options, L], each option padded in place
    batch = pad_batch(rows, [1, 0], tiny_tokenizer, CPU)
    width = max(len(s) for r in rows.input_ids for s in r)
    assert batch["input_ids"].shape == (2, 3, width)
    for b, row in enumerate([1, 0]):
        for j, seq in enumerate(rows.input_ids[row]):
            assert batch["input_ids"][b, j, :len(seq)].tolist() == seq
            assert batch["attention_mask"][b, j].sum().item() == len(seq)
            assert batch["token_type_ids"][b, j, :len(seq)].tolist() == rows.token_type_ids[row][j]
    assert rows.lengths().tolist() == [max(len(s) for s in r) for r in rows.input_ids]


def test_option_rows_are_one_two_label_row_per_option(mc_split, tiny_tokenizer):
    spy = Spy(tiny_tokenizer)
    rows = MultipleChoice().encode(mc_split, spy, EncodingSettings(64, 0), "option_rows")
    assert spy.calls[0][1] == ["Q:Jim bought a new  mat.", "Q:Jim bought a new  hat.", "Q:Jim bought a new  dog.",
                               "Q:What color was the sky? blue", "Q:What color was the sky? red",
                               "Q:What color was the sky? green"]
    assert len(rows) == 6 and rows.extra["options"] == 3
    assert rows.example_id.tolist() == [5, 5, 5, 6, 6, 6]
    assert rows.feature.tolist() == [0, 1, 2, 0, 1, 2]
    assert rows.targets.tolist() == [0, 0, 1, 1, 0, 0]   # gold options 2 and 0
    assert rows.labels.tolist() == rows.targets.tolist()
    assert isinstance(rows.input_ids[0][0], int)           # flat rows, not groups
    assert _segments(tiny_tokenizer, rows.input_ids[4], rows.token_type_ids[4]) == (
        "it was a clear day.", "q : what color was the sky? red")
    assert MultipleChoice().num_logits("option_rows", 3) == 2 and MultipleChoice().num_logits("multiple_choice", 3) == 3


def test_multiple_choice_rejects_ragged_options(tiny_tokenizer):
    split = Split(np.arange(2), np.zeros(2, dtype=np.int64),
                  {"context": ["c", "d"], "question": ["q", "r"], "options": [["a", "b"], ["a", "b", "c"]]})
    with pytest.raises(ValueError, match="same number of options"):
        MultipleChoice().encode(split, tiny_tokenizer, EncodingSettings(32, 0), "multiple_choice")


def test_option_rows_evaluate_reports_k_way_and_row_accuracy(mc_split, tiny_tokenizer, monkeypatch):
    rows = MultipleChoice().encode(mc_split, tiny_tokenizer, EncodingSettings(64, 0), "option_rows")
    logits = np.array([
        [5.0, 9.0],   # q0 option 0: margin 4, the largest positive-class logit; row says "right" (wrong row)
        [0.0, 3.0],   # q0 option 1: margin 3; "right" (wrong row)
        [-5.0, 0.0],  # q0 option 2: margin 5, the largest -> the 3-way answer, gold: right; "right" (right row)
        [0.0, 2.0],   # q1 option 0: margin 2, the largest -> the 3-way answer, gold: right; "right" (right row)
        [1.0, 0.0],   # q1 option 1: margin -1; "wrong" (right row)
        [0.0, 1.0],   # q1 option 2: margin 1; "right" (wrong row)
    ], dtype=np.float32)
    seen = []

    def fake(model, tokenizer, rows_, device, precision, batch_size=128):
        seen.append(len(rows_))
        return logits

    monkeypatch.setattr(batches, "predict_logits", fake)
    out = MultipleChoice().evaluate(None, tiny_tokenizer, rows, mc_split, CPU, "fp32", "option_rows", "accuracy")
    assert seen == [6]
    assert out == {"accuracy": 100.0, "row_accuracy": 50.0}  # argmax of the positive logit would give 50

    grouped = MultipleChoice().encode(mc_split, tiny_tokenizer, EncodingSettings(64, 0), "multiple_choice")
    monkeypatch.setattr(batches, "predict_logits",
                        lambda *a, **k: np.array([[0.1, 0.2, 0.9], [0.0, 1.0, 0.5]], dtype=np.float32))
    out = MultipleChoice().evaluate(None, tiny_tokenizer, grouped, mc_split, CPU, "fp32", "multiple_choice", "accuracy")
    assert out == {"accuracy": 50.0}


def test_multiple_choice_trivial(mc_split):
    train = Split(np.arange(5), np.array([1, 1, 0, 2, 1]),
                  {"context": ["c"] * 5, "question": ["q"] * 5, "options": [["a", "b", "c"]] * 5})
    kind = MultipleChoice()
    # always option 1 (the training majority); gold options of mc_split are 2 and 0
    assert kind.trivial(train, mc_split, "multiple_choice", "accuracy") == {"accuracy": 0.0}
    assert kind.trivial(train, mc_split, "option_rows", "accuracy") == {
        "accuracy": 0.0, "row_accuracy": pytest.approx(100 * 2 / 3)}   # always "wrong": 1 - 1/3
    four = Split(np.arange(2), np.array([1, 3]),
                 {"context": ["c"] * 2, "question": ["q"] * 2, "options": [list("abcd")] * 2})
    assert kind.trivial(train, four, "option_rows", "accuracy") == {"accuracy": 50.0, "row_accuracy": 75.0}


# --- per-row vs per-example dynamics ------------------------------------------------------------

def test_by_example_by_hand():
    # 6 rows of 3 examples, interleaved: example 7 has rows 0, 1, 3; example 3 rows 2, 5; example 5 row 4
    example_id = np.array([7, 7, 3, 7, 5, 3])
    correct = np.array([                 # [R=2, E=2, N=6]
        [[1, 1, 1, 1, 0, 1],
         [1, 0, 1, 1, 1, 1]],
        [[1, 1, 0, 1, 1, 1],
         [1, 1, 1, 1, 1, 0]],
    ], dtype=bool)
    gold = np.array([
        [[0.2, 0.4, 0.6, 0.9, 0.1, 0.8],
         [0.3, 0.3, 0.3, 0.3, 0.5, 0.5]],
        [[1.0, 0.5, 0.0, 0.0, 0.7, 0.2],
         [0.6, 0.6, 0.9, 0.0, 0.4, 0.1]],
    ], dtype=np.float32)
    dyn = TrainingDynamics(example_id, np.array([0, 1, 0, 2, 0, 1]), np.array([0, 1, 0, 0, 0, 1]), (1, 2),
                           correct, gold)
    ex = dyn.by_example()
    assert ex.example_id.tolist() == [7, 3, 5]                 # order of first appearance
    assert ex.feature.tolist() == [0, 0, 0]
    assert ex.label.tolist() == [1, 1, 0]                      # the largest row label
    assert ex.seeds == (1, 2)
    # run 0: epoch 0 -> 7: rows 0,1,3 all right; 3: rows 2,5 right; 5: row 4 wrong
    #        epoch 1 -> 7: row 1 wrong; 3: right; 5: right
    # run 1: epoch 0 -> 7: right; 3: row 2 wrong; 5: right
    #        epoch 1 -> 7: right; 3: row 5 wrong; 5: right
    np.testing.assert_array_equal(ex.correct, [[[1, 1, 0], [0, 1, 1]], [[1, 0, 1], [1, 0, 1]]])
    np.testing.assert_allclose(ex.gold_prob, [[[0.5, 0.7, 0.1], [0.3, 0.4, 0.5]],
                                              [[0.5, 0.1, 0.7], [0.4, 0.5, 0.4]]], atol=1e-6)
    assert ex.gold_prob.dtype == np.float32 and ex.correct.dtype == bool


def test_by_example_of_one_row_examples_is_the_identity():
    rng = np.random.default_rng(0)
    dyn = TrainingDynamics(np.array([4, 1, 3]), np.zeros(3, dtype=np.int64), np.array([2, 0, 1]), (9,),
                           rng.random((1, 3, 3)) > 0.5, rng.random((1, 3, 3)).astype(np.float32))
    ex = dyn.by_example()
    assert ex.example_id.tolist() == [4, 1, 3] and ex.label.tolist() == [2, 0, 1]
    np.testing.assert_array_equal(ex.correct, dyn.correct)
    np.testing.assert_allclose(ex.gold_prob, dyn.gold_prob)


# --- every kind through the training loop and evaluation ---------------------------------------

@pytest.mark.parametrize("kind_name, head", [("classification", "sequence_classification"),
                                             ("extractive_qa", "question_answering"),
                                             ("multiple_choice", "multiple_choice"),
                                             ("multiple_choice", "option_rows")])
def test_every_kind_trains_records_and_evaluates(kind_name, head, tiny_tokenizer, qa_split, mc_split):
    from hscore.config import PhaseConfig
    from hscore.engine import models, train

    split = {"classification": text_split([3, 8, 1], ["good film", "bad film", "fine"], None, [1, 0, 1]),
             "extractive_qa": qa_split, "multiple_choice": mc_split}[kind_name]
    kind = kinds.get_kind(kind_name)
    rows = kind.encode(split, tiny_tokenizer, QA_SETTINGS, head)
    width = kind.num_logits(head, 3 if kind_name == "multiple_choice" else 2)
    model = models.load_model("random:tiny-bert", head, width, 0, tiny_tokenizer.pad_token_id)
    hp = PhaseConfig(seeds=(1,), epochs=2, lr=1e-4, batch_size=2)
    dyn = train.fine_tune(model, kind, tiny_tokenizer, rows, hp, seed=1, order=train.training_order(len(rows), 1),
                          device=CPU, num_logits=width)
    assert dyn.correct.shape == dyn.gold_prob.shape == (2, len(rows))
    assert dyn.logits.shape == (2, len(rows), width)
    assert ((dyn.gold_prob > 0) & (dyn.gold_prob < 1)).all()       # every row recorded in every epoch
    np.testing.assert_array_equal(dyn.example_id, rows.example_id)
    np.testing.assert_array_equal(dyn.target, rows.targets)
    if width:   # the recorded correctness is the argmax of the recorded logits
        np.testing.assert_array_equal(dyn.correct, dyn.logits.argmax(-1) == rows.targets[None])
    scores = kind.evaluate(model, tiny_tokenizer, rows, split, CPU, "fp32", head, "f1" if width == 0 else "accuracy")
    expected = {"sequence_classification": {"accuracy"}, "question_answering": {"f1", "exact"},
                "multiple_choice": {"accuracy"}, "option_rows": {"accuracy", "row_accuracy"}}[head]
    assert set(scores) == expected and all(0 <= v <= 100 for v in scores.values())
    assert set(kind.trivial(split, split, head, "f1" if width == 0 else "accuracy")) == expected


def test_features_count_tokens_of_every_option_without_padding():
    flat = Features([[1, 2, 3], [4]], None, np.zeros(2), np.zeros(2), np.arange(2), np.zeros(2))
    nested = Features([[[1, 2], [3, 4, 5]], [[6], [7]]], None, np.zeros(2), np.zeros(2), np.arange(2), np.zeros(2))
    assert (flat.tokens(), nested.tokens()) == (4, 7)
    assert flat.lengths().tolist() == [3, 1] and nested.lengths().tolist() == [3, 1]
