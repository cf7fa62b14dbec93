"""AsyncEmbedding: values against sentence-transformers' reference outputs, batching, bad input,
cancellation and concurrency on one event loop."""

import asyncio

import numpy as np
import pytest

import ragperf
from conftest import MODELS, model_path, reference


@pytest.mark.parametrize("name", MODELS)
async def test_embed_single_equals_the_reference(name):
    embed = ragperf.AsyncEmbedding(model_path(name))
    ref = reference(name)
    refused = 0
    for case in ref["cases"]:
        # sentence-transformers cuts the last case (over the model's length) at its end: so does
        # truncate="right"; without it that case is refused, never silently cut.
        v = await embed.embed_single(case["text"], truncate="right")
        assert isinstance(v, np.ndarray) and v.dtype == np.float32 and v.shape == (embed.dim,)
        np.testing.assert_allclose(v, np.asarray(case["embedding"], dtype=np.float32), atol=1e-5, rtol=0)
        try:
            plain = await embed.embed_single(case["text"])
        except ragperf.InputError as e:
            assert "tokens; the model takes at most" in str(e)
            refused += 1
        else:
            np.testing.assert_array_equal(plain, v)
    assert refused == 1


@pytest.mark.parametrize("name", MODELS)
async def test_embed_batch_equals_the_reference_and_single(name):
    embed = ragperf.AsyncEmbedding(model_path(name))
    cases = reference(name)["cases"]
    m = await embed.embed_batch([c["text"] for c in cases], truncate="right")
    assert m.dtype == np.float32 and m.shape == (len(cases), embed.dim)
    for i, case in enumerate(cases):
        np.testing.assert_allclose(m[i], np.asarray(case["embedding"], dtype=np.float32), atol=1e-5, rtol=0)
        np.testing.assert_allclose(m[i], await embed.embed_single(case["text"], truncate="right"), atol=1e-6,
                                   rtol=0)


async def test_embed_batch_sizes(embed):
    one = await embed.embed_batch(["only one"])
    assert one.shape == (1, embed.dim)
    empty = await embed.embed_batch([])
    assert empty.shape == (0, embed.dim) and empty.dtype == np.float32
    texts = [f"text number {i}" for i in range(10_000)]
    many = await embed.embed_batch(texts)
    assert many.shape == (10_000, embed.dim)
    np.testing.assert_allclose(many[1234], await embed.embed_single("text number 1234"), atol=1e-6, rtol=0)
    assert np.allclose(np.linalg.norm(many, axis=1), 1.0, atol=1e-5)


async def test_get_stats_has_the_guides_keys(embed):
    await embed.embed_batch(["a", "b", "c"])
    await embed.embed_single("d")
    s = embed.get_stats()
    assert s["total_embeddings"] == 4
    assert s["total_requests"] == 2
    assert s["throughput_embeddings_per_sec"] > 0
    assert s["device"] == "cpu"


async def test_wrong_types_name_the_argument(embed):
    with pytest.raises(TypeError, match="text must be str, not int"):
        await embed.embed_single(5)
    with pytest.raises(TypeError, match="texts must be a list of str, not str"):
        await embed.embed_batch("abc")
    with pytest.raises(TypeError, match=r"texts\[1\] must be str, not bytes"):
        await embed.embed_batch(["a", b"b"])
    with pytest.raises(ValueError, match="batch_size=0"):
        ragperf.AsyncEmbedding(model_path(MODELS[0]), batch_size=0)


async def test_invalid_utf8_from_surrogateescape_is_an_input_error(embed):
    bad = b"caf\xe9 au lait".decode("utf-8", "surrogateescape")
    with pytest.raises(ragperf.InputError, match="UTF-8") as info:
        await embed.embed_single(bad)
    assert isinstance(info.value, ValueError) and isinstance(info.value, ragperf.RagperfError)
    with pytest.raises(ragperf.InputError, match="byte 3"):
        await embed.embed_batch(["fine", bad])
    with pytest.raises(ragperf.InputError, match="surrogate"):
        await embed.embed_single("lone \ud800 surrogate")
    # the embedder still works afterwards
    assert (await embed.embed_single("fine")).shape == (embed.dim,)


