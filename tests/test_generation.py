"""The decode loop on a tiny random model: limits, stop tokens, cancellation, sampling."""

from __future__ import annotations

import pytest
import torch

from nexus_desktop.llm import generation
from nexus_desktop.llm.chat_model import ChatModel
from nexus_desktop.llm.generation import (
    PREFILL_CHUNK,
    CancelToken,
    IncrementalDecoder,
    Sampling,
    generate_token_ids,
)
from nexus_desktop.llm.loader import load_chat_model


@pytest.fixture
def model(paths, tiny_settings) -> ChatModel:
    return load_chat_model(tiny_settings, paths)[0]


def prompt(model: ChatModel, text: str = "Hello") -> list[int]:
    return model.render([{"role": "user", "content": text}])


def greedy(model: ChatModel, ids: list[int], count: int, stop: set[int] | None = None,
           **sampling) -> list[int]:
    return list(generate_token_ids(model.model, ids, Sampling(count, **sampling),
                                   stop or set(), CancelToken()))


def test_greedy_is_deterministic_and_respects_the_token_limit(model):
    ids = prompt(model)
    first = greedy(model, ids, 12)
    assert len(first) == 12
    assert greedy(model, ids, 12) == first


def test_matches_a_plain_forward_pass_argmax(model):
    ids = prompt(model)
    with torch.inference_mode():
        logits = model.model(torch.tensor([ids])).logits[0, -1]
    assert greedy(model, ids, 1) == [int(torch.argmax(logits))]


def test_stops_at_a_stop_token(model):
    ids = prompt(model)
    # A strong repetition penalty makes every token distinct, so the stop is unambiguous.
    tokens = greedy(model, ids, 8, repetition_penalty=1e9)
    assert greedy(model, ids, 8, stop={tokens[3]}, repetition_penalty=1e9) == tokens[:3]


def test_cancel_before_start_yields_nothing(model):
    cancel = CancelToken()
    cancel.cancel()
    assert list(generate_token_ids(model.model, prompt(model), Sampling(8), set(), cancel)) == []


def test_cancel_during_a_long_prefill_stops_before_the_next_chunk(model, monkeypatch):
    calls = []
    cancel = CancelToken()
    real_forward = generation._forward

    def forward(model_, ids, cache):
        calls.append(ids.shape[1])
        cancel.cancel()
        return real_forward(model_, ids, cache)

    monkeypatch.setattr(generation, "_forward", forward)
    long_prompt = list(range(100, 100 + PREFILL_CHUNK * 2 + 5))
    assert list(generate_token_ids(model.model, long_prompt, Sampling(8), set(), cancel)) == []
    assert calls == [PREFILL_CHUNK]


def test_chunked_prefill_gives_the_same_tokens_as_one_pass(model, monkeypatch):
    ids = prompt(model, "word " * 200)
    whole = greedy(model, ids, 6)
    monkeypatch.setattr(generation, "PREFILL_CHUNK", 37)
    assert greedy(model, ids, 6) == whole


def test_tiny_top_p_is_greedy_and_a_seed_makes_sampling_repeatable(model):
    ids = prompt(model)
    assert greedy(model, ids, 6, temperature=1.0, top_p=1e-9) == greedy(model, ids, 6)
    one = greedy(model, ids, 10, temperature=1.5, seed=7)
    assert greedy(model, ids, 10, temperature=1.5, seed=7) == one


def test_repetition_penalty_stops_repeats(model):
    ids = prompt(model)
    plain = greedy(model, ids, 30)
    assert len(set(plain)) < len(plain), "the tiny model should repeat itself unpenalised"
    penalised = greedy(model, ids, 30, repetition_penalty=1e9)
    assert len(set(penalised)) == len(penalised)


def test_stream_never_runs_past_the_context_window(model):
    window = model.info.context_window
    ids = list(range(200, 200 + window - 3))
    tokens = list(generate_token_ids(model.model, ids, Sampling(3), set(), CancelToken()))
    assert len(tokens) == 3
    pieces = list(model.stream(ids, Sampling(100), CancelToken()))
    assert len(pieces) <= 3
    with pytest.raises(ValueError, match="fills the"):
        list(model.stream(list(range(200, 200 + window)), Sampling(5), CancelToken()))


def test_inference_mode_does_not_leak_into_the_consumer(model):
    for _piece in model.stream(prompt(model), Sampling(4), CancelToken()):
        assert not torch.is_inference_mode_enabled()
        assert torch.is_grad_enabled()


def test_incremental_decoding_never_splits_a_character(model):
    text = "héllo wörld 😀 日本語 ok"
    tokenizer = model.tokenizer
    decoder = IncrementalDecoder(tokenizer)
    pieces = [decoder.push(i) for i in tokenizer.encode(text, add_special_tokens=False)]
    assert "".join(pieces) == text
    assert not any("\ufffd" in p for p in pieces)


def test_the_chat_template_is_the_models_own(model):
    ids = model.render([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    text = model.tokenizer.decode(ids)
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n" \
                   "<|im_start|>assistant\n"
    assert model.tokenizer.convert_tokens_to_ids("<|im_end|>") in model.stop_ids
