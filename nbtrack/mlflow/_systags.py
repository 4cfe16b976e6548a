"""MLflow's system tags and the nbtrack fields they correspond to (one table, both ways).

MLflow keeps a run's name, parent and description as tags; nbtrack keeps them as run
attributes. Git facts have nbtrack reserved names. Every other tag (``mlflow.user``,
``mlflow.source.name`` ...) is kept under its own name.
"""

from __future__ import annotations

RUN_NAME = "mlflow.runName"
PARENT_RUN_ID = "mlflow.parentRunId"
NOTE = "mlflow.note.content"
USER = "mlflow.user"
SOURCE_NAME = "mlflow.source.name"
SOURCE_TYPE = "mlflow.source.type"
USER_ID = "nbtrack.user"
"""Reserved tag holding MLflow's ``run.info.user_id`` (shown as ``user_id``, not as a tag)."""

ATTRIBUTE_TAGS = {RUN_NAME: "name", PARENT_RUN_ID: "parent_run_id", NOTE: "description"}
"""MLflow tag -> nbtrack run attribute."""

RENAMED_TAGS = {
    "mlflow.source.git.commit": "nbtrack.git.commit",
    "mlflow.source.git.branch": "nbtrack.git.branch",
    "mlflow.source.git.repoURL": "nbtrack.git.remote",
}
"""MLflow tag -> nbtrack reserved tag."""

_BACK = {v: k for k, v in RENAMED_TAGS.items()}


def to_nbtrack_tag(key: str) -> str:
    return RENAMED_TAGS.get(key, key)


def to_mlflow_tags(
    tags: dict[str, str], *, name: str | None, parent_run_id: str | None, description: str | None
) -> dict[str, str]:
    """A run's tags as MLflow shows them: attributes as system tags, reserved names mapped."""
    out: dict[str, str] = {}
    if name is not None:
        out[RUN_NAME] = name
    if parent_run_id is not None:
        out[PARENT_RUN_ID] = parent_run_id
    if description is not None:
        out[NOTE] = description
    out.update({_BACK.get(k, k): v for k, v in tags.items() if k != USER_ID})
    return out


def user_id(tags: dict[str, str]) -> str:
    """MLflow's ``user_id`` of a run with these (nbtrack) tags."""
    return tags.get(USER_ID) or tags.get(USER, "")
