//! A Parquet file cut into byte ranges is read by rows: every partition gets
//! an equal, contiguous share of the file's rows in file order, each row
//! exactly once, with or without the file's page index, for any partition
//! count (row groups of 3000 rows would otherwise be the unit).

mod common;

use std::sync::Arc;

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::error::Result;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::TryStreamExt;

const ROWS: usize = 10_000;
const ROW_GROUP: usize = 3_000;

/// The ids (0..ROWS) in one file of row groups of ROW_GROUP rows.
async fn write_file(path: &str) -> Result<()> {
    let ctx = SessionContext::new();
    ctx.sql(&format!(
        "COPY (SELECT v AS id, concat('row ', CAST(v AS VARCHAR)) AS name \
         FROM generate_series(0, {}) AS t(v) ORDER BY v) TO '{path}' \
         STORED AS PARQUET OPTIONS ('format.max_row_group_size' '{ROW_GROUP}')",
        ROWS - 1
    ))
    .await?
    .collect()
    .await?;
    Ok(())
}

async fn partition_ids(
    ctx: &SessionContext,
    plan: &Arc<dyn ExecutionPlan>,
    partition: usize,
) -> Result<Vec<i64>> {
    let batches: Vec<_> = plan
        .execute(partition, ctx.task_ctx())?
        .try_collect()
        .await?;
    let mut ids = Vec::new();
    for batch in &batches {
        let column = batch.column(0).as_any().downcast_ref::<Int64Array>();
        ids.extend(column.expect("BIGINT ids").values().iter().copied());
    }
    Ok(ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_share_a_file_by_rows() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("mlfusion-row-ranges-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("ids.parquet");
    let path = path.to_str().expect("UTF-8 path");
    write_file(path).await?;

    for page_index in [true, false] {
        for partitions in [2, 3, 4, 7] {
            let config = SessionConfig::new()
                .with_target_partitions(partitions)
                .set_usize("datafusion.optimizer.repartition_file_min_size", 0)
                .set_bool("datafusion.execution.parquet.enable_page_index", page_index);
            let ctx = mlfusion::session_context(config);
            let plan = ctx
                .sql(&format!("SELECT id FROM '{path}'"))
                .await?
                .create_physical_plan()
                .await?;
            let case = format!("{partitions} partitions, page index {page_index}");
            assert_eq!(
                plan.output_partitioning().partition_count(),
                partitions,
                "{case}"
            );
            let mut all = Vec::new();
            for partition in 0..partitions {
                let ids = partition_ids(&ctx, &plan, partition).await?;
                // Rows in proportion to bytes: about ROWS / partitions each,
                // where whole row groups would give 3000 or 6000.
                let share = ROWS / partitions;
                assert!(
                    ids.len().abs_diff(share) <= share / 10,
                    "{case}: partition {partition} read {} rows",
                    ids.len()
                );
                all.extend(ids);
            }
            let expected: Vec<i64> = (0..ROWS as i64).collect();
            assert_eq!(all, expected, "{case}: each row once, in file order");

            // Queries over the whole scan agree.
            let sql = format!("SELECT count(*), sum(id) FROM '{path}'");
            let totals = common::first_row(&ctx, &sql).await?;
            assert_eq!(totals, [Some(ROWS as i64), Some(49_995_000)], "{case}");
        }
    }

    // DataFusion alone hands out whole row groups: 3000 + 3000 rows, then
    // 3000 + 1000 (what the share check above would reject).
    let config = SessionConfig::new()
        .with_target_partitions(2)
        .set_usize("datafusion.optimizer.repartition_file_min_size", 0);
    let ctx = SessionContext::new_with_config(config).enable_url_table();
    let plan = ctx
        .sql(&format!("SELECT id FROM '{path}'"))
        .await?
        .create_physical_plan()
        .await?;
    let mut sizes = Vec::new();
    for partition in 0..2 {
        sizes.push(partition_ids(&ctx, &plan, partition).await?.len());
    }
    assert_eq!(sizes, [6000, 4000]);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
