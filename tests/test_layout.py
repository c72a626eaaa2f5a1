"""The code's layout holds: no import circles between modules or folders, and the report reads results only."""

from __future__ import annotations

from harness.devtools.layout import cycles, folder_graph, import_graph


def test_no_module_imports_in_a_circle() -> None:
    assert cycles(import_graph()) == []


def test_no_folder_imports_in_a_circle() -> None:
    folders = folder_graph(import_graph())
    assert [group for group in cycles(folders) if "harness" not in group] == []


def test_the_master_hands_its_results_over_and_writes_no_report() -> None:
    for name, imported in import_graph().items():
        if name.startswith("harness.master"):
            assert not {other for other in imported if other.startswith("harness.report")}, name


def test_the_report_and_omnibench_read_results_not_the_master() -> None:
    graph = import_graph()
    for name, imported in graph.items():
        if name.startswith(("harness.report", "harness.omnibench")):
            assert not {other for other in imported if other.startswith("harness.master")}, name
        if name.startswith("harness.omnibench"):
            assert not {other for other in imported if other.startswith(("harness.report", "harness.options"))}, name
