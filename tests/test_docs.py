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
- Every output shown in ``README.md``, ``examples/README.md`` and ``docs/**/*.md`` is
  produced by this test and fails it when it drifts (see "Shown outputs" below).

Shown outputs
-------------
A fenced block that shows what a command or code prints is declared by an HTML comment
on the line just before its opening fence (invisible on GitHub):

``<!-- output: COMMAND -->``
    The block is the standard output of the shell command ``COMMAND``, run in the
    page's temporary working directory after the page's earlier ``run`` blocks and
    ``output`` commands (so it sees the files they made).
``<!-- output: the python block above -->``
    The block is what the page's previous ```` ```python ```` block printed (docs pages
    only, where python blocks run).
``<!-- run -->``
    Before a ```` ```bash ```` block: its commands are run, in order, to make the inputs
    of the page's later outputs; each must exit with status 0. Their output is not shown.

Commands that start with ``sklearn-causal-routing`` (the console script) or
``python -m MODULE`` and use no shell operator other than a final ``> FILE`` run in the
test's own process (the console script's function, or the module's source as
``__main__``; it saves an interpreter start-up, several seconds, per command); anything
else runs under ``bash`` with this environment's ``bin`` first on ``PATH``. Everything
runs on one thread (``OMP_NUM_THREADS=1``, ``torch.set_num_threads(1)``), so that seeded
numbers repeat.

The comparison is exact, line by line, after removing trailing whitespace, leading and
trailing blank lines, and writing the temporary working directory as ``.``. The only
wildcard is the ellipsis, for what must vary (timings):

- ``...`` inside a line matches any text within that line (possibly none);
- a line that is ``...`` alone matches any number of whole lines (possibly none).

To regenerate the blocks after a deliberate change, run
``SCR_UPDATE_DOCS=1 pytest tests/test_docs.py -k output``: each block that no longer
matches is rewritten with what was printed, keeping its expected lines that still match
(so most ``...`` survive); review the diff, re-add ``...`` where a timing shows, and run
the test again (it fails while it rewrites).
"""

import contextlib
import io
import os
import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: Fence languages the guide may use; only ``python`` is executed.
RUN = "python"
ALLOWED = {RUN, "python-skip", "text", "bash", "console", ""}

_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[^`\s]*)\s*$")
#: An HTML comment that declares a shown output or a setup block (module docstring).
_MARKER = re.compile(r"^\s*<!--\s*(?P<kind>output|run)\b(?P<rest>.*?)-->\s*$")
PYTHON_ABOVE = "the python block above"
#: Pages whose shown outputs are checked, besides ``docs/**/*.md``.
OUTPUT_PAGES = [ROOT / "README.md", ROOT / "examples" / "README.md"]
UPDATE = os.environ.get("SCR_UPDATE_DOCS") == "1"


class Block(NamedTuple):
    lang: str
    line: int                   # 1-based line of the opening fence
    source: str                 # the body, de-indented, ending with a newline
    marker: tuple | None        # ("output", COMMAND) or ("run", "") from the line before
    marker_line: int | None


def _pages():
    return sorted(DOCS.rglob("*.md"))


def _output_pages():
    return [p for p in OUTPUT_PAGES if p.is_file()] + _pages()


def _parse_marker(text):
    m = _MARKER.match(text)
    if not m:
        return None
    kind, rest = m["kind"], m["rest"].strip()
    if kind == "run":
        return ("run", rest)
    return ("output", rest[1:].strip() if rest.startswith(":") else None)


def _blocks(path):
    """Every fenced block of a page, with the marker comment just before it, if any."""
    blocks = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, lang, start = len(m["indent"]), m["lang"], i + 1
        marker = _parse_marker(lines[i - 1]) if i > 0 else None
        body = []
        i += 1
        while i < len(lines) and not re.match(r"^ *```\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{_page_id(path)}:{start}: unclosed code fence")
        blocks.append(Block(lang, start, "\n".join(body) + "\n", marker,
                            start - 1 if marker else None))
        i += 1
    return blocks