def test_missing_model_and_bad_device(tmp_path, model_dir):
    with pytest.raises(ragperf.ModelError, match="no-such-model"):
        ragperf.AsyncEmbedding(str(tmp_path / "no-such-model"))
    with pytest.raises(ragperf.ConfigError, match="cuda"):
        ragperf.AsyncEmbedding(model_dir, device="cuda")


async def test_model_and_batch_from_the_environment_and_dotenv(monkeypatch, tmp_path, model_dir):
    monkeypatch.setenv("EMBED_MODEL", model_dir)
    monkeypatch.setenv("EMBED_BATCH", "7")
    e = ragperf.AsyncEmbedding()
    assert e.get_stats()["max_batch_size"] == 7
    assert e.dim == 384
    monkeypatch.delenv("EMBED_MODEL")
    monkeypatch.delenv("EMBED_BATCH")
    (tmp_path / ".env").write_text(f"EMBED_MODEL={model_dir}\nEMBED_BATCH=5\n")
    e = ragperf.AsyncEmbedding()
    assert e.get_stats()["max_batch_size"] == 5
    monkeypatch.setenv("EMBED_DIM", "768")  # set and wrong: the C++ check names both
    with pytest.raises(ragperf.ConfigError, match="768"):
        ragperf.AsyncEmbedding()


async def test_a_cancelled_task_leaves_the_embedder_working(embed):
    texts = [f"a somewhat longer text to embed, number {i}" for i in range(3000)]
    task = asyncio.create_task(embed.embed_batch(texts))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    v = await embed.embed_single("after the cancel")
    assert v.shape == (embed.dim,)


async def test_the_loop_runs_while_cpp_works(embed):
    ticks = 0
    done = False

    async def ticker():
        nonlocal ticks
        while not done:
            ticks += 1
            await asyncio.sleep(0.002)

    t = asyncio.create_task(ticker())
    loop = asyncio.get_running_loop()
    start = loop.time()
    n = 0
    while loop.time() - start < 0.2:  # at least 0.2 s of C++ work, however fast the machine
        await embed.embed_batch([f"keep the loop free {n} {i}" for i in range(2000)])
        n += 1
    elapsed = loop.time() - start
    done = True
    await t
    # a blocked loop would tick about once per embed_batch; a free one about every 2 ms
    assert ticks >= max(10, 3 * n), (elapsed, n, ticks)


async def test_1000_concurrent_tasks_on_one_loop(embed):
    texts = [f"concurrent query {i}" for i in range(1000)]
    results = await asyncio.gather(*(embed.embed_single(t) for t in texts))
    passes = embed.get_stats()["total_batches"]
    assert passes < 100, passes  # requests waiting while a pass runs are merged into the next one
    expected = await embed.embed_batch(texts)
    np.testing.assert_allclose(np.stack(results), expected, atol=1e-6, rtol=0)


def test_each_event_loop_gets_its_own_completions(embed):
    """Two loops on two threads await the same embedder at once: every result arrives on the loop
    that asked for it (each loop has its own completion queue), and equals the direct answer."""
    import threading

    texts = {k: [f"loop {k} text {i}" for i in range(50)] for k in ("a", "b")}
    results, errors = {}, []

    def run(k):
        async def many():
            loop = asyncio.get_running_loop()
            out = []
            for t in texts[k]:
                fut = asyncio.ensure_future(embed.embed_single(t))
                out.append(await fut)
                assert fut.get_loop() is loop
            return np.stack(out)

        try:
            results[k] = asyncio.run(many())
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(k,)) for k in texts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    for k in texts:
        expected = asyncio.run(embed.embed_batch(texts[k]))
        np.testing.assert_allclose(results[k], expected, atol=1e-6, rtol=0)


async def test_monitor_receives_the_cpp_stages(model_dir):
    monitor = ragperf.PerformanceMonitor()
    e = ragperf.AsyncEmbedding(model_dir, monitor=monitor)
    await e.embed_batch(["one", "two"])
    assert monitor.get_stats("embed")["count"] == 1
    assert monitor.get_stats("tokenize")["count"] == 1
