"""Typed settings: declared once in configs/default.toml, overridden by the user's config.toml.

Every value, whether read from the user's file or set from the command line or the
settings dialog, goes through the same validation, and an invalid one is refused
with a message naming the key, the value and what is allowed.
"""

from __future__ import annotations

import logging
import math
import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexus_desktop.errors import ConfigError
from nexus_desktop.paths import configs_dir

log = logging.getLogger(__name__)

CONFIG_VERSION = 1
_TRUE_WORDS = {"true", "yes", "on", "1"}
_FALSE_WORDS = {"false", "no", "off", "0"}


@dataclass(frozen=True)
class SettingSpec:
    """One declared setting."""

    key: str
    type: str
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()

    def allowed(self) -> str:
        """What values are allowed, in words."""
        if self.type == "bool":
            return "true or false"
        if self.type == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.type in ("int", "float"):
            noun = "a whole number" if self.type == "int" else "a number"
            return f"{noun} from {self.minimum} to {self.maximum}"
        return "text"

    def _refuse(self, value: object) -> ConfigError:
        return ConfigError(f"{self.key} = {value!r} is not allowed: it must be {self.allowed()}.")

    def coerce(self, value: object) -> Any:
        """Check a value from TOML or Python and return it in the setting's type."""
        if self.type == "bool":
            if isinstance(value, bool):
                return value
            raise self._refuse(value)
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise self._refuse(value)
            return self._within_limits(value)
        if self.type == "float":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self._refuse(value)
            if not math.isfinite(value):
                raise self._refuse(value)
            return float(self._within_limits(value))
        if not isinstance(value, str):
            raise self._refuse(value)
        if self.type == "choice" and value not in self.choices:
            raise self._refuse(value)
        if self.type == "str" and not value.strip():
            raise ConfigError(f"{self.key} = {value!r} is not allowed: it must not be empty.")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ConfigError(
                f"{self.key} = {value!r} is not allowed: it holds characters that are not valid "
                "Unicode text."
            ) from None
        return value

    def parse(self, text: str) -> Any:
        """Turn text typed by a user (command line, settings dialog) into a checked value."""
        stripped = text.strip()
        if self.type == "bool":
            word = stripped.lower()
            if word in _TRUE_WORDS:
                return True
            if word in _FALSE_WORDS:
                return False
            raise self._refuse(text)
        if self.type in ("int", "float"):
            # Errors quote the text as the user typed it, not the number it became.
            try:
                return self.coerce(int(stripped) if self.type == "int" else float(stripped))
            except (ValueError, ConfigError):
                raise self._refuse(text) from None
        return self.coerce(text)

    def _within_limits(self, value: float) -> float:
        if self.minimum is not None and value < self.minimum:
            raise self._refuse(value)
        if self.maximum is not None and value > self.maximum:
            raise self._refuse(value)
        return value


def load_specs(path: Path | None = None) -> dict[str, SettingSpec]:
    """Read the declarations from configs/default.toml."""
    path = path or configs_dir() / "default.toml"
    with path.open("rb") as fh:
        tree = tomllib.load(fh)
    specs: dict[str, SettingSpec] = {}
    for key, entry in _declarations(tree):
        spec = SettingSpec(
            key=key,
            type=entry["type"],
            default=entry["default"],
            description=" ".join(entry["description"].split()),
            minimum=entry.get("min"),
            maximum=entry.get("max"),
            choices=tuple(entry.get("choices", ())),
        )
        spec.coerce(spec.default)
        specs[key] = spec
    return specs


def _declarations(tree: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for name, value in tree.items():
        if not isinstance(value, dict):
            continue
        key = f"{prefix}{name}"
        if "type" in value and "default" in value:
            yield key, value
        else:
            yield from _declarations(value, key + ".")


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = value
    return flat


class Settings:
    """The effective settings: declared defaults overridden by the user's config.toml."""

    def __init__(self, user_file: Path, specs: dict[str, SettingSpec] | None = None) -> None:
        self.user_file = user_file
        self.specs = specs or load_specs()
        self._user: dict[str, Any] = {}
        self._unknown: dict[str, Any] = {}
        self._load_user_file()

    def _load_user_file(self) -> None:
        if not self.user_file.exists():
            return
        try:
            with self.user_file.open("rb") as fh:
                tree = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(
                f"{self.user_file} is not valid TOML ({exc}). Fix or delete the file; "
                "`nexus-desktop config list` shows every setting."
            ) from None
        except OSError as exc:
            raise ConfigError(f"Cannot read {self.user_file}: {exc.strerror}.") from None
        for key, value in _flatten(tree).items():
            if key == "config_version":
                continue
            spec = self.specs.get(key)
            if spec is None:
                log.warning("%s: ignoring unknown setting %r", self.user_file, key)
                self._unknown[key] = value
                continue
            try:
                self._user[key] = spec.coerce(value)
            except ConfigError as exc:
                raise ConfigError(
                    f"In {self.user_file}: {exc} Change it with "
                    f"`nexus-desktop config set {key} VALUE` or edit the file."
                ) from None

    def spec(self, key: str) -> SettingSpec:
        try:
            return self.specs[key]
        except KeyError:
            raise ConfigError(
                f"There is no setting called {key!r}. `nexus-desktop config list` shows them all."
            ) from None

    def get(self, key: str) -> Any:
        spec = self.spec(key)
        return self._user.get(key, spec.default)

    def is_default(self, key: str) -> bool:
        return key not in self._user

    def set(self, key: str, value: Any) -> Any:
        """Validate, apply and save one setting; returns the stored value."""
        spec = self.spec(key)
        checked = spec.parse(value) if isinstance(value, str) else spec.coerce(value)
        self._user[key] = checked
        self._save()
        return checked

    def reset(self, key: str) -> None:
        self.spec(key)
        self._user.pop(key, None)
        self._save()

    def items(self) -> Iterator[tuple[SettingSpec, Any]]:
        for key, spec in self.specs.items():
            yield spec, self.get(key)

    def _save(self) -> None:
        values = {**self._unknown, **self._user}
        text = render_toml(values)
        self.user_file.parent.mkdir(parents=True, exist_ok=True)
        temp = self.user_file.with_suffix(".toml.tmp")
        with temp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, self.user_file)


def render_toml(values: dict[str, Any]) -> str:
    """Write flat dotted keys of scalar values as a small TOML document."""
    # Top-level keys first: after a [table] header they would belong to that table.
    tables: dict[str, dict[str, Any]] = {"": {}}
    for key, value in sorted(values.items()):
        table, _, name = key.rpartition(".")
        tables.setdefault(table, {})[name] = value
    lines = ["# Your Nexus Desktop settings; `nexus-desktop config list` shows them all.",
             f"config_version = {CONFIG_VERSION}"]
    for table, entries in tables.items():
        if table:
            lines.extend(("", f"[{table}]"))
        lines.extend(f"{name} = {_toml_value(value)}" for name, value in entries.items())
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + "".join(_toml_char(ch) for ch in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _toml_char(ch: str) -> str:
    if ch in ('"', "\\"):
        return "\\" + ch
    if ch < " " or ch == "\x7f":
        return f"\\u{ord(ch):04x}"
    return ch
