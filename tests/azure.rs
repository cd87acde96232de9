//! Azure Blob Storage URLs (`az://`, `abfs://`) through the `mlfusion` CLI,
//! against a local Azurite server that `scripts/test.sh` starts; a bare
//! `cargo test` skips these (`#[ignore]`).

mod common;

fn mlfusion(commands: &[&str]) -> String {
    let url = std::env::var("MLFUSION_TEST_AZURITE_URL")
        .expect("MLFUSION_TEST_AZURITE_URL: run through scripts/test.sh");
    // The standard object_store variables: the emulator's well-known account.
    let env = [
        ("AZURE_STORAGE_USE_EMULATOR", "true"),
        ("AZURITE_BLOB_STORAGE_URL", url.as_str()),
    ];
    common::succeeded(&common::run_sql(commands, &env, &[]))
}

#[test]
#[ignore = "needs an Azurite server: run scripts/test.sh"]
fn ml_split_reads_azure_and_splits_as_locally() {
    let container = std::env::var("MLFUSION_TEST_AZURE_CONTAINER").expect("container");
    let prefix = format!("az://{container}/split-{}/", std::process::id());
    let options = "test_fraction=0.2, folds=5, stratify=species";
    let out = mlfusion(&[
        &format!("COPY (SELECT * FROM 'data/penguins.parquet') TO '{prefix}penguins.parquet'"),
        &format!(
            "SELECT (SELECT count(*) FROM '{prefix}') AS n, \
             (SELECT dataset_fingerprint(*) FROM ml_split('{prefix}', '{options}')) = \
             (SELECT dataset_fingerprint(*) FROM ml_split('data/penguins.parquet', '{options}')) AS same"
        ),
        &format!(
            "CREATE EXTERNAL TABLE p STORED AS PARQUET LOCATION '{}'",
            prefix.replace("az://", "abfs://")
        ),
        "SELECT count(*) AS n FROM p",
    ]);
    assert!(out.contains("n,same\n344,true\n"), "{out}");
    assert!(out.ends_with("n\n344\n"), "{out}");
}
