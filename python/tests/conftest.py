"""Shared fixtures: the model folders and reference outputs of ../shared, an isolated environment
(RAGPERF_HOME in a temporary folder, no stray .env), and DATABASE_URL for the PostgreSQL tests."""

import json
import os
import pathlib

import pytest


def _shared_dir():
    candidates = [os.environ.get("RAGPERF_SHARED_DIR", "")]
    root = pathlib.Path(__file__).resolve().parents[2]
    candidates += [str(root.parent / "shared"), "/work/shared"]
    for c in candidates:
        if c and (pathlib.Path(c) / "models").is_dir():
            return pathlib.Path(c)
    return None


SHARED = _shared_dir()
MODELS = ["bert-l2-h384-cls-f32", "bert-l2-h384-mean-f16"]


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Settings come only from what a test sets: RAGPERF_HOME in tmp_path, the working folder there
    too (so no ./.env is read), none of the guide's variables inherited."""
    for var in ("EMBED_MODEL", "EMBED_DIM", "EMBED_BATCH", "BATCH_SIZE", "BATCH_TIMEOUT", "MIN_POOL_SIZE",
                "MAX_POOL_SIZE", "CONNECTION_POOL_SIZE", "RAGPERF_PROFILE", "RAGPERF_ENV_FILE", "ENABLE_ASYNC"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("RAGPERF_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


def model_path(name):
    if SHARED is None:
        pytest.skip("no shared model folders (set RAGPERF_SHARED_DIR to the folder holding models/)")
    return str(SHARED / "models" / name)


def reference(name):
    with open(SHARED / "reference" / f"{name}.json") as f:
        return json.load(f)


@pytest.fixture
def model_dir():
    return model_path("bert-l2-h384-cls-f32")


@pytest.fixture
def embed(model_dir):
    import ragperf

    return ragperf.AsyncEmbedding(model_dir)


@pytest.fixture
def database_url():
    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.skip("DATABASE_URL is not set: start PostgreSQL + pgvector (scripts/pg_start.sh) and export it")
    return url
