"""The benchmark harness's parsers, on canned output: no load, no timing, no network."""

import importlib.util
import math
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[2] / "bench" / "run.py"
_spec = importlib.util.spec_from_file_location("bench_run", HARNESS)
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_run"] = bench  # dataclasses look their module up by name
_spec.loader.exec_module(bench)

WRK_CLEAN = """\
Running 10s test @ http://127.0.0.1:4201/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.38ms  612.40us  14.02ms   81.27%
    Req/Sec    23.51k     1.90k   27.88k    71.50%
  Latency Distribution
     50%  627.00us
     75%    1.62ms
     90%    2.11ms
     99%    3.47ms
  467853 requests in 10.00s, 142.31MB read
Requests/sec:  46781.94
Transfer/sec:     14.23MB
"""

WRK_WITH_ERRORS = """\
Running 2s test @ http://127.0.0.1:3000/api/bird
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   210.55ms  301.20ms    1.90s    85.00%
    Req/Sec   150.12     40.00   220.00     60.00%
  Latency Distribution
     50%   88.10ms
     75%  250.00ms
     90%  700.00ms
     99%    1.50s
  600 requests in 2.01s, 300.00KB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 17
Requests/sec:    298.51
Transfer/sec:    149.25KB
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [("627.00us", 0.627), ("1.62ms", 1.62), ("1.50s", 1500.0), ("2.00m", 120_000.0), ("10.00s", 10_000.0)],
)
def test_wrk_durations_become_milliseconds(text, expected):
    assert bench.duration_ms(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["", "12", "1.2 ms", "ms", "1.2kb"])
def test_malformed_durations_are_refused(text):
    with pytest.raises(ValueError):
        bench.duration_ms(text)


def test_parses_a_clean_run():
    result = bench.parse_wrk(WRK_CLEAN)
    assert result.requests == 467853
    assert result.seconds == pytest.approx(10.0)
    assert result.rps == pytest.approx(46781.94)
    assert result.p50_ms == pytest.approx(0.627)
    assert result.p99_ms == pytest.approx(3.47)
    assert result.non_2xx == 0
    assert result.socket_errors == 0


def test_counts_socket_errors_and_bad_statuses():
    result = bench.parse_wrk(WRK_WITH_ERRORS)
    assert result.rps == pytest.approx(298.51)
    assert result.p50_ms == pytest.approx(88.1)
    assert result.p99_ms == pytest.approx(1500.0)
    assert result.non_2xx == 17
    assert result.socket_errors == 6


def test_output_without_latency_distribution_is_an_error():
    without = "\n".join(line for line in WRK_CLEAN.splitlines() if "%  " not in line or "Latency " in line)
    with pytest.raises(ValueError, match="latency distribution"):
        bench.parse_wrk(without)


def _wrk_run(rps, p50, p99, non_2xx=0):
    return bench.WrkResult(requests=int(rps * 10), seconds=10.0, rps=rps, p50_ms=p50, p99_ms=p99,
                           non_2xx=non_2xx, socket_errors=0)


def test_one_disturbed_run_moves_no_reported_figure():
    runs = [
        (_wrk_run(30_000.0, 2.0, 3.5), {"bird": 99.0}),
        (_wrk_run(12_000.0, 4.0, 29.0, non_2xx=2), {"bird": 60.0}),  # a neighbour's burst
        (_wrk_run(31_000.0, 2.1, 3.9), {"bird": 98.0}),
    ]
    row = bench.summarise("bird", "/", runs)
    assert (row.rps, row.p50_ms, row.p99_ms) == (30_000.0, 2.1, 3.9)
    assert row.cpu_percent == {"bird": 99.0}  # the run of the median throughput
    assert row.rps_runs == [30_000.0, 12_000.0, 31_000.0]
    assert row.p99_runs == [3.5, 29.0, 3.9]
    assert row.errors == 2  # errors of every run count


def test_sums_prometheus_counters_by_label():
    metrics = """\
