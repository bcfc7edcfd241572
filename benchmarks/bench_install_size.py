"""Installed size on Linux: the default install against the CPU-only one.

On Linux, ``xgboost`` (a runtime dependency) ships its CUDA kernels in the wheel and
requires ``nvidia-nccl-cu12``, whatever the machine. ``requirements-cpu.txt`` lists
the same runtime dependencies with ``xgboost-cpu`` (the same ``import xgboost``, built
without CUDA) in its place; README's "CPU-only install" installs that file and then
the package with ``--no-deps``. This script builds one fresh virtual environment per
way, in a temporary folder that it deletes at the end (``--keep`` keeps it):

- default: ``pip install TORCH``, then ``pip install SOURCE``;
- CPU-only: ``pip install TORCH``, then ``pip install -r requirements-cpu.txt``, then
  ``pip install --no-deps SOURCE``.

It reports ``du -sm`` of each environment's site-packages (after torch alone and at the
end), the largest folders the project's dependencies add, the wheels a machine
without a pip cache downloads for them (torch excluded: both ways install the same
one; measured with ``pip download --no-deps`` of exactly what was installed, so a warm
pip cache or a local mirror does not hide them), ``pip check``, and, in the CPU-only
environment, a smoke check: ``import sklearn_causal_routing, xgboost``, an
``XGBClassifier`` fit and ``PropensityModel``'s default XGBoost model.

It needs PyPI (or the machine's index) and about 4 GB of free disk in the temporary
folder. Run from the repository root (any Python >= 3.10; the project need not be
installed)::

    python3 benchmarks/bench_install_size.py          # ~3 min with a warm pip cache
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import REPO_ROOT, emit, progress

NAME = "bench_install_size"
CPU_REQUIREMENTS = REPO_ROOT / "requirements-cpu.txt"
#: site-packages folders worth naming in the report (the rest is summed)
NAMED = ("torch", "nvidia", "xgboost", "scipy", "sklearn", "numpy")

SMOKE = """
import numpy as np
import sklearn_causal_routing, xgboost
from xgboost import XGBClassifier
from sklearn_causal_routing import PropensityModel

rng = np.random.default_rng(0)
X = rng.normal(size=(400, 8))
y = (X[:, 0] + 0.5 * rng.normal(size=400) > 0).astype(int)
acc = XGBClassifier(n_estimators=20, max_depth=3).fit(X, y).score(X, y)
t = rng.integers(0, 3, size=400)
p = PropensityModel(random_state=0).fit(X, t).predict_proba(X[:5])
assert p.shape == (5, 3) and np.allclose(p.sum(axis=1), 1)
info = xgboost.build_info()
print(f"xgboost {xgboost.__version__} from {xgboost.__file__}; "
      f"USE_CUDA={info.get('USE_CUDA')}, USE_NCCL={info.get('USE_NCCL')}; "
      f"XGBClassifier training accuracy {acc:.3f}; PropensityModel rows sum to 1")
"""


def md_table(headers, rows, align):
    """A GitHub markdown table (stdlib only: this script runs without the package)."""
    rule = ["---:" if a == "r" else "---" for a in align]
    return "\n".join("| " + " | ".join(r) + " |" for r in [headers, rule] + rows)


def run(cmd, log, **kw):
    """Run ``cmd``; its output goes to ``log``; raise with the log's tail on failure."""
    progress("$ " + " ".join(str(c) for c in cmd))
    with open(log, "a") as f:
        f.write("$ " + " ".join(str(c) for c in cmd) + "\n")
        f.flush()
        proc = subprocess.run([str(c) for c in cmd], stdout=f, stderr=subprocess.STDOUT,
                              text=True, **kw)
    if proc.returncode != 0:
        tail = Path(log).read_text().splitlines()[-20:]
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
                         + "\n".join(tail))


