"""`nexus-desktop skills ...`: see, name, pin and delete what the skill library kept.

Only the database is opened, never a model, so every action answers at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TextIO

from nexus_desktop.cli.database import opened_database
from nexus_desktop.config import Settings
from nexus_desktop.errors import InputError
from nexus_desktop.paths import AppPaths
from nexus_desktop.store.database import Database
from nexus_desktop.store.skills import Skill, SkillStore

EXIT_OK, EXIT_ERROR = 0, 1
# How much of a skill's request and reply one line of the list shows.
LINE_CHARS = 60


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    skills = commands.add_parser(
        "skills", help="list, show, rename, pin and delete kept skills",
        description="A skill is a request whose reply you accepted; the same request again "
                    "is answered from it at once, and a similar one uses it as an example.")
    actions = skills.add_subparsers(dest="skills_command", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the skills in use, pinned first")
    listing.add_argument("--all", action="store_true", help="also the archived skills")
    listing.add_argument("--json", action="store_true", help="print a JSON list")
    show = actions.add_parser("show", help="one skill: its request, reply and record")
    show.add_argument("id", type=int, help="the skill's ID (see `skills list`)")
    show.add_argument("--json", action="store_true", help="print it as JSON")
    rename = actions.add_parser("rename", help="give a skill a name of your own")
    rename.add_argument("id", type=int, help="the skill's ID (see `skills list`)")
    rename.add_argument("name", help="the new name")
    for name, text in (("pin", "never archive a skill (and bring an archived one back)"),
                       ("unpin", "let a skill be archived again when it stops working")):
        action = actions.add_parser(name, help=text)
        action.add_argument("id", type=int, help="the skill's ID (see `skills list`)")
    delete = actions.add_parser("delete", help="delete a skill and the record of its uses")
    delete.add_argument("id", type=int, help="the skill's ID (see `skills list`)")


def run_command(args: argparse.Namespace, paths: AppPaths, settings: Settings) -> int:
    """Open the database, run the chosen action, close the database."""
    with opened_database(paths, settings, sys.stderr) as database:
        return run(args, database, sys.stdout)


def run(args: argparse.Namespace, database: Database, out: TextIO,
        err: TextIO | None = None) -> int:
    err = err or sys.stderr
    store = SkillStore(database)
    command = args.skills_command
    try:
        if command == "list":
            _list(store, args.all, args.json, out)
        elif command == "show":
            skill = store.require(args.id)
            out.write(json.dumps(skill.as_dict(), ensure_ascii=False, indent=2) + "\n"
                      if args.json else _describe(skill))
        elif command == "rename":
            skill = store.rename(args.id, args.name)
            out.write(f"Skill {skill.id} is now called: {skill.name}\n")
        elif command in ("pin", "unpin"):
            skill = store.pin(args.id, command == "pin")
            state = "pinned (never archived)" if skill.pinned else "no longer pinned"
            out.write(f"Skill {skill.id} is {state}: {skill.name}\n")
        else:
            skill = store.require(args.id)
            store.delete(args.id)
            out.write(f"Deleted skill {skill.id}, {skill.name!r}. The same request will be "
                      "answered by the model again. What it replied was:\n"
                      f"{skill.result}\n")
    except InputError as exc:
        err.write(f"{exc}\n")
        return EXIT_ERROR
    return EXIT_OK


def _list(store: SkillStore, everything: bool, as_json: bool, out: TextIO) -> None:
    skills = store.all(include_archived=everything)
    if as_json:
        out.write(json.dumps([skill.as_dict() for skill in skills], ensure_ascii=False,
                             indent=2) + "\n")
        return
    if not skills:
        out.write("No skills kept yet. Ask for a task (rewrite, summarise, convert, "
                  "translate, draft, explain...) and accept the reply: a thumbs up, or "
                  "simply carry on without correcting it.\n")
        return
    out.write(f"{'ID':>5}  {'trust':>5}  {'uses':>4}  {'state':<8}  name\n")
    for skill in skills:
        state = "pinned" if skill.pinned else skill.state
        out.write(f"{skill.id:>5}  {skill.confidence:>5.0%}  {skill.uses:>4}  {state:<8}  "
                  f"{_short(skill.name)}\n")
    if not everything:
        out.write("\n`nexus-desktop skills list --all` also shows archived skills; "
                  "`skills show ID` shows one in full.\n")


def _describe(skill: Skill) -> str:
    used = _when(skill.last_used_at) if skill.last_used_at else "never"
    return (f"Skill {skill.id}: {skill.name}\n"
            f"  state: {'pinned' if skill.pinned else skill.state}; trust "
            f"{skill.confidence:.0%}; used {skill.uses} times ({skill.successes} accepted, "
            f"{skill.failures} rejected); kept {_when(skill.created_at)}; last used {used}\n"
            f"Request:\n{skill.intent}\n"
            f"Reply:\n{skill.result}\n")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LINE_CHARS else text[: LINE_CHARS - 3] + "..."


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")
