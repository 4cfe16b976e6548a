"""``nt.show_models()``: the registered models (or one model's versions) as an HTML table.

A plain object with ``_repr_html_`` (and a text ``__repr__``): it renders in Jupyter, in
nbconvert/nbviewer output and on GitHub alike, with no widget state.
"""

from __future__ import annotations

import datetime as _dt
import html
from dataclasses import dataclass

from nbtrack.models import (
    ModelVersion,
    RegisteredModel,
    get_registered_model,
    search_model_versions,
    search_registered_models,
)


def _time(ms: int | None) -> str:
    if ms is None:
        return ""
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class ModelsTable:
    """Rows of registered models, or of one model's versions."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    title: str

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in self.header)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in r)
            + "</tr>"
            for r in self.rows
        ) or f"<tr><td colspan='{len(self.header)}'>nothing registered yet</td></tr>"
        return (
            f"<div class='nbtrack-models'><b>{html.escape(self.title)}</b>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        )

    def __repr__(self) -> str:
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) if self.rows else len(h)
                  for i, h in enumerate(self.header)]
        lines = [self.title, "  ".join(h.ljust(w) for h, w in zip(self.header, widths, strict=True))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in self.rows]
        return "\n".join(lines)


def _model_row(m: RegisteredModel) -> tuple[str, ...]:
    aliases = ", ".join(f"@{a} → v{v}" for a, v in sorted(m.aliases.items()))
    tags = ", ".join(f"{k}={v}" for k, v in m.tags.items())
    latest = "" if m.latest_version is None else str(m.latest_version)
    return (m.name, latest, aliases, m.description or "", tags, _time(m.last_updated_time))


def _version_row(v: ModelVersion) -> tuple[str, ...]:
    return (
        str(v.version), ", ".join(f"@{a}" for a in v.aliases), v.run_id, v.model_name,
        v.description or "", ", ".join(f"{k}={t}" for k, t in v.tags.items()),
        _time(v.creation_time),
    )


def show_models(name: str | None = None, filter: str | None = None) -> ModelsTable:
    """The registered models (matching ``filter``), or the versions of model ``name``.

    Raises:
        ModelNotFoundError: ``name`` is not a registered model.
        FilterError: a malformed filter.
    """
    if name is None:
        models = search_registered_models(filter)
        return ModelsTable(
            ("name", "latest", "aliases", "description", "tags", "updated"),
            tuple(_model_row(m) for m in models), "Registered models",
        )
    get_registered_model(name)
    versions = [v for v in search_model_versions(filter) if v.name == name]
    return ModelsTable(
        ("version", "aliases", "run_id", "model", "description", "tags", "created"),
        tuple(_version_row(v) for v in versions), f"Versions of {name}",
    )
