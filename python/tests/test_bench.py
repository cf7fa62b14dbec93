"""`python3 -m ragperf.bench` with tiny sizes: it runs, prints its table and writes JSON whose
figures are consistent; bad arguments are refused with a clear message."""

import json
import os
import subprocess
import sys

import pytest


def run_bench(*args, env=None, timeout=180):
    return subprocess.run([sys.executable, "-m", "ragperf.bench", *args], capture_output=True, text=True,
                          timeout=timeout, env=env or dict(os.environ))


def test_bench_smoke(database_url, model_dir, tmp_path):
    out = tmp_path / "bench.json"
    p = run_bench("--model", model_dir, "--rows", "40", "--reps", "2", "--clients", "3", "--duration", "0.3",
                  "--cache-misses", "3", "--cache-hits", "50",
                  "--table", "ragperf_pybench_smoke", "--drop", "--cpp", "none", "--out", str(out),
                  env=dict(os.environ, DATABASE_URL=database_url))
    assert p.returncode == 0, p.stderr
    for label in ("10 single full queries", "10 queries batched", "3 clients unbatched", "3 clients batched"):
        assert label in p.stdout
    assert "C++ figures missing" not in p.stdout  # --cpp none: not asked for
    r = json.loads(out.read_text())
    py = r["python"]
    assert r["rows"] == 40 and r["clients"] == 3 and r["reps"] == 2 and r["cpp"] is None
    assert 0 < py["queries_10_batched_s"] and 0 < py["queries_10_single_s"] < 30
    for run in ("concurrency_unbatched", "concurrency_batched"):
        c = py[run]
        assert c["errors"] == 0 and c["queries"] >= 3 and c["qps"] > 0
        assert 0 < c["p50_s"] <= c["p95_s"] <= c["p99_s"]
    assert py["concurrency_batched"]["mean_batch_size"] >= 1
    assert 0 < py["full_query_hit_p50_s"] < py["full_query_miss_p50_s"]
    assert "full query, cache hit p50" in p.stdout


def test_bench_reports_a_missing_cpp_binary(database_url, model_dir, tmp_path):
    p = run_bench("--model", model_dir, "--rows", "20", "--reps", "1", "--clients", "1", "--duration", "0.1",
                  "--cache-misses", "1", "--cache-hits", "1", "--table", "ragperf_pybench_smoke", "--drop", "--cpp", str(tmp_path / "no-such-ragperf"),
                  env=dict(os.environ, DATABASE_URL=database_url))
    assert p.returncode == 0, p.stderr
    assert "C++ figures missing: no ragperf binary found" in p.stdout


@pytest.mark.parametrize("args, message", [
    (["--rows", "5"], "--rows 5: use 10 or more"),
    (["--clients", "0"], "--clients 0: use at least one client"),
    (["--duration", "0"], "--duration 0.0: use a positive number of seconds"),
])
def test_bench_bad_arguments(model_dir, args, message):
    p = run_bench("--model", model_dir, *args, env=dict(os.environ, DATABASE_URL="postgresql://unused"))
    assert p.returncode == 2 and message in p.stderr


def test_bench_needs_database_url(model_dir):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    p = run_bench("--model", model_dir, env=env)
    assert p.returncode == 2 and "DATABASE_URL is not set" in p.stderr
