//! Object storage: the functions over Parquet in S3, through the `mlfusion`
//! CLI, against a local S3-compatible server.
//!
//! `scripts/test.sh` starts a moto server, creates the bucket and runs these
//! with `MLFUSION_TEST_S3_ENDPOINT` and `MLFUSION_TEST_S3_BUCKET` set; a bare
//! `cargo test` skips them (`#[ignore]`).

mod common;

use std::process::Output;

fn s3() -> (String, String) {
    let endpoint = std::env::var("MLFUSION_TEST_S3_ENDPOINT")
        .expect("MLFUSION_TEST_S3_ENDPOINT: run through scripts/test.sh");
    let bucket = std::env::var("MLFUSION_TEST_S3_BUCKET").expect("MLFUSION_TEST_S3_BUCKET");
    (endpoint, bucket)
}

/// Runs SQL commands with the standard AWS environment variables set (and
/// `endpoint_env` naming the endpoint variable, if any).
fn run(commands: &[&str], endpoint_env: Option<&str>) -> Output {
    let (endpoint, _) = s3();
    let mut env = vec![
        ("AWS_ACCESS_KEY_ID", "mlfusion-test"),
        ("AWS_SECRET_ACCESS_KEY", "mlfusion-test"),
        ("AWS_REGION", "us-east-1"),
    ];
    if let Some(var) = endpoint_env {
        env.extend([(var, endpoint.as_str()), ("AWS_ALLOW_HTTP", "true")]);
    }
    common::run_sql(commands, &env, &["AWS_ENDPOINT"])
}

/// Runs SQL commands against the local server; they must succeed.
fn mlfusion(commands: &[&str]) -> String {
    common::succeeded(&run(commands, Some("AWS_ENDPOINT_URL")))
}

const SOURCE: &str = "SELECT v AS id, concat('n', CAST(v % 1000 AS VARCHAR)) AS name, \
                      CASE WHEN v % 7 = 0 THEN NULL ELSE v / 3.0 END AS score \
                      FROM generate_series(1, 100000) AS t(v)";

#[test]
#[ignore = "needs an S3 server: run scripts/test.sh"]
fn dataset_fingerprint_is_the_same_in_s3_and_locally() {
    let (_, bucket) = s3();
    let prefix = format!("s3://{bucket}/fingerprint-{}/", std::process::id());
    // Three files in S3, written in a shuffled order, against the rows in memory.
    let out = mlfusion(&[
        &format!(
            "COPY (SELECT * FROM ({SOURCE}) WHERE id % 3 = 0 ORDER BY row_fingerprint(id)) TO '{prefix}part-0.parquet'"
        ),
        &format!(
            "COPY (SELECT * FROM ({SOURCE}) WHERE id % 3 = 1 ORDER BY row_fingerprint(id)) TO '{prefix}part-1.parquet'"
        ),
        &format!(
            "COPY (SELECT * FROM ({SOURCE}) WHERE id % 3 = 2 ORDER BY row_fingerprint(id)) TO '{prefix}part-2.parquet'"
        ),
        &format!(
            "SELECT (SELECT count(*) FROM '{prefix}') AS n, \
             (SELECT dataset_fingerprint(id, name, score) FROM '{prefix}') = \
             (SELECT dataset_fingerprint(id, name, score) FROM ({SOURCE})) AS same"
        ),
    ]);
    assert!(out.ends_with("n,same\n100000,true\n"), "{out}");
}

