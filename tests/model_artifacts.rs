//! Model artifacts are stable across refactorings: each model type (and a
//! tuned model) trained on the bundled penguins data gives exactly the
//! `model.json` bytes committed in `tests/data/artifacts/`.
//!
//! A change that alters artifacts on purpose (a new stored field, a new
//! default) regenerates the fixtures in the same commit and says why:
//! `MLFUSION_REGENERATE_ARTIFACTS=1 cargo test --test model_artifacts`.

use std::path::{Path, PathBuf};

use datafusion::error::Result;
use datafusion::prelude::SessionConfig;

const PENGUINS: &str = "SELECT * FROM ''data/penguins.parquet''";

/// (model name, the SQL that trains it). Every model type, with default and
/// given hyperparameters, and a tuned model (its trials are stored too).
fn trainings() -> Vec<(&'static str, String)> {
    let complete = format!("{PENGUINS} WHERE sex IS NOT NULL AND body_mass_g IS NOT NULL");
    vec![
        (
            "logistic",
            format!(
                "SELECT * FROM ml_train('logistic', '{PENGUINS}', 'species', \
                 'model_type=logistic_reg, l1_reg=0.5, l2_reg=0.5, max_iterations=200')"
            ),
        ),
        (
            "linear",
            format!(
                "SELECT * FROM ml_train('linear', '{complete}', 'body_mass_g', \
                 'model_type=linear_reg')"
            ),
        ),
        (
            "boosted_classifier",
            format!(
                "SELECT * FROM ml_train('boosted_classifier', '{PENGUINS}', 'species', \
                 'model_type=boosted_tree_classifier')"
            ),
        ),
        (
            "boosted_regressor",
            format!(
                "SELECT * FROM ml_train('boosted_regressor', '{complete}', 'body_mass_g', \
                 'model_type=boosted_tree_regressor, max_depth=4, learning_rate=0.2, \
                 max_iterations=30')"
            ),
        ),
        (
            "kmeans",
            format!(
                "SELECT * FROM ml_train('kmeans', '{complete}', '', \
                 'model_type=kmeans, num_clusters=3, \
                 features=[bill_length_mm, flipper_length_mm, body_mass_g, island]')"
            ),
        ),
        (
            "tuned",
            format!(
                "SELECT * FROM ml_tune('tuned', '{complete}', 'sex', \
                 'model_type=logistic_reg, trials=4, seed=3, l2_reg=range(0.001, 100, log)')"
            ),
        ),
    ]
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/artifacts")
}

#[tokio::test]
async fn artifacts_are_byte_identical_to_the_fixtures() -> Result<()> {
    let registry = std::env::temp_dir().join(format!("mlfusion-artifacts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&registry);
    let ctx = mlfusion::session_context(SessionConfig::new());
    ctx.sql(&format!("SET mlfusion.registry = '{}'", registry.display()))
        .await?
        .collect()
        .await?;
    let regenerate = std::env::var_os("MLFUSION_REGENERATE_ARTIFACTS").is_some();
    let mut differ = Vec::new();
    for (name, sql) in trainings() {
        ctx.sql(&sql).await?.collect().await?;
        let written = std::fs::read(registry.join(name).join("1").join("model.json"))?;
        let fixture = fixtures().join(format!("{name}.model.json"));
        if regenerate {
            std::fs::create_dir_all(fixtures())?;
            std::fs::write(&fixture, &written)?;
        } else if std::fs::read(&fixture)? != written {
            differ.push(name);
        }
    }
    let _ = std::fs::remove_dir_all(&registry);
    assert!(
        differ.is_empty(),
        "model.json differs from tests/data/artifacts/ for: {differ:?}"
    );
    Ok(())
}
