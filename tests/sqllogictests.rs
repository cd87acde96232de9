//! Runs every `sql/*.slt` file (the executable SQL contract) through
//! datafusion-sqllogictest on a fresh mlfusion session per file.
//!
//! `MLFUSION_SLT=name` runs only files whose name contains `name`.

use std::path::PathBuf;
use std::time::Duration;

mod common;

use async_trait::async_trait;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_sqllogictest::{
    df_value_validator, value_normalizer, DFColumnType, DFOutput, DFSqlLogicTestError, DataFusion,
};
use indicatif::ProgressBar;
use mlfusion::statements::Assertion;
use sqllogictest::{strict_column_validator, DBOutput};

/// datafusion-sqllogictest's engine, with the statements mlfusion adds
/// (`ASSERT`) run as the CLI and the Python package run them.
struct Mlfusion {
    ctx: SessionContext,
    datafusion: DataFusion,
}

#[async_trait]
impl sqllogictest::AsyncDB for Mlfusion {
    type Error = DFSqlLogicTestError;
    type ColumnType = DFColumnType;

    async fn run(&mut self, sql: &str) -> Result<DFOutput, DFSqlLogicTestError> {
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let statement = state.sql_to_statement(sql, &dialect);
        if !statement.is_ok_and(|s| Assertion::of(&s).is_some()) {
            return self.datafusion.run(sql).await;
        }
        mlfusion::sql(&self.ctx, sql).await?;
        Ok(DBOutput::StatementComplete(0))
    }

    fn engine_name(&self) -> &str {
        "mlfusion"
    }

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }

    async fn shutdown(&mut self) {
        self.datafusion.shutdown().await
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = common::repo_root().join("sql");
    let filter = std::env::var("MLFUSION_SLT").unwrap_or_default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("sql/ exists")
        .map(|e| e.expect("readable sql/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .filter(|p| p.to_string_lossy().contains(&filter))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_logic_tests() {
    let files = slt_files();
    assert!(!files.is_empty(), "no sql/*.slt files matched");
    // Files that write data (COPY ... TO) write under target/slt_scratch/,
    // emptied first so reruns start from nothing.
    let scratch = common::repo_root().join("target/slt_scratch");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).expect("remove old target/slt_scratch");
    }
    let mut failures = Vec::new();
    for path in files {
        let relative = PathBuf::from(path.file_name().expect("file name"));
        // Two partitions so aggregates really merge partial states.
        let config = SessionConfig::new().with_target_partitions(2);
        let ctx = mlfusion::session_context(config);
        let mut runner = sqllogictest::Runner::new(|| {
            let ctx = ctx.clone();
            let relative = relative.clone();
            async move {
                Ok(Mlfusion {
                    ctx: ctx.clone(),
                    datafusion: DataFusion::new(ctx, relative, ProgressBar::hidden()),
                })
            }
        });
        runner.with_column_validator(strict_column_validator);
        runner.with_normalizer(value_normalizer);
        runner.with_validator(df_value_validator);
        // Relative paths inside .slt files are relative to the repository root.
        std::env::set_current_dir(common::repo_root()).expect("cd to the crate root");
        match runner.run_file_async(&path).await {
            Ok(()) => println!("ok   {}", relative.display()),
            Err(e) => failures.push(format!("{}: {e}", relative.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
