//! `ml_split` resolves its source (I/O inside a synchronous table-function
//! call) on every kind of Tokio runtime an embedding app may use.

mod common;

use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};

const SQL: &str = "SELECT count(*), dataset_fingerprint(*) FROM ml_split('data/penguins.parquet', \
                   'test_fraction=0.2, folds=3, stratify=species')";

async fn split_fingerprint() -> Result<Vec<Option<i64>>> {
    std::env::set_current_dir(common::repo_root())?;
    let ctx: SessionContext = mlfusion::session_context(SessionConfig::new());
    common::first_row(&ctx, SQL).await
}

#[tokio::test(flavor = "current_thread")]
async fn on_a_current_thread_runtime() -> Result<()> {
    let single = split_fingerprint().await?;
    assert_eq!(single[0], Some(344));
    assert!(single[1].is_some());
    // The same split as on a multi-thread runtime.
    let multi = std::thread::spawn(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(split_fingerprint())
    })
    .join()
    .expect("thread")?;
    assert_eq!(multi, single);
    Ok(())
}
