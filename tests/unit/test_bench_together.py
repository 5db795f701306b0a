"""bench.together reads its children's RESULT lines and judges each target from them (no timing here)."""

from __future__ import annotations

from bench.together import Run, parse_results, verdicts


def test_the_last_result_line_wins_for_a_repeated_key() -> None:
    output = ("noise\nRESULT sessions=1 page_p95_ms_worst=800 login_p95_ms=1500\n"
              "RESULT sessions=5 page_p95_ms_worst=2400 login_p95_ms=3100\n"
              "RESULT page_p95_ms_worst=2400 login_p95_ms=3100 server_rss_mb=320 rows=1000000\n")
    found = parse_results(output)
    assert found["page_p95_ms_worst"] == "2400"
    assert found["server_rss_mb"] == "320"
    assert found["sessions"] == "5"


def test_a_line_without_result_prefix_is_not_read() -> None:
    assert parse_results("p95_ms_worst=12\n  RESULT p95_ms_worst=99\n") == {}


def test_verdicts_say_met_missed_and_missing() -> None:
    search = Run("search sqlite", [], {"p95_ms_worst": "21.5"}, 1.0, 1.2)
    pg = Run("search postgresql", [], {"p95_ms_worst": "38.1"}, 1.0, 1.4)
    pages = Run("pages server", [], {}, 1.0, 1.1, returncode=1)
    lines = verdicts([search, pg, pages])
    by_target = {line.split("  ")[0].strip(): line for line in lines[1:]}
    assert "met" in by_target["search worst p95, SQLite"]
    assert "MISSED" in by_target["search worst p95, PostgreSQL"]
    assert "NO FIGURE" in by_target["page run, server side, worst warm p95"]
    assert not any("PostgreSQL" in line and "report()" in line for line in lines)  # not run: not judged
