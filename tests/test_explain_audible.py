import numpy as np
import pytest
import soundfile

from sklearn_rbfm import SpectrogramTransformer
from sklearn_rbfm.explain import audible_heatmap

SR = 8000


def two_tones():
    """500 Hz in the first half second, 2 kHz in the second."""
    t = np.arange(SR) / SR
    y = np.where(t < 0.5, np.sin(2 * np.pi * 500 * t), np.sin(2 * np.pi * 2000 * t))
    return y.astype(np.float32)


def energy(x, start, stop):
    return float(np.sum(x[start:stop].astype(np.float64) ** 2))


def test_energy_follows_relevance_in_time():
    y = two_tones()
    n_frames = 1 + SR // 128
    first = np.zeros((257, n_frames))
    first[:, : n_frames // 2 - 2] = 1.0
    out = audible_heatmap(y, first, SR, n_fft=512, hop_length=128)
    assert out.shape == y.shape and out.dtype == np.float32
    assert energy(out, 0, 3500) > 100 * energy(out, 4500, SR)
    # the kept half comes back almost unchanged
    np.testing.assert_allclose(out[500:3000], y[500:3000], atol=1e-3)
    second = first[:, ::-1]
    out = audible_heatmap(y, second, SR, n_fft=512, hop_length=128)
    assert energy(out, 4500, SR) > 100 * energy(out, 0, 3500)


def test_energy_follows_mel_relevance_in_frequency(tmp_path):
    y = two_tones()
    spec = SpectrogramTransformer("mel", sr=SR, n_fft=512, hop_length=128,
                                  n_mels=32).fit(y[None])
    n_mels, n_frames = spec.spectrogram_shape_
    low = np.zeros((n_mels, n_frames))
    low[: n_mels // 2] = 1.0  # relevance on the lower bands only (< ~1.2 kHz)
    path = tmp_path / "heatmap.wav"
    out = audible_heatmap(y, low.ravel(), SR, spectrogram=spec, path=path)
    assert energy(out, 500, 3500) > 50 * energy(out, 4500, 7500)
    written, sr = soundfile.read(path, dtype="float32")
    assert sr == SR and written.shape == y.shape
    np.testing.assert_allclose(written, out)


def test_waveform_relevance_is_returned_at_the_clip_level():
    y = two_tones()
    R = np.zeros_like(y)
    R[:100] = np.linspace(0, 3, 100)
    out = audible_heatmap(y, R, SR)
    np.testing.assert_allclose(np.abs(out).max(), np.abs(y).max(), rtol=1e-6)
    np.testing.assert_allclose(out / out.max(), R / R.max(), rtol=1e-6)


def test_errors():
    y = two_tones()
    with pytest.raises(ValueError, match="one clip"):
        audible_heatmap(np.stack([y, y]), np.ones((257, 63)), SR)
    with pytest.raises(ValueError, match="NaN"):
        audible_heatmap(y, np.full((257, 63), np.nan), SR)
    with pytest.raises(ValueError, match=r"\(n_freq, n_frames\)"):
        audible_heatmap(y, np.ones(10), SR)
    spec = SpectrogramTransformer("mel", sr=SR, n_fft=512, hop_length=128, n_mels=32)
    with pytest.raises(ValueError, match="fitted SpectrogramTransformer"):
        audible_heatmap(y, np.ones((32, 63)), SR, spectrogram=spec)
    spec.fit(y[None])
    with pytest.raises(ValueError, match="relevance has shape"):
        audible_heatmap(y, np.ones((31, 63)), SR, spectrogram=spec)


def test_vggish_frames_are_placed_where_they_were_computed():
    # VGGish frame t is the 400 samples from t * 160 (16 kHz, not centred):
    # the published framing, independent of the transformer's attributes.
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(16000)).astype(np.float32)
    spec = SpectrogramTransformer().fit(y[None])
    R = np.zeros(spec.spectrogram_shape_)
    t = 40
    R[:, t] = 1.0
    out = audible_heatmap(y, R, 16000, spectrogram=spec).astype(np.float64)
    power = out**2
    start, stop = t * 160, t * 160 + 400
    assert power[start:stop].sum() > 0.99 * power.sum()
    centroid = (np.arange(len(out)) * power).sum() / power.sum()
    assert abs(centroid - (start + 200)) < 10  # a centred STFT would put it near 6344
    # the last frame the transformer computed (its window ends at the last
    # sample) is heard too
    last = spec.spectrogram_shape_[1] - 1
    R[:] = 0.0
    R[:, last] = 1.0
    out = audible_heatmap(y, R, 16000, spectrogram=spec)
    assert energy(out, last * 160, last * 160 + 400) > 0.99 * energy(out, 0, 16000) > 0


def test_int16_pcm_is_scaled_like_soundfile_reads_it(tmp_path):
    y = two_tones() * 0.5
    pcm = np.round(y * 32767).astype(np.int16)
    R = np.ones((257, 63))
    from_int = audible_heatmap(pcm, R, SR, n_fft=512, hop_length=128)
    from_float = audible_heatmap(pcm / 32768.0, R, SR, n_fft=512, hop_length=128)
    np.testing.assert_allclose(from_int, from_float, atol=1e-6)
    assert 0.45 < np.abs(from_int).max() < 0.55
    R_wave = np.abs(pcm).astype(np.float64)
    np.testing.assert_allclose(np.abs(audible_heatmap(pcm, R_wave, SR)).max(),
                               np.abs(pcm).max() / 32768.0, rtol=1e-6)


def test_transposed_relevance_is_refused_naming_both_shapes():
    y = two_tones()
    with pytest.raises(ValueError, match=r"\(63, 257\).*transposed.*\(257, 63\)"):
        audible_heatmap(y, np.ones((63, 257)), SR, n_fft=512, hop_length=128)
    spec = SpectrogramTransformer("mel", sr=SR, n_fft=512, hop_length=128,
                                  n_mels=32).fit(y[None])
    with pytest.raises(ValueError, match=r"\(63, 32\).*\(32, 63\).*transposed"):
        audible_heatmap(y, np.ones((63, 32)), SR, spectrogram=spec)
    with pytest.raises(ValueError, match="one clip at a time"):
        audible_heatmap(y, np.ones((2, 32 * 63)), SR, spectrogram=spec)
    with pytest.raises(ValueError, match="sr=16000 but .* sr=8000"):
        audible_heatmap(y, np.ones((32, 63)), 16000, spectrogram=spec)


def test_bad_parameters_name_the_parameter(tmp_path):
    y = two_tones()
    R = np.ones((257, 63))
    with pytest.raises(ValueError, match="'sr' parameter of audible_heatmap"):
        audible_heatmap(y, R, 0, path=tmp_path / "x.wav")
    with pytest.raises(ValueError, match="'n_fft' parameter of audible_heatmap"):
        audible_heatmap(y, R, SR, n_fft=0)
    with pytest.raises(ValueError, match="n_fft // 4 = 0"):
        audible_heatmap(y, R, SR, n_fft=2)
    missing = tmp_path / "missing" / "x.wav"
    with pytest.raises(FileNotFoundError, match="folder .*missing.* does not exist"):
        audible_heatmap(y, R, SR, n_fft=512, hop_length=128, path=missing)
    with pytest.raises(ValueError, match="waveform must hold audio samples"):
        audible_heatmap(np.array(["a"] * 100), np.ones(100), SR)