def _page_id(path):
    path = Path(path)
    return str(path.relative_to(DOCS if path.is_relative_to(DOCS) else ROOT))


def _page_label(path):
    return str(Path(path).relative_to(ROOT))


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
    assert any(b.lang == RUN for p in _pages() for b in _blocks(p))


@pytest.mark.parametrize("page", _pages(), ids=_page_id)
def test_fence_languages(page):
    for lang, line, *_ in _blocks(page):
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
    for lang, line, src, *_ in _blocks(page):
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


# --- shown outputs ---------------------------------------------------------------------


def _line_pattern(line):
    return "[^\n]*?".join(re.escape(part) for part in line.split("..."))


def _matches(expected, actual):
    """Whether ``actual`` matches ``expected`` under the ellipsis rule (module docstring)."""
    parts = [
        r"(?:[^\n]*\n)*?" if line.strip() == "..." else _line_pattern(line) + r"\n"
        for line in expected.splitlines()
    ]
    return re.fullmatch("".join(parts), actual + "\n" if actual else "") is not None


def _normalise(text, workdir=None):
    """Trailing whitespace, outer blank lines, and the working directory written as ``.``."""
    if workdir is not None:
        text = text.replace(f"{workdir}{os.sep}", "").replace(str(workdir), ".")
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


def _merge(expected, actual):
    """What to write back in update mode: ``actual``, keeping expected lines that match."""
    old = expected.splitlines()
    out = []
    for k, line in enumerate(actual.splitlines()):
        keep = k < len(old) and "..." in old[k] and old[k].strip() != "..."
        out.append(old[k] if keep and _matches(old[k], line) else line)
    return "\n".join(out)


def _rewrite(page, block, new_body):
    """Replace the body of ``block`` in ``page`` (found again by marker and content)."""
    lines = page.read_text(encoding="utf-8").split("\n")
    for b in _blocks(page):
        if b.marker == block.marker and b.source == block.source:
            indent = re.match(r"^ *", lines[b.line - 1]).group()
            end = b.line + len(b.source.splitlines())
            lines[b.line : end] = [indent + x if x else x for x in new_body.splitlines()]
            page.write_text("\n".join(lines), encoding="utf-8")
            return
    raise AssertionError(f"{_page_label(page)}: could not find the block to rewrite")


def _check_output(page, block, actual, what, workdir=None, stderr=""):
    expected = _normalise(block.source)
    actual = _normalise(actual, workdir)
    if _matches(expected, actual):
        return
    where = f"{_page_label(page)}:{block.line}"
    if UPDATE:
        _rewrite(page, block, _merge(expected, actual))
        pytest.fail(f"{where}: rewrote the output of {what}; review the diff", pytrace=False)
    stderr = f"\n--- stderr (last 2000 characters) ---\n{stderr[-2000:]}" if stderr else ""
    pytest.fail(
        f"{where}: the block shown as the output of {what} differs from what it prints "
        f"now (SCR_UPDATE_DOCS=1 rewrites it; see tests/test_docs.py)\n"
        f"--- shown ---\n{expected}\n--- printed ---\n{actual}{stderr}",
        pytrace=False,
    )


_SHELL_OPERATORS = {"|", "||", "&", "&&", ";", "<", ">", ">>", "(", ")", "<<", "2>", "&>"}


def _tokens(command):
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def _console_script(name):
    from importlib.metadata import entry_points

    for ep in entry_points(group="console_scripts", name=name):
        if ep.value.split(".")[0].split(":")[0] == "sklearn_causal_routing":
            return ep.load()
    return None


