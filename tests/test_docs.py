"""Keep the user guide honest: its code must run and its references must resolve.

- Every fenced block opened with ```` ```python ```` in ``docs/**/*.md`` is run;
  the blocks of one page run in order in one namespace (one test per page), from
  a temporary working directory (examples may write files such as
  ``router.joblib``). Blocks that must not run here (e.g. those reading the
  shared RouterBench data, which is not part of the repository) use the fence
  ```` ```python-skip ````; ``text``, ``bash`` and ``console`` blocks are never run.
- Any other fence language is an error, so that a typo such as ```` ```pyhton ````
  cannot silently turn an example off.
- A ``Name(...)`` signature at the start of a line of a ```` ```text ```` block,
  where ``Name`` is a public function or class, must match the code.
- Relative links between pages must point to existing files.
"""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"

#: Fence languages the guide may use; only ``python`` is executed.
RUN = "python"
ALLOWED = {RUN, "python-skip", "text", "bash", "console", ""}

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[^`\s]*)\s*$")


def _pages():
    return sorted(DOCS.rglob("*.md"))


def _blocks(path):
    """``(language, first_line, source)`` of every fenced block of a page."""
    blocks = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = len(m["indent"]), m["lang"], i + 1
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^ *```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{path.relative_to(DOCS)}:{start}: unclosed code fence")
        blocks.append((lang, start, "\n".join(body) + "\n"))
        i += 1
    return blocks


def _page_id(path):
    return str(path.relative_to(DOCS))


def _public_objects():
    import sklearn_causal_routing as scr
    from sklearn_causal_routing import baselines, datasets, metrics

    found = {}
    for module in (scr, baselines, datasets, metrics):
        for name in getattr(module, "__all__", []):
            found[name] = getattr(module, name)
    return found


def _signatures(text):
    """``(name, "(args)")`` for each ``Name(args)`` that starts a line of ``text``."""
    out = []
    for m in re.finditer(r"^([A-Za-z_]\w*)\(", text, flags=re.M):
        depth, j = 0, m.end() - 1
        for j in range(m.end() - 1, len(text)):
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            if depth == 0:
                break
        out.append((m.group(1), text[m.end() - 1 : j + 1]))
    return out


@pytest.fixture
def fresh_session():
    """Run a page as a reader would: empty utility cache, one torch thread.

    Each page starts with (and leaves behind) an empty cache of fitted utility
    stages, so that pages neither depend on nor affect other tests. Tiny MLPs
    train faster on one thread than on two contended ones.
    """
    import torch

    from sklearn_causal_routing import clear_utility_cache

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    clear_utility_cache()
    yield
    clear_utility_cache()
    torch.set_num_threads(threads)


def test_docs_exist():
    assert (DOCS / "index.md").is_file(), "docs/index.md is missing"
    assert any(lang == RUN for p in _pages() for lang, _, _ in _blocks(p))


@pytest.mark.parametrize("page", _pages(), ids=_page_id)
def test_fence_languages(page):
    for lang, line, _ in _blocks(page):
        assert lang in ALLOWED, (
            f"{_page_id(page)}:{line}: code fence language {lang!r} is not one of "
            f"{sorted(ALLOWED)}; use 'python' (run by this test) or 'python-skip'."
        )


def _anchors(path):
    """GitHub-style anchors of the headings of a page."""
    text = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    anchors = set()
    for heading in re.findall(r"^#+\s+(.*?)\s*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("page", _pages(), ids=_page_id)
def test_relative_links(page):
    text = page.read_text(encoding="utf-8")
    for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", text):
        if "://" in target or target.startswith("mailto:"):
            continue
        path = (page.parent / target) if target else page
        assert path.exists(), f"{_page_id(page)}: link to {target!r}, which does not exist"
        if anchor and path.suffix == ".md":
            assert anchor in _anchors(path), (
                f"{_page_id(page)}: link to {target}#{anchor}, but {path.name} has no "
                f"heading with that anchor"
            )


@pytest.mark.parametrize("page", _pages(), ids=_page_id)
def test_signatures(page):
    """Signatures shown in ```text blocks must match the code."""
    import inspect

    public = _public_objects()
    norm = lambda s: re.sub(r"\s+", "", s).replace("'", '"')  # noqa: E731
    for lang, line, src in _blocks(page):
        if lang != "text":
            continue
        for name, shown in _signatures(src):
            if name not in public:
                continue
            actual = str(inspect.signature(public[name]))
            assert norm(shown) == norm(actual), (
                f"{_page_id(page)}:{line}: the documented signature {name}{shown} "
                f"differs from the code's {name}{actual}"
            )


@pytest.mark.parametrize("page", _pages(), ids=_page_id)
def test_page_code_runs(page, tmp_path, monkeypatch, fresh_session):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs.{_page_id(page)}"}
    blocks = [(line, src) for lang, line, src in _blocks(page) if lang == RUN]
    if not blocks:
        pytest.skip(f"{_page_id(page)} has no ```python blocks")
    for line, src in blocks:
        # pad with blank lines so that tracebacks give the line numbers of the page
        code = compile("\n" * line + src, f"docs/{_page_id(page)}", "exec")
        try:
            exec(code, namespace)
        except Exception as exc:
            raise AssertionError(
                f"the ```python block at docs/{_page_id(page)}, line {line}, failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
