import pickle

import joblib
import librosa
import numpy as np
import pytest
import scipy.signal
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sklearn_rbfm import SpectrogramTransformer


@pytest.fixture(scope="module")
def waves():
    rng = np.random.default_rng(0)
    return (0.1 * rng.standard_normal((6, 16000))).astype(np.float32)


def _published_vggish(y):
    """VGGish's mel_features.log_mel_spectrogram, written out for one clip.

    Written from the published definition (tensorflow/models,
    research/audioset/vggish): 25 ms periodic Hann windows every 10 ms, no
    padding, |rfft| of length 512, HTK mel 1127 ln(1 + f / 700), 64 bands
    between 125 and 7500 Hz, DC bin weight zero, log(mel + 0.01).
    """
    win, hop, n_fft, sr = 400, 160, 512, 16000
    n_frames = 1 + (len(y) - win) // hop
    window = 0.5 - 0.5 * np.cos(2 * np.pi / win * np.arange(win))
    mag = np.array(
        [np.abs(np.fft.rfft(y[t * hop : t * hop + win] * window, n_fft))
         for t in range(n_frames)]
    )
    hz_to_mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)  # noqa: E731
    bins_mel = hz_to_mel(np.linspace(0, sr / 2, n_fft // 2 + 1))
    edges = np.linspace(hz_to_mel(125.0), hz_to_mel(7500.0), 66)
    weights = np.empty((n_fft // 2 + 1, 64))
    for i in range(64):
        lo, c, hi = edges[i : i + 3]
        weights[:, i] = np.maximum(
            0.0, np.minimum((bins_mel - lo) / (c - lo), (hi - bins_mel) / (hi - c))
        )
    weights[0, :] = 0.0
    return np.log(mag @ weights + 0.01).T  # (64, n_frames)


def test_vggish_matches_published_front_end(waves):
    spec = SpectrogramTransformer().fit(waves)
    assert spec.spectrogram_shape_ == (64, 98)  # 1 + (16000 - 400) // 160
    out = spec.transform(waves)
    assert out.dtype == np.float32 and out.shape == (6, 64 * 98)
    for i in (0, 5):
        ref = _published_vggish(waves[i].astype(np.float64))
        np.testing.assert_allclose(out[i].reshape(64, 98), ref, atol=2e-4)


def test_vggish_window_is_periodic_hann():
    from sklearn_rbfm._spectrogram import periodic_hann

    np.testing.assert_allclose(
        periodic_hann(400), scipy.signal.get_window("hann", 400), atol=1e-12
    )


def test_vggish_hop_and_no_centre_padding():
    # an impulse at sample s lies in frame t iff 160 t < s < 160 t + 400
    s = 1000
    y = np.zeros((1, 4000), dtype=np.float32)
    y[0, s] = 1.0
    out = SpectrogramTransformer().fit(y).transform(y).reshape(64, -1)
    lit = np.flatnonzero((out > np.log(0.01) + 1e-6).any(axis=0))
    assert lit.tolist() == [t for t in range(out.shape[1]) if 160 * t < s < 160 * t + 400]


def test_vggish_band_edges_and_tone_peak():
    from sklearn_rbfm._spectrogram import vggish_mel_matrix

    weights = vggish_mel_matrix(257)
    freqs = np.linspace(0, 8000, 257)
    used = freqs[weights.any(axis=0)]
    assert used.min() > 125.0 and used.max() < 7500.0
    assert weights[:, 0].sum() == 0.0
    # a 1 kHz tone peaks in the band whose HTK centre is nearest to 1 kHz
    mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)  # noqa: E731
    centres_mel = np.linspace(mel(125.0), mel(7500.0), 66)[1:-1]
    expected = int(np.argmin(np.abs(centres_mel - mel(1000.0))))
    t = np.arange(16000) / 16000
    y = np.sin(2 * np.pi * 1000.0 * t)[None].astype(np.float32)
    out = SpectrogramTransformer().fit(y).transform(y).reshape(64, -1)
    assert int(np.argmax(out.mean(axis=1))) == expected


def test_vggish_resamples_to_16k():
    t = np.arange(8000) / 8000
    y = np.sin(2 * np.pi * 440.0 * t)[None].astype(np.float32)
    spec = SpectrogramTransformer(sr=8000).fit(y)
    assert spec.spectrogram_shape_ == (64, 98)
    y16 = librosa.resample(y, orig_sr=8000, target_sr=16000, axis=-1)
    ref = SpectrogramTransformer().fit(y16).transform(y16)
    np.testing.assert_allclose(spec.transform(y), ref, atol=1e-5)


def test_vggish_rejects_custom_stft_parameters(waves):
    with pytest.raises(ValueError, match="kind='vggish' fixes .*n_fft, n_mels"):
        SpectrogramTransformer(n_fft=1024, n_mels=32).fit(waves)
    with pytest.raises(ValueError, match="log was set"):
        SpectrogramTransformer(log=None).fit(waves)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"n_fft": 512, "win_length": 400, "hop_length": 160, "n_mels": 64},
        {"n_fft": 511, "win_length": 300, "hop_length": 100, "n_mels": 40,
         "fmin": 50.0, "fmax": 6000.0, "power": 1.0, "center": False},
    ],
)
def test_mel_equals_librosa(waves, params):
    out = SpectrogramTransformer("mel", log=None, **params).fit(waves).transform(waves)
    ref = librosa.feature.melspectrogram(y=waves, sr=16000, **params)
    np.testing.assert_allclose(
        out, ref.reshape(len(waves), -1), rtol=1e-4, atol=1e-6 * np.abs(ref).max()
    )


