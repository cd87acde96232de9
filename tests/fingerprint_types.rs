//! `farm_fingerprint` against Google's C++ FarmHash through SQL, on columns of
//! every string and binary type, held in memory and read back from Parquet.

mod common;
#[path = "../udfs/tests/common/vectors.rs"]
mod vectors;

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BinaryArray, BinaryViewArray, DictionaryArray, Int64Array, LargeBinaryArray,
    LargeStringArray, RecordBatch, StringArray, StringViewArray,
};
use datafusion::arrow::datatypes::Int32Type;
use datafusion::datasource::MemTable;
use datafusion::error::Result;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};

/// One batch: `expected` plus the same inputs in each of `columns`.
fn batch(columns: Vec<(&str, ArrayRef)>, expected: Vec<i64>) -> RecordBatch {
    let mut all = vec![("expected", Arc::new(Int64Array::from(expected)) as ArrayRef)];
    all.extend(columns);
    RecordBatch::try_from_iter(all).expect("batch")
}

fn tables() -> (RecordBatch, RecordBatch) {
    let vectors = vectors::load();
    let bytes: Vec<&[u8]> = vectors.iter().map(|v| v.input.as_slice()).collect();
    let binaries = batch(
        vec![
            ("binary", Arc::new(BinaryArray::from(bytes.clone()))),
            (
                "large_binary",
                Arc::new(LargeBinaryArray::from(bytes.clone())),
            ),
            ("binary_view", Arc::new(BinaryViewArray::from(bytes))),
        ],
        vectors.iter().map(|v| v.fingerprint).collect(),
    );
    let texts: Vec<&vectors::Vector> = vectors
        .iter()
        .filter(|v| std::str::from_utf8(&v.input).is_ok())
        .collect();
    let strs: Vec<&str> = texts
        .iter()
        .map(|v| std::str::from_utf8(&v.input).expect("utf-8"))
        .collect();
    let strings = batch(
        vec![
            ("utf8", Arc::new(StringArray::from(strs.clone()))),
            ("large_utf8", Arc::new(LargeStringArray::from(strs.clone()))),
            ("utf8_view", Arc::new(StringViewArray::from(strs.clone()))),
            (
                "dictionary",
                Arc::new(strs.iter().copied().collect::<DictionaryArray<Int32Type>>()),
            ),
        ],
        texts.iter().map(|v| v.fingerprint).collect(),
    );
    (binaries, strings)
}

/// Rows where `farm_fingerprint(column)` is not the reference value.
async fn mismatches(ctx: &SessionContext, table: &str, column: &str) -> Result<Option<i64>> {
    let sql = format!(
        "SELECT count(*) FROM {table} WHERE farm_fingerprint({column}) IS DISTINCT FROM expected"
    );
    Ok(common::first_row(ctx, &sql).await?[0])
}

async fn check_all(ctx: &SessionContext, rows: usize) -> Result<()> {
    for (table, columns) in [
        ("binaries", &["binary", "large_binary", "binary_view"][..]),
        (
            "strings",
            &["utf8", "large_utf8", "utf8_view", "dictionary"][..],
        ),
    ] {
        for column in columns {
            assert_eq!(
                mismatches(ctx, table, column).await?,
                Some(0),
                "{table}.{column}"
            );
        }
    }
    let count = common::first_row(ctx, "SELECT count(*) FROM binaries").await?[0];
    assert_eq!(count, Some(rows as i64));
    Ok(())
}

#[tokio::test]
async fn every_type_in_memory() -> Result<()> {
    let (binaries, strings) = tables();
    let rows = binaries.num_rows();
    let ctx = mlfusion::session_context(SessionConfig::new());
    for (name, batch) in [("binaries", binaries), ("strings", strings)] {
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        ctx.register_table(name, Arc::new(table))?;
    }
    check_all(&ctx, rows).await
}

#[tokio::test]
async fn every_type_read_from_parquet() -> Result<()> {
    let (binaries, strings) = tables();
    let rows = binaries.num_rows();
    let dir = std::env::temp_dir().join(format!("mlfusion-fp-types-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let writer = mlfusion::session_context(SessionConfig::new());
    for (name, batch) in [("binaries", &binaries), ("strings", &strings)] {
        let path = dir.join(format!("{name}.parquet"));
        writer
            .read_batch(batch.clone())?
            .write_parquet(path.to_str().expect("utf-8 path"), Default::default(), None)
            .await?;
    }
    // Read back as written (Binary, LargeUtf8, ...) and as DataFusion's
    // default view types (Utf8View, BinaryView).
    for force_view_types in [false, true] {
        let mut config = SessionConfig::new();
        config
            .options_mut()
            .execution
            .parquet
            .schema_force_view_types = force_view_types;
        let ctx = mlfusion::session_context(config);
        for name in ["binaries", "strings"] {
            let path = dir.join(format!("{name}.parquet"));
            let path = path.to_str().expect("utf-8 path");
            ctx.register_parquet(name, path, ParquetReadOptions::default())
                .await?;
        }
        check_all(&ctx, rows).await?;
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
