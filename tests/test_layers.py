"""The layers, enforced: the library never imports Streamlit, the contract imports no other
layer, the intake never imports the metrics, the metrics never import the store or the intake,
and pages use only the library's public names.

Declared as data (each layer is a subpackage of `impact`, and what it may not import) and
checked on the source with `ast`."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO

LIBRARY = REPO / "impact"


def modules(package: str = "") -> dict[str, Path]:
    """Dotted name -> source file of every module of `impact` (or of one of its subpackages)."""
    root = LIBRARY / package if package else LIBRARY
    return {".".join(("impact",) + p.relative_to(LIBRARY).with_suffix("").parts): p
            for p in root.rglob("*.py") if "migrations" not in p.parts}


# (package, what its modules may not import): a dotted prefix matches the module and its
# submodules; "" is the whole library. A new module lands in its layer by being in its folder.
CONTRACTS = [
    ("", {"streamlit"}),
    ("contract", {"impact.intake", "impact.metrics", "impact.store", "impact.access",
                  "impact.present", "impact.disclosure"}),
    ("intake", {"impact.metrics", "impact.access", "impact.present", "impact.disclosure"}),
    ("metrics", {"impact.store", "impact.intake", "impact.access", "impact.demo"}),
    ("present", {"impact.store", "impact.intake", "impact.access", "impact.demo"}),
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
    for package, forbidden in CONTRACTS:
        for module, path in sorted(modules(package).items()):
            found += violations(module, path.read_text(encoding="utf-8"), forbidden)
    assert found == []


def test_every_layer_is_a_package_with_modules():
    """A renamed or emptied layer must be renamed here too, or it would go unchecked."""
    for package, _ in CONTRACTS[1:]:
        assert len(modules(package)) > 1, package


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


def test_the_server_side_of_an_upload_loads_no_validation_library():
    """Rows are validated in the reader child: the server process, which imports the pipeline,
    does not carry pandera (12 MiB a process)."""
    import subprocess
    import sys
    found = subprocess.run([sys.executable, "-c", "import sys, impact.intake.pipeline, impact.cli; "
                            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pandera'))"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    assert found == "[]"


def test_the_reader_children_validate_without_the_data_synthesis_library():
    """The forkserver the reader children are forked from validates rows with pandera, but
    never synthesizes data: hypothesis (installed for the tests) stays out of it, and its
    Arrow buffers come from the C library's malloc, which the child hands back."""
    import subprocess
    import sys
    found = subprocess.run([sys.executable, "-c", "import sys, impact.intake.reader_warmup, pyarrow; "
                            "print(sorted({m.split('.')[0] for m, module in sys.modules.items() if module} & {'hypothesis', 'pandera'}), "
                            "pyarrow.default_memory_pool().backend_name)"],
                           cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    assert found == "['pandera'] system"
