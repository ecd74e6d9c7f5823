"""scikit-learn's estimator checks on every public estimator, found automatically."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_rbfm.utils import all_estimators

from ._instances import expected_failed_checks, instances_of

ESTIMATORS = [
    est for name, cls in all_estimators() for est in instances_of(name, cls)
]


def test_discovery_finds_the_public_estimators():
    names = {name for name, _ in all_estimators()}
    assert {
        "AudioLoader",
        "SpectrogramTransformer",
        "CNNEmbedder",
        "KerasMLPClassifier",
        "RelevanceMasker",
        "VotingFusionSearch",
    } <= names


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
