"""The layer map of ../shared/DESIGN.md holds: a package imports only from the layers above it (function-local
imports included), and the shared utilities at the root (config, atomic, hardware) import no layer at all."""
import ast
from pathlib import Path

LAYERS = ["data", "envs", "nets", "policies", "critics", "improve", "agents", "bfm", "hierarchy", "train", "evaluate"]
UTILITIES = {"config.py", "atomic.py", "hardware.py"}  # below them only the standard library and third-party packages
ROOT = Path(__file__).resolve().parents[1] / "src" / "anypolicy"


def imported_layers(path: Path):
    """(line, layer) of every anypolicy import in a file, wherever it stands."""
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else []
        for name in names:
            parts = name.split(".")
            if parts[0] == "anypolicy" and len(parts) > 1:
                yield node.lineno, parts[1]


def upward_imports(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        own = rel.parts[0] if len(rel.parts) > 1 else None
        for line, layer in imported_layers(path):
            if own in LAYERS and layer in LAYERS and LAYERS.index(layer) > LAYERS.index(own):
                found.append(f"{rel}:{line} ({own} imports {layer})")
            if rel.name in UTILITIES and own is None and layer in LAYERS:
                found.append(f"{rel}:{line} (a root utility imports {layer})")
    return found


def test_no_layer_imports_from_a_layer_below_it():
    assert sorted(p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith("__")) == sorted(LAYERS)
    assert upward_imports(ROOT) == []


def test_the_check_sees_function_local_imports(tmp_path):
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "x.py").write_text("def f():\n    from anypolicy.train.loop import train\n")
    (tmp_path / "config.py").write_text("import anypolicy.policies\n")
    assert upward_imports(tmp_path) == ["agents/x.py:2 (agents imports train)",
                                        "config.py:1 (a root utility imports policies)"]
