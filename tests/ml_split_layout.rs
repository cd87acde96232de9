//! `ml_split` on 300,000 rows: a shuffled multi-file copy read with 8
//! partitions splits exactly like one file read with 1, for every method.

mod common;

use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};

const ROWS: i64 = 300_000;

async fn fingerprint(ctx: &SessionContext, sql: &str) -> Result<Vec<Option<i64>>> {
    common::first_row(
        ctx,
        &format!("SELECT count(*), dataset_fingerprint(*) FROM ({sql})"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_split_for_any_layout_and_partitioning() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("mlfusion-split-layout-{}", std::process::id()));
    let (one, many) = (dir.join("one/"), dir.join("many/"));
    let ctx = mlfusion::session_context(SessionConfig::new());
    ctx.sql(&format!(
        "CREATE VIEW source AS SELECT v AS id, \
         CASE WHEN v % 10 < 2 THEN 'churned' WHEN v % 101 = 0 THEN NULL ELSE 'active' END AS label, \
         CASE WHEN v % 89 = 0 THEN NULL ELSE 'u' || CAST(v % 20000 AS VARCHAR) END AS user_id, \
         v / 7.0 AS amount, v % 6 AS part \
         FROM generate_series(1, {ROWS}) AS t(v)"
    ))
    .await?;
    ctx.sql(&format!(
        "COPY (SELECT id, label, user_id, amount FROM source ORDER BY id) TO '{}data.parquet'",
        one.display()
    ))
    .await?
    .collect()
    .await?;
    ctx.sql(&format!(
        "COPY (SELECT * FROM source ORDER BY row_fingerprint(id)) TO '{}' STORED AS PARQUET PARTITIONED BY (part)",
        many.display()
    ))
    .await?
    .collect()
    .await?;

    for options in [
        "test_fraction=0.1, validation_fraction=0.1, folds=5",
        "test_fraction=0.2, folds=5, stratify=label",
        "folds=3, group=user_id",
        "test_fraction=0.15, folds=4, group=user_id, stratify=label",
    ] {
        let single = mlfusion::session_context(SessionConfig::new().with_target_partitions(1));
        let parallel = mlfusion::session_context(SessionConfig::new().with_target_partitions(8));
        let a = fingerprint(
            &single,
            &format!("SELECT * FROM ml_split('{}', '{options}')", one.display()),
        )
        .await?;
        // The partitioned copy has no `part` column in its files, only in paths.
        let b = fingerprint(
            &parallel,
            &format!(
                "SELECT * FROM ml_split('SELECT id, label, user_id, amount FROM ''{}''', '{options}')",
                many.display()
            ),
        )
        .await?;
        assert_eq!(a[0], Some(ROWS), "{options}");
        assert!(a[1].is_some(), "{options}");
        assert_eq!(a, b, "{options}");
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
