"""The web page benchmark runs end to end on a tiny community and reports every page kind.

Timings are not asserted (they belong in docs/benchmarks.md); what is asserted is that the
pages were found from the navigation, answered, and carried their server-side time.
"""

from __future__ import annotations

from gridledger.bench.web import kind_of, run_web_bench


def test_page_kinds_blank_ids_and_keep_query_names() -> None:
    assert kind_of("/blocks/12") == kind_of("/blocks/13") == "/blocks/*"
    assert kind_of("/operator/accounts?after=house-001&n=50") == "/operator/accounts?after&n"
    assert kind_of("/grid") == "/grid"


def test_web_bench_times_every_page_it_finds() -> None:
    result = run_web_bench(days=1, plants=2, households=4, repeat=2)
    demo = result["demo"]
    assert demo["height"] > 0
    pages = {row["page"]: row for row in demo["pages"]}
    assert {"/", "/operator", "/grid"} <= set(pages)
    assert any(kind.startswith("/grid/") for kind in pages)  # an interval, linked from /grid
    for kind in ("/", "/operator", "/grid"):
        row = pages[kind]
        assert row["status"] == 200
        assert 0 < row["server_ms_p50"] <= row["server_ms_p95"] <= row["server_ms_max"]
        assert row["client_ms_p50"] > 0
        assert isinstance(row["meets_300ms"], bool)
    assert "ledger" not in result
