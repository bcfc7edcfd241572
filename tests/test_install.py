"""Keep the CPU-only install honest.

README's "CPU-only install" (and the quickstart's) installs ``requirements-cpu.txt`` and
then the package with ``pip install --no-deps``, so that pip never sees the
``xgboost`` requirement and its CUDA payload (``nvidia-nccl-cu12``). With
``--no-deps``, nothing checks that the file still lists what the package needs: these
tests do. The file must be ``pyproject.toml``'s runtime dependencies with
``xgboost-cpu`` in place of ``xgboost`` (same specifiers otherwise), and the documented
commands must name it. ``.ci/run`` runs the command for real (a fresh environment, a
fit) before the test suite; ``benchmarks/bench_install_size.py`` measures both ways.
"""

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
CPU_FILE = "requirements-cpu.txt"
#: first release of xgboost-cpu on PyPI
XGBOOST_CPU_FIRST = Version("2.1.1")
#: the two commands, in the order they must run (after torch's build)
CPU_STEPS = (f"pip install -r {CPU_FILE}", "pip install --no-deps -e .")


def _pyproject_dependencies():
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    with open(ROOT / "pyproject.toml", "rb") as f:
        return [Requirement(r) for r in tomllib.load(f)["project"]["dependencies"]]


def _cpu_requirements():
    lines = (ROOT / CPU_FILE).read_text(encoding="utf-8").splitlines()
    return [Requirement(line.strip()) for line in lines
            if line.strip() and not line.lstrip().startswith("#")]


def _by_name(reqs):
    out = {}
    for r in reqs:
        name = re.sub(r"[-_.]+", "-", r.name).lower()
        assert name not in out, f"{name} listed twice"
        out[name] = r
    return out


def _expected_xgboost_cpu(xgboost_spec):
    """``xgboost``'s specifier, with a lower bound raised to xgboost-cpu's first release."""
    parts = []
    for s in xgboost_spec:
        if s.operator in (">=", ">") and Version(s.version) < XGBOOST_CPU_FIRST:
            parts.append(f">={XGBOOST_CPU_FIRST}")
        else:
            parts.append(str(s))
    return SpecifierSet(",".join(parts))


def test_cpu_requirements_are_the_runtime_dependencies_with_xgboost_cpu():
    deps = _by_name(_pyproject_dependencies())
    cpu = _by_name(_cpu_requirements())
    assert "xgboost" in deps, "pyproject.toml no longer depends on xgboost: revisit the CPU path"
    assert "xgboost" not in cpu, f"{CPU_FILE} must not list xgboost (it pulls nvidia-nccl-cu12)"
    assert "xgboost-cpu" in cpu, f"{CPU_FILE} must list xgboost-cpu"
    assert set(cpu) == (set(deps) - {"xgboost"}) | {"xgboost-cpu"}, (
        f"{CPU_FILE} and pyproject.toml's dependencies differ: "
        f"only in pyproject {sorted(set(deps) - set(cpu) - {'xgboost'})}, "
        f"only in {CPU_FILE} {sorted(set(cpu) - set(deps) - {'xgboost-cpu'})}"
    )
    for name, req in cpu.items():
        assert not req.extras and req.url is None, f"{CPU_FILE}: {req}: plain requirements only"
        if name == "xgboost-cpu":
            expected = _expected_xgboost_cpu(deps["xgboost"].specifier)
        else:
            expected = deps[name].specifier
            assert req.marker == deps[name].marker, f"{CPU_FILE}: {req}: marker differs"
        assert req.specifier == expected, (
            f"{CPU_FILE}: {req} should be {name}{expected} (as pyproject.toml says)"
        )


def _command_lines(text):
    """The lines of the page's ```bash blocks."""
    lines, inside = [], False
    for line in text.splitlines():
        if re.match(r"^\s*```", line):
            inside = line.strip() == "```bash" if not inside else False
            continue
        if inside:
            lines.append(line)
    return lines


@pytest.mark.parametrize("page", ["README.md", "docs/quickstart.md"])
def test_pages_document_the_cpu_only_command(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    commands = [c for c in _command_lines(text) if CPU_FILE in c]
    assert commands, f"{page}: no ```bash command installs {CPU_FILE}"
    for command in commands:
        at = [command.find(step) for step in CPU_STEPS]
        assert all(i >= 0 for i in at) and at == sorted(at), (
            f"{page}: the CPU-only command must run {' then '.join(CPU_STEPS)}: {command}"
        )
        torch = re.search(r"pip install (torch\S*)", command)
        assert torch and command.find(torch.group(0)) < at[0], (
            f"{page}: the CPU-only command must install torch's build first: {command}"
        )


def test_cpu_only_command_uses_the_readme_torch_pin():
    """The CPU-only command pins the same torch as README's demo and test commands."""
    lines = _command_lines((ROOT / "README.md").read_text(encoding="utf-8"))
    pins = {m for line in lines for m in re.findall(r"pip install (torch\S*)", line)}
    assert len(pins) == 1, f"README's commands install different torch builds: {sorted(pins)}"
