"""An explanation never sends the learner to something that is not there: every notebook,
install layer, Lab method and ``labkit`` command its texts name exists today."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest

from labkit import explain as ex
from labkit import install, layers
from labkit.cli import build_parser
from labkit.errors import EnvError, HostError, LabkitError
from labkit.lab import Lab
from tests.unit.test_explain import forbidden

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted(p.stem for p in (REPO / "notebooks").glob("*.ipynb"))

# Errors that exercise the entries whose texts are computed (callables), so what they say
# is checked too; explanations of every service type a catalog miss can name are added below.
SAMPLES: list[object] = [
    forbidden(),
    forbidden("identity:list_projects"),
    "ForbiddenException: 403: You are not authorized to perform the requested action: "
    "identity:frobnicate.",
    HostError("controller", "apt-get install -y nova-api", 100, "E: Unable to locate package"),
    EnvError("envs/bad.yaml", ["field kind: 'vm' is not allowed"]),
    LabkitError("Something labkit noticed.", "Do this next."),
    "an error nobody has seen before",
]


def _catalog_misses() -> list[str]:
    return [
        f"public endpoint for {service} service in RegionOne region not found"
        for service in ex.SERVICE_TYPE_LAYERS
    ]


def _explanations() -> list[ex.Explanation]:
    return [ex.explain(sample) for sample in [*SAMPLES, *_catalog_misses()]]  # type: ignore[arg-type]


def _static_texts() -> list[tuple[str, str]]:
    """(entry, text) for every text an entry holds as a plain string."""
    out = []
    for entry in ex.entries():
        for text in (entry.title, entry.cause, entry.fix):
            if isinstance(text, str):
                out.append((entry.name, text))
    return out


def _all_texts() -> list[tuple[str, str]]:
    rendered = [(e.entry, text) for e in _explanations() for text in (e.title, e.cause, e.fix)]
    return _static_texts() + rendered


def _literal(node: ast.AST) -> str | None:
    """A string literal's text (adjacent literals already joined); ``{}`` for what an
    f-string fills in."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_literal(v) or "{}" for v in node.values)
    return None


def _source_texts() -> list[tuple[str, str]]:
    """Every string literal of the explain modules: findings are built there from them."""
    out = []
    for path in sorted((REPO / "labkit" / "explain").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            text = _literal(node)
            if text is not None:
                out.append((path.name, text))
    return out


def test_every_computed_text_is_exercised_by_a_sample() -> None:
    computed = {e.name for e in ex.entries() if any(callable(t) for t in (e.title, e.cause, e.fix))}
    seen = {e.entry for e in _explanations()}
    assert computed - seen == set(), "add a sample error for these entries to SAMPLES"


@pytest.mark.parametrize("source", ["entries", "sources"])
def test_named_notebooks_exist(source: str) -> None:
    texts = _all_texts() if source == "entries" else _source_texts()
    for where, text in texts:
        for number, rest in re.findall(r"\bnotebooks?[ /](\d\d)(-[\w-]+)?", text):
            name = f"{number}{rest}"
            assert any(n == name or (not rest and n.startswith(f"{number}-")) for n in NOTEBOOKS), (
                f"{where} names notebook {name}, which is not in notebooks/: {text!r}"
            )


@pytest.mark.parametrize("source", ["entries", "sources"])
def test_named_install_layers_exist(source: str) -> None:
    texts = _all_texts() if source == "entries" else _source_texts()
    names = set(install.names())
    for where, text in texts:
        found = re.findall(r"lab\.(?:ensure|install)\('([\w-]+)'\)", text)
        for command in re.findall(r"labkit install \S+((?: [a-z][\w-]*)*)", text):
            found += command.split()
        for name in found:
            assert name in names, f"{where} names install layer {name!r}: {text!r}"


@pytest.mark.parametrize("source", ["entries", "sources"])
def test_named_lab_methods_exist(source: str) -> None:
    texts = _all_texts() if source == "entries" else _source_texts()
    for where, text in texts:
        for method in re.findall(r"\blab\.(\w+)\(", text):
            assert hasattr(Lab, method), f"{where} names lab.{method}(), which Lab lacks"


@pytest.mark.parametrize("source", ["entries", "sources"])
def test_named_labkit_commands_parse(source: str) -> None:
    texts = _all_texts() if source == "entries" else _source_texts()
    parser = build_parser()
    for where, text in texts:
        for command in re.findall(r"`labkit ([^`{]+)`", text):
            words = [w for w in shlex.split(command.replace("...", "")) if w != "|"]
            # Placeholders in capitals stand for the learner's own values.
            words = [{"ENV": "sim", "SERVICE": "keystone"}.get(w, w) for w in words]
            try:
                parser.parse_args(words)
            except SystemExit:
                pytest.fail(f"{where} names `labkit {command}`, which labkit does not accept")


def test_explanations_point_at_layers_on_the_map() -> None:
    for e in _explanations():
        assert not e.layer or layers.find(e.layer) is not None, e.entry


def test_a_layer_labkit_cannot_install_yet_is_said_so() -> None:
    e = ex.explain(
        "Service 'compute' is disabled because its configuration could not be loaded. The "
        "service is not present in the service catalog: public endpoint for compute service "
        "in RegionOne region not found"
    )
    assert (e.entry, e.layer) == ("keystone.no-endpoint", "compute")
    if "nova-compute" not in install.names():
        assert "not part of this lab yet" in e.fix
        assert "lab.ensure" not in e.fix and "04-nova" not in e.fix
