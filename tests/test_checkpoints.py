"""Adapter checkpoints: atomic versions, pruning, and falling back past damaged ones."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from pipe_lines import read_lines
from safetensors.torch import save as save_bytes

from nexus_desktop.errors import CheckpointError, NexusError
from nexus_desktop.learning.checkpoints import (
    ADAPTER_FILE,
    EMA_FILE,
    MANIFEST_FILE,
    AdapterCheckpoints,
)

REPO = Path(__file__).resolve().parent.parent


def weights(step: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    adapter = {"layer.lora_A": torch.full((4, 8), float(step)), "layer.lora_B": torch.zeros(8, 4)}
    ema = {"layer.lora_A": torch.full((4, 8), step / 2), "layer.lora_B": torch.ones(8, 4)}
    return adapter, ema


def save_steps(store: AdapterCheckpoints, steps: range) -> None:
    for step in steps:
        adapter, ema = weights(step)
        store.save(adapter, ema, {"step": step}, {"loss": 1.0 / step})


def test_round_trip_keeps_tensors_config_and_metrics(tmp_path: Path):
    store = AdapterCheckpoints(tmp_path / "adapters" / "smollm2", keep=3)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    adapter = {
        "a": base.t(),  # not contiguous
        "b": torch.randn(3, 5, dtype=torch.bfloat16),
        "c": torch.ones(2, 2, requires_grad=True) * 3,
        "d": base[1],  # a view sharing storage with "a"
    }
    ema = {"a": base.clone() / 2}
    saved = store.save(adapter, ema, {"rank": 16, "alpha": 32.0}, {"canary": 1.25, "steps": 40})
    assert saved.version == 1
    assert saved.folder == store.root / "v000001"
    assert saved.config == {"rank": 16, "alpha": 32.0}
    assert abs(saved.created_at - time.time()) < 60

    loaded = store.load_latest()
    assert loaded is not None and loaded.skipped == []
    assert loaded.version == saved
    assert set(loaded.adapter) == set(adapter)
    for name, tensor in adapter.items():
        assert loaded.adapter[name].dtype == tensor.dtype
        assert torch.equal(loaded.adapter[name], tensor.detach())
    assert torch.equal(loaded.ema["a"], ema["a"])

    manifest = json.loads((saved.folder / MANIFEST_FILE).read_text())
    assert manifest["version"] == 1
    assert manifest["metrics"] == {"canary": 1.25, "steps": 40}
    for name in (ADAPTER_FILE, EMA_FILE):
        assert manifest["files"][name]["size"] == (saved.folder / name).stat().st_size
        assert len(manifest["files"][name]["sha256"]) == 64
    assert sorted(p.name for p in store.root.iterdir()) == ["v000001"]


def test_versions_are_numbered_and_listed_newest_first(tmp_path: Path):
    store = AdapterCheckpoints(tmp_path, keep=10)
    assert store.versions() == [] and store.load_latest() is None
    save_steps(store, range(1, 4))
    assert [v.version for v in store.versions()] == [3, 2, 1]
    assert [v.config["step"] for v in store.versions()] == [3, 2, 1]
    # A folder without a readable manifest is not a version.
    (tmp_path / "v000009").mkdir()
    assert [v.version for v in store.versions()] == [3, 2, 1]


def test_pruning_keeps_the_newest_versions(tmp_path: Path):
    store = AdapterCheckpoints(tmp_path, keep=2)
    save_steps(store, range(1, 6))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v000004", "v000005"]
    assert [v.version for v in store.versions()] == [5, 4]


def test_a_save_cut_short_leaves_only_a_temporary_folder(tmp_path: Path):
    store = AdapterCheckpoints(tmp_path, keep=5)
    save_steps(store, range(1, 3))
    # What a process killed while writing version 3 leaves behind.
    partial = tmp_path / ".tmp-k1ll3d"
    partial.mkdir()
    adapter, _ = weights(3)
    (partial / ADAPTER_FILE).write_bytes(save_bytes(adapter)[:100])
    (tmp_path / ".tmp-stray-file").write_bytes(b"x")

    loaded = store.load_latest()
    assert loaded is not None and loaded.version.version == 2 and loaded.skipped == []
    assert [v.version for v in store.versions()] == [2, 1]
    assert store.clean_temporary() == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v000001", "v000002"]
    save_steps(store, range(3, 4))
    assert store.versions()[0].version == 3


def test_clean_temporary_without_a_folder_does_nothing(tmp_path: Path):
    assert AdapterCheckpoints(tmp_path / "absent", keep=1).clean_temporary() == 0


def _truncate(folder: Path) -> None:
    path = folder / ADAPTER_FILE
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble_manifest(folder: Path) -> None:
    (folder / MANIFEST_FILE).write_text('{"version": 3, "files": ')


def _flip_bytes(folder: Path) -> None:
    path = folder / EMA_FILE
    data = bytearray(path.read_bytes())
    data[-4:] = bytes(b ^ 0xFF for b in data[-4:])
    path.write_bytes(bytes(data))


def _remove_weights(folder: Path) -> None:
    (folder / ADAPTER_FILE).unlink()


def _remove_manifest(folder: Path) -> None:
    (folder / MANIFEST_FILE).unlink()


def _unloadable_but_matching(folder: Path) -> None:
    """Bytes safetensors cannot parse, with a manifest that vouches for them."""
    data = b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all"
    (folder / ADAPTER_FILE).write_bytes(data)
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    digest = hashlib.sha256(data).hexdigest()
    manifest["files"][ADAPTER_FILE] = {"size": len(data), "sha256": digest}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_truncate, "bytes, not"),
        (_garble_manifest, "cannot be read"),
        (_flip_bytes, "SHA-256"),
        (_remove_weights, "missing"),
        (_remove_manifest, "missing"),
        (_unloadable_but_matching, "cannot be loaded"),
    ],
)
def test_a_damaged_newest_version_falls_back_to_the_one_before(
    tmp_path: Path, damage, reason: str, caplog: pytest.LogCaptureFixture
):
    store = AdapterCheckpoints(tmp_path, keep=5)
    save_steps(store, range(1, 4))
    damage(tmp_path / "v000003")

    with caplog.at_level(logging.WARNING, logger="nexus_desktop.learning.checkpoints"):
        loaded = store.load_latest()
    assert loaded is not None
    assert loaded.version.version == 2
    assert torch.equal(loaded.adapter["layer.lora_A"], weights(2)[0]["layer.lora_A"])
    assert [number for number, _ in loaded.skipped] == [3]
    assert reason in loaded.skipped[0][1]
    assert "damaged" in caplog.text and "version 3" in caplog.text
    assert not (tmp_path / "v000003").exists()
    assert (tmp_path / "v000003.damaged").is_dir()

    # Not tried again, and its number is not reused.
    again = store.load_latest()
    assert again is not None and again.version.version == 2 and again.skipped == []
    save_steps(store, range(4, 5))
    assert [v.version for v in store.versions()] == [4, 2, 1]


def test_all_versions_damaged_gives_none(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    store = AdapterCheckpoints(tmp_path, keep=5)
    save_steps(store, range(1, 3))
    _truncate(tmp_path / "v000001")
    _flip_bytes(tmp_path / "v000002")
    with caplog.at_level(logging.WARNING):
        assert store.load_latest() is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v000001.damaged", "v000002.damaged"]


def test_damaged_folders_are_kept_only_up_to_keep(tmp_path: Path, caplog):
    store = AdapterCheckpoints(tmp_path, keep=1)
    for step in range(1, 4):
        save_steps(store, range(step, step + 1))
        _flip_bytes(store.versions()[0].folder)
        with caplog.at_level(logging.WARNING):
            assert store.load_latest() is None
    save_steps(store, range(9, 10))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v000003.damaged", "v000004"]


def test_load_a_given_version_to_roll_back(tmp_path: Path):
    store = AdapterCheckpoints(tmp_path, keep=5)
    save_steps(store, range(1, 4))
    old = store.load(1)
    assert old.version.version == 1 and old.version.config == {"step": 1}
    assert torch.equal(old.ema["layer.lora_A"], weights(1)[1]["layer.lora_A"])

    with pytest.raises(CheckpointError, match=r"version 7 does not exist.*3, 2, 1"):
        store.load(7)
    _flip_bytes(tmp_path / "v000002")
    with pytest.raises(CheckpointError, match=r"version 2 .* is damaged") as caught:
        store.load(2)
    assert isinstance(caught.value, NexusError)
    assert (tmp_path / "v000002").is_dir()  # left for load_latest to set aside


def test_a_failed_save_says_what_to_do(tmp_path: Path):
    blocker = tmp_path / "adapters"
    blocker.write_text("a file where the folder should be")
    store = AdapterCheckpoints(blocker / "smollm2", keep=2)
    adapter, ema = weights(1)
    with pytest.raises(CheckpointError, match=r"Could not save the adapter.*disk space"):
        store.save(adapter, ema, {}, {})


def test_bad_arguments_are_rejected(tmp_path: Path):
    with pytest.raises(ValueError, match="keep"):
        AdapterCheckpoints(tmp_path, keep=0)
    store = AdapterCheckpoints(tmp_path, keep=1)
    adapter, ema = weights(1)
    with pytest.raises(TypeError, match="JSON"):
        store.save(adapter, ema, {"when": object()}, {})
    with pytest.raises(TypeError, match="tensors"):
        store.save({"a": [1, 2]}, ema, {}, {})
    assert list(tmp_path.iterdir()) == []


# A process that saves version after version, as fast as it can, and reports each one.
SAVER = textwrap.dedent(
    """
    import sys
    from pathlib import Path

    import torch

    from nexus_desktop.learning.checkpoints import AdapterCheckpoints

    store = AdapterCheckpoints(Path(sys.argv[1]), keep=3)
    step = int(sys.argv[2])
    while True:
        step += 1
        adapter = {"a": torch.full((512, 512), float(step)), "b": torch.arange(4096.0) + step}
        ema = {"a": torch.full((512, 512), step / 2.0)}
        saved = store.save(adapter, ema, {"step": step}, {"loss": 1.0 / step})
        print(saved.version, step, flush=True)
    """
)


def _wait_for_a_save_in_progress(root: Path, timeout: float) -> None:
    """Return once a temporary folder holds weights: the worker is in the middle of a save."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(root.glob(f".tmp-*/{ADAPTER_FILE}")):
            return
        time.sleep(0.0005)


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL exists only on POSIX")
def test_kill_9_while_saving_never_leaves_a_half_written_version(tmp_path: Path):
    root = tmp_path / "adapters" / "model"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    step = leftovers = 0
    # Killed at whatever point the loop has reached, then twice in the middle of writing.
    for mid_write in (False, True, True):
        worker = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(root), str(step)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )
        try:
            reported = read_lines(worker.stdout, 4, timeout=60)[0]
            if mid_write:
                _wait_for_a_save_in_progress(root, timeout=10)
        finally:
            worker.send_signal(signal.SIGKILL)
            _, errors = worker.communicate(timeout=30)
        assert len(reported) >= 4, errors.decode(errors="replace")
        last_version, last_step = (int(x) for x in reported[-1].split())

        store = AdapterCheckpoints(root, keep=3)
        leftovers += store.clean_temporary()
        assert not [p for p in root.iterdir() if p.name.startswith(".tmp-")]
        loaded = store.load_latest()
        assert loaded is not None and loaded.skipped == []
        assert loaded.version.version >= last_version
        step = loaded.version.config["step"]
        assert step >= last_step
        assert torch.equal(loaded.adapter["a"], torch.full((512, 512), float(step)))
        assert torch.equal(loaded.adapter["b"], torch.arange(4096.0) + step)
        assert torch.equal(loaded.ema["a"], torch.full((512, 512), step / 2.0))
        # Every version listed is whole, not only the newest.
        for version in store.versions():
            assert store.load(version.version).version.config["step"] <= step
    # At least one kill really cut a save short (the check above found its leftovers).
    assert leftovers >= 1
