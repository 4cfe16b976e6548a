"""TagFilter: tag chips, a status filter and a free-text filter, combined into one filter.

The widgets write filter-grammar text, never SQL: a chosen tag value becomes
``tags.team = 'vision'`` (several values of one key become ``IN (...)``), ticked
statuses become ``attributes.status IN (...)`` and the free text is wrapped in
parentheses; the parts are joined with ``AND``. Values are single-quoted with inner
quotes doubled, keys outside ``[A-Za-z_][A-Za-z0-9_]*`` are backticked, so no tag
value can change the meaning of the filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets
import traitlets

from nbtrack.errors import FilterError
from nbtrack.views import _data
from nbtrack.views._colors import STATUS_HEX
from nbtrack.views._html import STYLE, esc

STATUSES = ("RUNNING", "FINISHED", "FAILED", "KILLED")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PICK = "tag…"
_VALUE = "value…"


def quote_key(kind: str, key: str) -> str:
    """``tags.team`` or ``tags.`nbtrack.git.branch``` (keys cannot hold backticks)."""
    return f"{kind}.{key}" if _PLAIN_KEY.match(key) else f"{kind}.`{key}`"


def build_filter(
    tags: Mapping[str, Sequence[str]] | None = None,
    statuses: Sequence[str] = (),
    text: str = "",
) -> str:
    """Combine tag choices, statuses and free text into one filter string (AND).

    Args:
        tags: ``{tag key: chosen values}``; several values of a key mean any of them.
        statuses: Statuses to keep; empty keeps every status.
        text: Free filter-grammar text, added in parentheses.

    Returns:
        The filter string; ``""`` when nothing is chosen.
    """
    parts = []
    for key, values in (tags or {}).items():
        values = list(dict.fromkeys(values))
        if not values:
            continue
        if len(values) == 1:
            parts.append(f"{quote_key('tags', key)} = {_data.quote(values[0])}")
        else:
            parts.append(f"{quote_key('tags', key)} IN ({', '.join(map(_data.quote, values))})")
    if statuses:
        parts.append(f"attributes.status IN ({', '.join(map(_data.quote, statuses))})")
    if text.strip():
        parts.append(f"({text.strip()})")
    return " AND ".join(parts)


def error_html(error: FilterError, text: str) -> str:
    """The inline error under the filter box: the reason and a caret under the position."""
    position = max(0, min(int(getattr(error, "position", 0)), len(text)))
    reason = getattr(error, "reason", str(error))
    return (
        f'<div class="nbt-error">✖ {esc(reason)} (at character {position + 1})\n'
        f"  {esc(text)}\n  {' ' * position}^</div>"
    )


class TagFilter(widgets.VBox):
    """Filter widgets whose combined filter string is the ``filter`` traitlet.

    Observe ``filter`` (or pass ``on_change``) to react; it only changes to filters
    that parsed. ``error`` holds the message of the last malformed free text, or "".
    """

    filter = traitlets.Unicode("", help="The combined, valid filter string.")
    error = traitlets.Unicode("", help="Why the free text is malformed, or ''.")

    def __init__(
        self,
        *,
        experiment: str | Sequence[str] | None = None,
        tag_values: Mapping[str, Sequence[str]] | None = None,
        on_change: Callable[[str], None] | None = None,
        show_reserved: bool = False,
    ) -> None:
        """Build the filter widgets.

        Args:
            experiment: Experiment(s) whose tags and runs are offered and counted.
            tag_values: ``{key: values}`` to offer; ``None`` reads them from the store.
            on_change: Called with the new filter string after each valid change.
            show_reserved: Also offer the reserved ``nbtrack.*`` tags that ``%%track``
                records (notebook, git, host ...); hidden by default, they drown the
                user's own tags. A filter can still name them.
        """
        super().__init__()
        self.add_class("nbt-root")
        self._experiment = experiment
        self._tags: dict[str, list[str]] = {}
        self._chosen: dict[str, list[str]] = {}
        self._on_change = on_change
        self._tag_values = dict(tag_values) if tag_values is not None else None
        self._show_reserved = bool(show_reserved)
        self._total = 0

        self._key = widgets.Dropdown(description="", layout=widgets.Layout(width="190px"))
        self._value = widgets.Dropdown(description="", layout=widgets.Layout(width="190px"))
        self._chips = widgets.HBox(
            layout=widgets.Layout(flex_flow="row wrap", align_items="center")
        )
        self._status = {
            s: widgets.ToggleButton(
                description=s.lower(),
                tooltip=f"Only {s} runs (none ticked: every status)",
                layout=widgets.Layout(width="auto", height="26px"),
            )
            for s in STATUSES
        }
        for status, button in self._status.items():
            button.style.text_color = STATUS_HEX[status]
            button.style.font_weight = "600"
            button.observe(lambda _c: self._changed(), "value")
        self._text = widgets.Text(
            placeholder="filter, e.g.  metrics.loss < 0.5 AND params.optimizer = 'adam'   (Enter)",
            continuous_update=False,
            layout=widgets.Layout(flex="1 1 auto", min_width="360px"),
        )
        self._error = widgets.HTML()
        self._count = widgets.HTML()
        self._clear = widgets.Button(
            description="Clear",
            icon="times",
            tooltip="Remove every filter",
            layout=widgets.Layout(width="auto"),
        )
        label = widgets.HTML(
            '<span class="nbt-dim">Tags</span>', layout=widgets.Layout(width="44px")
        )
        status_label = widgets.HTML(
            '<span class="nbt-dim">Status</span>', layout=widgets.Layout(margin="0 4px 0 16px")
        )
        self.children = [
            widgets.HTML(STYLE),
            widgets.HBox(
                [label, self._key, self._value, status_label, *self._status.values()],
                layout=widgets.Layout(align_items="center", flex_flow="row wrap"),
            ),
            self._chips,
            widgets.HBox(
                [self._text, self._clear, self._count], layout=widgets.Layout(align_items="center")
            ),
            self._error,
        ]
        # Stable classes for styling and for the browser test's selectors.
        self._key.add_class("nbt-tag-key")
        self._value.add_class("nbt-tag-value")
        self._text.add_class("nbt-filter-text")
        self._error.add_class("nbt-filter-error")
        self._count.add_class("nbt-filter-count")
        self._key.observe(self._on_key, "value")
        self._value.observe(self._on_value, "value")
        self._text.observe(lambda _c: self._changed(), "value")
        self._clear.on_click(lambda _b: self.clear())
        self.refresh()

    # -- public API ------------------------------------------------------------------
    @property
    def chosen_tags(self) -> dict[str, list[str]]:
        """``{tag key: chosen values}``."""
        return {k: list(v) for k, v in self._chosen.items() if v}

    @property
    def statuses(self) -> list[str]:
        """Statuses ticked (empty: every status)."""
        return [s for s, b in self._status.items() if b.value]

    @property
    def text(self) -> str:
        """The free-text filter."""
        return str(self._text.value)

    @property
    def tag_keys(self) -> list[str]:
        """Tag keys offered (user tags; reserved ``nbtrack.*`` ones after them if shown)."""
        return list(self._tags)

    def add_tag(self, key: str, value: str) -> None:
        """Keep only runs whose tag ``key`` is ``value`` (or another chosen value of it)."""
        values = self._chosen.setdefault(key, [])
        if value not in values:
            values.append(value)
            self._draw_chips()
            self._changed()

    def remove_tag(self, key: str, value: str | None = None) -> None:
        """Drop one chosen value of ``key`` (or all of them when ``value`` is None)."""
        if value is None:
            self._chosen.pop(key, None)
        elif value in self._chosen.get(key, []):
            self._chosen[key].remove(value)
        self._draw_chips()
        self._changed()

    def set_statuses(self, statuses: Sequence[str]) -> None:
        """Tick exactly these statuses."""
        unknown = set(statuses) - set(STATUSES)
        if unknown:
            raise ValueError(f"unknown status {sorted(unknown)}; use {', '.join(STATUSES)}")
        for status, button in self._status.items():
            button.value = status in statuses

    def set_text(self, text: str) -> None:
        """Set the free-text filter (as if typed and Enter pressed)."""
        self._text.value = text

    def clear(self) -> None:
        """Remove every chip, status and the free text, and reset the tag pickers."""
        self._chosen.clear()
        if self._key.value != _PICK:
            self._key.value = _PICK  # _on_key empties the value picker
        self._draw_chips()
        for button in self._status.values():
            button.value = False
        self._text.value = ""
        self._changed()

    def refresh(self) -> None:
        """Read the tag keys and values again (tags logged meanwhile appear)."""
        raw = (
            self._tag_values if self._tag_values is not None else _data.tag_values(self._experiment)
        )
        self._total = _data.count_runs(self._experiment, "")
        ordered = sorted(
            (k for k in raw if self._show_reserved or not k.startswith("nbtrack.")),
            key=lambda k: (k.startswith("nbtrack."), k),
        )
        self._tags = {k: [str(v) for v in raw[k]] for k in ordered}
        current = self._key.value
        self._key.options = [_PICK, *self._tags]
        self._key.value = current if current in self._tags else _PICK
        self._on_key({"new": self._key.value})
        self._changed()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = super()._repr_mimebundle_(**kwargs) or {}
        shown = esc(self.filter) if self.filter else "(no filter)"
        bundle["text/html"] = (
            f'{STYLE}<div class="nbt-root nbt-count">filter: <code>{shown}</code></div>'
        )
        return bundle

    def __repr__(self) -> str:
        return f"<TagFilter: {self.filter!r}>"

    # -- internals -------------------------------------------------------------------
    def _on_key(self, change: dict[str, Any]) -> None:
        key = change["new"]
        values = self._tags.get(key, [])
        self._value.options = [_VALUE, *values]
        self._value.value = _VALUE
        self._value.disabled = not values

    def _on_value(self, change: dict[str, Any]) -> None:
        key, value = self._key.value, change["new"]
        if key in self._tags and value not in (None, _VALUE):
            self.add_tag(key, value)
            self._value.value = _VALUE

    def _draw_chips(self) -> None:
        chips = []
        for key, values in self._chosen.items():
            for value in values:
                chip = widgets.Button(
                    description=f"{key} = {value}  ✕",
                    tooltip="Remove this filter",
                    layout=widgets.Layout(width="auto", margin="2px 4px 2px 0"),
                )
                chip.add_class("nbt-chip")
                chip.on_click(lambda _b, k=key, v=value: self.remove_tag(k, v))
                chips.append(chip)
        for old in self._chips.children:
            old.close()
        self._chips.children = chips

    def _changed(self) -> None:
        text = self.text
        try:
            if text.strip():
                _data.count_runs(self._experiment, text)  # validates the text alone
            combined = build_filter(self._chosen, self.statuses, text)
            count = _data.count_runs(self._experiment, combined) if combined else self._total
            total = self._total
        except FilterError as exc:
            self.error = getattr(exc, "reason", str(exc))
            self._error.value = error_html(exc, text)
            self._text.add_class("nbt-bad")
            return
        self.error = ""
        self._error.value = ""
        self._text.remove_class("nbt-bad")
        self._count.value = (
            f'<span class="nbt-count"><b>{count:,}</b> of {total:,} runs match</span>'
        )
        if combined != self.filter:
            self.filter = combined
            if self._on_change is not None:
                self._on_change(combined)
