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
        SpectrogramTransformer(kind="power", n_fft=4, hop_length=2, top_db=40),
    ]


def _cnn_embedder():
    from sklearn_rbfm import CNNEmbedder

    # The checks' 2-D random X is read as one spectrum per row, shape
    # (n_features, 1), which the small CNN handles at any size; whenever the
    # checks pass y, the network is also fine-tuned for one epoch. One
    # network (n_init=1) keeps them fast; test_fine_tuning.py checks several.
    return [
        CNNEmbedder(
            "small_cnn",
            fine_tune="all",
            epochs=1,
            batch_size=16,
            validation_fraction=0.0,
            n_init=1,
            random_state=0,
        )
    ]


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

    # Few, easily learnt features: the checks need a base model that trains
    # in well under a second and still fits their toy problems.
    return [
        RelevanceMasker(_small_mlp(), n_features=0.5),
        RelevanceMasker(_small_mlp(), strategy="negative", method="lrp.epsilon"),
    ]


def _small_mlp():
    from sklearn_rbfm import KerasMLPClassifier

    return KerasMLPClassifier(
        hidden_layer_sizes=(16,),
        epochs=10,
        batch_size=32,
        learning_rate=0.05,
        early_stopping=False,
        random_state=0,
    )


def _voting_fusion_search():
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    from sklearn.tree import DecisionTreeClassifier

    from sklearn_rbfm import VotingFusionSearch

    members = [
        ("lr", LogisticRegression()),
        ("nb", GaussianNB()),
        ("tree", DecisionTreeClassifier(max_depth=3, random_state=0)),
    ]
    return [
        VotingFusionSearch(members, cv=3),
        VotingFusionSearch(members, cv=3, search="greedy", max_size=4),
    ]


def _keras_cnn_classifier():
    from sklearn_rbfm import KerasCNNClassifier

    # One tenth of the published widths; ten epochs at a high learning rate
    # are enough for the checks' small, well separated problems. Their rows
    # of two or three features lose what separates the classes when each
    # row is standardised on its own, hence standardize=False.
    small = dict(width=0.1, epochs=10, batch_size=64, learning_rate=0.02,
                 early_stopping=False, standardize=False, random_state=0)
    return [
        KerasCNNClassifier("audionet", **small),
        KerasCNNClassifier("alexnet", **small),
    ]


def _birdnet_embedder():
    from sklearn_rbfm import BirdNETEmbedder

    # The checks' data (blobs, Gaussians) reach beyond the [-1, 1] of audio,
    # which the default max_amplitude refuses as "not a waveform"
    # (tests/test_birdnet.py tests that refusal); each of their rows is one
    # 3 s window of almost only padding.
    return [BirdNETEmbedder(max_amplitude=None, batch_size=8)]


def _rbfm_classifier():
    from sklearn.naive_bayes import GaussianNB
    from sklearn.tree import DecisionTreeClassifier

    from sklearn_rbfm import RBFMClassifier

    # The API checks need no Keras network: without masking the base model
    # may be any classifier. tests/test_rbfm.py runs the masked members.
    fast = dict(base_estimator=GaussianNB(), maskings=("none",),
                extra_members=[("tree", DecisionTreeClassifier(max_depth=2))],
                cv=3, random_state=0)
    return [RBFMClassifier(**fast)]


INSTANCES = {
    "AudioLoader": _audio_loader,
    "SpectrogramTransformer": _spectrogram_transformer,
    "CNNEmbedder": _cnn_embedder,
    "KerasMLPClassifier": _keras_mlp_classifier,
    "RelevanceMasker": _relevance_masker,
    "VotingFusionSearch": _voting_fusion_search,
    "KerasCNNClassifier": _keras_cnn_classifier,
    "BirdNETEmbedder": _birdnet_embedder,
    "RBFMClassifier": _rbfm_classifier,
}

