"""``nt.show_models()``: an HTML table of registered models, or one model's versions."""

from __future__ import annotations

import pytest

import nbtrack as nt
from nbtrack.models import update_registered_model


class Const:
    def predict(self, df):
        return [1] * len(df)


def test_show_models_lists_models_and_versions(store):
    with nt.start_run() as run, pytest.warns(nt.NbtrackWarning):
        info = nt.log_model(Const(), "m")
    nt.register_model(info.model_uri, "churn")
    update_registered_model("churn", "<b>first</b> & best")
    nt.register_model(info.model_uri, "churn")
    nt.set_model_alias("churn", "champion", 2)
    html = nt.show_models()._repr_html_()
    assert "&lt;b&gt;first&lt;/b&gt; &amp; best" in html
    assert "@champion → v2" in html
    versions = nt.show_models("churn")
    assert [r[0] for r in versions.rows] == ["2", "1"]
    assert versions.rows[0][1] == "@champion" and versions.rows[0][2] == run.id
    assert "Versions of churn" in repr(versions)
    assert "nothing registered yet" in nt.show_models(filter="name = 'x'")._repr_html_()
    with pytest.raises(nt.ModelNotFoundError):
        nt.show_models("nope")
