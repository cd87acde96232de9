"""mlfusion's functions inside a datafusion-python context, through DataFusion's FFI."""

import pytest

import mlfusion

datafusion = pytest.importorskip("datafusion")


def test_register_into_a_datafusion_context():
    ctx = datafusion.SessionContext()
    mlfusion.register(ctx)
    table = ctx.sql(
        "SELECT farm_fingerprint('alphabet') AS f, abs_mod(farm_fingerprint('alphabet'), 10) AS bucket"
    ).to_arrow_table()
    assert table.to_pylist() == [{"f": -2427165924636348523, "bucket": 3}]
    ctx.sql("CREATE VIEW users AS SELECT v AS id, 'u' || CAST(v AS VARCHAR) AS email FROM generate_series(1, 1000) AS t(v)")
    # The same values as in mlfusion's own context.
    query = (
        "SELECT dataset_fingerprint(id, email) AS d, sum(abs_mod(row_fingerprint('s', id, email), 7)) AS s "
        "FROM users"
    )
    ours = mlfusion.SessionContext()
    ours.sql("CREATE VIEW users AS SELECT v AS id, 'u' || CAST(v AS VARCHAR) AS email FROM generate_series(1, 1000) AS t(v)")
    assert ctx.sql(query).to_arrow_table().to_pylist() == ours.sql(query).to_arrow_table().to_pylist()


def test_other_major_versions_are_refused(monkeypatch):
    monkeypatch.setattr(datafusion, "__version__", "54.1.0")
    with pytest.raises(mlfusion.MlfusionError, match="speaks the FFI of DataFusion 55"):
        mlfusion.register(datafusion.SessionContext())
