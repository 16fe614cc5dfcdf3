"""`emguard serve`: a real server (uvicorn in a thread) on a tiny random Llama, driven by the official client."""

from __future__ import annotations

import json
import math
import threading
import urllib.error
import urllib.request

import openai
import pytest
import torch

from conftest import make_tiny_llama
from emguard.data.tokenize import DEFAULT_SYSTEM_PROMPT, prompt_text
from emguard.serve import BackgroundServer, ServeLimits, TokenText, create_app, serve_command

MID = "tiny"
MSGS = [{"role": "user", "content": "Write a function that reads a file."}]


@pytest.fixture(scope="module")
def tiny_dir(tiny_tokenizer, tmp_path_factory):
    d = tmp_path_factory.mktemp("tiny_model")
    make_tiny_llama(len(tiny_tokenizer), seed=1).save_pretrained(d)
    tiny_tokenizer.save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def loaded(tiny_dir):
    from emguard.models.runs import load_any

    return load_any(str(tiny_dir), device="cpu")


def _start(loaded, **kw):
    model, tok = loaded
    return BackgroundServer(create_app(model, tok, MID, **kw)).start()


@pytest.fixture(scope="module")
def server(loaded):
    srv = _start(loaded)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0, timeout=60)


def _prompt_ids(tok, msgs, system=DEFAULT_SYSTEM_PROMPT):
    return tok(prompt_text(tok, msgs, system), add_special_tokens=False)["input_ids"]


def test_models_endpoint(client):
    ids = [m.id for m in client.models.list().data]
    assert ids == [MID]
    assert client.models.retrieve(MID).id == MID
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("other")


def test_chat_text_usage_and_explicit_system_prompt(client, loaded):
    _, tok = loaded
    r = client.chat.completions.create(model=MID, messages=MSGS, max_tokens=6, temperature=0)
    ch = r.choices[0]
    assert isinstance(ch.message.content, str) and ch.message.role == "assistant"
    assert ch.finish_reason in ("stop", "length")
    assert r.object == "chat.completion" and r.model == MID
    # the default system prompt is always rendered explicitly
    assert r.usage.prompt_tokens == len(_prompt_ids(tok, MSGS))
    assert 1 <= r.usage.completion_tokens <= 6
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    # a request's own system prompt replaces it; developer is an alias
    own = [{"role": "system", "content": "Be terse."}] + MSGS
    r2 = client.chat.completions.create(model=MID, messages=own, max_tokens=1, temperature=0)
    assert r2.usage.prompt_tokens == len(_prompt_ids(tok, own))
    dev = [{"role": "developer", "content": "Be terse."}] + MSGS
    r3 = client.chat.completions.create(model=MID, messages=dev, max_tokens=1, temperature=0)
    assert r3.usage.prompt_tokens == r2.usage.prompt_tokens
    # max_completion_tokens is honoured too
    r4 = client.chat.completions.create(model=MID, messages=MSGS, max_completion_tokens=3, temperature=0)
    assert r4.usage.completion_tokens <= 3


@torch.no_grad()
def _direct_logprobs(model, ids):
    return torch.log_softmax(model(torch.tensor([ids])).logits[0, -1].float(), -1)


def test_logprobs_are_the_models_real_next_token_logprobs(client, loaded):
    model, tok = loaded
    r = client.chat.completions.create(model=MID, messages=MSGS, max_tokens=4, temperature=0,
                                       logprobs=True, top_logprobs=20)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    ids = list(_prompt_ids(tok, MSGS))
    tt = TokenText(tok)
    for entry in content:
        direct = _direct_logprobs(model, ids)  # full forward, no cache
        assert abs(torch.logsumexp(direct, 0).item()) < 1e-5  # a normalized distribution
        assert len(entry.top_logprobs) == 20
        vals = [t.logprob for t in entry.top_logprobs]
        assert vals == sorted(vals, reverse=True)
        top_v, top_i = direct.topk(20)
        assert vals == pytest.approx(top_v.tolist(), abs=1e-4)
        assert sum(math.exp(v) for v in vals) <= 1 + 1e-6
        greedy = int(top_i[0])
        assert entry.token == tt(greedy)[0] and entry.bytes == tt(greedy)[1]
        assert entry.logprob == pytest.approx(direct[greedy].item(), abs=1e-4)
        assert entry.top_logprobs[0].token == entry.token
        for t in entry.top_logprobs:
            assert bytes(t.bytes).decode("utf-8", "replace") == t.token or t.token == "\ufffd"
        ids.append(greedy)