def _run_module_as_main(module):
    """``python -m module``: its source run as ``__main__`` in its package.

    Not ``runpy.run_module``: that asks the module's loader for its code, and a module
    pytest collected (e.g. for its doctests) has pytest's loader, which cannot say.
    """
    spec = importlib.util.find_spec(module)
    if spec.submodule_search_locations is not None:          # a package: its __main__
        spec = importlib.util.find_spec(f"{module}.__main__")
    code = compile(Path(spec.origin).read_text(encoding="utf-8"), spec.origin, "exec")
    sys.argv[0] = spec.origin
    exec(code, {"__name__": "__main__", "__package__": spec.parent, "__file__": spec.origin,
                "__builtins__": __builtins__})


def _run_in_process(argv, monkeypatch):
    """Run ``argv`` (a console script of ours, or ``python -m MODULE``) here, or None."""
    if argv[:2] == ["python", "-m"] and len(argv) > 2:
        module = argv[2]
        argv = [module, *argv[3:]]

        def target():
            _run_module_as_main(module)

    else:
        main = _console_script(argv[0])
        if main is None:
            return None

        def target():
            sys.exit(main())            # what the console script's wrapper does
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "argv", list(argv))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    rc = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            target()
        except SystemExit as exc:
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return rc, out.getvalue(), err.getvalue()


def _run(command, workdir, monkeypatch):
    """``(status, stdout, stderr)`` of one shell command line run in ``workdir``."""
    tokens = _tokens(command)
    redirect = None
    if len(tokens) > 2 and tokens[-2] == ">":
        tokens, redirect = tokens[:-2], tokens[-1]
    result = None
    if tokens and not _SHELL_OPERATORS.intersection(tokens):
        result = _run_in_process(tokens, monkeypatch)
        if result is not None and redirect is not None:
            (workdir / redirect).write_text(result[1], encoding="utf-8")
            result = (result[0], "", result[2])
    if result is None:
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", NO_COLOR="1")
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        proc = subprocess.run(["bash", "-c", command], cwd=workdir, env=env, text=True,
                              capture_output=True, timeout=600, check=False)
        result = (proc.returncode, proc.stdout, proc.stderr)
    return result


def _commands(script):
    """The command lines of a bash block: continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", script)
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _shell_pages():
    return [
        p for p in _output_pages()
        if any(b.marker and b.marker[1] != PYTHON_ABOVE for b in _blocks(p))
    ]


@pytest.mark.parametrize("page", _output_pages(), ids=_page_label)
def test_output_markers(page):
    """Markers are well formed, sit just before a fence of the right kind, and console
    blocks (sessions, i.e. shown output) always carry one."""
    label = _page_label(page)
    lines = page.read_text(encoding="utf-8").splitlines()
    placed = {b.marker_line for b in _blocks(page) if b.marker}
    for k, line in enumerate(lines, start=1):
        if re.match(r"^\s*<!--\s*(output|run)\b", line):
            assert _parse_marker(line), f"{label}:{k}: malformed marker {line.strip()!r}"
            assert k in placed, (
                f"{label}:{k}: {line.strip()!r} must be on the line just before a code fence"
            )
    seen_python = False
    for b in _blocks(page):
        where = f"{label}:{b.line}"
        if b.marker is None:
            assert b.lang != "console", (
                f"{where}: a ```console block shows output: declare what prints it with "
                f"<!-- output: COMMAND --> on the line before (see tests/test_docs.py)"
            )
        elif b.marker[0] == "run":
            assert b.lang == "bash" and not b.marker[1], (
                f"{where}: <!-- run --> takes no argument and goes before a ```bash block"
            )
        else:
            assert b.marker[1], f"{where}: <!-- output: COMMAND --> needs a command"
            assert b.lang in ("text", "console"), (
                f"{where}: a shown output is a ```text or ```console block, not {b.lang!r}"
            )
            if b.marker[1] == PYTHON_ABOVE:
                assert page.is_relative_to(DOCS) and seen_python, (
                    f"{where}: '{PYTHON_ABOVE}' needs a ```python block above it on a docs "
                    f"page (only those run)"
                )
        seen_python = seen_python or b.lang == RUN


@pytest.mark.parametrize("page", _shell_pages(), ids=_page_label)
def test_shown_command_outputs(page, tmp_path, monkeypatch, fresh_session):
    """Run a page's ``run`` blocks and ``output`` commands in order; compare the outputs."""
    monkeypatch.chdir(tmp_path)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, "1")
    for block in _blocks(page):
        if not block.marker or block.marker[1] == PYTHON_ABOVE:
            continue
        where = f"{_page_label(page)}:{block.line}"
        commands = _commands(block.source) if block.marker[0] == "run" else [block.marker[1]]
        for command in commands:
            rc, out, err = _run(command, tmp_path, monkeypatch)
            assert rc == 0, (
                f"{where}: `{command}` exited with status {rc}\n--- stdout ---\n"
                f"{out[-2000:]}\n--- stderr ---\n{err[-2000:]}"
            )
            if block.marker[0] == "output":
                _check_output(page, block, out, f"`{command}`", tmp_path, err)


