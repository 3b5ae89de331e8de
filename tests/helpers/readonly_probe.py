"""Opens the database in DATA_DIR and appends a message, as an unprivileged user.

Usage: readonly_probe.py DATA_DIR

Run as root, it imports everything first and then drops to uid/gid 65534 (nobody), so
file permissions apply to it as they do to a normal user (root ignores them). Prints one
JSON object: the uid it ran as, whether the folder and the database file turned out
writable for it, how far it got, and the error the store raised (type and message).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

# Everything the store needs is imported while the interpreter's files are still readable.
from nexus_desktop.store.database import Database
from nexus_desktop.store.messages import MessageStore
from nexus_desktop.store.sessions import persistent_session_id

NOBODY = 65534


def main() -> None:
    data_dir = Path(sys.argv[1])
    result: dict[str, object] = {}
    if os.geteuid() == 0:
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        except OSError as exc:
            result["drop_failed"] = str(exc)
    result["uid"] = os.geteuid()
    result["file_writable"] = os.access(data_dir / "nexus.db", os.W_OK)
    probe = data_dir / "probe-write"
    try:
        probe.write_bytes(b"")
        probe.unlink()
        result["folder_writable"] = True
    except OSError:
        result["folder_writable"] = False

    database = Database(data_dir / "nexus.db", data_dir / "backups")
    try:
        database.open()
        result["opened"] = True
        store = MessageStore(database)
        store.append(persistent_session_id(database), "user", "written while read-only")
        result["appended"] = True
    except Exception as exc:
        result["error_type"] = type(exc).__name__
        result["error"] = str(exc)
    finally:
        database.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
