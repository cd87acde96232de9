//! Object storage: the functions over Parquet in S3, through the `mlfusion`
//! CLI, against a local S3-compatible server.
//!
//! `scripts/test.sh` starts a moto server, creates the bucket and runs these
//! with `MLFUSION_TEST_S3_ENDPOINT` and `MLFUSION_TEST_S3_BUCKET` set; a bare
//! `cargo test` skips them (`#[ignore]`).

use std::process::Command;

fn s3() -> (String, String) {
    let endpoint = std::env::var("MLFUSION_TEST_S3_ENDPOINT")
        .expect("MLFUSION_TEST_S3_ENDPOINT: run through scripts/test.sh");
    let bucket = std::env::var("MLFUSION_TEST_S3_BUCKET").expect("MLFUSION_TEST_S3_BUCKET");
    (endpoint, bucket)
}

/// Runs SQL commands with the standard AWS environment pointing at the local server.
fn mlfusion(commands: &[&str]) -> String {
    let (endpoint, _) = s3();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlfusion"));
    cmd.args(["-q", "--format", "csv"]);
    for c in commands {
        cmd.args(["-c", c]);
    }
    let out = cmd
        .env("AWS_ENDPOINT", &endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "mlfusion-test")
        .env("AWS_SECRET_ACCESS_KEY", "mlfusion-test")
        .env("AWS_REGION", "us-east-1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run mlfusion");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
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
