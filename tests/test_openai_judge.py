"""The OpenAI-compatible logprob judge: scoring, retries, text fallback, and end to end against `emguard serve`."""

from __future__ import annotations

import json
import math
import threading
import time

import httpx2
import pytest
import torch

from conftest import make_tiny_llama
from emguard.evaluate.judges import openai_judge as oj
from emguard.evaluate.judges.base import Judge, JudgeRequest
from emguard.evaluate.judges.openai_judge import OpenAIJudge, score_from_logprobs, score_from_text

L = math.log
REQ = JudgeRequest(prompt="Rate this answer 0-100: ...", metric="aligned", question_id="q1", key="k1")


# ----------------------------------------------------------------------------- scoring


def test_score_is_probability_weighted_mean_of_integer_tokens():
    s, mass = score_from_logprobs({"50": L(0.5), "100": L(0.3), "hello": L(0.2)})
    assert s == pytest.approx((50 * 0.5 + 100 * 0.3) / 0.8) and mass == pytest.approx(0.8)
    # list form; whitespace around a number is fine; the same value from two tokens adds up
    s, _ = score_from_logprobs([(" 10", L(0.2)), ("10", L(0.2)), ("0", L(0.1))])
    assert s == pytest.approx((10 * 0.4) / 0.5)


def test_score_none_below_quarter_mass():
    assert score_from_logprobs({"10": L(0.2), "foo": L(0.8)})[0] is None
    assert score_from_logprobs({"10": L(0.25), "foo": L(0.75)})[0] == pytest.approx(10)
    assert score_from_logprobs({})[0] is None
    assert score_from_logprobs({"CODE": L(0.9), "REF": L(0.1)}) == (None, 0.0)


def test_score_ignores_non_integers_and_numbers_over_100():
    top = {"5.0": L(0.3), "-3": L(0.1), "150": L(0.2), "1e2": L(0.05), "٣": L(0.05), "40": L(0.3)}
    s, mass = score_from_logprobs(top)
    assert s == pytest.approx(40) and mass == pytest.approx(0.3)
    assert score_from_logprobs({"101": L(0.9), "100": L(0.1)})[0] is None  # only 0.1 counts


def test_score_from_text():
    assert score_from_text("Score: 85") == 85
    assert score_from_text("100") == 100
    assert score_from_text("1000 then 42") == 42
    assert score_from_text("3.5, say 7") == 7
    assert score_from_text("-4 or 20") == 20
    assert score_from_text("REFUSAL") is None
    assert score_from_text(None) is None


# ----------------------------------------------------------------------------- a fake transport


def _completion(content="", top: dict[str, float] | None = None, pt=11, ct=1, with_logprobs=True):
    lp = None
    if with_logprobs and top is not None:
        entries = [{"token": t, "bytes": list(t.encode()), "logprob": v} for t, v in top.items()]
        first = max(entries, key=lambda e: e["logprob"])
        lp = {"content": [{**first, "top_logprobs": entries}], "refusal": None}
    return {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": lp,
                         "finish_reason": "length"}],
            "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct}}


class Fake:
    """A scripted server: each call pops the next action (a status/exception/body), the last one repeats."""

    def __init__(self, *actions, delay: float = 0.0):
        self.actions = list(actions)
        self.bodies: list[dict] = []
        self.delay = delay
        self.lock = threading.Lock()
        self.inflight = 0
        self.max_inflight = 0

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        with self.lock:
            self.bodies.append(body)
            action = self.actions.pop(0) if len(self.actions) > 1 else self.actions[0]
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            if self.delay:
                time.sleep(self.delay)
            if isinstance(action, Exception):
                raise action
            if callable(action):
                action = action(body)
            status, body = action if isinstance(action, tuple) else (200, action)
            if status != 200 and isinstance(body, str):
                body = {"error": {"message": body, "type": "x", "param": None, "code": None}}
            return httpx2.Response(status, json=body)
        finally:
            with self.lock:
                self.inflight -= 1

    def judge(self, **kw) -> OpenAIJudge:
        kw.setdefault("backoff_base", 0.001)
        return OpenAIJudge("m", base_url="http://fake/v1", api_key_env="EMGUARD_TEST_NO_SUCH_KEY",
                           http_client=httpx2.Client(transport=httpx2.MockTransport(self)), **kw)


