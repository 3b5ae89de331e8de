"""`nexus-desktop facts ...`: see, correct, pin and forget what Nexus Desktop remembers.

Only the database is opened, never a model, so every action answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any, TextIO

from nexus_desktop.cli.database import opened_database
from nexus_desktop.config import Settings
from nexus_desktop.errors import FactError, FactNotFoundError
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database
from nexus_desktop.store.facts import Fact, FactStore

EXIT_OK, EXIT_ERROR = 0, 1


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    facts = commands.add_parser("facts", help="list, edit, pin and forget remembered facts")
    actions = facts.add_subparsers(dest="facts_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the facts in use, pinned first")
    listing.add_argument("--all", action="store_true",
                         help="also the facts that were replaced or forgotten")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    forget = actions.add_parser(
        "forget", help="stop using a fact anywhere (context, recall, training)",
        description="The fact is no longer used; a record that it was forgotten, with what "
                    "it said, is kept. With --erase nothing of it is kept at all.",
    )
    forget.add_argument("id", type=int, help="the fact's ID (see `facts list`)")
    forget.add_argument("--erase", action="store_true",
                        help="delete the fact and every record of it completely")
    edit = actions.add_parser("edit", help="correct a fact's value")
    edit.add_argument("id", type=int, help="the fact's ID (see `facts list`)")
    edit.add_argument("value", help='the new value, e.g. "green"')
    for name, text in (("pin", "always put a fact in the context"),
                       ("unpin", "use a fact only when it is relevant")):
        action = actions.add_parser(name, help=text)
        action.add_argument("id", type=int, help="the fact's ID (see `facts list`)")


def run_command(args: argparse.Namespace, paths: AppPaths, settings: Settings) -> int:
    """Open the database, run the chosen action, close the database."""
    with opened_database(paths, settings, sys.stderr) as database:
        return run(args, database, sys.stdout)


def run(args: argparse.Namespace, database: Database, out: TextIO,
        err: TextIO | None = None) -> int:
    err = err or sys.stderr
    store = FactStore(database)
    try:
        if args.facts_command == "list":
            _list(store, args.all, args.json, out)
        elif args.facts_command == "forget":
            fact = _known(store, args.id)
            store.forget(args.id, erase=args.erase)
            if args.erase:
                out.write(f"Erased fact {args.id} completely; nothing of it is kept.\n")
            elif fact.status == "forgotten":
                out.write(f"Fact {args.id} was already forgotten. Add --erase to remove "
                          "every record of it.\n")
            else:
                out.write(f"Forgot fact {args.id}: {fact.text} It is no longer used; a record "
                          "of it is kept (add --erase to remove that too).\n")
        elif args.facts_command == "edit":
            before = _known(store, args.id)
            fact = store.edit(args.id, args.value)
            changed = "Fact {} now says: {}" if fact.value != before.value else \
                "Fact {} already says: {}"
            out.write(changed.format(fact.id, fact.text) + "\n")
        else:
            pinned = args.facts_command == "pin"
            fact = store.pin(args.id, pinned)
            out.write(f"Fact {fact.id} is {'pinned' if pinned else 'no longer pinned'}: "
                      f"{fact.text}\n")
    except FactNotFoundError as exc:
        err.write(f"{exc} Run `nexus-desktop facts list --all` to see the facts and "
                  "their IDs.\n")
        return EXIT_ERROR
    except FactError as exc:
        err.write(f"{exc}\n")
        return EXIT_ERROR
    return EXIT_OK


def _known(store: FactStore, fact_id: int) -> Fact:
    fact = store.get(fact_id)
    if fact is None:
        raise FactNotFoundError(f"There is no fact with ID {fact_id}.")
    return fact


def _list(store: FactStore, everything: bool, as_json: bool, out: TextIO) -> None:
    facts = store.all(include_inactive=everything)
    if as_json:
        out.write(json.dumps([_as_dict(fact) for fact in facts], ensure_ascii=False, indent=2)
                  + "\n")
        return
    if not facts:
        out.write("No facts remembered yet. Tell Nexus Desktop something about yourself, "
                  'like "My favorite color is teal."\n')
        return
    for fact in facts:
        mark = "pinned" if fact.pinned else "" if fact.status == "active" else fact.status
        note = f"  (replaced by {fact.superseded_by})" if fact.superseded_by else ""
        out.write(f"{fact.id:>5}  {mark:<10}  {fact.text}{note}\n")
    if not everything:
        out.write("\n`nexus-desktop facts list --all` also shows replaced and forgotten facts.\n")


def _as_dict(fact: Fact) -> dict[str, Any]:
    return {
        "id": fact.id, "subject": fact.subject, "key": fact.key, "value": fact.value,
        "text": fact.text, "status": fact.status, "pinned": fact.pinned,
        "confidence": fact.confidence, "source_message_id": fact.source_message_id,
        "superseded_by": fact.superseded_by,
        "created_at": _when(fact.created_at), "updated_at": _when(fact.updated_at),
    }


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")
