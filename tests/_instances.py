"""Small, fast instances of every public estimator for the common checks.

Each entry maps an estimator name to a function returning the instances to
check (small networks, few epochs, tiny inputs) and, optionally, the checks
expected to fail with the reason why. An estimator missing here is checked
with its default parameters.
"""


def _audio_loader():
    from sklearn_rbfm import AudioLoader

    return [AudioLoader()]


def _spectrogram_transformer():
    from sklearn_rbfm import SpectrogramTransformer

    # The common checks feed a handful of samples per row: far fewer than
    # VGGish's 400-sample window, so the checks run on tiny STFTs.
    return [
        SpectrogramTransformer(kind="power", n_fft=4, hop_length=2),
        SpectrogramTransformer(kind="mel", sr=8000, n_fft=8, hop_length=2, n_mels=2),
    ]


def _cnn_embedder():
    from sklearn_rbfm import CNNEmbedder

    return [CNNEmbedder()]


def _keras_mlp_classifier():
    from sklearn_rbfm import KerasMLPClassifier

    return [
        KerasMLPClassifier(
            hidden_layer_sizes=(32,),
            epochs=30,
            batch_size=32,
            learning_rate=0.02,
            early_stopping=False,
            random_state=0,
        )
    ]


def _relevance_masker():
    from sklearn_rbfm import RelevanceMasker

    return [RelevanceMasker()]


def _voting_fusion_search():
    from sklearn_rbfm import VotingFusionSearch

    return [VotingFusionSearch(estimators=[])]


def _keras_cnn_classifier():
    from sklearn_rbfm import KerasCNNClassifier

    return [KerasCNNClassifier()]


INSTANCES = {
    "AudioLoader": _audio_loader,
    "SpectrogramTransformer": _spectrogram_transformer,
    "CNNEmbedder": _cnn_embedder,
    "KerasMLPClassifier": _keras_mlp_classifier,
    "RelevanceMasker": _relevance_masker,
    "VotingFusionSearch": _voting_fusion_search,
    "KerasCNNClassifier": _keras_cnn_classifier,
}

# estimator name -> {check name: reason}; every entry says why the check cannot apply.
EXPECTED_FAILED_CHECKS = {}


def instances_of(name, cls):
    """Instances of the estimator called ``name`` to run the common checks on."""
    if name in INSTANCES:
        return INSTANCES[name]()
    return [cls()]


def expected_failed_checks(estimator):
    """The checks ``estimator`` is known to fail, with the reason (for sklearn)."""
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})