def test_power_and_db_equal_librosa(waves):
    params = {"n_fft": 256, "hop_length": 128}
    spec = SpectrogramTransformer("power", **params).fit(waves)
    assert spec.spectrogram_shape_ == (129, 1 + 16000 // 128)
    stft = np.abs(librosa.stft(waves, **params)) ** 2
    ref = librosa.power_to_db(stft, ref=1.0, amin=1e-10, top_db=None)
    np.testing.assert_allclose(spec.transform(waves), ref.reshape(6, -1), rtol=1e-3, atol=1e-3)
    mag = SpectrogramTransformer("power", power=1.0, **params).fit(waves)
    ref = librosa.amplitude_to_db(np.sqrt(stft), ref=1.0, amin=1e-5, top_db=None)
    np.testing.assert_allclose(mag.transform(waves), ref.reshape(6, -1), rtol=1e-3, atol=1e-3)


def test_top_db_floors_each_clip_below_its_own_peak(waves):
    params = {"n_fft": 256, "hop_length": 128}
    # speech-like: a tone in the first half, digital silence after it
    t = np.arange(16000) / 16000
    clip = np.where(t < 0.5, 0.5 * np.sin(2 * np.pi * 440 * t), 0.0).astype(np.float32)
    X = np.vstack([clip, 0.01 * clip, waves[0]])
    raw = SpectrogramTransformer("power", **params).fit_transform(X)
    out = SpectrogramTransformer("power", top_db=60, **params).fit_transform(X)
    power = np.abs(librosa.stft(X, **params)) ** 2
    ref = [librosa.power_to_db(p, ref=1.0, amin=1e-10, top_db=60).ravel() for p in power]
    np.testing.assert_allclose(out, np.stack(ref), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(out.min(axis=1), out.max(axis=1) - 60, atol=1e-4)
    # a copy 40 dB quieter is the same spectrogram shifted by -40 dB,
    # silence included; without the floor its silence stays at -100 dB
    np.testing.assert_allclose(out[1], out[0] - 40, atol=0.05)
    assert raw[0].min() == raw[1].min() == pytest.approx(-100)
    # padding frames are floored like the clip's own silence
    padded = SpectrogramTransformer("power", top_db=60, n_frames=200, **params)
    wide = padded.fit_transform(X).reshape(3, 129, 200)
    floor = np.broadcast_to((out.max(axis=1) - 60)[:, None, None], wide[:, :, 126:].shape)
    np.testing.assert_allclose(wide[:, :, 126:], floor, atol=1e-4)
    mel = SpectrogramTransformer("mel", n_fft=256, n_mels=40, top_db=30).fit_transform(X)
    np.testing.assert_allclose(mel.min(axis=1), mel.max(axis=1) - 30, atol=1e-4)


def test_top_db_needs_decibels(waves):
    with pytest.raises(ValueError, match="top_db=60 floors decibels, but log=None"):
        SpectrogramTransformer("power", log=None, top_db=60).fit(waves)
    with pytest.raises(ValueError, match="top_db=60 floors decibels, but log=0.5"):
        SpectrogramTransformer("mel", log=0.5, top_db=60).fit(waves)
    with pytest.raises(ValueError, match="kind='vggish' fixes .*top_db"):
        SpectrogramTransformer(top_db=60).fit(waves)
    with pytest.raises(ValueError, match="top_db"):
        SpectrogramTransformer("power", top_db=0).fit(waves)


def test_log_offset(waves):
    lin = SpectrogramTransformer("mel", n_fft=256, n_mels=40, log=None).fit_transform(waves)
    logged = SpectrogramTransformer("mel", n_fft=256, n_mels=40, log=0.5).fit_transform(waves)
    np.testing.assert_allclose(logged, np.log(lin + 0.5), rtol=1e-5, atol=1e-6)


def test_playback_rate_scales_apparent_frequency():
    sr, f0 = 2000, 100.0
    y = np.sin(2 * np.pi * f0 * np.arange(2 * sr) / sr)[None].astype(np.float32)
    spec = SpectrogramTransformer("power", sr=sr, n_fft=256, playback_rate=8.0, log=None)
    out = spec.fit(y).transform(y).reshape(129, -1)
    # 100 Hz replayed 8x faster sounds at 800 Hz; bins span 0..8 kHz apparent
    peak_hz = np.argmax(out.sum(axis=1)) * (sr * 8.0 / 2) / 128
    assert abs(peak_hz - 8 * f0) <= 8000 / 128
    mel = SpectrogramTransformer("mel", sr=sr, n_fft=256, n_mels=40, playback_rate=8.0)
    np.testing.assert_allclose(
        mel.fit(y).mel_basis_, librosa.filters.mel(sr=16000, n_fft=256, n_mels=40)
    )
    # VGGish then sees the 16 kHz apparent rate: no resampling needed
    vgg = SpectrogramTransformer(sr=sr, playback_rate=8.0).fit(y)
    assert vgg.spectrogram_shape_ == (64, 1 + (4000 - 400) // 160)


def test_n_frames_pads_with_silence_and_crops(waves):
    full = SpectrogramTransformer(n_frames=None).fit(waves).transform(waves)
    long = SpectrogramTransformer(n_frames=120).fit(waves)
    assert long.spectrogram_shape_ == (64, 120)
    out = long.transform(waves).reshape(6, 64, 120)
    np.testing.assert_array_equal(out[:, :, :98], full.reshape(6, 64, 98))
    np.testing.assert_allclose(out[:, :, 98:], np.log(0.01))
    short = SpectrogramTransformer(n_frames=10).fit(waves).transform(waves)
    np.testing.assert_array_equal(short.reshape(6, 64, 10), full.reshape(6, 64, 98)[:, :, :10])
    # clips of different lengths, same width
    other = SpectrogramTransformer(n_frames=120).fit(waves[:, :9000]).transform(waves[:, :9000])
    assert other.shape == (6, 64 * 120)


def test_feature_names_and_set_output(waves):
    spec = SpectrogramTransformer("mel", n_fft=256, n_mels=4, n_frames=3).fit(waves)
    names = spec.get_feature_names_out()
    assert names.tolist() == [f"f{i}_t{j}" for i in range(4) for j in range(3)]
    pd = pytest.importorskip("pandas")
    df = spec.set_output(transform="pandas").transform(waves)
    assert isinstance(df, pd.DataFrame) and list(df.columns) == names.tolist()


def test_bad_input_names_the_clip(waves):
    spec = SpectrogramTransformer().fit(waves)
    bad = waves.copy()
    bad[4, 123] = np.inf
    with pytest.raises(ValueError, match="clip 4 contains NaN or infinite samples .*sample 123"):
        spec.transform(bad)
    with pytest.raises(ValueError, match="399 samples .*at least 400"):
        SpectrogramTransformer().fit(waves[:, :399])
    with pytest.raises(ValueError, match="expecting 16000 features"):
        spec.transform(waves[:, :8000])
    with pytest.raises(ValueError, match="fmin < fmax <= 8000"):
        SpectrogramTransformer("mel", fmax=9000.0).fit(waves)
    with pytest.raises(ValueError, match="n_mels, fmax only apply to kind='mel'"):
        SpectrogramTransformer("power", n_mels=20, fmax=4000.0).fit(waves)
    with pytest.raises(ValueError, match="win_length=600 is longer than n_fft=512"):
        SpectrogramTransformer("mel", n_fft=512, win_length=600).fit(waves)


def test_integer_pcm_is_scaled_by_its_full_scale(waves):
    # soundfile's own reading of the same WAV as int16 and as float is the
    # independent reference for the full scale.
    import io

    import soundfile

    buf = io.BytesIO()
    soundfile.write(buf, waves[0], 16000, subtype="PCM_16", format="WAV")
    as_int = soundfile.read(io.BytesIO(buf.getvalue()), dtype="int16")[0]
    as_float = soundfile.read(io.BytesIO(buf.getvalue()), dtype="float32")[0]
    spec = SpectrogramTransformer("mel", n_fft=256, n_mels=40, log=None)
    np.testing.assert_allclose(
        spec.fit_transform(as_int[None]), spec.fit_transform(as_float[None]), rtol=1e-5
    )
    int32 = as_int.astype(np.int32) << 16
    np.testing.assert_allclose(
        spec.transform(int32[None]), spec.transform(as_float[None]), rtol=1e-5
    )
    unsigned = (np.array([[0, 64, 128, 192, 255] * 100])).astype(np.uint8)
    flat = SpectrogramTransformer("power", n_fft=4, log=None).fit(unsigned)
    np.testing.assert_allclose(
        flat.transform(unsigned), flat.transform((unsigned - 128.0) / 128.0), rtol=1e-6
    )
    with pytest.raises(TypeError, match="int64, which is not a PCM sample format"):
        spec.fit(as_int[None].astype(np.int64))


def test_strings_are_refused_naming_x():
    X = np.array([["0.1"] * 300 + ["loud"] * 300])
    with pytest.raises(ValueError, match="X must hold audio samples.*'loud'"):
        SpectrogramTransformer("mel", n_fft=256).fit(X)


def test_geometry_attributes_describe_the_frames_and_bands(waves):
    vggish = SpectrogramTransformer().fit(waves)
    assert (vggish.stft_sr_, vggish.n_fft_, vggish.win_length_, vggish.hop_length_) == (
        16000.0, 512, 400, 160,
    )
    assert vggish.center_ is False and vggish.resampled_from_ is None
    # a VGGish frame starts at t * 10 ms and its 25 ms window is centred 12.5 ms later
    np.testing.assert_allclose(vggish.frame_times_[:3], [0.0125, 0.0225, 0.0325])
    # the band centres are the peaks of the mel filters
    peaks = np.fft.rfftfreq(512, 1 / 16000)[vggish.mel_basis_.argmax(axis=1)]
    assert np.abs(vggish.frequencies_ - peaks).max() <= 16000 / 512
    assert np.all(np.diff(np.diff(vggish.frequencies_)) > -1e-6)  # wider at the top
    eight_k = SpectrogramTransformer(playback_rate=2.0, sr=8000).fit(waves[:, :8000])
    assert eight_k.resampled_from_ is None and eight_k.stft_sr_ == 16000.0
    resampled = SpectrogramTransformer(sr=22050).fit(waves)
    assert resampled.resampled_from_ == 22050.0

    mel = SpectrogramTransformer("mel", sr=8000, n_fft=256, hop_length=64, n_mels=20,
                                 fmin=100.0, fmax=3000.0).fit(waves)
    assert mel.center_ is True and mel.win_length_ == 256
    np.testing.assert_allclose(mel.frame_times_[:3], [0.0, 0.008, 0.016])
    np.testing.assert_allclose(
        mel.frequencies_,
        librosa.mel_frequencies(n_mels=22, fmin=100.0, fmax=3000.0)[1:-1],
    )
    # the band frequencies are where librosa's filters peak
    bins = np.fft.rfftfreq(256, 1 / 8000)
    assert np.abs(bins[mel.mel_basis_.argmax(axis=1)] - mel.frequencies_).max() <= 8000 / 256
    np.testing.assert_allclose(mel.window_, scipy.signal.get_window("hann", 256), atol=1e-12)

    short = SpectrogramTransformer("power", sr=8000, n_fft=256, win_length=128,
                                   center=False, playback_rate=4.0).fit(waves)
    np.testing.assert_allclose(short.frequencies_, np.fft.rfftfreq(256, 1 / 32000))
    # hop 32 (win_length // 4); the 128-sample window sits 64 samples into each
    # 256-sample frame; times are in the recording's seconds
    np.testing.assert_allclose(short.frame_times_[1], (32 + 64 + 64) / 32000 * 4.0)
    assert short.frame_times_.shape == (short.spectrogram_shape_[1],)
    stft = librosa.stft(waves[0].astype(np.float64), n_fft=256, hop_length=short.hop_length_,
                        window=short.window_, center=short.center_)
    np.testing.assert_allclose(
        short.to_3d(short.transform(waves[:1]))[0],
        10 * np.log10(np.maximum(np.abs(stft) ** 2, 1e-10)), rtol=1e-4, atol=1e-3,
    )


def test_to_3d_and_reshape_spectrograms_round_trip(waves):
    from sklearn_rbfm.utils import reshape_spectrograms

    spec = SpectrogramTransformer().fit(waves)
    flat = spec.transform(waves)
    cube = spec.to_3d(flat)
    assert cube.shape == (6, 64, 98)
    assert cube[2, 5, 7] == flat[2, 5 * 98 + 7]
    np.testing.assert_array_equal(reshape_spectrograms(cube, spec, flat=True), flat)
    np.testing.assert_array_equal(reshape_spectrograms(flat[0], (64, 98))[0], cube[0])
    with pytest.raises(ValueError, match=r"transposed.*\(n_freq, n_frames\)"):
        reshape_spectrograms(cube.transpose(0, 2, 1), spec)
    with pytest.raises(ValueError, match="flat rows of 6272 values"):
        spec.to_3d(flat[:, :-1])


def test_batched_equals_per_clip_and_parallel_fft(waves):
    spec = SpectrogramTransformer().fit(waves)
    whole = spec.transform(waves)
    one_by_one = np.vstack([spec.transform(waves[i : i + 1]) for i in range(6)])
    # equal up to BLAS blocking, which depends on the number of rows
    np.testing.assert_allclose(whole, one_by_one, rtol=1e-5, atol=1e-6)
    threaded = clone(spec).set_params(n_jobs=2).fit(waves).transform(waves)
    np.testing.assert_allclose(whole, threaded, rtol=1e-5, atol=1e-6)


def test_clone_pickle_joblib_pipeline(waves, tmp_path):
    spec = SpectrogramTransformer("mel", n_fft=256, n_mels=16).fit(waves)
    expected = spec.transform(waves)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(spec)).transform(waves), expected)
    joblib.dump(spec, tmp_path / "spec.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "spec.joblib").transform(waves), expected)
    np.testing.assert_array_equal(clone(spec).fit_transform(waves), expected)
    y = np.array([0, 1, 0, 1, 0, 1])
    pipe = make_pipeline(
        SpectrogramTransformer("mel", n_fft=256, n_mels=8), LogisticRegression()
    ).fit(waves, y)
    assert pipe.predict(waves).shape == (6,)
    assert pipe[0].n_features_in_ == 16000
