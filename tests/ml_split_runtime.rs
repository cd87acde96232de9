//! `ml_split` resolves its source (I/O inside a synchronous table-function
//! call) on every kind of Tokio runtime an embedding app may use.

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};

const SQL: &str = "SELECT count(*), dataset_fingerprint(*) FROM ml_split('data/penguins.parquet', \
                   'test_fraction=0.2, folds=3, stratify=species')";

async fn split_fingerprint() -> Result<(i64, i64)> {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR"))?;
    let ctx: SessionContext = mlfusion::session_context(SessionConfig::new());
    let batches = ctx.sql(SQL).await?.collect().await?;
    let value = |i: usize| {
        let column = batches[0]
            .column(i)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("BIGINT");
        assert!(!column.is_null(0));
        column.value(0)
    };
    Ok((value(0), value(1)))
}

#[tokio::test(flavor = "current_thread")]
async fn on_a_current_thread_runtime() -> Result<()> {
    let (rows, fingerprint) = split_fingerprint().await?;
    assert_eq!(rows, 344);
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
    assert_eq!(multi, (rows, fingerprint));
    Ok(())
}