#[test]
#[ignore = "needs an S3 server: run scripts/test.sh"]
fn farm_fingerprint_and_splits_over_parquet_in_s3() {
    let (_, bucket) = s3();
    let path = format!(
        "s3://{bucket}/penguins-{}/penguins.parquet",
        std::process::id()
    );
    let out = mlfusion(&[
        &format!("COPY (SELECT * FROM 'data/penguins.parquet') TO '{path}'"),
        &format!(
            "SELECT farm_fingerprint(species) AS f, count(*) AS n FROM '{path}' \
             WHERE species = 'Adelie' GROUP BY 1"
        ),
        &format!(
            "SELECT sum(CASE WHEN abs_mod(row_fingerprint('v1', species, island, bill_length_mm, sex), 10) < 8 \
             THEN 1 ELSE 0 END) = (SELECT sum(CASE WHEN abs_mod(row_fingerprint('v1', species, island, \
             bill_length_mm, sex), 10) < 8 THEN 1 ELSE 0 END) FROM 'data/penguins.parquet') AS same_split \
             FROM '{path}'"
        ),
    ]);
    let adelie = mlfusion::udfs::farmhash::farm_fingerprint(b"Adelie");
    assert!(out.contains(&format!("f,n\n{adelie},152\n")), "{out}");
    assert!(out.ends_with("same_split\ntrue\n"), "{out}");
}

#[test]
#[ignore = "needs an S3 server: run scripts/test.sh"]
fn ml_split_reads_s3_and_splits_as_locally() {
    let (_, bucket) = s3();
    let prefix = format!("s3://{bucket}/split-{}/", std::process::id());
    let options = "test_fraction=0.2, validation_fraction=0.1, folds=5, stratify=species, salt=s3";
    let out = mlfusion(&[
        // Two files in S3, in another row order than the local file.
        &format!(
            "COPY (SELECT * FROM 'data/penguins.parquet' WHERE year < 2009 ORDER BY body_mass_g) \
             TO '{prefix}penguins/a.parquet'"
        ),
        &format!(
            "COPY (SELECT * FROM 'data/penguins.parquet' WHERE year = 2009 ORDER BY bill_length_mm DESC) \
             TO '{prefix}penguins/b.parquet'"
        ),
        &format!(
            "SELECT (SELECT count(*) FROM ml_split('{prefix}penguins/', '{options}')) AS n, \
             (SELECT dataset_fingerprint(*) FROM ml_split('{prefix}penguins/', '{options}')) = \
             (SELECT dataset_fingerprint(*) FROM ml_split('data/penguins.parquet', '{options}')) AS same"
        ),
        // Written back to S3 partitioned by split, and read again.
        &format!(
            "COPY (SELECT * FROM ml_split('{prefix}penguins/', '{options}')) \
             TO '{prefix}splits/' STORED AS PARQUET PARTITIONED BY (split)"
        ),
        &format!("SELECT split, count(*) AS n FROM '{prefix}splits/' GROUP BY split ORDER BY split"),
    ]);
    assert!(out.contains("n,same\n344,true\n"), "{out}");
    assert!(
        out.ends_with("split,n\ntest,70\ntrain,241\nvalidation,33\n"),
        "{out}"
    );
}