def site_packages(venv):
    out = subprocess.run(
        [venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def du_mb(path):
    """``du -sm PATH`` (MiB, as du rounds)."""
    out = subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def installed(venv):
    out = subprocess.run([venv / "bin" / "python", "-m", "pip", "list", "--format=json"],
                         capture_output=True, text=True, check=True)
    return {d["name"].lower(): d["version"] for d in json.loads(out.stdout)}


def download_mb(venv, dists, dest, log):
    """MB (10^6 bytes) of the wheels of ``dists`` (name -> version), fetched as a
    machine without a pip cache would; 0 when empty."""
    if not dists:
        return 0.0, []
    dest.mkdir()
    run([venv / "bin" / "python", "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "-d", dest] + [f"{n}=={v}" for n, v in sorted(dists.items())], log)
    files = sorted(dest.iterdir(), key=lambda p: -p.stat().st_size)
    return sum(p.stat().st_size for p in files) / 1e6, files


def measure(way, steps, args, tmp):
    venv = tmp / f"v_{way}"
    log = tmp / f"{way}.log"
    progress(f"{way}: fresh venv at {venv}")
    run([args.python, "-m", "venv", venv], log)
    pip = [venv / "bin" / "python", "-m", "pip", "install"]
    run(pip + [args.torch], log)
    sp = site_packages(venv)
    after_torch, before = du_mb(sp), installed(venv)
    for step in steps:
        run(pip + step, log, cwd=REPO_ROOT)
    after = installed(venv)
    added = {n: v for n, v in after.items()
             if before.get(n) != v and n != "sklearn-causal-routing"}
    mb, files = download_mb(venv, added, tmp / f"wheels_{way}", log)
    check = subprocess.run([venv / "bin" / "python", "-m", "pip", "check"],
                           capture_output=True, text=True)
    folders = {name: du_mb(sp / name) for name in NAMED if (sp / name).exists()}
    return {
        "way": way,
        "steps": [["pip", "install", args.torch]] + [["pip", "install"] + s for s in steps],
        "venv": venv,
        "site_packages": du_mb(sp),
        "after_torch": after_torch,
        "folders": folders,
        "download_mb": mb,
        "wheels": [(p.name, p.stat().st_size / 1e6) for p in files],
        "nvidia": sorted(n for n in after if n.startswith("nvidia")),
        "xgboost_dists": sorted(n for n in after if n.startswith("xgboost")),
        "pip_check": (check.stdout + check.stderr).strip() or "(no problems)",
    }


def report(results, smoke, args):
    d, c = results
    lines = [
        "# Installed size: default install vs CPU-only install",
        "",
        f"- run: `{' '.join([Path(sys.argv[0]).name] + sys.argv[1:])}`; "
        f"{platform.system()} {platform.machine()}, Python "
        f"{subprocess.run([args.python, '-c', 'import platform; print(platform.python_version())'], capture_output=True, text=True).stdout.strip()}",
        f"- source installed: `{args.source}`",
        "- sizes: `du -sm` of the environment's site-packages (MiB); downloads: the wheels "
        "the project's dependencies add, torch excluded (MB, 10^6 bytes)",
        "",
    ]
    rows = []
    for r in results:
        rows.append([
            r["way"],
            "<br>".join("`" + " ".join(map(str, s)) + "`" for s in r["steps"]),
            str(r["after_torch"]),
            str(r["site_packages"]),
            str(r["site_packages"] - r["after_torch"]),
            f"{r['download_mb']:.1f}",
            ", ".join(r["xgboost_dists"] + r["nvidia"]),
        ])
    lines += md_table(
        ["install", "commands (fresh venv)", "torch alone", "site-packages",
         "added by the project", "downloaded", "xgboost / nvidia distributions"],
        rows, align="llrrrrl").splitlines()
    saved = d["site_packages"] - c["site_packages"]
    lines += [
        "",
        f"CPU-only saves {saved} MiB installed "
        f"({d['site_packages']} -> {c['site_packages']}) and "
        f"{d['download_mb'] - c['download_mb']:.1f} MB of downloads "
        f"({d['download_mb']:.1f} -> {c['download_mb']:.1f}).",
        "",
        "## Largest folders in site-packages (MiB)",
        "",
    ]
    names = [n for n in NAMED if any(n in r["folders"] for r in results)]
    lines += md_table(["install"] + [f"`{n}/`" for n in names],
                      [[r["way"]] + [str(r["folders"].get(n, "-")) for n in names]
                       for r in results], align="l" + "r" * len(names)).splitlines()
    for r in results:
        lines += ["", f"## Wheels downloaded for the project's dependencies ({r['way']})", ""]
        lines += [f"- {name}: {mb:.1f} MB" for name, mb in r["wheels"] if mb >= 0.1]
        small = [name for name, mb in r["wheels"] if mb < 0.1]
        if small:
            lines.append(f"- {len(small)} more under 0.1 MB each")
    lines += ["", "## `pip check`", ""]
    lines += [f"- {r['way']}: {r['pip_check']}" for r in results]
    lines += ["", "## Smoke check in the CPU-only environment", "", smoke]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--python", default=sys.executable,
                   help="interpreter that creates the virtual environments")
    p.add_argument("--torch", default="torch==2.13.0",
                   help="torch requirement installed first in both environments "
                   "(README's pin picks the CPU build on the project's machines)")
    p.add_argument("--source", default=str(REPO_ROOT),
                   help="what `pip install` installs (a checkout, sdist or wheel)")
    p.add_argument("--tmp", default=None, help="parent of the temporary folder")
    p.add_argument("--keep", action="store_true", help="keep the environments and logs")
    p.add_argument("--out", default=None, help="where to write the report")
    p.add_argument("--no-save", action="store_true", help="print only")
    args = p.parse_args()
    args.quick = False  # for _common.emit

    tmp = Path(tempfile.mkdtemp(prefix="scr_install_size_", dir=args.tmp))
    try:
        results = [
            measure("default", [[args.source]], args, tmp),
            measure("cpu-only", [["-r", CPU_REQUIREMENTS.name], ["--no-deps", args.source]],
                    args, tmp),
        ]
        cpu = results[1]["venv"]
        out = subprocess.run([cpu / "bin" / "python", "-c", SMOKE], capture_output=True,
                             text=True, cwd=tmp, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if out.returncode != 0:
            raise SystemExit("smoke check failed in the CPU-only environment:\n"
                             + out.stdout + out.stderr)
        emit(report(results, out.stdout.strip(), args), args, NAME)
    finally:
        if args.keep:
            progress(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            progress(f"removed {tmp}")


if __name__ == "__main__":
    main()
