//! The Parquet scan next to the scan plus mlfusion's per-row work, on a
//! 1M-row table of the benchmarks' 9-column shape: what the fingerprint adds
//! to reading the data it hashes.
//!
//!     cargo bench --bench scan
//!
//! Each iteration reads the whole file (all 9 columns decoded) and drains
//! the result, with every core. The file is one row group (DataFusion's
//! writer puts a million rows in each): the last case reads it as DataFusion
//! alone would, the whole row group in one partition, where mlfusion's
//! sessions give each partition an equal share of its rows
//! (`parquet_row_ranges`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;

const ROWS: u64 = 1_000_000;
const COLUMNS: &str = "customer_id, household_id, age, tenure_months, monthly_charges, plan, \
                       signup_at, notes, churn";

/// Writes the table with DataFusion itself (no Python needed).
fn table(runtime: &tokio::runtime::Runtime) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("mlfusion-bench-scan-{ROWS}.parquet"));
    if !path.exists() {
        let ctx = mlfusion::session_context(SessionConfig::new());
        let sql = format!(
            "COPY (SELECT v AS customer_id, v / 3 AS household_id, CAST(18 + v % 73 AS INT) AS age, \
             CAST(v % 121 AS INT) AS tenure_months, \
             CASE WHEN v % 50 = 0 THEN NULL ELSE (v * 7919 % 20000) / 100.0 END AS monthly_charges, \
             'plan_' || CAST(v * 31 % 50 AS VARCHAR) AS plan, \
             to_timestamp_micros(1420070400000000 + v * 315576000) AS signup_at, \
             md5(CAST(v AS VARCHAR)) || ' ' || substr(md5(CAST(v * 7 AS VARCHAR)), 1, v % 20) AS notes, \
             CASE WHEN v % 20 = 0 THEN 'churned' WHEN v % 20 = 1 THEN 'downgraded' ELSE 'stayed' END AS churn \
             FROM generate_series(1, {ROWS}) AS t(v)) TO '{}' STORED AS PARQUET",
            path.display()
        );
        runtime.block_on(async {
            ctx.sql(&sql)
                .await
                .expect("plan")
                .collect()
                .await
                .expect("write the bench table")
        });
    }
    path
}

/// Runs `sql` and drains its batches: the rows seen.
async fn drain(ctx: &datafusion::prelude::SessionContext, sql: &str) -> usize {
    let mut stream = ctx
        .sql(sql)
        .await
        .expect("plan")
        .execute_stream()
        .await
        .expect("run");
    let mut rows = 0;
    while let Some(batch) = stream.next().await {
        rows += batch.expect("batch").num_rows();
    }
    rows
}

fn scan(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let path = table(&runtime);
    let ctx = mlfusion::session_context(SessionConfig::new());
    runtime
        .block_on(ctx.register_parquet("t", path.to_str().expect("path"), Default::default()))
        .expect("register");
    let by_row_groups = SessionContext::new_with_state(
        mlfusion::parquet_row_ranges::without_parquet_row_ranges(ctx.state()),
    );
    let fold_counts =
        format!("SELECT abs_mod(row_fingerprint({COLUMNS}), 10) AS f, count(*) FROM t GROUP BY f");
    let mut g = c.benchmark_group("1M rows x 9 columns, Parquet");
    g.sample_size(10);
    for (name, sql) in [
        (
            "scan (all columns decoded)",
            format!("SELECT {COLUMNS} FROM t"),
        ),
        (
            "scan + row_fingerprint",
            format!("SELECT row_fingerprint({COLUMNS}) AS f FROM t"),
        ),
        (
            "scan + fold counts (abs_mod, GROUP BY)",
            fold_counts.clone(),
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| black_box(runtime.block_on(drain(&ctx, &sql))))
        });
    }
    g.bench_function("scan + fold counts, whole row groups per partition", |b| {
        b.iter(|| black_box(runtime.block_on(drain(&by_row_groups, &fold_counts))))
    });
    g.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