#[test]
#[ignore = "needs an S3 server: run scripts/test.sh"]
fn external_table_options_configure_the_endpoint() {
    let (endpoint, bucket) = s3();
    let path = format!(
        "s3://{bucket}/options-{}/penguins.parquet",
        std::process::id()
    );
    mlfusion(&[&format!(
        "COPY (SELECT * FROM 'data/penguins.parquet') TO '{path}'"
    )]);
    // No endpoint in the environment: OPTIONS alone must reach the server.
    let out = run(
        &[
            &format!(
                "CREATE EXTERNAL TABLE p STORED AS PARQUET LOCATION '{path}' \
                 OPTIONS ('aws.endpoint' '{endpoint}', 'aws.allow_http' 'true')"
            ),
            "SELECT count(*) AS n FROM ml_split('p', 'stratify=species')",
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.ends_with("n\n344\n"), "{stdout}");
}

#[test]
#[ignore = "needs an S3 server: run scripts/test.sh"]
fn a_missing_bucket_is_a_clear_error() {
    let out = run(
        &["SELECT count(*) FROM ml_split('s3://mlfusion-no-such-bucket/data/')"],
        Some("AWS_ENDPOINT_URL"),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("ml_split: cannot read the source 's3://mlfusion-no-such-bucket/data/'")
            && stdout.contains("NoSuchBucket"),
        "{stdout}"
    );
}

#[test]
#[ignore = "needs an S3 server: run scripts/test.sh"]
fn model_registry_in_s3() {
    let (_, bucket) = s3();
    let prefix = format!("s3://{bucket}/models-{}", std::process::id());
    let data = format!(
        "s3://{bucket}/models-data-{}/penguins.parquet",
        std::process::id()
    );
    let train = format!(
        "SELECT model, version, training_rows FROM ml_train('penguins', '{data}', 'species', \
         'model_type=logistic_reg, l2_reg=1')"
    );
    let local = std::env::temp_dir().join(format!("mlfusion-s3-registry-{}", std::process::id()));
    let out = mlfusion(&[
        &format!("COPY (SELECT * FROM 'data/penguins.parquet') TO '{data}'"),
        &format!("SET mlfusion.registry = '{prefix}'"),
        &train,
        &train,
        "SELECT model, version, artifact_uri FROM ml_models() ORDER BY version",
        "SELECT * FROM ml_deploy('penguins', 'version=1')",
        &format!(
            "SELECT count(*) AS n, dataset_fingerprint(species, predicted_species) AS p \
             FROM ml_predict('penguins', '{data}')"
        ),
        // The same model in a local registry predicts the same.
        &format!("SET mlfusion.registry = '{}'", local.display()),
        &train,
        "SELECT count(*) AS n, dataset_fingerprint(species, predicted_species) AS p \
         FROM ml_predict('penguins', 'data/penguins.parquet')",
    ]);
    let _ = std::fs::remove_dir_all(&local);
    assert!(
        out.contains("model,version,training_rows\npenguins,1,344\n"),
        "{out}"
    );
    assert!(out.contains("penguins,2,344\n"), "{out}");
    assert!(
        out.contains(&format!(
            "model,version,artifact_uri\npenguins,1,{prefix}/penguins/1/\npenguins,2,{prefix}/penguins/2/\n"
        )),
        "{out}"
    );
    assert!(out.contains("penguins,champion,1,,version=1\n"), "{out}");
    let predictions: Vec<&str> = out.lines().filter(|l| l.starts_with("344,")).collect();
    assert_eq!(predictions.len(), 2, "{out}");
    assert_eq!(predictions[0], predictions[1], "{out}");
}

#[test]
#[ignore = "needs an S3 server: run scripts/test.sh"]
fn tuning_reads_and_writes_s3() {
    let (_, bucket) = s3();
    let prefix = format!("s3://{bucket}/tuned-{}", std::process::id());
    let data = format!("{prefix}-data/penguins.parquet");
    let trials = "SELECT trial_id, l2_reg, objective_mean, is_optimal FROM";
    let out = mlfusion(&[
        &format!("COPY (SELECT * FROM 'data/penguins.parquet') TO '{data}'"),
        &format!("SET mlfusion.registry = '{prefix}'"),
        &format!(
            "{trials} ml_tune('species', '{data}', 'species', \
             'model_type=logistic_reg, folds=3, algorithm=grid, l2_reg=choice(0.1, 1, 10)')"
        ),
        &format!("{trials} ml_trials('species')"),
        "SELECT version, artifact_uri FROM ml_models()",
    ]);
    let header = "trial_id,l2_reg,objective_mean,is_optimal\n";
    let blocks: Vec<&str> = out.split(header).skip(1).collect();
    assert_eq!(blocks.len(), 2, "{out}");
    let tuned: Vec<&str> = blocks[0].lines().take(3).collect();
    let read_back: Vec<&str> = blocks[1].lines().take(3).collect();
    assert_eq!(tuned, read_back, "{out}");
    assert_eq!(
        tuned.iter().filter(|l| l.ends_with(",true")).count(),
        1,
        "{out}"
    );
    assert!(
        out.contains(&format!("version,artifact_uri\n1,{prefix}/species/1/\n")),
        "{out}"
    );
}
