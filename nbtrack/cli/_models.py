"""``nbtrack models list|show|versions|alias``: the model registry from a shell.

Calls the models layer's public functions (``nbtrack.models``), as ``nt.*`` does.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
from typing import Any

from nbtrack.cli._output import Output


def _time(ms: int | None) -> _dt.datetime | None:
    return None if ms is None else _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc)


def cmd_list(args: argparse.Namespace, out: Output) -> int:
    """Registered models (matching ``--filter``)."""
    from nbtrack import models

    found = models.search_registered_models(args.filter)
    if out.as_json:
        out.json([dataclasses.asdict(m) for m in found])
        return 0
    out.table(
        ["name", "latest", "aliases", "description", "updated"],
        [[m.name, m.latest_version, ", ".join(f"@{a}=v{v}" for a, v in m.aliases.items()),
          m.description or "", _time(m.last_updated_time)] for m in found],
        empty="(no registered models)", keep=("name",),
    )
    return 0


def _version_rows(versions: list[Any]) -> list[list[Any]]:
    return [[v.version, ", ".join("@" + a for a in v.aliases), v.run_id, v.model_name,
             v.description or "", _time(v.creation_time)] for v in versions]


_VERSION_COLUMNS = ["version", "aliases", "run_id", "model", "description", "created"]


def _versions(name: str) -> list[Any]:
    from nbtrack import models

    models.get_registered_model(name)  # a clear error for an unknown name
    return [v for v in models.search_model_versions() if v.name == name]


def cmd_show(args: argparse.Namespace, out: Output) -> int:
    """One registered model: description, tags, aliases and versions."""
    from nbtrack import models

    m = models.get_registered_model(args.name)
    versions = _versions(args.name)
    if out.as_json:
        out.json({**dataclasses.asdict(m), "versions": [dataclasses.asdict(v) for v in versions]})
        return 0
    out.line(f"name:        {m.name}")
    out.line(f"description: {m.description or ''}")
    out.line(f"created:     {_time(m.creation_time)}")
    out.line(f"tags:        {', '.join(f'{k}={v}' for k, v in m.tags.items())}")
    out.line(f"aliases:     {', '.join(f'@{a} -> v{v}' for a, v in m.aliases.items())}")
    out.line()
    out.table(_VERSION_COLUMNS, _version_rows(versions), empty="(no versions)")
    return 0


def cmd_versions(args: argparse.Namespace, out: Output) -> int:
    """The versions of one registered model, newest first."""
    versions = _versions(args.name)
    if out.as_json:
        out.json([dataclasses.asdict(v) for v in versions])
    else:
        out.table(_VERSION_COLUMNS, _version_rows(versions), empty="(no versions)")
    return 0


def cmd_alias(args: argparse.Namespace, out: Output) -> int:
    """Point NAME@ALIAS at VERSION, or remove it with --delete."""
    from nbtrack import models
    from nbtrack.errors import ModelError

    if args.delete:
        if args.version is not None:
            raise ModelError("give either a VERSION or --delete, not both")
        models.delete_model_alias(args.name, args.alias)
        result: dict[str, Any] = {"name": args.name, "alias": args.alias, "version": None}
        text = f"removed {args.name}@{args.alias}"
    else:
        if args.version is None:
            mv = models.get_model_version_by_alias(args.name, args.alias)
            result = {"name": args.name, "alias": args.alias, "version": mv.version}
            text = f"{args.name}@{args.alias} -> version {mv.version} (run {mv.run_id})"
        else:
            models.set_model_alias(args.name, args.alias, args.version)
            result = {"name": args.name, "alias": args.alias, "version": int(args.version)}
            text = f"{args.name}@{args.alias} -> version {args.version}"
    if out.as_json:
        out.json(result)
    else:
        out.line(text)
    return 0


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add ``models`` and its actions to the parser."""
    models = commands.add_parser("models", parents=[common], help="the model registry")
    actions = models.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    p = actions.add_parser("list", parents=[common], help="list registered models")
    p.add_argument("-f", "--filter", metavar="FILTER", help="e.g. \"name LIKE 'churn%%'\"")
    p.set_defaults(func=cmd_list)
    p = actions.add_parser("show", parents=[common], help="one registered model and its versions")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_show)
    p = actions.add_parser("versions", parents=[common], help="versions of a registered model")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(func=cmd_versions)
    p = actions.add_parser(
        "alias", parents=[common],
        help="show NAME@ALIAS, point it at VERSION, or remove it (--delete)",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("alias", metavar="ALIAS")
    p.add_argument("version", metavar="VERSION", nargs="?", help="the version to point at")
    p.add_argument("--delete", action="store_true", help="remove the alias")
    p.set_defaults(func=cmd_alias)
