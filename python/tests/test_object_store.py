"""register_object_store: tables, table-function sources and the model registry in S3,
against a local moto server started here."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

import mlfusion

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PENGUINS = os.path.join(ROOT, "data", "penguins.parquet")


@pytest.fixture(scope="module")
def s3():
    """A moto server with bucket ``lake`` holding ``penguins/part-0.parquet``: (endpoint, boto3 client)."""
    boto3 = pytest.importorskip("boto3")
    moto = os.path.join(os.path.dirname(sys.executable), "moto_server")
    if not os.path.exists(moto):
        pytest.fail("moto_server is not installed (scripts/requirements-test.txt installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/")
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("moto_server did not start")
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket="lake")
        s3.upload_file(PENGUINS, "lake", "penguins/part-0.parquet")
        yield endpoint, s3
    finally:
        server.terminate()
        server.wait()


def options(endpoint):
    return {
        "aws_endpoint": endpoint,
        "aws_allow_http": "true",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
        "aws_region": "us-east-1",
    }


def test_tables_sources_and_registry_in_s3(s3):
    endpoint, client = s3
    ctx = mlfusion.SessionContext()
    ctx.register_object_store("s3://lake", options(endpoint))
    ctx.register_parquet("penguins", "s3://lake/penguins/")
    assert ctx.sql("SELECT count(*) AS n FROM penguins").to_arrow_table().to_pylist() == [{"n": 344}]
    split = "SELECT split, count(*) AS n FROM ml_split('{}', 'test_fraction=0.2, stratify=species') GROUP BY split ORDER BY split"
    by_table = ctx.sql(split.format("penguins")).to_arrow_table().to_pylist()
    by_url = ctx.sql(split.format("s3://lake/penguins/")).to_arrow_table().to_pylist()
    assert by_table == by_url and sum(r["n"] for r in by_url) == 344
    ctx.set("mlfusion.registry", "s3://lake/models")
    trained = ctx.sql(
        "SELECT version, artifact_uri FROM ml_train('species', 'penguins', 'species', 'model_type=logistic_reg')"
    ).to_arrow_table().to_pylist()
    assert trained == [{"version": 1, "artifact_uri": "s3://lake/models/species/1/"}]
    keys = sorted(o["Key"] for o in client.list_objects_v2(Bucket="lake", Prefix="models/")["Contents"])
    assert keys == ["models/species/1/metadata.json", "models/species/1/model.json"]


def test_s3_sources_and_registry_from_a_datafusion_context(s3, monkeypatch):
    datafusion = pytest.importorskip("datafusion")
    endpoint, client = s3
    # A datafusion context's own object stores do not reach mlfusion: the environment does.
    for key, value in [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ALLOW_HTTP", "true"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", "us-east-1"),
    ]:
        monkeypatch.setenv(key, value)
    theirs = datafusion.SessionContext()
    mlfusion.register(theirs, registry="s3://lake/shared-models")
    split = theirs.sql(
        "SELECT split, count(*) AS n FROM ml_split('s3://lake/penguins/', 'test_fraction=0.2, stratify=species') "
        "GROUP BY split ORDER BY split"
    ).to_arrow_table().to_pylist()
    ours = mlfusion.SessionContext()
    ours.register_object_store("s3://lake", options(endpoint))
    assert split == ours.sql(
        "SELECT split, count(*) AS n FROM ml_split('s3://lake/penguins/', 'test_fraction=0.2, stratify=species') "
        "GROUP BY split ORDER BY split"
    ).to_arrow_table().to_pylist()
    trained = theirs.sql(
        "SELECT version, artifact_uri FROM ml_train('island', 's3://lake/penguins/', 'island', 'model_type=logistic_reg')"
    ).to_arrow_table().to_pylist()
    assert trained == [{"version": 1, "artifact_uri": "s3://lake/shared-models/island/1/"}]
    assert len(client.list_objects_v2(Bucket="lake", Prefix="shared-models/island/1/")["Contents"]) == 2


def test_bad_object_store_arguments_are_errors():
    ctx = mlfusion.SessionContext()
    with pytest.raises(mlfusion.MlfusionError, match="unknown option \"aws_endpiont\""):
        ctx.register_object_store("s3://lake", {"aws_endpiont": "http://127.0.0.1:1"})
    with pytest.raises(mlfusion.MlfusionError, match="not a URL"):
        ctx.register_object_store("lake", {})
    with pytest.raises(mlfusion.MlfusionError, match="not a cloud store"):
        ctx.register_object_store("ftp://lake", {})