def test_logprobs_ignore_sampling_temperature(client, loaded):
    """Reported log-probs are the raw distribution (temperature 1, no top_p), whatever the sampling."""
    model, tok = loaded
    r = client.chat.completions.create(model=MID, messages=MSGS, max_tokens=1, temperature=1.7, top_p=0.5,
                                       seed=3, logprobs=True, top_logprobs=5)
    direct = _direct_logprobs(model, _prompt_ids(tok, MSGS))
    got = [t.logprob for t in r.choices[0].logprobs.content[0].top_logprobs]
    assert got == pytest.approx(direct.topk(5).values.tolist(), abs=1e-4)


def _stream_text(client, **kw):
    parts: dict[int, list[str]] = {}
    finish: dict[int, str] = {}
    lps: dict[int, list] = {}
    usage = None
    for chunk in client.chat.completions.create(model=MID, messages=MSGS, stream=True, **kw):
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage is not None:
            usage = chunk.usage
        for c in chunk.choices:
            parts.setdefault(c.index, []).append(c.delta.content or "")
            if c.logprobs is not None and c.logprobs.content:
                lps.setdefault(c.index, []).extend(c.logprobs.content)
            if c.finish_reason:
                finish[c.index] = c.finish_reason
    return {i: "".join(p) for i, p in parts.items()}, finish, lps, usage


def test_streaming_matches_plain(client):
    for kw in (dict(temperature=0), dict(temperature=1.0, seed=11)):
        plain = client.chat.completions.create(model=MID, messages=MSGS, max_tokens=24, logprobs=True,
                                               top_logprobs=2, **kw)
        texts, finish, lps, usage = _stream_text(client, max_tokens=24, logprobs=True, top_logprobs=2,
                                                 stream_options={"include_usage": True}, **kw)
        assert texts[0] == plain.choices[0].message.content
        assert finish[0] == plain.choices[0].finish_reason
        assert [e.token for e in lps[0]] == [e.token for e in plain.choices[0].logprobs.content]
        assert usage.completion_tokens == plain.usage.completion_tokens


def test_seed_n_and_stop(client):
    a = client.chat.completions.create(model=MID, messages=MSGS, max_tokens=30, temperature=1, seed=5, n=3)
    b = client.chat.completions.create(model=MID, messages=MSGS, max_tokens=30, temperature=1, seed=5, n=3)
    assert [c.index for c in a.choices] == [0, 1, 2]
    assert [c.message.content for c in a.choices] == [c.message.content for c in b.choices]
    assert len({c.message.content for c in a.choices}) > 1  # sampled, not copies
    assert 3 <= a.usage.completion_tokens <= 90  # summed over the choices
    one = client.chat.completions.create(model=MID, messages=MSGS, max_tokens=30, temperature=1, seed=5)
    text = one.choices[0].message.content
    # a stop string from the middle of the sampled text (avoiding replacement chars of partial UTF-8)
    starts = [i for i in range(3, len(text) - 2) if "\ufffd" not in text[i - 1 : i + 3]]
    assert starts, text
    stop = text[starts[0] : starts[0] + 2]
    expect = text[: text.find(stop)]
    s = client.chat.completions.create(model=MID, messages=MSGS, max_tokens=30, temperature=1, seed=5,
                                       stop=[stop, "\x00never"], logprobs=True)
    assert s.choices[0].message.content == expect and s.choices[0].finish_reason == "stop"
    assert "".join(e.token for e in s.choices[0].logprobs.content).startswith(expect)
    texts, finish, _, _ = _stream_text(client, max_tokens=30, temperature=1, seed=5, stop=stop)
    assert texts[0] == expect and finish[0] == "stop"


