"""Reusing the keys and values of the last prompt and reply: same tokens, less reading."""

from __future__ import annotations

import pytest

from nexus_desktop.llm.chat_model import ChatModel
from nexus_desktop.llm.generation import CancelToken, Sampling, generate_token_ids
from nexus_desktop.llm.loader import load_chat_model
from nexus_desktop.llm.prefix_cache import PrefixCache


@pytest.fixture
def model(paths, tiny_settings) -> ChatModel:
    return load_chat_model(tiny_settings, paths)[0]


def run(model: ChatModel, ids: list[int], count: int, prefix: PrefixCache | None,
        cancel: CancelToken | None = None) -> list[int]:
    return list(generate_token_ids(model.model, ids, Sampling(count, temperature=0.0),
                                   set(), cancel or CancelToken(), prefix))


def conversation(model: ChatModel, *turns: str) -> list[int]:
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": text}
                for i, text in enumerate(turns)]
    return model.render(messages)


def test_a_reused_prefix_gives_the_same_reply_and_reads_only_what_changed(model) -> None:
    prefix = PrefixCache()
    first_ids = conversation(model, "Tell me about gardens " * 40)
    first = run(model, first_ids, 8, prefix)
    assert prefix.reused_tokens == 0
    assert prefix.ids == first_ids + first
    reply = model.tokenizer.decode(first)
    second_ids = conversation(model, "Tell me about gardens " * 40, reply, "And roses?")
    second = run(model, second_ids, 8, prefix)
    assert prefix.reused_tokens > len(first_ids) - 4
    assert second == run(model, second_ids, 8, None)


def test_a_different_prompt_starts_afresh(model) -> None:
    prefix = PrefixCache()
    one = conversation(model, "one " * 30)
    run(model, one, 4, prefix)
    other = conversation(model, "two " * 30)
    assert run(model, other, 4, prefix) == run(model, other, 4, None)
    # The chat template's opening (its default system message) is shared, nothing more.
    shared = next(i for i, (a, b) in enumerate(zip(one, other, strict=False)) if a != b)
    assert prefix.reused_tokens == shared < len(other) // 2


def test_the_same_prompt_again_still_computes_its_last_token(model) -> None:
    prefix = PrefixCache()
    ids = conversation(model, "hello there")
    first = run(model, ids, 4, prefix)
    assert run(model, ids, 4, prefix) == first
    assert prefix.reused_tokens == len(ids) - 1


def test_a_cancelled_reply_leaves_a_cache_that_matches_its_ids(model) -> None:
    prefix = PrefixCache()
    cancel = CancelToken()
    ids = conversation(model, "count with me " * 20)
    stream = generate_token_ids(model.model, ids, Sampling(20, temperature=0.0), set(), cancel,
                                prefix)
    taken = [next(stream), next(stream)]
    cancel.cancel()
    assert list(stream) == []
    assert prefix.ids == ids + taken[:1] + taken[1:]
    assert prefix.cache.get_seq_length() == len(prefix.ids)
    again = conversation(model, "count with me " * 20, "and more")
    assert run(model, again, 4, prefix) == run(model, again, 4, None)


def test_the_chat_model_keeps_the_cache_only_when_asked(model) -> None:
    ids = conversation(model, "hi " * 10)
    list(model.stream(ids, Sampling(4, temperature=0.0), CancelToken(), reuse_prefix=True))
    assert model.prefix.cache is not None
    list(model.stream(ids, Sampling(4, temperature=0.0), CancelToken()))
    assert model.prefix.cache is None and model.prefix.ids == []