@pytest.mark.parametrize("page", _pages(), ids=_page_id)
def test_page_code_runs(page, tmp_path, monkeypatch, fresh_session):
    """Run the page's python blocks in order; check the outputs shown after them."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs.{_page_id(page)}"}
    blocks = _blocks(page)
    if not any(b.lang == RUN for b in blocks):
        pytest.skip(f"{_page_id(page)} has no ```python blocks")
    printed = None
    for block in blocks:
        if block.marker == ("output", PYTHON_ABOVE):
            _check_output(page, block, printed, f"the ```python block above", tmp_path)
            continue
        if block.lang != RUN:
            continue
        # pad with blank lines so that tracebacks give the line numbers of the page
        code = compile("\n" * block.line + block.source, f"docs/{_page_id(page)}", "exec")
        buffer = io.StringIO()
        try:
            with contextlib.redirect_stdout(buffer):
                exec(code, namespace)
        except Exception as exc:
            raise AssertionError(
                f"the ```python block at docs/{_page_id(page)}, line {block.line}, failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        printed = buffer.getvalue()


@pytest.mark.parametrize(
    "expected, actual, ok",
    [
        ("a 1.0s\nb", "a 1.0s\nb", True),
        ("a ...s\nb", "a 12.5s\nb", True),             # within a line
        ("a ...s\nb", "a 12.5s\nc", False),            # only where the ellipsis is
        ("a\n...\nz", "a\nb\nc\nz", True),             # whole lines
        ("a\n...\nz", "a\nz", True),                   # possibly none
        ("a ...", "a 1\nb", False),                    # an in-line ellipsis stays in its line
        ("value 0.5262", "value 0.5263", False),       # numbers are exact
        ("x  y", "x y", False),                        # so is spacing inside a line
    ],
)
def test_ellipsis_rule(expected, actual, ok):
    assert _matches(expected, actual) is ok


def test_normalise_and_merge(tmp_path):
    assert _normalise(f"saved {tmp_path}/r.joblib in {tmp_path}  \n\n", tmp_path) == (
        "saved r.joblib in ."
    )
    assert _merge("fit ...s\nold", "fit 3.2s\nnew") == "fit ...s\nnew"


def test_run_command_in_process_and_in_bash(tmp_path, monkeypatch):
    """Both ways of running a command give its exit status and stdout; > FILE writes."""
    monkeypatch.chdir(tmp_path)
    rc, out, _ = _run("python -m sklearn_causal_routing.demo --help", tmp_path, monkeypatch)
    assert rc == 0 and out.startswith("usage: python -m sklearn_causal_routing.demo")
    rc, out, _ = _run("sklearn-causal-routing --help > help.txt", tmp_path, monkeypatch)
    assert rc == 0 and out == "" and "simulate" in (tmp_path / "help.txt").read_text()
    rc, out, _ = _run("echo hello | tr a-z A-Z", tmp_path, monkeypatch)
    assert (rc, out) == (0, "HELLO\n")
    rc, _, _ = _run("sklearn-causal-routing no-such-command", tmp_path, monkeypatch)
    assert rc == 2
