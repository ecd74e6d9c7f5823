"""VGGish in Keras: the TF-slim checkpoint mapping, patches, and weight files."""

import warnings

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from sklearn_rbfm import CNNEmbedder  # noqa: E402
from sklearn_rbfm import _vggish  # noqa: E402
from sklearn_rbfm.exceptions import FineTuningWarning  # noqa: E402
from sklearn_rbfm._keras import import_tensorflow  # noqa: E402

# Shapes of the published checkpoint, written out rather than derived from the
# code under test: 3x3 convolutions, then 6 x 4 x 512 = 12288 flattened inputs.
SLIM_SHAPES = {
    "vggish/conv1/weights": (3, 3, 1, 64),
    "vggish/conv1/biases": (64,),
    "vggish/conv2/weights": (3, 3, 64, 128),
    "vggish/conv2/biases": (128,),
    "vggish/conv3/conv3_1/weights": (3, 3, 128, 256),
    "vggish/conv3/conv3_1/biases": (256,),
    "vggish/conv3/conv3_2/weights": (3, 3, 256, 256),
    "vggish/conv3/conv3_2/biases": (256,),
    "vggish/conv4/conv4_1/weights": (3, 3, 256, 512),
    "vggish/conv4/conv4_1/biases": (512,),
    "vggish/conv4/conv4_2/weights": (3, 3, 512, 512),
    "vggish/conv4/conv4_2/biases": (512,),
    "vggish/fc1/fc1_1/weights": (12288, 4096),
    "vggish/fc1/fc1_1/biases": (4096,),
    "vggish/fc1/fc1_2/weights": (4096, 4096),
    "vggish/fc1/fc1_2/biases": (4096,),
    "vggish/fc2/weights": (4096, 128),
    "vggish/fc2/biases": (128,),
}
CONV_NAMES = [n for n in SLIM_SHAPES if "/fc" not in n]