# AudioLoader's X is a column of file paths; these checks feed numeric arrays,
# which it rightly rejects ("X must hold file paths"). tests/test_loader.py runs
# the same properties (idempotence, subset and order invariance, pickling,
# pipelines, n_features_in_, unchanged __dict__) on real audio files.
_NUMERIC_X = "feeds numeric arrays; AudioLoader's X holds audio file paths"
_AUDIO_LOADER_FAILS = {
    "check_complex_data": _NUMERIC_X,
    "check_dict_unchanged": _NUMERIC_X,
    "check_dont_overwrite_parameters": _NUMERIC_X,
    "check_dtype_object": _NUMERIC_X,
    "check_estimators_dtypes": _NUMERIC_X,
    "check_estimators_fit_returns_self": _NUMERIC_X,
    "check_estimators_nan_inf": _NUMERIC_X,
    "check_estimators_overwrite_params": _NUMERIC_X,
    "check_estimators_pickle": _NUMERIC_X,
    "check_f_contiguous_array_estimator": _NUMERIC_X,
    "check_fit2d_1feature": _NUMERIC_X,
    "check_fit2d_1sample": _NUMERIC_X,
    "check_fit2d_predict1d": _NUMERIC_X,
    "check_fit_check_is_fitted": _NUMERIC_X,
    "check_fit_idempotent": _NUMERIC_X,
    "check_fit_score_takes_y": _NUMERIC_X,
    "check_methods_sample_order_invariance": _NUMERIC_X,
    "check_methods_subset_invariance": _NUMERIC_X,
    "check_n_features_in": _NUMERIC_X,
    "check_n_features_in_after_fitting": _NUMERIC_X,
    "check_pipeline_consistency": _NUMERIC_X,
    "check_positive_only_tag_during_fit": _NUMERIC_X,
    "check_readonly_memmap_input": _NUMERIC_X,
    "check_transformer_data_not_an_array": _NUMERIC_X,
    "check_transformer_general": _NUMERIC_X,
}

# estimator name -> {check name: reason}; every entry says why the check cannot apply.
EXPECTED_FAILED_CHECKS = {
    "AudioLoader": _AUDIO_LOADER_FAILS,
    "SpectrogramTransformer": {
        "check_estimators_dtypes": (
            "feeds int64 waveforms; integer audio is PCM scaled by its full "
            "scale (int16 / 2**15, int32 / 2**31) and int64 has none, so it is "
            "refused rather than read as unscaled samples"
        ),
    },
    "BirdNETEmbedder": {
        "check_estimators_dtypes": (
            "feeds int64 waveforms; integer audio is PCM scaled by its full "
            "scale (int16 / 2**15, int32 / 2**31) and int64 has none, so it is "
            "refused rather than read as unscaled samples"
        ),
        "check_methods_sample_order_invariance": (
            "TFLite's CPU kernels (XNNPACK) round a window's embedding "
            "differently (about 1e-6) at another place in the batch; the "
            "check demands 1e-7"
        ),
        "check_methods_subset_invariance": (
            "TFLite's CPU kernels (XNNPACK) round a window's embedding "
            "differently (about 1e-6) in a batch of another size; the check "
            "demands 1e-7"
        ),
    },
    "KerasCNNClassifier": {
        "check_methods_sample_order_invariance": (
            "float32 convolutions (oneDNN) may round a row's probabilities "
            "differently (about 1e-7 relative) when the rows of a batch are "
            "reordered; the check demands 1e-7."
        ),
        "check_methods_subset_invariance": (
            "float32 convolutions (oneDNN) may round a row's probabilities "
            "differently (up to 5e-7 absolute seen) in a batch of another "
            "size, and both nets average five such predictions "
            "(test_offsets='auto'); the check demands 1e-7."
        ),
    },
}


def instances_of(name, cls):
    """Instances of the estimator called ``name`` to run the common checks on."""
    if name in INSTANCES:
        return INSTANCES[name]()
    return [cls()]


def expected_failed_checks(estimator):
    """The checks ``estimator`` is known to fail, with the reason (for sklearn)."""
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})
