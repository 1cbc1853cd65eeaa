"""The layers, enforced: the library never imports Streamlit, the intake never imports the
metrics, the metrics never import the store, and pages use only the library's public names.

Declared as data (which modules form each layer, which they may not import) and checked on
the source with `ast`, so a new module lands in a layer by one line here."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO

INTAKE = {"aliases", "cleaning", "layout", "loading", "isolated", "reader_warmup", "workbook",
          "validation", "report", "issue_workbook", "template", "demo", "intake", "seed", "frames",
          "tables"}
METRICS = {"metrics", "facts", "catalog", "prepared", "cohorts", "funnel", "savings_groups",
           "subsets", "targets", "activities", "scholarships", "statuses", "service_types",
           "intervals", "target_report"}
# (modules, what they may not import): a dotted prefix matches the module and its submodules.
CONTRACTS = [
    ({p.stem for p in (REPO / "impact").glob("*.py")}, {"streamlit"}),
    (INTAKE, {f"impact.{m}" for m in METRICS | {"disclosure", "protection", "charts", "present"}}),
    (METRICS, {"impact.store", "impact.intake", "impact.loading", "streamlit"}),
]


def imports(source: str) -> list[tuple[str, list[str]]]:
    """(module, names imported from it) of every import statement, nested ones too."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [alias.name for alias in node.names]))
            if node.module == "impact":   # `from impact import store` imports impact.store
                out += [(f"impact.{alias.name}", []) for alias in node.names]
    return out


def violations(module: str, source: str, forbidden: set[str]) -> list[str]:
    return [f"{module} imports {name}" for name, _ in imports(source)
            if any(name == f or name.startswith(f + ".") for f in forbidden)]


def test_every_layer_keeps_to_its_contract():
    found = []
    for modules, forbidden in CONTRACTS:
        for module in sorted(modules):
            source = (REPO / "impact" / f"{module}.py").read_text(encoding="utf-8")
            found += violations(module, source, forbidden)
    assert found == []


def test_every_intake_and_metrics_module_exists():
    """A renamed module must be renamed here too, or its layer would go unchecked."""
    present = {p.stem for p in (REPO / "impact").glob("*.py")}
    assert (INTAKE | METRICS) <= present


def test_pages_use_only_public_names_of_the_library():
    found = []
    for page in sorted((REPO / "app" / "pages").glob("*.py")):
        for module, names in imports(page.read_text(encoding="utf-8")):
            private = [n for n in names if module.startswith("impact") and n.startswith("_")]
            found += [f"{page.name} imports {module}.{n}" for n in private]
    assert found == []


def test_a_deliberate_violation_is_caught():
    bad = "import pandas\nfrom impact import store\n\ndef f():\n    import streamlit as st\n"
    assert violations("facts", bad, {"impact.store", "streamlit"}) == [
        "facts imports impact.store", "facts imports streamlit"]
    assert violations("facts", "from impact.storefront import x\n", {"impact.store"}) == []