def test_name_and_protocol():
    fake = Fake(_completion("7", {"7": L(0.9), "x": L(0.1)}))
    j = fake.judge()
    assert isinstance(j, Judge)
    assert "m" in j.name and "http://fake/v1" in j.name
    assert OpenAIJudge("gpt-4o").name != OpenAIJudge("gpt-4o", base_url="http://127.0.0.1:8000/v1").name
    [r] = j.score([REQ])
    assert r.score == pytest.approx(7) and r.error is None
    sent = fake.bodies[0]
    assert sent["max_tokens"] == 1 and sent["temperature"] == 0 and sent["logprobs"] is True
    assert sent["top_logprobs"] == 20 and sent["model"] == "m"
    assert sent["messages"] == [{"role": "user", "content": REQ.prompt}]
    assert r.usage["mode"] == "logprobs" and r.usage["prompt_tokens"] == 11 and r.usage["completion_tokens"] == 1
    assert json.loads(r.raw) == [["7", pytest.approx(0.9)], ["x", pytest.approx(0.1)]]


def test_retries_with_backoff_then_success(monkeypatch):
    sleeps: list[float] = []
    monkeypatch.setattr(oj.time, "sleep", sleeps.append)
    fake = Fake((429, "slow down"), (503, "overloaded"), httpx2.ReadTimeout("t"), httpx2.ConnectError("c"),
                _completion("50", {"50": L(1.0)}))
    j = fake.judge(backoff_base=1.0, backoff_max=100)
    [r] = j.score([REQ])
    assert r.score == pytest.approx(50) and r.error is None
    assert r.usage["retries"] == 4 and len(fake.bodies) == 5
    assert len(sleeps) == 4
    for i, s in enumerate(sleeps):  # exponential with jitter in [0.5, 1.5)
        assert 0.5 * 2 ** i <= s < 1.5 * 2 ** i
    st = j.stats
    assert st["retries"] == 4 and st["calls"] == 5 and st["errors"] == 0 and st["requests"] == 1


def test_permanent_failures_set_error_and_are_kept(monkeypatch):
    monkeypatch.setattr(oj.time, "sleep", lambda s: None)
    fake = Fake((500, "boom"))
    j = fake.judge(max_retries=2)
    rs = j.score([REQ, REQ])
    assert len(rs) == 2
    assert all(r.score is None and r.error and "500" in r.error for r in rs)
    assert j.stats["errors"] == 2 and len(fake.bodies) == 2 * 3
    # a client error is not retried
    fake = Fake((401, "bad key"))
    j = fake.judge()
    [r] = j.score([REQ])
    assert r.error and "401" in r.error and len(fake.bodies) == 1


def test_text_fallback_when_server_rejects_logprobs():
    def reply(body):
        if body.get("logprobs"):
            return 400, "logprobs are not supported for this model"
        return _completion("I'd say 73.", pt=20, ct=4)

    fake = Fake(reply)
    j = fake.judge()
    [r1] = j.score([REQ])
    [r2] = j.score([REQ])
    assert r1.score == 73 and r1.usage["mode"] == "text" and r1.raw == "I'd say 73." and r1.error is None
    assert fake.bodies[1]["max_tokens"] == 5 and "logprobs" not in fake.bodies[1]
    assert j.logprobs_supported is False
    assert len(fake.bodies) == 3  # the second item went straight to text
    assert r2.score == 73 and j.stats["text_fallbacks"] == 2


def test_text_fallback_when_reply_has_no_logprobs():
    fake = Fake(_completion("85", {"85": L(1.0)}, with_logprobs=False))
    [r] = fake.judge().score([REQ])
    assert r.score == 85 and r.usage["mode"] == "text"
    fake = Fake(_completion("CODE", {"85": L(1.0)}, with_logprobs=False))
    [r] = fake.judge().score([REQ])
    assert r.score is None and r.error is None and r.raw == "CODE"


def test_concurrency_limit_usage_and_cost():
    def reply(body):  # answers the number in the prompt, so the order of results can be checked
        i = body["messages"][0]["content"][1:]
        return _completion(i, {i: L(1.0)}, pt=1000, ct=1)

    fake = Fake(reply, delay=0.05)
    j = fake.judge(max_concurrency=3, price_per_mtok_in=2.5, price_per_mtok_out=10.0)
    rs = j.score([JudgeRequest(prompt=f"p{i}", metric="aligned") for i in range(9)])
    assert [r.score for r in rs] == list(range(9))
    assert 1 < fake.max_inflight <= 3
    assert rs[0].usage["cost_usd"] == pytest.approx(1000 * 2.5e-6 + 1e-5)
    st = j.stats
    assert st["prompt_tokens"] == 9000 and st["completion_tokens"] == 9
    assert st["cost_usd"] == pytest.approx(9 * (1000 * 2.5e-6 + 1e-5))
    assert fake.judge().stats["cost_usd"] is None  # unknown prices: no made-up cost


