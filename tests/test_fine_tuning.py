"""Fine-tuning of CNNEmbedder: the validation split, balanced batches, schedule, health."""

import json
import math
import pickle
import warnings

import numpy as np
import pytest

from sklearn_rbfm import _fine_tuning
from sklearn_rbfm._keras import validation_split
from sklearn_rbfm.exceptions import FineTuningWarning


def _spectrograms(n=24, shape=(8, 10), seed=0, positive_every=2):
    """Energy in the low (class 0) or high (class 1) half of the bands."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % positive_every == 0).astype(int)
    S = rng.normal(0.0, 1.0, size=(n, *shape)).astype(np.float32)
    half = shape[0] // 2
    S[y == 0, :half] += 3.0
    S[y == 1, half:] += 3.0
    return S, y


def test_validation_split_is_stratified_by_clip():
    y = np.array([0] * 16 + [1] * 8)
    train, val = validation_split(y, None, 0.25, seed=0)
    assert len(val) == 6 and len(train) == 18
    assert np.bincount(y[val]).tolist() == [4, 2]  # stratified: 2:1 on both sides
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(24))


def test_validation_split_keeps_each_group_on_one_side():
    y = np.tile([0, 0, 0, 1], 10)
    groups = np.repeat(np.arange(10), 4)
    for seed in range(5):
        train, val = validation_split(y, groups, 0.2, seed=seed)
        assert not set(groups[train]) & set(groups[val])
        assert set(y[val]) == {0, 1} and set(y[train]) == {0, 1}
        assert len(train) + len(val) == 40


def test_validation_split_falls_back_when_data_are_too_few():
    train, val = validation_split(np.array([0, 0, 1]), None, 0.0, seed=0)
    assert val is None and train.tolist() == [0, 1, 2]
    # one clip of class 1: holding it out would leave the class out of training
    y = np.array([0, 0, 0, 0, 1])
    for seed in range(5):
        train, val = validation_split(y, None, 0.2, seed=seed)
        assert 4 in train
    # a single group cannot be split by group: split by clip instead
    train, val = validation_split(np.tile([0, 1], 5), np.zeros(10), 0.2, seed=0)
    assert len(val) == 2 and set(np.tile([0, 1], 5)[val]) == {0, 1}


def test_balanced_batches_draw_every_class_equally():
    y = np.array([0] * 27 + [1] * 3 + [2] * 2)
    batches = _fine_tuning.balanced_batches(y, 6, np.random.RandomState(0))
    assert batches.shape == (6, 6)  # as many batches as a plain pass over 32 clips
    for batch in batches:
        assert np.bincount(y[batch], minlength=3).tolist() == [2, 2, 2]
    # each class cycles through all its clips before repeating one
    drawn = y[batches.ravel()]
    assert len(set(batches.ravel()[drawn == 0])) == 12
    assert set(batches.ravel()[drawn == 1]) == {27, 28, 29}
    counts = np.bincount(batches.ravel()[drawn == 2])[30:]
    assert counts.tolist() == [6, 6]


def test_schedule_warms_up_then_decays_to_zero():
    schedule = _fine_tuning._Schedule(1e-3, warmup=4, total=20)
    rates = [schedule(step) for step in range(21)]
    np.testing.assert_allclose(rates[:4], [2.5e-4, 5e-4, 7.5e-4, 1e-3])
    assert all(a >= b for a, b in zip(rates[4:], rates[5:]))
    assert rates[20] == pytest.approx(0.0, abs=1e-12)
    assert schedule(12) == pytest.approx(0.5e-3)  # half way through the decay


def test_chance_loss():
    y = np.array([0] * 9 + [1])
    assert _fine_tuning.chance_loss(y, None, 2) == pytest.approx(
        -(0.9 * math.log(0.9) + 0.1 * math.log(0.1))
    )
    assert _fine_tuning.chance_loss(y, {0: 1.0, 1: 9.0}, 2) == pytest.approx(math.log(2))
    assert _fine_tuning.chance_loss(np.arange(5), None, 5) == pytest.approx(math.log(5))


@pytest.mark.slow
def test_learnable_task_trains_without_warning_and_reports_history():
    from sklearn.linear_model import LogisticRegression

    from sklearn_rbfm import CNNEmbedder

    # imbalanced, 1:3, with groups of 2 clips
    S, y = _spectrograms(n=32, positive_every=4)
    groups = np.arange(32) // 2
    emb = CNNEmbedder("small_cnn", fine_tune="all", epochs=6, batch_size=8,
                      validation_fraction=0.25, n_init=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FineTuningWarning)
        emb.fit(S, y, groups=groups)
    history = emb.history_
    assert type(history) is dict
    assert set(history) == {"loss", "val_loss", "learning_rate", "attempt", "member"}
    n_epochs = len(history["loss"])
    assert all(len(v) == n_epochs for v in history.values())
    # two networks, one after the other
    members = history["member"]
    assert members == sorted(members) and set(members) == {0, 1}
    assert all(1 <= members.count(m) <= 6 for m in range(2))
    assert history["attempt"] == [0] * n_epochs  # each learned at its first attempt
    assert emb.transform(S).shape == (32, 2 * 384)
    assert all(type(v) is float for v in history["loss"] + history["val_loss"])
    assert min(history["loss"]) < 0.95 * math.log(2)
    # warm-up over the first epoch (3 steps: 24 training clips, 8 held out)
    assert history["learning_rate"][0] == pytest.approx(1e-3 / 3)
    assert history["learning_rate"][1] == pytest.approx(1e-3)
    # plain data: JSON and pickle round-trips give it back unchanged
    assert json.loads(json.dumps(history)) == history
    assert pickle.loads(pickle.dumps(emb)).history_ == history
    S_test, y_test = _spectrograms(n=16, seed=1, positive_every=4)
    clf = LogisticRegression().fit(emb.transform(S), y)
    assert clf.score(emb.transform(S_test), y_test) >= 0.9


@pytest.mark.slow
def test_constant_input_cannot_learn_and_warns():
    from sklearn_rbfm import CNNEmbedder

    S = np.ones((16, 8, 10), dtype=np.float32)
    y = np.arange(16) % 2
    emb = CNNEmbedder("small_cnn", fine_tune="all", epochs=2, batch_size=8,
                      validation_fraction=0.0, n_init=2, random_state=0)
    with pytest.warns(FineTuningWarning, match=r"CNNEmbedder\(architecture='small_cnn', "
                      r"fine_tune='all'\) fine-tuning ended at chance level for 2 of "
                      r"its 2 networks \(members 0, 1\)") as record:
        emb.fit(S, y)
    assert len(record) == 1  # one warning for the fit, not one per network
    assert record[0].filename == __file__  # points at the caller's fit
    history = emb.history_
    assert set(history) == {"loss", "learning_rate", "attempt", "member"}  # no validation
    # for each network, the first attempt and both restarts ran all their epochs
    assert history["attempt"] == [0, 0, 1, 1, 2, 2] * 2
    assert history["member"] == [0] * 6 + [1] * 6
    np.testing.assert_allclose(history["loss"], math.log(2), atol=0.02)
    assert emb.transform(S).shape == (16, 2 * 384)
    with pytest.warns(FineTuningWarning, match=r"fine_tune='all'\) fine-tuning ended at "
                      r"chance level: the training loss never went below"):
        emb.set_params(n_init=1).fit(S, y)


def test_groups_must_match_the_clips():
    from sklearn_rbfm import CNNEmbedder

    S, y = _spectrograms(n=8)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        CNNEmbedder("small_cnn", fine_tune="all", epochs=1).fit(S, y, groups=np.zeros(5))


def test_weights_are_averaged_over_the_second_half():
    tf = pytest.importorskip("tensorflow")

    S, y = _spectrograms(n=16)
    inputs = tf.keras.Input((8, 10, 1))
    x = tf.keras.layers.Flatten()(inputs)
    # fixed initial weights, without touching Keras' global seed
    head = tf.keras.layers.Dense(2, activation="softmax", kernel_initializer="zeros")
    classifier = tf.keras.Model(inputs, head(x))
    snapshots = []
    get_weights = classifier.get_weights

    def recording():
        weights = get_weights()
        snapshots.append(weights)
        return weights

    classifier.get_weights = recording
    history, learned, _ = _fine_tuning.fit_attempt(
        classifier, S[..., None], y, np.arange(16), np.arange(16), None, n_classes=2,
        epochs=6, batch_size=4, learning_rate=1e-2, class_weight="balanced", seed=0,
    )
    assert learned and len(history["loss"]) == 6
    assert len(snapshots) == 4  # the end of epochs 3 to 6
    final = get_weights()
    for k, weight in enumerate(final):
        np.testing.assert_allclose(weight, np.mean([s[k] for s in snapshots], axis=0),
                                   rtol=1e-5, atol=1e-6)
    assert not np.allclose(final[0], snapshots[-1][0])  # not the last epoch's weights


@pytest.mark.slow
def test_members_are_independent_networks_side_by_side():
    from sklearn_rbfm import CNNEmbedder

    S, y = _spectrograms(n=24)
    params = dict(fine_tune="all", epochs=2, batch_size=8, validation_fraction=0.0,
                  random_state=0)
    one = CNNEmbedder("small_cnn", n_init=1, **params).fit(S, y)
    two = CNNEmbedder("small_cnn", n_init=2, **params).fit(S, y)
    E1, E2 = one.transform(S), two.transform(S)
    assert E2.shape == (24, 768) and two.embedding_dim_ == 768
    assert two.get_feature_names_out()[-1] == "small_cnn767"
    # the first member is the network n_init=1 trains; the second is another
    np.testing.assert_array_equal(E2[:, :384], E1)
    assert np.abs(E2[:, 384:] - E1).max() > 1e-3
    assert two.history_["loss"][:2] == one.history_["loss"]
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(two)).transform(S), E2)

