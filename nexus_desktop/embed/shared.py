"""The bundled embedding model, loaded once per process and shared by every engine."""

from __future__ import annotations

import threading

from nexus_desktop.embed.model import EmbeddingModel

_lock = threading.Lock()
_model: EmbeddingModel | None = None


def shared_embedding_model() -> EmbeddingModel:
    """The bundled all-MiniLM-L6-v2, loaded on first use (about a second) and then kept."""
    global _model
    with _lock:
        if _model is None:
            _model = EmbeddingModel.load()
        return _model


def release_shared_embedding_model() -> None:
    """Forget the shared model, so its memory is freed once no one else holds it; the
    next ``shared_embedding_model()`` loads it again."""
    global _model
    with _lock:
        _model = None
