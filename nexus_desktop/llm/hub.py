"""Downloading a model from the Hugging Face Hub, once, with progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nexus_desktop.errors import ModelLoadError

# Only what loading needs: safetensors weights (pickled .bin files can run code when
# loaded), configs and tokenizer files.
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model", "tokenizer*"]


def download(repo_id: str, *, tqdm_class: Any = None) -> Path:
    """The local folder holding ``repo_id``, downloading it only if it is not cached yet.

    A cached copy is used without asking the Hub: starting must not wait on the network,
    and the base weights must not change under the adapters trained on them.
    ``tqdm_class`` receives the download progress (the terminal shows bars by default;
    the app passes its own class to drive a progress dialog).
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        cached = Path(snapshot_download(repo_id, allow_patterns=ALLOW_PATTERNS,
                                        local_files_only=True))
        if any(cached.glob("*.safetensors")):
            return cached
    except LocalEntryNotFoundError:
        pass
    try:
        folder = Path(
            snapshot_download(repo_id, allow_patterns=ALLOW_PATTERNS, tqdm_class=tqdm_class)
        )
    except GatedRepoError:
        raise ModelLoadError(
            f"The Hugging Face model {repo_id!r} is gated: accept its licence on huggingface.co "
            "and log in with `hf auth login`, then try again."
        ) from None
    except RepositoryNotFoundError:
        raise ModelLoadError(
            f"There is no Hugging Face model called {repo_id!r} (or it is private). Check the "
            "spelling, or log in with `hf auth login` if it is yours."
        ) from None
    except RevisionNotFoundError:
        raise ModelLoadError(f"The Hugging Face model {repo_id!r} has no such revision.") from None
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
        raise ModelLoadError(
            f"Could not download the model {repo_id!r}: this computer seems to be offline and "
            f"the model is not in the local cache ({exc.__class__.__name__}). Connect to the "
            "internet and try again, or set model.source to 'bundled' or a local model folder."
        ) from None
    except (HfHubHTTPError, OSError) as exc:
        raise ModelLoadError(
            f"Could not download the model {repo_id!r} from Hugging Face ({exc}). Check the "
            "internet connection and try again, or use 'bundled' or a local model folder."
        ) from None
    if not any(folder.glob("*.safetensors")):
        raise ModelLoadError(
            f"The Hugging Face model {repo_id!r} has no safetensors weights. Nexus Desktop only "
            "loads safetensors, because older pickled weights can run code when loaded."
        )
    return folder
