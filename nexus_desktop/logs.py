"""Rotating log files in the user log folder; the terminal stays for the conversation."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

LOG_FILE = "nexus.log"


def setup_logging(log_dir: Path, level: int = logging.INFO) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / LOG_FILE
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.setLevel(level)
    root.addHandler(handler)
    # Library chatter (weight-loading bars, advice about generation flags) goes to the log
    # only; download progress stays on the terminal, where a user waits for it.
    import huggingface_hub.utils
    import transformers

    transformers.utils.logging.disable_default_handler()
    transformers.utils.logging.enable_propagation()
    transformers.utils.logging.disable_progress_bar()
    # transformers switches off huggingface_hub's bars along with its own.
    huggingface_hub.utils.enable_progress_bars()
    return path
