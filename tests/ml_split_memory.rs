//! A balanced `ml_split` under a memory limit: its sorts spill, and it deals
//! every row as it does without a limit.

mod common;

use std::sync::Arc;

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::error::Result;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

/// 200,000 rows, 90% of them in one stratum, with a 60-byte text column so
/// that the sorted rows are wide.
const TABLE: &str = "CREATE TABLE t AS SELECT v AS id, \
     CASE WHEN v % 10 = 0 THEN 'churned' ELSE 'active' END AS label, \
     repeat(CAST(v % 997 AS VARCHAR), 20) AS notes FROM generate_series(1, 200000) AS s(v)";

const SPLIT: &str =
    "SELECT label, split, fold, count(*) AS n, dataset_fingerprint(id, notes) AS fp \
     FROM ml_split('t', 'test_fraction=0.1, folds=5, stratify=label') \
     GROUP BY label, split, fold ORDER BY label, split, fold";

/// The split's counts per stratum, split and fold, and how often its plan
/// spilled, in a session like the CLI's with `--memory-limit`: mlfusion's
/// functions and disk manager, a fair pool of `limit` bytes (or none), two
/// partitions.
async fn split(limit: Option<usize>) -> Result<(String, usize)> {
    let mut runtime =
        RuntimeEnvBuilder::new().with_disk_manager_builder(mlfusion::disk_manager_builder());
    if let Some(limit) = limit {
        runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
    }
    let config = SessionConfig::new().with_target_partitions(2);
    let ctx = SessionContext::new_with_config_rt(config, runtime.build_arc()?);
    mlfusion::register_all(&ctx);
    ctx.sql(TABLE).await?.collect().await?;
    let explained = ctx.sql(&format!("EXPLAIN ANALYZE {SPLIT}")).await?;
    let plan = pretty_format_batches(&explained.collect().await?)?.to_string();
    let spills = plan
        .split("spill_count=")
        .skip(1)
        .map(|after| {
            let digits = after.split(|c: char| !c.is_ascii_digit()).next();
            digits.and_then(|d| d.parse::<usize>().ok()).unwrap_or(0)
        })
        .sum();
    let rows = ctx.sql(SPLIT).await?.collect().await?;
    let text = pretty_format_batches(&rows)?.to_string();
    Ok((text, spills))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn balanced_split_spills_and_deals_every_row_alike() -> Result<()> {
    let (free, free_spills) = split(None).await?;
    assert_eq!(free_spills, 0);
    let (limited, spills) = split(Some(96 << 20)).await?;
    assert!(spills > 0, "the sorts spilled under the limit");
    assert_eq!(limited, free);
    Ok(())
}

/// Sessions made by mlfusion merge spill files a few at a time (see
/// `SPILL_MERGE_FAN_IN`), as the CLI does.
#[test]
fn sessions_cap_spill_merges() {
    let ctx = mlfusion::session_context(SessionConfig::new());
    assert_eq!(
        ctx.runtime_env().disk_manager.max_spill_merge_fan_in(),
        mlfusion::SPILL_MERGE_FAN_IN
    );
}
