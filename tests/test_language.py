"""The frozen sentence encoder: the project's own MiniLM forward pass against sentence-transformers'
embeddings of the same packaged model (recorded in tests/data), padding-invariance and caching."""
from pathlib import Path

import numpy as np

from anypolicy.hierarchy.language import CachedEncoder, MiniLMEncoder

REFERENCE = Path(__file__).parent / "data" / "minilm_reference.npz"


def test_minilm_matches_sentence_transformers():
    ref = np.load(REFERENCE)
    encoder = MiniLMEncoder()
    out = encoder.encode(list(ref["sentences"]))
    assert out.shape == (len(ref["sentences"]), 384) and encoder.dim == 384
    np.testing.assert_allclose(out, ref["embeddings"], atol=1e-5)
    # a sentence's embedding does not depend on the others in its batch (padding is masked out)
    alone = encoder.encode([str(ref["sentences"][0])])
    np.testing.assert_allclose(alone[0], out[0], atol=1e-5)
    # paraphrases sit closer than different tasks
    sims = out @ out.T
    assert sims[0, 1] > sims[0, 5] and sims[3, 4] > sims[3, 5]


def test_cached_encoder_embeds_each_sentence_once():
    calls = []

    class Counting:
        dim = 2

        def encode(self, sentences):
            calls.append(list(sentences))
            return np.array([[len(s), 1.0] for s in sentences], np.float32)

    cached = CachedEncoder(Counting())
    a = cached.encode(["open the drawer", "lock the window", "open the drawer"])
    b = cached.encode(["lock the window"])
    assert calls == [["lock the window", "open the drawer"]]
    assert np.array_equal(a[0], a[2]) and np.array_equal(b[0], a[1])