# HELP upstream_requests Calls made to upstream services.
# TYPE upstream_requests counter
upstream_requests_total{upstream="bird-image",outcome="ok"} 120
upstream_requests_total{upstream="bird-image",outcome="timeout"} 3
upstream_requests_total{outcome="ok",upstream="unsplash"} 12
upstream_request_duration_seconds_count{upstream="bird-image",outcome="ok"} 120
http_requests_total{route="/",method="GET",status="200"} 5
# EOF
"""
    assert bench.parse_counter_sums(metrics, "upstream_requests_total", "upstream", "outcome") == {
        "bird-image ok": 120.0,
        "bird-image timeout": 3.0,
        "unsplash ok": 12.0,
    }
    assert bench.parse_counter_sums(metrics, "upstream_requests_total", "upstream") == {
        "bird-image": 123.0,
        "unsplash": 12.0,
    }
    assert bench.parse_counter_sums("# EOF\n", "upstream_requests_total", "upstream") == {}


def test_reads_memory_fields_of_proc_status():
    status = "Name:\tbird\nVmPeak:\t  812345 kB\nVmHWM:\t    9876 kB\nVmRSS:\t    8765 kB\n"
    assert bench.status_kib(status, "VmHWM") == 9876
    assert bench.status_kib(status, "VmRSS") == 8765
    with pytest.raises(ValueError):
        bench.status_kib(status, "VmSwap")


def _run_data(bird_rps, bird_p99, peak_kib, unsplash_calls, ready_ms=12.0):
    row = {"rps_runs": [], "errors": 0, "p50_ms": 0.5, "cpu_percent": {"bird": 90.0}}
    return {
        "meta": {"date": "2026-01-01 00:00 UTC", "commit": "abc1234", "cpus": 2, "load_at_start": "0.10",
                 "connections": 64, "threads": 2, "duration": 10.0, "repeat": 1, "env": {}},
        "rows": {
            "bird /health": {**row, "server": "bird", "path": "/health", "rps": 40000.0, "p99_ms": 2.0},
            "bird /": {**row, "server": "bird", "path": "/", "rps": bird_rps, "p99_ms": bird_p99},
        },
        "services": {"bird": {"ready_ms": ready_ms, "idle_rss_kib": 4000, "peak_rss_kib": peak_kib,
                              "upstream_calls": {"bird-image": 12.0}}},
        "unsplash": {"calls": unsplash_calls, "refused": 0, "delay_ms": 50.0, "ttl_secs": 3600,
                     "elapsed_secs": 95.0, "allowed_per_name": 1,
                     "default_image_names": []},
    }


def test_targets_are_judged_from_the_figures():
    met = dict((name, ok) for name, _, ok in bench.targets(_run_data(20000.0, 4.0, 10 * 1024, {"Mallard": 1})))
    assert all(met.values()), met
    missed = dict((name, ok) for name, _, ok in bench.targets(_run_data(12000.0, 6.0, 16 * 1024, {"Mallard": 2}, 150.0)))
    assert not any(missed.values()), missed


def test_report_embeds_its_figures_for_the_next_comparison():
    data = _run_data(20000.0, 4.0, 10 * 1024, {"Mallard": 1})
    report = bench.render(data)
    assert "| bird | `/` | 20,000 |" in report
    assert "50%" in report
    assert bench.extract_data(report) == data
    assert bench.extract_data("# no data here\n") is None


def test_comparison_reports_the_change():
    previous = _run_data(20000.0, 4.0, 10 * 1024, {})
    current = _run_data(30000.0, 3.0, 9 * 1024, {})
    lines = bench.comparison(previous, current)
    bird = next(line for line in lines if line.split("req/s")[0].strip() == "bird /")
    assert "20,000 ->    30,000 (+50%)" in bird
    assert "p99 4.00 ms -> 3.00 ms" in bird
    assert any("peak RSS 10.0 MiB -> 9.0 MiB" in line for line in lines)


def test_health_share_without_a_health_row_is_nan():
    data = _run_data(20000.0, 4.0, 10 * 1024, {})
    del data["rows"]["bird /health"]
    assert math.isnan(bench.health_share(data, data["rows"]["bird /"]))


def _load(script: str):
    """A script of bench/ that imports run.py as `run`, as it does when started from bench/."""
    sys.modules.setdefault("run", bench)
    spec = importlib.util.spec_from_file_location(f"bench_{script}", HARNESS.parent / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_ab_takes_the_median_of_the_ratios_within_pairs():
    ab = _load("ab")
    # The machine slows down by half between pairs; within each pair new is 10 % slower,
    # except one pair disturbed by a neighbour.
    old = [100.0, 50.0, 100.0, 50.0, 100.0]
    new = [90.0, 45.0, 90.0, 45.0, 30.0]
    assert ab.median_ratio(old, new) == pytest.approx(0.9)
    with pytest.raises(ValueError):
        ab.median_ratio([1.0], [])
    with pytest.raises(ValueError):
        ab.median_ratio([], [])


def test_fleet_asks_for_the_twelve_birds_of_the_catalogue():
    fleet = _load("fleet")
    assert len(fleet.BIRDS) == 12
    assert "Steller's Jay" in fleet.BIRDS


def test_fleet_percentiles_are_nearest_rank():
    fleet = _load("fleet")
    values = [float(n) for n in range(1, 101)]
    assert fleet.percentile(values, 0.5) == 50.0
    assert fleet.percentile(values, 0.99) == 99.0
    assert fleet.percentile(values, 1.0) == 100.0
    assert fleet.percentile([7.0], 0.99) == 7.0
