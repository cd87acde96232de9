//! `dataset_fingerprint` over a million rows: one value for one file, many
//! shuffled files, and any number of partitions; a duplicated row changes it.

mod common;

use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};

const ROWS: i64 = 1_000_000;
const COLUMNS: &str = "id, name, score, day";

async fn scalar(ctx: &SessionContext, sql: &str) -> Result<Option<i64>> {
    Ok(common::first_row(ctx, sql).await?[0])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_value_for_any_layout_and_partitioning() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("mlfusion-dfp-layout-{}", std::process::id()));
    let (one, many) = (dir.join("one/"), dir.join("many/"));
    let ctx = mlfusion::session_context(SessionConfig::new());
    ctx.sql(&format!(
        "CREATE VIEW source AS SELECT v AS id, concat('n', CAST(v % 1000 AS VARCHAR)) AS name, \
         CASE WHEN v % 7 = 0 THEN NULL ELSE v / 3.0 END AS score, \
         CAST(v % 365 AS INT) + DATE '2026-01-01' AS day, v % 8 AS part \
         FROM generate_series(1, {ROWS}) AS t(v)"
    ))
    .await?;
    // One file in id order, and eight files in a shuffled (fingerprint) order.
    ctx.sql(&format!(
        "COPY (SELECT {COLUMNS} FROM source ORDER BY id) TO '{}data.parquet'",
        one.display()
    ))
    .await?
    .collect()
    .await?;
    ctx.sql(&format!(
        "COPY (SELECT * FROM source ORDER BY row_fingerprint(id)) TO '{}' \
         STORED AS PARQUET PARTITIONED BY (part)",
        many.display()
    ))
    .await?
    .collect()
    .await?;
    let files = walk(&many);
    assert_eq!(files, 8, "eight partition files");

    let mut values = Vec::new();
    for partitions in [1, 3, 8] {
        let ctx =
            mlfusion::session_context(SessionConfig::new().with_target_partitions(partitions));
        for path in [&one, &many] {
            let sql = format!(
                "SELECT dataset_fingerprint({COLUMNS}) FROM '{}'",
                path.display()
            );
            values.push(scalar(&ctx, &sql).await?);
        }
    }
    assert!(values[0].is_some());
    assert!(values.iter().all(|v| *v == values[0]), "{values:?}");

    // One duplicated row changes it.
    let ctx = mlfusion::session_context(SessionConfig::new().with_target_partitions(3));
    let duplicated = scalar(
        &ctx,
        &format!(
            "SELECT dataset_fingerprint({COLUMNS}) FROM (SELECT {COLUMNS} FROM '{}' \
             UNION ALL SELECT {COLUMNS} FROM '{}' WHERE id = 123456)",
            many.display(),
            one.display()
        ),
    )
    .await?;
    assert_ne!(duplicated, values[0]);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .expect("dir")
        .map(|e| {
            let p = e.expect("entry").path();
            if p.is_dir() {
                walk(&p)
            } else {
                1
            }
        })
        .sum()
}