def _random_variables(names, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for name in names:
        shape = SLIM_SHAPES[name]
        fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
        scale = np.sqrt(2.0 / fan_in) if len(shape) > 1 else 0.05
        out[name] = (rng.standard_normal(shape, dtype=np.float32) * scale).astype(np.float32)
    return out


def write_checkpoint(path, variables, version=1):
    """Write ``variables`` under their TF-slim names, V1 (one file, as published) or V2."""
    tf = import_tensorflow()
    names = list(variables)
    tensors = [tf.constant(variables[n]) for n in names]
    if version == 1:
        tf.raw_ops.Save(filename=str(path), tensor_names=names, data=tensors)
    else:
        tf.raw_ops.SaveV2(
            prefix=str(path), tensor_names=names, shape_and_slices=[""] * len(names),
            tensors=tensors,
        )
    return str(path)


def reference_vggish(variables, patches, include_top):
    """VGGish computed op by op from the raw checkpoint arrays (tf.nn, no Keras)."""
    tf = import_tensorflow()
    x = tf.constant(patches)
    for scope in ("conv1", "conv2", "conv3/conv3_1", "conv3/conv3_2",
                  "conv4/conv4_1", "conv4/conv4_2"):
        w = variables[f"vggish/{scope}/weights"]
        b = variables[f"vggish/{scope}/biases"]
        x = tf.nn.relu(tf.nn.conv2d(x, w, strides=1, padding="SAME") + b)
        if scope in ("conv1", "conv2", "conv3/conv3_2", "conv4/conv4_2"):
            x = tf.nn.max_pool2d(x, 2, 2, padding="SAME")
    if not include_top:
        return x.numpy()
    x = tf.reshape(x, (x.shape[0], -1))
    for scope, relu in (("fc1/fc1_1", True), ("fc1/fc1_2", True), ("fc2", False)):
        x = tf.matmul(x, variables[f"vggish/{scope}/weights"]) + variables[f"vggish/{scope}/biases"]
        if relu:
            x = tf.nn.relu(x)
    return x.numpy()


@pytest.fixture(scope="module")
def conv_checkpoint(tmp_path_factory):
    variables = _random_variables(CONV_NAMES, seed=1)
    path = tmp_path_factory.mktemp("ckpt") / "vggish_model.ckpt"
    return write_checkpoint(path, variables, version=1), variables


def test_published_checkpoint_maps_onto_every_keras_layer(tmp_path):
    variables = _random_variables(SLIM_SHAPES, seed=0)
    path = write_checkpoint(tmp_path / "vggish_model.ckpt", variables, version=1)
    model = _vggish.build_vggish(include_top=True)
    used = _vggish.load_vggish_checkpoint(model, path)
    assert sorted(used) == sorted(SLIM_SHAPES)
    for layer in model.layers:
        if layer.name in _vggish.SCOPES:
            kernel, bias = layer.get_weights()
            scope = _vggish.SCOPES[layer.name]
            np.testing.assert_array_equal(kernel, variables[f"{scope}/weights"])
            np.testing.assert_array_equal(bias, variables[f"{scope}/biases"])
    assert model.output_shape == (None, 128)
    patches = np.random.default_rng(2).standard_normal((2, 96, 64, 1)).astype(np.float32)
    expected = reference_vggish(variables, patches, include_top=True)
    np.testing.assert_allclose(model(patches).numpy(), expected, rtol=1e-4, atol=1e-4)


def test_v2_checkpoint_and_conv_only_model(tmp_path):
    variables = _random_variables(CONV_NAMES, seed=3)
    path = write_checkpoint(tmp_path / "model", variables, version=2)
    assert _vggish.is_checkpoint(path)
    model = _vggish.build_vggish(include_top=False)
    assert sorted(_vggish.load_vggish_checkpoint(model, path)) == sorted(CONV_NAMES)
    assert model.output_shape == (None, 6, 4, 512)
    patches = np.random.default_rng(4).standard_normal((1, 96, 64, 1)).astype(np.float32)
    np.testing.assert_allclose(
        model(patches).numpy(), reference_vggish(variables, patches, False),
        rtol=1e-4, atol=1e-5,
    )


def test_missing_or_misshapen_variables_are_named(tmp_path):
    variables = _random_variables(CONV_NAMES, seed=5)
    missing = dict(variables)
    del missing["vggish/conv4/conv4_2/biases"]
    path = write_checkpoint(tmp_path / "missing.ckpt", missing)
    with pytest.raises(ValueError, match="no variable 'vggish/conv4/conv4_2/biases'"):
        _vggish.load_vggish_checkpoint(_vggish.build_vggish(), path)
    bad = dict(variables)
    bad["vggish/conv2/weights"] = np.zeros((3, 3, 64, 64), dtype=np.float32)
    path = write_checkpoint(tmp_path / "bad.ckpt", bad)
    with pytest.raises(ValueError, match=r"'vggish/conv2/weights'.*\(3, 3, 64, 64\).*needs \(3, 3, 64, 128\)"):
        _vggish.load_vggish_checkpoint(_vggish.build_vggish(), path)


def test_embedder_pools_the_last_conv_block_over_patches(conv_checkpoint):
    path, variables = conv_checkpoint
    rng = np.random.default_rng(6)
    # 150 frames: one full patch and one padded with silence
    S = rng.normal(-3.0, 1.0, size=(3, 64, 150)).astype(np.float32)
    emb = CNNEmbedder("vggish", weights=path, batch_size=2).fit(S)
    assert emb.weights_path_ == path
    assert emb.pooling_ == "avg"  # the default for pretrained networks
    out = emb.transform(S)
    assert out.shape == (3, 512) and out.dtype == np.float32
    assert emb.get_feature_names_out()[[0, -1]].tolist() == ["vggish0", "vggish511"]

    patches = np.full((3, 192, 64), _vggish.SILENCE, dtype=np.float32)
    patches[:, :150] = S.transpose(0, 2, 1)
    patches = patches.reshape(6, 96, 64, 1)
    feature_maps = reference_vggish(variables, patches, include_top=False)
    expected = feature_maps.mean(axis=(1, 2)).reshape(3, 2, 512).mean(axis=1)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)

    emb_max = CNNEmbedder("vggish", weights=path, pooling="max", batch_size=2).fit(S)
    expected_max = feature_maps.max(axis=(1, 2)).reshape(3, 2, 512).max(axis=1)
    np.testing.assert_allclose(emb_max.transform(S), expected_max, rtol=1e-4, atol=1e-5)