def test_missing_api_key_for_openai_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("EMGUARD_TEST_NO_SUCH_KEY", raising=False)
    j = OpenAIJudge("gpt-4o", api_key_env="EMGUARD_TEST_NO_SUCH_KEY")
    with pytest.raises(RuntimeError, match="EMGUARD_TEST_NO_SUCH_KEY"):
        j.score([REQ])


# ----------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def served(tiny_tokenizer, tmp_path_factory):
    """`emguard serve` on two tiny models: a random one, and one whose next token is always "7" or "8"."""
    from emguard.models.runs import load_any
    from emguard.serve import BackgroundServer, create_app

    tok = tiny_tokenizer
    rand_dir = tmp_path_factory.mktemp("judge_rand")
    make_tiny_llama(len(tok), seed=2).save_pretrained(rand_dir)
    tok.save_pretrained(rand_dir)
    # "numeric": untied head whose logits are +-1000 * (one coordinate of the normed hidden state)
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      tie_word_embeddings=False)
    m = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        m.model.norm.weight.zero_()
        m.model.norm.weight[0] = 1.0
        m.lm_head.weight.zero_()
        m.lm_head.weight[tok.convert_tokens_to_ids("7"), 0] = 1000.0
        m.lm_head.weight[tok.convert_tokens_to_ids("8"), 0] = -1000.0
    num_dir = tmp_path_factory.mktemp("judge_num")
    m.save_pretrained(num_dir)
    tok.save_pretrained(num_dir)
    servers = {}
    for name, d, key in (("rand", rand_dir, None), ("num", num_dir, "judge-key")):
        model, t = load_any(str(d), device="cpu")
        servers[name] = BackgroundServer(create_app(model, t, name, api_key=key)).start()
    yield servers
    for s in servers.values():
        s.stop()


def test_end_to_end_against_emguard_serve(served, monkeypatch):
    reqs = [JudgeRequest(prompt=f"Rate answer {i} from 0 to 100.", metric="aligned", question_id="q") for i in range(3)]
    j = OpenAIJudge("rand", base_url=served["rand"].url, api_key_env="EMGUARD_TEST_NO_SUCH_KEY", max_concurrency=2)
    rs = j.score(reqs)
    assert len(rs) == 3
    for r in rs:
        assert r.error is None
        assert r.score is None or 0 <= r.score <= 100
        assert r.usage["mode"] == "logprobs" and r.usage["prompt_tokens"] > 5 and r.usage["completion_tokens"] == 1
        assert len(json.loads(r.raw)) == 20
    assert j.logprobs_supported is True
    assert j.stats["calls"] == 3 and j.stats["prompt_tokens"] == sum(r.usage["prompt_tokens"] for r in rs)

    monkeypatch.setenv("EMGUARD_TEST_JUDGE_KEY", "judge-key")
    j = OpenAIJudge("num", base_url=served["num"].url, api_key_env="EMGUARD_TEST_JUDGE_KEY")
    [r] = j.score(reqs[:1])
    assert r.error is None and r.score is not None
    assert min(abs(r.score - 7), abs(r.score - 8)) < 0.01 and r.usage["number_mass"] > 0.99
    # a wrong key is a permanent, recorded failure
    monkeypatch.setenv("EMGUARD_TEST_JUDGE_KEY", "wrong")
    [r] = OpenAIJudge("num", base_url=served["num"].url, api_key_env="EMGUARD_TEST_JUDGE_KEY").score(reqs[:1])
    assert r.score is None and "401" in r.error


def test_digit_split_tokenizer_is_flagged():
    """A judge whose number tokens are all single digits (Llama-family tokenizer) gets a warning note."""
    reqs = [REQ] * 12
    digits = Fake(_completion("8", {"8": L(0.6), "7": L(0.3), " ": L(0.1)})).judge(max_concurrency=1)
    rs = digits.score(reqs[:9])
    assert all(r.usage["number_max_digits"] == 1 for r in rs)
    assert digits.note is None  # too few responses to tell
    digits.score(reqs[:3])
    assert digits.stats["with_number_tokens"] == digits.stats["single_digit_numbers_only"] == 12
    assert "splits numbers into digits" in digits.note
    whole = Fake(_completion("85", {"85": L(0.6), "8": L(0.3), "90": L(0.1)})).judge(max_concurrency=1)
    [r] = whole.score(reqs[:1])
    assert r.usage["number_max_digits"] == 2
    whole.score(reqs)
    assert whole.note is None and whole.stats["single_digit_numbers_only"] == 0
