//! The acting table functions act when their plan executes, once per
//! execution, never while the query is planned: `EXPLAIN` of each leaves the
//! registry byte for byte as it was and runs nothing (a source that fails
//! only when read does not fail it), while `EXPLAIN ANALYZE` and a plain
//! query act exactly once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};

const PENGUINS: &str = "data/penguins.parquet";
const PENGUINS_WITH_SEX: &str = "SELECT * FROM ''data/penguins.parquet'' WHERE sex IS NOT NULL";

/// A source that plans like the penguins data but fails when its rows are
/// read (`abs_mod` refuses n = 0 when it runs).
const FAILS_WHEN_READ: &str =
    "SELECT * FROM ''data/penguins.parquet'' WHERE abs_mod(CAST(year AS BIGINT), 0) = 0";

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("a registry file");
                files.insert(path, bytes);
            }
        }
    }
    files
}

/// The versions of `model` in the registry.
fn versions(registry: &Path, model: &str) -> usize {
    std::fs::read_dir(registry.join(model))
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().parse::<u64>().is_ok())
                .count()
        })
        .unwrap_or(0)
}

async fn run(ctx: &SessionContext, sql: &str) -> Result<()> {
    ctx.sql(sql).await?.collect().await?;
    Ok(())
}

struct Registry {
    ctx: SessionContext,
    dir: PathBuf,
}

impl Registry {
    async fn new(name: &str) -> Result<Self> {
        let dir =
            std::env::temp_dir().join(format!("mlfusion-actions-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ctx = mlfusion::session_context(SessionConfig::new());
        run(
            &ctx,
            &format!("SET mlfusion.registry = '{}'", dir.display()),
        )
        .await?;
        Ok(Self { ctx, dir })
    }

    /// Trains a new version of `model` on `label` (a plain query).
    async fn train(&self, model: &str, label: &str) -> Result<()> {
        run(
            &self.ctx,
            &format!(
                "SELECT * FROM ml_train('{model}', '{PENGUINS_WITH_SEX}', '{label}', \
                 'model_type=logistic_reg, max_iterations=5')"
            ),
        )
        .await
    }

    /// `EXPLAIN` of `query`: it plans, and the registry is unchanged.
    async fn explain_changes_nothing(&self, query: &str) -> Result<()> {
        let before = snapshot(&self.dir);
        run(&self.ctx, &format!("EXPLAIN {query}")).await?;
        run(&self.ctx, &format!("EXPLAIN VERBOSE {query}")).await?;
        assert!(
            snapshot(&self.dir) == before,
            "EXPLAIN changed the registry: {query}"
        );
        Ok(())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn training_acts_once_per_execution_and_never_when_explained() -> Result<()> {
    let r = Registry::new("train").await?;
    let train = format!(
        "SELECT * FROM ml_train('m', '{PENGUINS}', 'species', \
         'model_type=logistic_reg, max_iterations=5')"
    );
    r.explain_changes_nothing(&train).await?;
    assert_eq!(versions(&r.dir, "m"), 0);
    run(&r.ctx, &format!("EXPLAIN ANALYZE {train}")).await?;
    assert_eq!(versions(&r.dir, "m"), 1, "EXPLAIN ANALYZE trains once");
    run(&r.ctx, &train).await?;
    assert_eq!(versions(&r.dir, "m"), 2, "a query trains once");

    // A view acts only when queried, once each time.
    run(&r.ctx, &format!("CREATE VIEW trained AS {train}")).await?;
    assert_eq!(versions(&r.dir, "m"), 2);
    run(&r.ctx, "SELECT version FROM trained").await?;
    assert_eq!(versions(&r.dir, "m"), 3);

    let tune = format!(
        "SELECT * FROM ml_tune('t', '{PENGUINS}', 'species', \
         'model_type=logistic_reg, trials=2, folds=2, max_iterations=5')"
    );
    r.explain_changes_nothing(&tune).await?;
    assert_eq!(versions(&r.dir, "t"), 0);
    run(&r.ctx, &format!("EXPLAIN ANALYZE {tune}")).await?;
    assert_eq!(versions(&r.dir, "t"), 1, "EXPLAIN ANALYZE tunes once");
    run(&r.ctx, &tune).await?;
    assert_eq!(versions(&r.dir, "t"), 2, "a query tunes once");
    Ok(())
}

#[tokio::test]
async fn deploying_and_listing_act_only_when_executed() -> Result<()> {
    let r = Registry::new("deploy").await?;
    r.train("m", "species").await?;
    r.train("m", "species").await?;
    let champion = |r: &Registry| {
        let ctx = r.ctx.clone();
        async move {
            let batches = ctx
                .sql("SELECT version FROM ml_models() WHERE model = 'm' AND aliases LIKE '%champion%'")
                .await?
                .collect()
                .await?;
            Ok::<_, datafusion::error::DataFusionError>(
                batches.iter().map(|b| b.num_rows()).sum::<usize>(),
            )
        }
    };
    let deploy = "SELECT * FROM ml_deploy('m', 'version=1')";
    r.explain_changes_nothing(deploy).await?;
    assert_eq!(champion(&r).await?, 0, "EXPLAIN deployed");
    run(&r.ctx, deploy).await?;
    assert_eq!(champion(&r).await?, 1);
    r.explain_changes_nothing("SELECT * FROM ml_deploy('m', 'version=2')")
        .await?;
    r.explain_changes_nothing("SELECT * FROM ml_models()")
        .await?;
    Ok(())
}

/// The functions that read (data, models) act lazily too: `EXPLAIN` of them
/// over a source that fails when read succeeds, and running them fails.
#[tokio::test]
async fn reading_functions_run_only_when_executed() -> Result<()> {
    let r = Registry::new("read").await?;
    r.train("m", "species").await?;
    r.train("binary", "sex").await?;
    for query in [
        format!("SELECT * FROM ml_evaluate('m', '{FAILS_WHEN_READ}')"),
        format!("SELECT * FROM ml_confusion_matrix('m', '{FAILS_WHEN_READ}')"),
        format!("SELECT * FROM ml_roc_curve('binary', '{FAILS_WHEN_READ}')"),
        format!("SELECT * FROM ml_describe('{FAILS_WHEN_READ}')"),
        format!("SELECT * FROM ml_validate_drift('{PENGUINS}', '{FAILS_WHEN_READ}')"),
        format!("SELECT * FROM ml_validate_skew('m', '{FAILS_WHEN_READ}')"),
        format!("SELECT * FROM ml_validate_schema('m', '{FAILS_WHEN_READ}')"),
    ] {
        r.explain_changes_nothing(&query).await?;
        let error = run(&r.ctx, &query)
            .await
            .expect_err(&format!("reads its source: {query}"));
        assert!(error.to_string().contains("abs_mod"), "{query}: {error}");
    }
    Ok(())
}
