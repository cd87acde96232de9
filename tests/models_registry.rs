//! Models end to end on generated data: training is deterministic across
//! row order, file layout and partitioning (byte-identical artifacts,
//! identical predictions); concurrent trainings never overwrite each other;
//! half-written, corrupt and newer-format versions are handled clearly.

mod common;

use std::path::{Path, PathBuf};

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Int64Type;
use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};

const ROWS: i64 = 20_000;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mlfusion-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

async fn context(registry: &Path, partitions: usize) -> Result<SessionContext> {
    let ctx = mlfusion::session_context(SessionConfig::new().with_target_partitions(partitions));
    ctx.sql(&format!("SET mlfusion.registry = '{}'", registry.display()))
        .await?
        .collect()
        .await?;
    Ok(ctx)
}

async fn run(ctx: &SessionContext, sql: &str) -> Result<()> {
    ctx.sql(sql).await?.collect().await?;
    Ok(())
}

/// Writes the same churn-like rows as one ordered file and as a shuffled
/// copy split over several files.
async fn write_data(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let (one, many) = (dir.join("one/"), dir.join("many/"));
    let ctx = mlfusion::session_context(SessionConfig::new());
    run(
        &ctx,
        &format!(
            "CREATE VIEW source AS SELECT v AS id, \
             CASE WHEN v % 13 = 0 THEN NULL ELSE (v * 7919) % 101 / 10.0 END AS tenure, \
             CAST(v % 9 AS INT) AS visits, \
             CASE v % 5 WHEN 0 THEN 'basic' WHEN 1 THEN 'plus' WHEN 2 THEN NULL ELSE 'premium' END AS plan, \
             v % 3 = 0 AS promo, \
             CAST(to_timestamp(1700000000 + v * 3600) AS TIMESTAMP) AS signup, \
             CASE WHEN (v * 7919) % 101 < 30 THEN 'churned' WHEN v % 4 = 0 THEN 'paused' ELSE 'active' END AS status, \
             ((v * 7919) % 101) * 1.5 + (v % 9) * 2.0 AS spend, \
             v % 7 AS part \
             FROM generate_series(1, {ROWS}) AS t(v)"
        ),
    )
    .await?;
    run(
        &ctx,
        &format!(
            "COPY (SELECT * EXCLUDE (part) FROM source ORDER BY id) TO '{}data.parquet'",
            one.display()
        ),
    )
    .await?;
    run(
        &ctx,
        &format!(
            "COPY (SELECT * FROM source ORDER BY row_fingerprint('shuffle', id)) TO '{}' \
             STORED AS PARQUET PARTITIONED BY (part)",
            many.display()
        ),
    )
    .await?;
    Ok((one, many))
}

fn artifact(registry: &Path, name: &str, version: u64) -> Vec<u8> {
    std::fs::read(registry.join(format!("{name}/{version}/model.json"))).expect("model.json")
}

