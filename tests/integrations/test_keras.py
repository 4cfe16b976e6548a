"""Keras 3 (JAX backend on CPU) callback and autolog against the real library."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np
import pytest

import nbtrack as nt
from integrations._autolog_helpers import history, only_run, run_inputs
from nbtrack.errors import NbtrackWarning

keras = pytest.importorskip("keras")


def make_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input(shape=(4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    return model


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype("float32")
    return X, (X @ np.array([1.0, -2.0, 0.5, 0.0], dtype="float32"))[:, None]


def test_callback_logs_epoch_metrics_equal_to_the_history_and_params(store, data):
    from nbtrack.integrations.keras import NbtrackCallback

    X, y = data
    model = make_model()
    with nt.start_run() as run:
        hist = model.fit(
            X, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0,
            callbacks=[NbtrackCallback(log_every_n_batches=1)],
        )
    got = nt.get_run(run.run_id)
    assert got.params["epochs"] == "3"
    assert got.params["optimizer"] == "Adam"
    assert float(got.params["optimizer_learning_rate"]) == pytest.approx(0.01)
    assert got.params["loss"] == "mse"
    for key in ("loss", "mae", "val_loss", "val_mae"):
        steps = history(run.run_id, key)
        assert [s for s, _ in steps] == [0, 1, 2]
        np.testing.assert_allclose([v for _, v in steps], hist.history[key], rtol=1e-6)
    batches = history(run.run_id, "batch/loss")
    assert [s for s, _ in batches] == list(range(9))  # 48 training rows / 16, 3 epochs


class BatchRecorder(keras.callbacks.Callback):
    """What Keras reports to callbacks after each training batch."""

    def __init__(self) -> None:
        super().__init__()
        self.losses: list[float] = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))


def test_autolog_starts_a_run_with_params_dataset_and_model(store, data):
    X, y = data
    nt.autolog("keras")
    model = make_model()
    recorder = BatchRecorder()
    hist = model.fit(X, y, epochs=2, batch_size=32, verbose=0, callbacks=[recorder])
    run = only_run()
    assert run.tags["nbtrack.autolog"] == "keras"
    assert run.params["batch_size"] == "32"
    assert run.params["epochs"] == "2"
    np.testing.assert_allclose(
        [v for _, v in history(run.run_id, "loss")], hist.history["loss"], rtol=1e-6
    )
    # autolog logs every batch too: 64 rows / 32 = 2 batches per epoch, global steps 0..3
    batches = history(run.run_id, "batch/loss")
    assert [s for s, _ in batches] == [0, 1, 2, 3]
    np.testing.assert_allclose([v for _, v in batches], recorder.losses, rtol=1e-6)
    assert "model/model.keras" in nt.list_artifacts(run.run_id)
    [ds] = run_inputs(run.run_id)
    assert '"shape": [64, 4]' in ds.profile
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "m.keras")
        with open(p, "wb") as f:
            f.write(nt.read_artifact(run.run_id, "model/model.keras"))
        loaded = keras.saving.load_model(p)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_same_weights_with_autolog_on_and_off(store, data):
    X, y = data
    off = make_model()
    off.fit(X, y, epochs=2, batch_size=8, verbose=0)
    nt.autolog("keras", log_models=False)
    on = make_model()
    on.fit(X, y, epochs=2, batch_size=8, verbose=0)
    for a, b in zip(off.get_weights(), on.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.autolog_failure
def test_a_failing_callback_does_not_fail_training(store, data, monkeypatch):
    from nbtrack.integrations import keras as nb_keras

    monkeypatch.setattr(nb_keras, "_numbers", lambda *a, **k: 1 / 0)
    X, y = data
    nt.autolog("keras", log_models=False)
    with pytest.warns(NbtrackWarning, match="keras integration failed"):
        hist = make_model().fit(X, y, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2
    assert only_run().status == "FINISHED"


def test_track_cell_with_autolog(store, ip, data):
    ip.user_ns.update(make_model=make_model, X=data[0], y=data[1])
    ip.run_cell("%%track --autolog -n keras-cell\nh = make_model().fit(X, y, epochs=2, verbose=0)\n").raise_error()
    run = only_run()
    assert run.name == "keras-cell"
    assert len(history(run.run_id, "loss")) == 2


def test_a_resumed_fit_continues_the_epoch_and_batch_steps(store, data):
    """``fit(initial_epoch=k)`` in the same run: steps go on from k, nothing is overwritten."""
    from nbtrack.integrations.keras import NbtrackCallback

    X, y = data
    model = make_model()
    with nt.start_run() as run:
        cb = NbtrackCallback(log_every_n_batches=1)
        first = model.fit(X, y, epochs=2, batch_size=16, verbose=0, callbacks=[cb])
        second = model.fit(
            X, y, epochs=3, initial_epoch=2, batch_size=16, verbose=0,
            callbacks=[NbtrackCallback(log_every_n_batches=1)],
        )
    epochs = history(run.run_id, "loss")
    assert [s for s, _ in epochs] == [0, 1, 2]
    np.testing.assert_allclose(
        [v for _, v in epochs], first.history["loss"] + second.history["loss"], rtol=1e-6
    )
    assert [s for s, _ in history(run.run_id, "batch/loss")] == list(range(12))  # 4 per epoch


@pytest.mark.parametrize("where", ["explicit-run", "nested-sweep"])
def test_autolog_inside_the_user_s_runs(store, data, where):
    X, y = data
    nt.autolog("keras", log_models=False)
    with nt.start_run(name="mine") as parent:
        if where == "explicit-run":
            make_model().fit(X, y, epochs=2, verbose=0)
        else:
            for lr in (0.01, 0.1):
                with nt.start_run(name=f"lr={lr}", nested=True):
                    make_model().fit(X, y, epochs=2, verbose=0)
    df = nt.search_runs()
    if where == "explicit-run":
        assert len(df) == 1
        assert len(history(parent.run_id, "loss")) == 2
    else:
        children = df[df.parent_run_id == parent.run_id]
        assert sorted(children.name) == ["lr=0.01", "lr=0.1"]
        for run_id in children.run_id:
            assert len(history(run_id, "loss")) == 2
        assert "loss" not in nt.get_run(parent.run_id).metrics


def test_the_callback_without_a_run_starts_one_and_ends_it(store, data):
    from nbtrack.integrations.keras import NbtrackCallback

    X, y = data
    hist = make_model().fit(X, y, epochs=2, verbose=0, callbacks=[NbtrackCallback()])
    assert nt.active_run() is None
    run = only_run()
    assert run.status == "FINISHED"
    np.testing.assert_allclose(
        [v for _, v in history(run.run_id, "loss")], hist.history["loss"], rtol=1e-6
    )
