import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from sklearn_rbfm.model_selection import SpeakerRotationSplit
from sklearn_rbfm.model_selection import AUDIOMNIST_SPEAKER_FOLDS

SPEAKERS = np.repeat(np.arange(1, 61), 3)
FEMALE = [12, 26, 28, 36, 43, 47, 52, 56, 57, 58, 59, 60]
SEX = np.isin(SPEAKERS, FEMALE).astype(int)


def _speakers(idx):
    return set(SPEAKERS[idx].tolist())


def test_audiomnist_digit_protocol_matches_the_published_folds():
    cv = SpeakerRotationSplit(speaker_folds="audiomnist_digit")
    folds = list(cv.split_with_validation(groups=SPEAKERS))
    assert cv.get_n_splits() == len(folds) == 5
    tests = [_speakers(test) for _, _, test in folds]
    for train, val, test in folds:
        assert (len(_speakers(train)), len(_speakers(val)), len(_speakers(test))) == (36, 12, 12)
        assert not (_speakers(train) & _speakers(test)) and not (_speakers(val) & _speakers(test))
    # every speaker is tested exactly once; published fold 0 tests 26, 52, ...
    assert set().union(*tests) == set(range(1, 61))
    assert tests[0] == {26, 52, 60, 18, 32, 42, 5, 13, 22, 33, 45, 51}
    assert _speakers(folds[0][1]) == {12, 47, 59, 15, 27, 41, 4, 11, 21, 31, 44, 50}


def test_audiomnist_sex_protocol_is_balanced():
    cv = SpeakerRotationSplit(speaker_folds="audiomnist_sex")
    for train, val, test in cv.split_with_validation(groups=SPEAKERS):
        assert (len(_speakers(train)), len(_speakers(val)), len(_speakers(test))) == (12, 6, 6)
        assert SEX[test].mean() == 0.5 and SEX[train].mean() == 0.5
    listed = {s for part in AUDIOMNIST_SPEAKER_FOLDS["sex"] for s in part}
    assert listed >= set(FEMALE)


def test_built_balanced_folds_reproduce_the_protocol_sizes():
    cv = SpeakerRotationSplit(4, balance=True, shuffle=True, random_state=0)
    folds = list(cv.split_with_validation(np.zeros(len(SPEAKERS)), SEX, SPEAKERS))
    assert len(folds) == 4
    for train, val, test in folds:
        assert (len(_speakers(train)), len(_speakers(val)), len(_speakers(test))) == (12, 6, 6)
        assert SEX[test].mean() == 0.5
    tested = set().union(*(_speakers(t) for _, _, t in folds))
    assert len(tested) == 24 and set(FEMALE) <= tested


def test_string_speaker_ids_and_sklearn_api():
    groups = np.array([f"{s:02d}" for s in SPEAKERS])
    cv = SpeakerRotationSplit(speaker_folds="audiomnist_digit")
    train, test = next(cv.split(groups=groups))
    assert len(train) == 36 * 3 and len(test) == 12 * 3
    X = np.random.RandomState(0).randn(len(SPEAKERS), 3)
    scores = cross_val_score(LogisticRegression(), X, SEX, groups=SPEAKERS,
                             cv=SpeakerRotationSplit(5, validation=False))
    assert scores.shape == (5,)
    no_val = list(SpeakerRotationSplit(5, validation=False).split_with_validation(groups=SPEAKERS))
    assert all(len(val) == 0 and len(_speakers(train)) == 48 for train, val, _ in no_val)


def test_errors():
    with pytest.raises(ValueError, match="'groups' parameter should not be None"):
        next(SpeakerRotationSplit().split(np.zeros(3)))
    with pytest.raises(ValueError, match="Cannot split 2 speakers"):
        next(SpeakerRotationSplit(3).split(groups=[1, 1, 2]))
    with pytest.raises(ValueError, match="n_splits must be an int >= 3"):
        next(SpeakerRotationSplit(2).split(groups=SPEAKERS))
    with pytest.raises(ValueError, match="one class per speaker"):
        next(SpeakerRotationSplit(stratify=True).split(groups=SPEAKERS, y=np.arange(180) % 10))
    with pytest.raises(ValueError, match="speaker_folds must be"):
        next(SpeakerRotationSplit(speaker_folds="timit").split(groups=SPEAKERS))
    with pytest.raises(ValueError, match="in two parts"):
        next(SpeakerRotationSplit(speaker_folds=[[1, 2], [2, 3], [4]]).split(groups=SPEAKERS))


def test_exported_from_model_selection_only():
    import sklearn_rbfm.explain
    import sklearn_rbfm.model_selection

    assert "SpeakerRotationSplit" in sklearn_rbfm.model_selection.__all__
    assert not hasattr(sklearn_rbfm.explain, "SpeakerRotationSplit")