const TRAININGS: &[(&str, &str, &str)] = &[
    ("status", "status", "model_type=logistic_reg, l2_reg=1"),
    ("spend", "spend", "model_type=linear_reg"),
    ("spend_l1", "spend", "model_type=linear_reg, l1_reg=5"),
    (
        "status_gbt",
        "status",
        "model_type=boosted_tree_classifier, max_iterations=10",
    ),
    (
        "spend_gbt",
        "spend",
        "model_type=boosted_tree_regressor, max_iterations=10",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_rows_give_the_same_model_bytes_and_predictions() -> Result<()> {
    let dir = temp_dir("models-determinism");
    let (one, many) = write_data(&dir).await?;
    let (reg_a, reg_b) = (dir.join("registry_a"), dir.join("registry_b"));
    let single = context(&reg_a, 1).await?;
    let parallel = context(&reg_b, 8).await?;
    for (name, label, options) in TRAININGS {
        run(
            &single,
            &format!(
                "SELECT * FROM ml_train('{name}', '{}', '{label}', '{options}')",
                one.display()
            ),
        )
        .await?;
        // The partitioned copy has `part` only in its paths: leave it out.
        run(
            &parallel,
            &format!(
                "SELECT * FROM ml_train('{name}', 'SELECT * EXCLUDE (part) FROM ''{}''', \
                 '{label}', '{options}')",
                many.display()
            ),
        )
        .await?;
        let (a, b) = (artifact(&reg_a, name, 1), artifact(&reg_b, name, 1));
        assert!(a == b, "{name}: model.json differs between layouts");

        // The same predictions, from either registry, on either copy.
        let check = format!(
            "SELECT count(*), dataset_fingerprint(*) FROM ml_predict('{name}', '{}')",
            one.display()
        );
        let pa = common::first_row(&single, &check).await?;
        let pb = common::first_row(&parallel, &check).await?;
        assert_eq!(pa, pb, "{name}: predictions differ");
        assert_eq!(pa[0], Some(ROWS));
    }
    // Both layouts held out the same 4,000 rows (auto_split: 20%) for
    // evaluation: the same count and the same metrics on them.
    let held_out = "SELECT eval_rows, CAST(eval_metrics['log_loss'] * 1e15 AS BIGINT) \
                    FROM ml_models() WHERE model = 'status'";
    let (ea, eb) = (
        common::first_row(&single, held_out).await?,
        common::first_row(&parallel, held_out).await?,
    );
    assert_eq!(ea, eb);
    assert_eq!(ea[0], Some(ROWS / 5));
    // The data fingerprint of both trainings is the source's.
    let fp = |ctx: SessionContext| async move {
        common::first_row(
            &ctx,
            "SELECT data_fingerprint FROM ml_models() WHERE model = 'status'",
        )
        .await
    };
    let expected = common::first_row(
        &single,
        &format!("SELECT dataset_fingerprint(*) FROM '{}'", one.display()),
    )
    .await?;
    assert_eq!(fp(single).await?, expected);
    assert_eq!(fp(parallel).await?, expected);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_trainings_each_get_their_own_version() -> Result<()> {
    let dir = temp_dir("models-concurrency");
    let registry = dir.join("registry");
    let mut handles = Vec::new();
    for i in 0..6 {
        let registry = registry.clone();
        handles.push(tokio::spawn(async move {
            let ctx = context(&registry, 2).await?;
            let batches = ctx
                .sql(&format!(
                    "SELECT version FROM ml_train('race', \
                     'SELECT v * 1.0 AS x, v * 2.0 + {i} AS y FROM generate_series(1, 2000) AS t(v)', \
                     'y', 'model_type=linear_reg')"
                ))
                .await?
                .collect()
                .await?;
            Result::<Vec<datafusion::arrow::array::RecordBatch>>::Ok(batches)
        }));
    }
    let mut versions = Vec::new();
    for h in handles {
        let batches = h.await.expect("join")?;
        let column = batches[0].column(0).as_primitive::<Int64Type>();
        versions.push(column.value(0));
    }
    versions.sort();
    assert_eq!(versions, (1..=6).collect::<Vec<_>>());
    // Every version is complete and distinct (intercepts 0..5 differ).
    let ctx = context(&registry, 2).await?;
    let listed = common::first_row(
        &ctx,
        "SELECT count(*), count(DISTINCT artifact_uri) FROM ml_models() WHERE model = 'race'",
    )
    .await?;
    assert_eq!(listed, vec![Some(6), Some(6)]);
    let mut bytes: Vec<Vec<u8>> = (1..=6).map(|v| artifact(&registry, "race", v)).collect();
    bytes.sort();
    bytes.dedup();
    assert_eq!(bytes.len(), 6, "two versions hold the same model");
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_written_corrupt_and_newer_versions() -> Result<()> {
    let dir = temp_dir("models-integrity");
    let registry = dir.join("registry");
    let ctx = context(&registry, 2).await?;
    let train = "SELECT * FROM ml_train('m', \
                 'SELECT v * 1.0 AS x, v * 3.0 AS y FROM generate_series(1, 100) AS t(v)', \
                 'y', 'model_type=linear_reg')";
    run(&ctx, train).await?;

    // A crash after model.json but before metadata.json: not a version, and
    // the next training takes the number after it.
    std::fs::create_dir_all(registry.join("m/2"))?;
    std::fs::write(registry.join("m/2/model.json"), b"{\"half\": true}")?;
    let count = "SELECT count(*) FROM ml_models() WHERE model = 'm'";
    assert_eq!(common::first_row(&ctx, count).await?, vec![Some(1)]);
    run(&ctx, train).await?;
    assert!(registry.join("m/3/metadata.json").exists());
    assert_eq!(common::first_row(&ctx, count).await?, vec![Some(2)]);

    let predict = "SELECT * FROM ml_predict('m@3', 'SELECT 1.0 AS x')";
    run(&ctx, predict).await?;
    let path = registry.join("m/3/model.json");
    let good = std::fs::read(&path)?;

    // Corrupt bytes are detected by the fingerprint in the metadata.
    let mut bad = good.clone();
    let at = bad.len() / 2;
    bad[at] ^= 1;
    std::fs::write(&path, &bad)?;
    let err = ctx.sql(predict).await.expect_err("corrupt model");
    assert!(err.to_string().contains("is corrupt"), "{err}");

    // A newer artifact format (with a matching fingerprint) asks for an upgrade.
    let newer = String::from_utf8(good.clone()).expect("UTF-8").replacen(
        "\"format_version\": 1",
        "\"format_version\": 99",
        1,
    );
    std::fs::write(&path, &newer)?;
    let meta_path = registry.join("m/3/metadata.json");
    let meta = std::fs::read_to_string(&meta_path)?;
    let old_fp = mlfusion::registry::model_fingerprint(&good);
    let new_fp = mlfusion::registry::model_fingerprint(newer.as_bytes());
    std::fs::write(&meta_path, meta.replace(&old_fp, &new_fp))?;
    let err = ctx.sql(predict).await.expect_err("newer model");
    assert!(err.to_string().contains("upgrade mlfusion"), "{err}");

    // A refused name writes nothing anywhere.
    let before: Vec<_> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    for name in ["../escape", "a/b", "..", "x\ny", ""] {
        let sql = format!(
            "SELECT * FROM ml_train('{}', 'SELECT 1.0 AS x, 2.0 AS y', 'y', 'model_type=linear_reg')",
            name.replace('\'', "''")
        );
        let err = ctx.sql(&sql).await.expect_err("bad name");
        assert!(err.to_string().contains("bad model name"), "{err}");
    }
    let after: Vec<_> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    assert_eq!(before, after);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
