"""The layer contracts of pyproject.toml's [tool.importlinter] hold, and bite: a copy
of the code with one forbidden import added fails `lint-imports` on that import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the code under ``cwd``, with the repository's contracts."""
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([LINT_IMPORTS, "--no-cache", str(ROOT / "pyproject.toml")],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_code_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    for contract in ("Layers: views -> services", "No module imports a blueprint module",
                     "No import cycles in webapp/", "The app never imports the stand-ins"):
        assert contract in result.stdout


@pytest.mark.parametrize(("module", "line", "broken", "named"), [
    # A service reaching up into a view: the layers and the blueprint rule.
    ("matrix", "from . import auth", "Layers: views -> services", "webapp.matrix -> webapp.auth"),
    ("probes", "from . import diagnostics", "No module imports a blueprint module",
     "webapp.probes -> webapp.diagnostics"),
    # matrix imports urls: the reverse makes a cycle.
    ("urls", "from . import matrix", "No import cycles in webapp/", "urls -> .matrix"),
    # Only the demo starts the stand-ins.
    ("guards", "import standins", "The app never imports the stand-ins", "webapp.guards"),
], ids=["layers", "blueprints", "cycle", "standins"])
def test_a_forbidden_import_breaks_its_contract(tmp_path, module, line, broken, named):
    for package in ("webapp", "standins"):
        shutil.copytree(ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__", "templates"))
    target = tmp_path / "webapp" / f"{module}.py"
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    report = result.stdout.split("Broken contracts", 1)[-1]
    assert broken in report and named in report, result.stdout


def test_the_readmes_layout_names_every_module():
    """The README's Layout listing is where a reader finds a module: each of webapp/
    is there (a kind's by its file name, under webapp/providers/)."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Layout", 1)[1].split("```", 2)[1]
    missing = []
    for path in sorted((ROOT / "webapp").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        named = path.name if path.parent.name == "providers" else relative
        if named not in block:
            missing.append(relative)
    assert not missing, missing
