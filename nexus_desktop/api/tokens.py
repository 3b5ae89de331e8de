"""The API's bearer token: random, made once, kept in the user config folder where only
the user can read it.

On POSIX the file is created with mode 0600. On Windows the config folder lies in the
user's own profile (``AppData\\Local``), whose access list already keeps other users out.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sys
from pathlib import Path

from nexus_desktop.errors import ConfigError
from nexus_desktop.paths import AppPaths

TOKEN_FILE = "api-token"
TOKEN_BYTES = 32
# token_urlsafe(32) gives 43 characters; a shorter file was cut off or edited by hand.
MIN_TOKEN_CHARS = 32
OWNER_ONLY = 0o600


def token_path(paths: AppPaths) -> Path:
    return paths.user_config.parent / TOKEN_FILE


def api_token(paths: AppPaths) -> str:
    """The token, made now when there is none yet."""
    path = token_path(paths)
    existing = _read(path)
    if existing is not None:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    # Written in full under a private name, then linked into place: a second process
    # making a token at the same moment keeps the first one instead of replacing it.
    draft = path.with_name(f".{TOKEN_FILE}-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(token + "\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    except OSError as exc:
        raise ConfigError(f"Cannot write the API token to {path}: {exc.strerror}. Check that "
                          "the folder exists and is yours.") from exc
    finally:
        draft.unlink(missing_ok=True)
    made = _read(path)
    if made is None:
        raise ConfigError(f"The API token in {path} cannot be read back; delete the file and "
                          "ask again.")
    return made


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read the API token in {path} ({exc}); delete the file "
                          "and a new token is made.") from exc
    if len(text) < MIN_TOKEN_CHARS or not text.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"The API token in {path} is not one Nexus Desktop made; delete "
                          "the file and a new token is made.")
    if sys.platform != "win32" and path.stat().st_mode & 0o077:
        # Copied or restored with looser rights: only the user may read it.
        path.chmod(OWNER_ONLY)
    return text
