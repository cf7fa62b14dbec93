"""PerformanceMonitor: track / record / percentiles / export / reset, and bad input."""

import asyncio
import json

import pytest

import ragperf


async def test_track_times_a_block_with_await():
    m = ragperf.PerformanceMonitor()
    with m.track("embedding"):
        await asyncio.sleep(0.02)
    s = m.get_stats("embedding")
    assert s["count"] == 1
    assert 0.015 <= s["mean"] < 1.0
    for key in ("count", "mean", "p50", "p95", "p99"):
        assert key in s


def test_track_records_when_the_block_raises():
    m = ragperf.PerformanceMonitor()
    with pytest.raises(KeyError):
        with m.track("failing"):
            raise KeyError("x")
    assert m.get_stats("failing")["count"] == 1


def test_percentiles_of_recorded_values():
    m = ragperf.PerformanceMonitor()
    for i in range(1, 101):
        m.record("llm_generation", i / 1000.0)  # 1 ms ... 100 ms
    s = m.get_stats("llm_generation")
    assert s["count"] == 100
    assert s["mean"] == pytest.approx(0.0505, rel=0.01)
    assert s["p50"] == pytest.approx(0.0505, rel=0.03)
    assert s["p95"] == pytest.approx(0.095, rel=0.03)
    assert s["p99"] == pytest.approx(0.099, rel=0.03)
    assert s["min"] == pytest.approx(0.001, rel=0.01) and s["max"] == pytest.approx(0.1, rel=0.01)


def test_all_stats_unknown_name_export_and_reset():
    m = ragperf.PerformanceMonitor()
    m.record("embedding", 0.01)
    m.record("retrieval", 0.02)
    m.record("processing", 0.03)
    assert set(m.get_stats()) == {"embedding", "retrieval", "processing"}
    assert m.get_stats("never") == {}
    doc = json.loads(m.export_metrics())
    assert "retrieval" in json.dumps(doc)
    assert "ragperf_" in m.export_metrics("prometheus")
    m.reset("embedding")
    assert m.get_stats("embedding") in ({}, None) or m.get_stats("embedding")["count"] == 0
    assert m.get_stats("retrieval")["count"] == 1
    m.reset()
    assert all(s["count"] == 0 for s in m.get_stats().values())


def test_bad_input():
    m = ragperf.PerformanceMonitor()
    with pytest.raises(ragperf.InputError, match="finite number of seconds"):
        m.record("x", -1.0)
    with pytest.raises(ragperf.InputError):
        m.record("x", float("nan"))
    with pytest.raises(TypeError, match="seconds must be a number"):
        m.record("x", "1")
    with pytest.raises(TypeError, match="name must be str"):
        with m.track(5):
            pass
    with pytest.raises(ragperf.InputError, match="xml"):
        m.export_metrics("xml")
