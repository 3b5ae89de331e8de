"""Where Nexus Desktop keeps its files.

platformdirs gives the per-user folders of the operating system (on Windows
``AppData\\Local\\Nexus Desktop``, never the roaming profile: models do not roam).
``NEXUS_HOME`` puts data, config, cache and logs into one folder instead, for
tests and portable use.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "Nexus Desktop"
HOME_ENV = "NEXUS_HOME"


@dataclass(frozen=True)
class AppPaths:
    """The four per-user folders and the files the app keeps in them."""

    data_dir: Path
    config_dir: Path
    cache_dir: Path
    log_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "nexus.db"

    @property
    def backups_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def models_dir(self) -> Path:
        """Converted base-model weights, cached so later starts are fast."""
        return self.data_dir / "models"

    @property
    def adapters_dir(self) -> Path:
        return self.data_dir / "adapters"

    @property
    def huggingface_dir(self) -> Path:
        return self.cache_dir / "huggingface"

    @property
    def user_config(self) -> Path:
        return self.config_dir / "config.toml"

    def ensure(self) -> None:
        for folder in (self.data_dir, self.config_dir, self.cache_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)


def app_paths() -> AppPaths:
    """The folders for this user, honouring ``NEXUS_HOME``."""
    home = os.environ.get(HOME_ENV, "").strip()
    if home:
        root = Path(home).expanduser().resolve()
        return AppPaths(root / "data", root / "config", root / "cache", root / "logs")
    return AppPaths(
        data_dir=Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )


def install_root() -> Path:
    """The folder holding ``configs/`` and ``resources/``: the checkout, or the frozen bundle."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root)
    return Path(__file__).resolve().parent.parent


def configs_dir() -> Path:
    return install_root() / "configs"


def resources_dir() -> Path:
    return install_root() / "resources"


def point_huggingface_at(paths: AppPaths) -> None:
    """Keep Hugging Face downloads under our cache unless the user chose a place, and keep
    the Hub client from sending usage telemetry: nothing leaves the machine unasked.

    huggingface_hub reads these variables when it is imported, so this runs first.
    """
    os.environ.setdefault("HF_HOME", str(paths.huggingface_dir))
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
