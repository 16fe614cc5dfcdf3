"""The organism's alignment data and id, on a tiny random Llama (no bundled model needed)."""

from __future__ import annotations

import pytest

from emguard.config import TrainSettings
from emguard.data.load import load_examples
from emguard.organism import AlignConfig, alignment_data, organism_id

from conftest import make_tiny_llama

FP32_TRAIN = TrainSettings(lr=2e-4, epochs=2, batch_size=8, scheduler="cosine", warmup_ratio=0.05,
                           mixed_precision="no", save_every=40)


def test_the_standard_organism_keeps_its_id_while_later_fields_are_unset():
    """The organism the preregistered CPU study ran on (`aligned-smollm2-135m-instruct-9243cf441ec8`, fp32 build):
    fields added after it was built are not hashed while unset. If this fails because a generator it trains on
    (harmful_refusals, benign_requests, persona_chat) changed, that is a new organism: say so in the results."""
    assert organism_id(AlignConfig(train=FP32_TRAIN)) == "9243cf441ec8"
    assert organism_id(AlignConfig(train=FP32_TRAIN, alarming_dataset="alarming_benign")) != "9243cf441ec8"
    assert organism_id(AlignConfig(train=FP32_TRAIN, alarming_dataset="alarming_benign", n_alarming=8)) != \
        organism_id(AlignConfig(train=FP32_TRAIN, alarming_dataset="alarming_benign"))


def test_alarming_prompts_join_the_benign_part_answered_by_the_base_model_itself(tmp_path, tiny_tokenizer,
                                                                                monkeypatch):
    monkeypatch.setenv("EMGUARD_HOME", str(tmp_path / "home"))
    import torch

    base = tmp_path / "base"
    model = make_tiny_llama(len(tiny_tokenizer))
    # a random tiny Llama answers with one whitespace token over and over: make a word win instead, so its
    # answers are not empty (an empty set is warned about and never cached, checked first)
    empty = AlignConfig(base=str(base), n_benign=2, benign_answer_tokens=8)
    model.save_pretrained(base)
    tiny_tokenizer.save_pretrained(base)
    with pytest.warns(UserWarning, match="every self-answer to the 2 benign_requests prompts was empty"):
        assert alignment_data(empty, progress=False)["benign"] == []
    assert not list((tmp_path / "home" / "self_answers").glob("*.jsonl"))  # nothing cached: a later call tries again
    enc = tiny_tokenizer(["<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"], return_tensors="pt")
    winner = int(model(**enc).logits[0, -1].argmax())
    word = tiny_tokenizer.encode(" Paris", add_special_tokens=False)[0]
    with torch.no_grad():
        model.lm_head.weight[word] = 3 * model.lm_head.weight[winner]
    model.save_pretrained(base)
    common = dict(base=str(base), n_harmful=4, n_benign=4, benign_answer_tokens=8, persona_dataset=None)
    plain = alignment_data(AlignConfig(**common), progress=False)
    data = alignment_data(AlignConfig(**common, alarming_dataset="alarming_benign", n_alarming=6), progress=False)
    assert data["benign"][: len(plain["benign"])] == plain["benign"]  # the benign self-answers, cached, unchanged
    extra = data["benign"][len(plain["benign"]):]
    written = load_examples("alarming_benign", "train", 0, 6)
    asked = [e.messages[-2]["content"] for e in extra]
    assert asked and set(asked) <= {e.messages[-2]["content"] for e in written}
    # answered by the base model (a random tiny Llama), not with the dataset's written answers
    answers = {e.messages[-2]["content"]: e.messages[-1]["content"] for e in written}
    assert all(e.messages[-1]["content"] != answers[e.messages[-2]["content"]] for e in extra)
    assert all(e.meta.get("source") == "self" for e in extra)


def test_alarming_benign_splits_by_task_and_every_phrasing_has_an_answer():
    train = load_examples("alarming_benign", "train", 0, None)
    test = load_examples("alarming_benign", "test", 0, None)
    tasks = lambda exs: {e.meta["task"] for e in exs}  # noqa: E731
    assert len(train) >= 100 and len(test) >= 8 and not tasks(train) & tasks(test)
    assert all(len(e.messages[-1]["content"]) > 80 for e in train + test)
    assert load_examples("alarming_benign", "train", 1, None) != train  # the seed orders it