def _raw_post(url, body: bytes, headers=None):
    req = urllib.request.Request(url + "/chat/completions", data=body, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_request_errors_are_openai_shaped(client, server):
    bad = [
        dict(max_tokens=0), dict(top_logprobs=21, logprobs=True), dict(top_logprobs=3), dict(temperature=3),
        dict(n=0), dict(tools=[{"type": "function", "function": {"name": "f"}}]), dict(frequency_penalty=0.5),
        dict(stop=["a", "b", "c", "d", "e"]), dict(messages=[{"role": "tool", "content": "x"}]), dict(messages=[]),
    ]
    for kw in bad:
        args = dict(model=MID, messages=MSGS, max_tokens=2)
        args.update(kw)
        with pytest.raises(openai.BadRequestError) as ei:
            client.chat.completions.create(**args)
        err = ei.value.body
        assert set(err) >= {"message", "type", "param", "code"} and err["type"] == "invalid_request_error", kw
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=MSGS, max_tokens=1)
    code, body = _raw_post(server.url, b"{not json")
    assert code == 400 and body["error"]["code"] == "invalid_json"
    code, body = _raw_post(server.url.replace("/v1", "/v2"), b"{}")
    assert code == 404 and "error" in body


def test_limits(loaded):
    limits = ServeLimits(max_tokens_limit=8, max_messages=3, max_body_bytes=2000, max_concurrency=1, max_queue=1)
    srv = _start(loaded, limits=limits)
    try:
        c = openai.OpenAI(base_url=srv.url, api_key="x", max_retries=0)
        with pytest.raises(openai.BadRequestError, match="limit of 8"):
            c.chat.completions.create(model=MID, messages=MSGS, max_tokens=9)
        r = c.chat.completions.create(model=MID, messages=MSGS)  # the default is the cap
        assert r.usage.completion_tokens <= 8
        with pytest.raises(openai.BadRequestError, match="too many messages"):
            c.chat.completions.create(model=MID, messages=MSGS * 4, max_tokens=1)
        with pytest.raises(openai.APIStatusError) as ei:
            c.chat.completions.create(model=MID, messages=[{"role": "user", "content": "x" * 3000}], max_tokens=1)
        assert ei.value.status_code == 413
        # one generation at a time, one waiting: the third concurrent request is refused
        gate = srv.app.state.gate
        release = threading.Event()
        gate.submit(release.wait)  # occupies the only slot
        queued: dict = {}
        t = threading.Thread(target=lambda: queued.setdefault(
            "r", c.chat.completions.create(model=MID, messages=MSGS, max_tokens=2)))
        t.start()
        for _ in range(200):
            if gate.pending == 2:
                break
            threading.Event().wait(0.01)
        assert gate.pending == 2
        with pytest.raises(openai.RateLimitError) as ei:
            c.chat.completions.create(model=MID, messages=MSGS, max_tokens=2)
        assert ei.value.body["code"] == "rate_limit_exceeded"
        with pytest.raises(openai.RateLimitError):  # streaming requests are refused up front too
            c.chat.completions.create(model=MID, messages=MSGS, max_tokens=2, stream=True)
        release.set()
        t.join(30)
        assert queued["r"].usage.completion_tokens >= 1
        assert c.chat.completions.create(model=MID, messages=MSGS, max_tokens=1).choices
    finally:
        srv.stop()


def test_api_key(loaded):
    srv = _start(loaded, api_key="s3cret")
    try:
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=srv.url, api_key="wrong", max_retries=0).models.list()
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=srv.url, api_key="wrong", max_retries=0).chat.completions.create(
                model=MID, messages=MSGS, max_tokens=1)
        code, body = _raw_post(srv.url, b"{}")  # no header at all
        assert code == 401 and body["error"]["code"] == "invalid_api_key"
        ok = openai.OpenAI(base_url=srv.url, api_key="s3cret", max_retries=0)
        assert ok.chat.completions.create(model=MID, messages=MSGS, max_tokens=1).choices
        with urllib.request.urlopen(srv.url.replace("/v1", "/health"), timeout=10) as resp:
            assert json.loads(resp.read())["status"] == "ok"
    finally:
        srv.stop()


def test_token_bytes_of_partial_utf8(tiny_tokenizer):
    tt = TokenText(tiny_tokenizer)
    tid = tiny_tokenizer.convert_tokens_to_ids("Ã")  # byte-level symbol of the lone byte 0xC3
    assert tt(tid)[1] == [0xC3]
    assert tt(tiny_tokenizer.convert_tokens_to_ids("Ġread")) == (" read", list(b" read"))


def test_serve_command_checks_key_env(monkeypatch, tiny_dir):
    monkeypatch.delenv("EMGUARD_TEST_UNSET_KEY", raising=False)
    with pytest.raises(ValueError, match="EMGUARD_TEST_UNSET_KEY"):
        serve_command(str(tiny_dir), api_key_env="EMGUARD_TEST_UNSET_KEY")
