"""Execute the code of the user guide, so that broken documentation fails CI.

Every fenced block opened with ```` ```python ```` in ``docs/**/*.md`` is run;
the blocks of one page run in order in one namespace (one test per page), from
a temporary working directory (examples may write files such as
``router.joblib``). Blocks that must not run here (e.g. those reading the
shared RouterBench data, which is not part of the repository) use the fence
```` ```python-skip ````; ``text``, ``bash`` and ``console`` blocks are never
run. Any other fence language is an error, so that a typo such as
```` ```pyhton ```` cannot silently turn an example off.
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


@pytest.fixture
def single_torch_thread():
    """Tiny MLPs train faster on one thread than on two contended ones."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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


@pytest.mark.parametrize("page", _pages(), ids=_page_id)
def test_relative_links(page):
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (page.parent / target).exists(), (
            f"{_page_id(page)}: link to {target!r}, which does not exist"
        )


@pytest.mark.parametrize("page", _pages(), ids=_page_id)
def test_page_code_runs(page, tmp_path, monkeypatch, single_torch_thread):
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
