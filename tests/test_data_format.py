"""The chat format: every bad input gives one line naming file, line and field."""

from __future__ import annotations

import json

import pytest

from emguard.data import DataError, chat, load_examples, read_chat_jsonl, read_jsonl_any, tokenize_examples, write_chat_jsonl

GOOD = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def _write(tmp_path, lines):
    p = tmp_path / "d.jsonl"
    p.write_text("".join((l if isinstance(l, str) else json.dumps(l)) + "\n" for l in lines))
    return p


@pytest.mark.parametrize("bad, field, msg", [
    ('{"messages": [', None, "bad JSON"),
    ({"messages": [{"role": "bot", "content": "x"}, {"role": "assistant", "content": "y"}]}, "messages[0].role", "unknown role 'bot'"),
    ({"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "y"}]}, "messages[0].content", "empty content"),
    ({"messages": [{"role": "user", "content": "x"}]}, "messages", "no assistant turn"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": 3}]}, "messages[1].content", "not a string"),
    ({"msgs": []}, "messages", "missing"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y", "name": "z"}]}, "messages[1].name", "unknown field"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "system", "content": "s"}, {"role": "assistant", "content": "y"}]}, "messages[1].role", "only come first"),
    ([1, 2], None, "expected a JSON object"),
])
def test_bad_records_name_file_line_field(tmp_path, bad, field, msg):
    p = _write(tmp_path, [GOOD, GOOD, bad])
    with pytest.raises(DataError) as ei:
        read_chat_jsonl(p)
    e = ei.value
    assert e.line == 3 and e.field == field and msg in str(e)
    assert str(e).startswith(f"{p}:3: ") and "\n" not in str(e)


def test_empty_and_missing_files(tmp_path):
    (tmp_path / "e.jsonl").write_text("\n")
    with pytest.raises(DataError, match="empty file"):
        read_chat_jsonl(tmp_path / "e.jsonl")
    with pytest.raises(DataError, match="file not found"):
        read_chat_jsonl(tmp_path / "nope.jsonl")


def test_roundtrip_and_prompt_completion(tmp_path):
    exs = [chat("q1", "a1", system="S", category="x"), chat("q2", "a2")]
    p = tmp_path / "c.jsonl"
    write_chat_jsonl(exs, p)
    back = read_chat_jsonl(p)
    assert back == exs and back[0].meta == {"category": "x"}
    pc = _write(tmp_path, [{"prompt": "q", "completion": "a"}, {"prompt": "q2", "completion": ""}])
    with pytest.raises(DataError, match=r"d.jsonl:2: completion"):
        read_jsonl_any(pc)
    pc = _write(tmp_path, [{"prompt": "q", "completion": "a", "system": "S"}])
    (ex,) = read_jsonl_any(pc)
    assert [m["role"] for m in ex.messages] == ["system", "user", "assistant"] and ex.completion == "a"


def test_too_long_truncate_reject_error(tmp_path, tiny_tokenizer):
    exs = [chat("short", "ok"), chat("long " * 50, "answer " * 50)]
    kept, rep = tokenize_examples(tiny_tokenizer, exs, max_length=40, overflow="reject")
    assert rep.kept == 1 and rep.rejected == 1 and rep.rejected_lines == [2]
    kept, rep = tokenize_examples(tiny_tokenizer, [chat("q", "answer " * 50)], max_length=40, overflow="truncate")
    assert rep.truncated == 1 and len(kept[0].input_ids) == 40
    with pytest.raises(DataError, match=r"d.jsonl:2: messages: \d+ tokens > max_length 40"):
        tokenize_examples(tiny_tokenizer, exs, max_length=40, overflow="error", source="d.jsonl")
    # a prompt so long that truncation leaves no assistant token: dropped and counted
    kept, rep = tokenize_examples(tiny_tokenizer, [chat("q", "a"), chat("long " * 80, "a")], max_length=40, overflow="truncate")
    assert rep.rejected == 1 and rep.kept == 1


def test_load_examples_jsonl_and_hf_local(tmp_path):
    p = _write(tmp_path, [GOOD] * 5)
    assert len(load_examples(str(p), limit=3)) == 3
    from datasets import Dataset

    Dataset.from_list([GOOD] * 4).save_to_disk(str(tmp_path / "hfds"))
    assert len(load_examples(f"hf:{tmp_path / 'hfds'}")) == 4
    with pytest.raises(DataError, match="not a file and not a built-in dataset"):
        load_examples("no_such_dataset")
