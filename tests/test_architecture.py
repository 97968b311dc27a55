"""The shape of the engine: no import cycle among bnviz's modules, no Streamlit in it, typed
contracts instead of duck typing, and classes a newcomer can hold in their head."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "bnviz"


def _imports(path: Path) -> set[str]:
    """Every module this file imports, at the top, inside functions or for type checking."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {path.stem: path for path in PACKAGE.glob("*.py") if path.stem != "__main__"}
    return {name: {imported.split(".")[1] for imported in _imports(path)
                   if imported.startswith("bnviz.") and imported.split(".")[1] in modules
                   and imported.split(".")[1] != name}
            for name, path in modules.items()}


def test_bnviz_modules_import_each_other_without_a_cycle():
    graph = _graph()
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, "import cycle: " + " → ".join(
            [*visiting[visiting.index(module):], module])
        visiting.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert {"training", "store", "jobs", "request"} <= set(graph)  # the walk saw the engine


def test_the_store_and_the_job_manager_know_no_kind_of_request():
    # A new kind of request must need no change in them: they know only bnviz.request.
    graph = _graph()
    for module in ("store", "jobs", "scheduler", "results", "job", "page", "wait"):
        assert not graph[module] & {"comparison", "sweep", "config"}, (module, graph[module])


def test_the_engine_never_imports_streamlit():
    for path in PACKAGE.glob("*.py"):
        assert not any(name.split(".")[0] == "streamlit" for name in _imports(path)), path.name


# What every result and every runner has (bnviz.request.Result, bnviz.request.Runner): code
# reads them as attributes; a getattr with a default would hide a missing member.
CONTRACT_MEMBERS = {"partial", "stops", "close", "problem", "stoppable"}
PAGE = [Path(__file__).resolve().parents[1] / "streamlit_app.py",
        *(Path(__file__).resolve().parents[1] / "ui").glob("*.py")]


def test_results_and_runners_are_read_through_their_protocols_not_getattr():
    for path in [*PACKAGE.glob("*.py"), *PAGE]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2 \
                    and isinstance(node.args[1], ast.Constant) \
                    and node.args[1].value in CONTRACT_MEMBERS:
                raise AssertionError(f"{path.name}:{node.lineno}: {node.func.id}(…, "
                                     f"{node.args[1].value!r}): use the protocol's member")


def test_no_class_of_the_engine_is_longer_than_200_lines_nor_the_scheduler_150():
    for path in PACKAGE.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                length = node.end_lineno - node.lineno + 1
                limit = 150 if node.name == "Scheduler" else 200
                assert length <= limit, f"{path.name}: class {node.name} has {length} lines"
