"""Converting a GGUF model once into safetensors weights that load in a fraction of a second.

transformers reads GGUF by de-quantizing every tensor, which takes half a minute for
the bundled model; the converted folder in the user data directory loads in well under
a second on later starts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

from nexus_desktop.errors import ModelLoadError
from nexus_desktop.model_loading import model_loading

log = logging.getLogger(__name__)
MANIFEST = "nexus-conversion.json"
# Bump when the conversion itself changes, so old caches are redone.
CONVERSION_VERSION = 1


def cache_folder(gguf: Path, models_dir: Path) -> Path:
    """The folder the converted copy of ``gguf`` lives in (it may not exist yet)."""
    stat = gguf.stat()
    key = hashlib.sha256(
        f"{gguf.name}:{stat.st_size}:{stat.st_mtime_ns}:{CONVERSION_VERSION}".encode()
    ).hexdigest()[:16]
    return models_dir / f"{gguf.stem}-{key}"


def is_converted(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def converted_model(gguf: Path, models_dir: Path) -> Path:
    """The converted folder for ``gguf``, converting it first if needed."""
    folder = cache_folder(gguf, models_dir)
    if is_converted(folder):
        return folder
    log.info("converting %s into %s", gguf, folder)
    models_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".converting-", dir=models_dir))
    try:
        _convert(gguf, work)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(work, folder)
    except OSError as exc:
        raise ModelLoadError(
            f"Could not save the converted model in {models_dir} ({exc.strerror}). Free some "
            "disk space (the converted model needs about 4 times the size of the GGUF file)."
        ) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return folder


def _convert(gguf: Path, target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    with model_loading:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        if not all(p.is_floating_point() for p in model.parameters()):
            raise ModelLoadError(
                "transformers kept this GGUF model's weights packed (the `kernels` package is "
                "installed), so they cannot be cached as plain weights. Uninstall `kernels`."
            )
        # The weights are already plain tensors; only the marker that blocks saving remains.
        quantizer.remove_quantization_config(model)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    manifest = {
        "source": str(gguf),
        "sha256": _sha256(gguf),
        "conversion_version": CONVERSION_VERSION,
        "seconds": round(time.perf_counter() - started, 2),
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
