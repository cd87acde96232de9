//! Helpers shared by the integration tests (each test crate uses some).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::error::Result;
use datafusion::prelude::SessionContext;

/// The repository root of the checkout under test: from `cargo test`'s
/// environment, as the binary may have been built by another checkout that
/// shares the target dir (its compile-time path would be stale).
pub fn repo_root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The BIGINT columns of the first row of `sql`'s result (None for NULL).
pub async fn first_row(ctx: &SessionContext, sql: &str) -> Result<Vec<Option<i64>>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    let batch = batches.iter().find(|b| b.num_rows() > 0).expect("a row");
    Ok(batch
        .columns()
        .iter()
        .map(|c| {
            let c = c.as_any().downcast_ref::<Int64Array>().expect("BIGINT");
            (!c.is_null(0)).then(|| c.value(0))
        })
        .collect())
}

/// Runs SQL commands through the `mlfusion` binary (`-q --format csv`, one
/// `-c` each) from the repository root, with `env` set and `unset` removed.
pub fn run_sql(commands: &[&str], env: &[(&str, &str)], unset: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlfusion"));
    cmd.args(["-q", "--format", "csv"]);
    for c in commands {
        cmd.args(["-c", c]);
    }
    cmd.envs(env.iter().copied());
    for var in unset {
        cmd.env_remove(var);
    }
    cmd.current_dir(repo_root()).output().expect("run mlfusion")
}

/// The standard output of a run that must have succeeded.
pub fn succeeded(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
