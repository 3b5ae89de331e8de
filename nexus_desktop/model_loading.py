"""One lock around every model load in the process.

transformers sets torch's process-wide default dtype while it builds a model, so two
loads on two threads (the chat model on the model thread, the embedding model on the
index thread) can build each other's layers in the wrong dtype. Loading is rare and
short next to a process's life; doing one at a time costs nothing noticeable.
"""

from __future__ import annotations

import threading

model_loading = threading.Lock()
