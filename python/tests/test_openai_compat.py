"""`ragperf serve` driven by clients nobody here wrote: the official `openai` SDK
(client.embeddings.create, float and base64) and a plain TEI-style HTTP request, against the
vectors `ragperf embed` prints for the same texts; and the one truncation rule on the Python
surface (AsyncEmbedding refuses over-long text unless `truncate=` asks for a cut)."""

import base64
import json
import os
import pathlib
import re
import shutil
import signal
import struct
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import model_path

TEXTS = ["create an index concurrently", "a replication slot keeps wal", "vacuum full"]


def _binary():
    candidates = [os.environ.get("RAGPERF_BIN"), shutil.which("ragperf")]
    root = pathlib.Path(__file__).resolve().parents[2]
    candidates.append(str(root / "build" / "release" / "src" / "cli" / "ragperf"))
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    pytest.skip("no ragperf binary (build it with scripts/build.sh release, or set RAGPERF_BIN)")


@pytest.fixture
def model_dir():
    return model_path("bert-l2-h384-cls-f32")


@pytest.fixture
def server(model_dir, tmp_path):
    """A `ragperf serve --port 0` child on the embedded store; yields its base URL."""
    log = open(tmp_path / "serve.err", "w+")
    proc = subprocess.Popen([_binary(), "serve", "--port", "0", "--model", model_dir, "--access-log"],
                            stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = proc.stdout.readline()
        m = re.match(r"listening on (http://\S+)", line)
        if not m:
            log.seek(0)
            pytest.fail(f"ragperf serve did not start: {line!r} {log.read()}")
        yield m.group(1), tmp_path / "serve.err"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _cli_vectors(model_dir, texts):
    lines = "".join(json.dumps({"text": t}) + "\n" for t in texts)
    p = subprocess.run([_binary(), "embed", "--model", model_dir], input=lines, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return [json.loads(l)["embedding"] for l in p.stdout.splitlines()]


def _close(a, b, tol=1e-6):
    assert len(a) == len(b)
    worst = max(abs(x - y) for x, y in zip(a, b))
    assert worst <= tol, f"largest difference {worst}"


def test_openai_sdk_float_and_base64_equal_ragperf_embed(server, model_dir):
    openai = pytest.importorskip("openai")
    base, log = server
    want = _cli_vectors(model_dir, TEXTS)
    client = openai.OpenAI(base_url=base + "/v1", api_key="not-checked", max_retries=0)

    floats = client.embeddings.create(model="served", input=TEXTS, encoding_format="float")
    assert [d.index for d in floats.data] == [0, 1, 2]
    for d, w in zip(floats.data, want):
        _close(d.embedding, w)
    assert floats.usage.prompt_tokens > len(TEXTS)

    # The SDK's own default asks for base64 and decodes it itself.
    decoded = client.embeddings.create(model="served", input=TEXTS)
    for d, w in zip(decoded.data, want):
        _close(d.embedding, w)

    raw = client.embeddings.create(model="served", input=TEXTS[0], encoding_format="base64")
    b = base64.b64decode(raw.data[0].embedding)
    _close(list(struct.unpack(f"<{len(b) // 4}f", b)), want[0])

    models = client.models.list()
    assert [m.id for m in models.data] == [floats.model]

    lines = [json.loads(l) for l in log.read_text().splitlines() if l.startswith("{")]
    assert any(l["route"] == "/v1/embeddings" and l["status"] == 200 for l in lines), lines


def test_openai_sdk_sees_over_long_input_as_an_error(server):
    openai = pytest.importorskip("openai")
    base, _ = server
    client = openai.OpenAI(base_url=base + "/v1", api_key="not-checked", max_retries=0)
    text = " table index" * 300  # 602 tokens; the model takes 512
    with pytest.raises(openai.APIStatusError) as e:
        client.embeddings.create(model="served", input=text)
    assert e.value.status_code == 413
    assert "602 tokens" in str(e.value) and "512" in str(e.value)
    cut = client.embeddings.with_raw_response.create(model="served", input=text, encoding_format="float",
                                                     extra_body={"truncate": True})
    assert cut.headers["x-truncated-inputs"] == "1"
    assert cut.parse().usage.prompt_tokens == 512


def test_tei_style_request_equals_ragperf_embed(server, model_dir):
    base, _ = server
    want = _cli_vectors(model_dir, TEXTS)
    req = urllib.request.Request(base + "/embed", data=json.dumps({"inputs": TEXTS}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        got = json.loads(r.read())
        for h in ("x-total-time", "x-tokenization-time", "x-queue-time", "x-inference-time"):
            assert float(r.headers[h]) >= 0
    assert len(got) == len(TEXTS)
    for g, w in zip(got, want):
        _close(g, w)


def test_cli_embed_refuses_over_long_text_unless_truncate(model_dir):
    text = json.dumps({"text": " table index" * 300}) + "\n"
    refused = subprocess.run([_binary(), "embed", "--model", model_dir], input=text,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert "stdin line 1 has 602 tokens" in refused.stderr and "--truncate" in refused.stderr
    cut = subprocess.run([_binary(), "embed", "--model", model_dir, "--truncate", "right"], input=text,
                         capture_output=True, text=True, timeout=120)
    assert cut.returncode == 0, cut.stderr
    line = json.loads(cut.stdout)
    assert line["tokens"] == 512 and line["truncated_from"] == 602


async def test_async_embedding_refuses_over_long_text_by_default(model_dir):
    import ragperf

    embed = ragperf.AsyncEmbedding(model_dir)
    long_text = " table index" * 300
    with pytest.raises(ragperf.InputError, match="602 tokens; the model takes at most 512"):
        await embed.embed_single(long_text)
    with pytest.raises(ragperf.InputError, match="602 tokens"):
        await embed.embed_batch(["short", long_text])
    assert len(await embed.embed_single("short text")) == embed.dim
    right = await embed.embed_single(long_text, truncate="right")
    left = await embed.embed_single(long_text + " table", truncate="left")  # keeps "index ..."
    assert right.shape == left.shape == (embed.dim,) and not (right == left).all()
    with pytest.raises(ragperf.InputError, match="truncate='middle'"):
        await embed.embed_single(long_text, truncate="middle")