def test_fine_tuning_pretrained_weights_trains_one_network(conv_checkpoint):
    path, _ = conv_checkpoint
    rng = np.random.default_rng(7)
    S = rng.normal(-3.0, 1.0, size=(4, 64, 96)).astype(np.float32)
    emb = CNNEmbedder("vggish", weights=path, fine_tune="last", epochs=1,
                      validation_fraction=0.0, batch_size=4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FineTuningWarning)  # 4 clips, one epoch
        emb.fit(S, [0, 1, 0, 1])
    # one network by default
    assert emb.n_init_ == 1 and set(emb.history_["member"]) == {0}
    assert emb.transform(S).shape == (4, 512)


def test_default_weights_come_from_the_keras_cache(conv_checkpoint, tmp_path, monkeypatch):
    path, _ = conv_checkpoint
    models = tmp_path / ".keras" / "models"
    models.mkdir(parents=True)
    (models / "vggish_model.ckpt").write_bytes(open(path, "rb").read())
    monkeypatch.setenv("HOME", str(tmp_path))
    S = np.random.default_rng(7).normal(-3.0, 1.0, size=(2, 64, 96)).astype(np.float32)
    default = CNNEmbedder("vggish").fit(S)
    assert default.weights_path_ == str(models / "vggish_model.ckpt")
    explicit = CNNEmbedder("vggish", weights=path).fit(S)
    np.testing.assert_array_equal(default.transform(S), explicit.transform(S))


def test_missing_default_weights_say_what_to_download(tmp_path, monkeypatch):
    tf = import_tensorflow()
    calls = []

    def offline(fname, origin, **kwargs):
        calls.append((fname, origin, kwargs))
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] "
                        "Temporary failure in name resolution")

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(tf.keras.utils, "get_file", offline)
    S = np.zeros((2, 64, 96), dtype=np.float32)
    with pytest.raises(FileNotFoundError) as info:
        CNNEmbedder("vggish").fit(S)
    message = str(info.value)
    assert "vggish_model.ckpt" in message
    assert str(tmp_path / ".keras" / "models" / "vggish_model.ckpt") in message
    assert "https://storage.googleapis.com/audioset/vggish_model.ckpt" in message
    assert calls == [("vggish_model.ckpt", _vggish.CHECKPOINT_URL, {"cache_subdir": "models"})]


def test_keras_weights_file_and_bad_paths(conv_checkpoint, tmp_path):
    path, _ = conv_checkpoint
    S = np.random.default_rng(8).normal(-3.0, 1.0, size=(2, 64, 100)).astype(np.float32)
    from_ckpt = CNNEmbedder("vggish", weights=path).fit(S)
    h5 = str(tmp_path / "vggish.weights.h5")
    backbone = _vggish.build_vggish()
    _vggish.load_vggish_checkpoint(backbone, path)
    backbone.save_weights(h5)
    from_h5 = CNNEmbedder("vggish", weights=h5).fit(S)
    np.testing.assert_array_equal(from_h5.transform(S), from_ckpt.transform(S))
    with pytest.raises(FileNotFoundError, match="nowhere.ckpt' for architecture='vggish' does not exist"):
        CNNEmbedder("vggish", weights=str(tmp_path / "nowhere.ckpt")).fit(S)


def test_vggish_needs_64_band_log_mel_input():
    with pytest.raises(ValueError, match="64 bands.*shape \\(32, 10\\)"):
        CNNEmbedder("vggish", weights=None).fit(np.zeros((2, 32, 10), dtype=np.float32))
    with pytest.raises(ValueError, match="fixed input of 96 frames"):
        CNNEmbedder("vggish", weights=None, input_size=(96, 64)).fit(
            np.zeros((2, 64, 10), dtype=np.float32)
        )


def test_vggish_from_spectrogram_transformer_output():
    from sklearn_rbfm import SpectrogramTransformer

    rng = np.random.default_rng(9)
    waves = rng.standard_normal((2, 16000)).astype(np.float32) * 0.1
    spec = SpectrogramTransformer(kind="vggish").fit(waves)
    S = spec.transform(waves)
    emb = CNNEmbedder("vggish", weights=None, spectrogram_shape=spec.spectrogram_shape_,
                      random_state=0).fit(S)
    patches, n_patches = _vggish.to_patches(S.reshape(2, *spec.spectrogram_shape_))
    assert n_patches == 2  # 98 frames
    np.testing.assert_array_equal(patches[0, :, :, 0], S.reshape(2, 64, 98)[0, :, :96].T)
    direct = emb.model_(patches).numpy().reshape(2, 2, 512).mean(axis=1)
    np.testing.assert_allclose(emb.transform(S), direct, rtol=1e-5, atol=1e-6)
