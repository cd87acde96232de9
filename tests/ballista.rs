//! mlfusion on Apache DataFusion Ballista: a scheduler and two executors
//! started as separate `mlfusion` processes on loopback (and Ballista's
//! in-process standalone mode) must give exactly the embedded engine's
//! answers: splits of both methods, with stratify and group, dataset
//! fingerprints, predictions and evaluations.
//!
//! The S3 test (`#[ignore]`) runs through `scripts/test.sh`, which starts a
//! local S3 server.
#![cfg(feature = "ballista")]

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::{SessionConfig, SessionContext};

/// A free loopback port (free when asked: the OS hands out ports in turn).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A scheduler and two executors, as `mlfusion scheduler` and `mlfusion
/// executor` processes, stopped when dropped.
struct Cluster {
    url: String,
    processes: Vec<Child>,
    logs: Vec<PathBuf>,
    dir: TempDir,
}

impl Cluster {
    /// Starts the processes with `env` set (the same object-store settings
    /// as the client's).
    fn start(env: &[(&str, &str)]) -> Self {
        let scheduler = free_port();
        let mut cluster = Cluster {
            url: format!("df://127.0.0.1:{scheduler}"),
            processes: Vec::new(),
            logs: Vec::new(),
            dir: TempDir::new("cluster"),
        };
        cluster.spawn(
            "scheduler",
            &["scheduler", "--bind", &format!("127.0.0.1:{scheduler}")],
            env,
        );
        wait_for_port(scheduler, "the scheduler");
        for e in 1..=2 {
            let (flight, grpc) = (free_port(), free_port());
            let work = cluster.dir.path().join(format!("e{e}"));
            std::fs::create_dir_all(&work).expect("work dir");
            cluster.spawn(
                &format!("executor{e}"),
                &[
                    "executor",
                    "--scheduler",
                    &format!("127.0.0.1:{scheduler}"),
                    "--bind",
                    &format!("127.0.0.1:{flight}"),
                    "--grpc-port",
                    &grpc.to_string(),
                    "--work-dir",
                    work.to_str().expect("UTF-8 path"),
                    // One task at a time each: a stage of two or more tasks
                    // uses both executors, and shuffles cross between them.
                    "--concurrent-tasks",
                    "1",
                ],
                env,
            );
            wait_for_port(flight, "an executor");
        }
        cluster
    }

    fn spawn(&mut self, name: &str, args: &[&str], env: &[(&str, &str)]) {
        let log = self.dir.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_mlfusion"))
            .args(args)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .current_dir(common::repo_root())
            .spawn()
            .expect("start an mlfusion cluster process");
        self.processes.push(child);
        self.logs.push(log);
    }

    /// How many tasks each executor has finished, from its log.
    fn finished_tasks(&self) -> Vec<usize> {
        self.logs[1..]
            .iter()
            .map(|log| {
                std::fs::read_to_string(log)
                    .expect("executor log")
                    .matches("Finished task")
                    .count()
            })
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for p in &mut self.processes {
            let _ = p.kill();
            let _ = p.wait();
        }
    }
}

/// A folder of the test's, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl TempDir {
    fn new(name: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "mlfusion-ballista-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        Self(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

/// Runs `commands` through the `mlfusion` CLI (one JSON object per row,
/// which prints every type, floats in full), on `cluster` when given; they
/// must succeed.
fn mlfusion(cluster: Option<&Cluster>, env: &[(&str, &str)], commands: &[String]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlfusion"));
    cmd.args(["-q", "--format", "nd-json"]);
    if let Some(cluster) = cluster {
        cmd.args(["--ballista", &cluster.url]);
    }
    for c in commands {
        cmd.args(["-c", c]);
    }
    let out = cmd
        .envs(env.iter().copied())
        .current_dir(common::repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("run mlfusion");
    common::succeeded(&out)
}

/// A churn-like table in four Parquet files (so that scans have several
/// partitions to spread over executors): an id, a double, a 5-value
/// category, an imbalanced 3-class label and a group key.
fn write_table(env: &[(&str, &str)], dir: &str, rows_per_file: u64) {
    let dir = dir.trim_end_matches('/');
    let commands: Vec<String> = (0..4)
        .map(|f| {
            let (lo, hi) = (f * rows_per_file, (f + 1) * rows_per_file - 1);
            format!(
                "COPY (SELECT v AS id, (v % 997) / 7.0 + (v % 13) AS x, \
                 concat('c', CAST(v % 5 AS VARCHAR)) AS cat, \
                 CASE WHEN v % 10 < 6 THEN 'stay' WHEN (v * 7) % 10 < 9 THEN 'churn' ELSE 'pause' END AS label, \
                 v % 101 AS grp FROM generate_series({lo}, {hi}) AS t(v)) \
                 TO '{dir}/part-{f}.parquet'"
            )
        })
        .collect();
    mlfusion(None, env, &commands);
}

/// The queries compared: every function that distributes, over `data`,
/// with the model `m` in the registry.
fn queries(data: &str) -> Vec<String> {
    let split = |options: &str| format!("ml_split('{data}', '{options}')");
    let mut q = Vec::new();
    for options in [
        "test_fraction=0.2, folds=5, stratify=label",
        "test_fraction=0.2, validation_fraction=0.1, folds=3, method=hash, group=grp",
        "test_fraction=0.25, folds=4, stratify=label, group=grp, salt=cluster",
    ] {
        // Every row's assignment, and per split and fold a count and a
        // content checksum.
        q.push(format!(
            "SELECT id, split, fold FROM {} ORDER BY id",
            split(options)
        ));
        q.push(format!(
            "SELECT split, fold, label, count(*) AS n, dataset_fingerprint(*) AS f FROM {} \
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            split(options)
        ));
    }
    q.push(format!(
        "SELECT count(*) AS n, dataset_fingerprint(*) AS f, \
         dataset_fingerprint(id, x) AS f2 FROM '{data}'"
    ));
    q.push(format!(
        "SELECT abs_mod(farm_fingerprint(cat), 10) AS bucket, \
         abs_mod(row_fingerprint(id, x, cat, label, grp), 7) AS fold, count(*) AS n \
         FROM '{data}' GROUP BY 1, 2 ORDER BY 1, 2"
    ));
    q.push(format!(
        "SELECT id, predicted_label, predicted_label_probs FROM ml_predict('m', '{data}') \
         ORDER BY id"
    ));
    q.push(format!(
        "SELECT predicted_label, count(*) AS n, dataset_fingerprint(*) AS f \
         FROM ml_predict('m', '{data}') GROUP BY 1 ORDER BY 1"
    ));
    q.push(format!("SELECT * FROM ml_evaluate('m', '{data}')"));
    // Not `type`: Ballista reads Parquet strings as Utf8, not Utf8View.
    q.push(format!(
        "SELECT name, num_rows, num_nulls, num_zeros, min, max, \"unique\" \
         FROM ml_describe('{data}')"
    ));
    q
}

/// Asserts two outputs are identical, showing the first lines that differ.
fn same_lines(embedded: &str, distributed: &str) {
    for (i, (e, d)) in embedded.lines().zip(distributed.lines()).enumerate() {
        assert_eq!(e, d, "line {i} differs");
    }
    assert_eq!(embedded.lines().count(), distributed.lines().count());
}

const TRAIN: &str = "model_type=logistic_reg, l2_reg=0.5, max_iterations=20";

#[test]
fn a_cluster_of_processes_answers_as_the_embedded_engine() {
    let dir = TempDir::new("data");
    let data = dir.path().join("table");
    let data = data.to_str().expect("UTF-8 path");
    write_table(&[], data, 10_000);
    let registry = |name: &str| {
        format!(
            "SET mlfusion.registry = '{}'",
            dir.path().join(name).display()
        )
    };
    let train = |model: &str| {
        format!("SELECT training_rows FROM ml_train('{model}', '{data}', 'label', '{TRAIN}')")
    };
    // The model the queries use, trained by the embedded engine.
    mlfusion(None, &[], &[registry("registry"), train("m")]);

    let cluster = Cluster::start(&[]);
    let mut commands = vec![registry("registry")];
    commands.extend(queries(data));
    let embedded = mlfusion(None, &[], &commands);
    let distributed = mlfusion(Some(&cluster), &[], &commands);
    assert!(embedded.lines().count() > 40_000, "{}", &embedded[..2000]);
    same_lines(&embedded, &distributed);

    // ml_train gathers its rows from the cluster: the same model, byte for
    // byte, as the embedded engine trains.
    mlfusion(None, &[], &[registry("local"), train("c")]);
    mlfusion(Some(&cluster), &[], &[registry("cluster"), train("c")]);
    let model = |registry: &str| {
        std::fs::read(dir.path().join(registry).join("c/1/model.json")).expect("model.json")
    };
    assert!(model("local") == model("cluster"), "the models differ");

    // ASSERT's condition runs on the cluster; it fails there as it does in
    // the embedded engine, with the message and status 3.
    mlfusion(
        Some(&cluster),
        &[],
        &[
            registry("registry"),
            format!(
                "ASSERT (SELECT count(*) FROM ml_predict('m', '{data}')) = 40000 AS 'every row scored'"
            ),
        ],
    );
    let assert_one_row = format!("ASSERT (SELECT count(*) FROM '{data}') = 1 AS 'one row'");
    for ballista in [None, Some(cluster.url.as_str())] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlfusion"));
        cmd.args(["-q", "-c", &assert_one_row]);
        if let Some(url) = ballista {
            cmd.args(["--ballista", url]);
        }
        let out = cmd.stdin(Stdio::null()).output().expect("run mlfusion");
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(3), "{text}");
        assert!(
            text.starts_with(
                "Error: command 1:1: Assertion failed: one row (ASSERT (SELECT count(*) FROM '"
            ),
            "{text}"
        );
    }

    let tasks = cluster.finished_tasks();
    assert!(
        tasks.iter().all(|&t| t > 0),
        "tasks per executor: {tasks:?}"
    );
}

/// `sql`'s result, as a table.
async fn run(ctx: &SessionContext, sql: &str) -> datafusion::error::Result<String> {
    let batches = ctx.sql(sql).await?.collect().await?;
    Ok(pretty_format_batches(&batches)?.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_mode_answers_as_the_embedded_engine() -> datafusion::error::Result<()> {
    let dir = TempDir::new("standalone");
    let data = dir.path().join("table");
    let data = data.to_str().expect("UTF-8 path");
    write_table(&[], data, 2_000);
    let set_registry = format!(
        "SET mlfusion.registry = '{}'",
        dir.path().join("registry").display()
    );
    // Files cut into byte ranges however small (four files in three
    // partitions): the embedded engine reads them by rows
    // (`parquet_row_ranges`), the cluster by row groups.
    let config = SessionConfig::new()
        .with_target_partitions(3)
        .set_usize("datafusion.optimizer.repartition_file_min_size", 0);
    let embedded = mlfusion::session_context(config.clone());
    let standalone = mlfusion::ballista::standalone(config).await?;
    run(&embedded, &set_registry).await?;
    run(&standalone, &set_registry).await?;
    run(
        &embedded,
        &format!("SELECT * FROM ml_train('m', '{data}', 'label', '{TRAIN}')"),
    )
    .await?;
    for sql in queries(data) {
        // The distributed queries run on the cluster, not here.
        if !sql.contains("ml_evaluate") && !sql.contains("ml_describe") {
            let plan = standalone.sql(&sql).await?.create_physical_plan().await?;
            assert_eq!(plan.name(), "DistributedQueryExec", "{sql}");
        }
        let expected = run(&embedded, &sql).await?;
        assert_eq!(expected, run(&standalone, &sql).await?, "{sql}");
    }
    // Tables only this process has (generate_series, in-memory tables) are
    // read here, and queries over them planned here.
    let small = "CREATE TABLE small AS SELECT v AS id, v % 3 AS label \
                 FROM generate_series(1, 300) AS t(v)";
    let split = "SELECT split, fold, count(*) AS n, dataset_fingerprint(*) AS f \
                 FROM ml_split('small', 'folds=3, stratify=label') GROUP BY 1, 2 ORDER BY 1, 2";
    for ctx in [&embedded, &standalone] {
        run(ctx, small).await?;
    }
    assert_eq!(run(&embedded, split).await?, run(&standalone, split).await?);
    Ok(())
}

#[test]
#[ignore = "needs an S3 server: run scripts/test.sh"]
fn a_cluster_reads_sources_and_the_registry_in_s3() {
    let endpoint = std::env::var("MLFUSION_TEST_S3_ENDPOINT")
        .expect("MLFUSION_TEST_S3_ENDPOINT: run through scripts/test.sh");
    let bucket = std::env::var("MLFUSION_TEST_S3_BUCKET").expect("MLFUSION_TEST_S3_BUCKET");
    let env = [
        ("AWS_ACCESS_KEY_ID", "mlfusion-test"),
        ("AWS_SECRET_ACCESS_KEY", "mlfusion-test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_ALLOW_HTTP", "true"),
    ];
    let prefix = format!("s3://{bucket}/ballista-{}", std::process::id());
    let data = format!("{prefix}/table/");
    write_table(&env, &data, 5_000);
    let registry = format!("SET mlfusion.registry = '{prefix}/models'");
    mlfusion(
        None,
        &env,
        &[
            registry.clone(),
            format!("SELECT training_rows FROM ml_train('m', '{data}', 'label', '{TRAIN}')"),
        ],
    );
    let cluster = Cluster::start(&env);
    let mut commands = vec![registry];
    commands.extend(queries(&data));
    let embedded = mlfusion(None, &env, &commands);
    let distributed = mlfusion(Some(&cluster), &env, &commands);
    assert!(embedded.lines().count() > 20_000);
    same_lines(&embedded, &distributed);
}

#[test]
fn a_bad_or_unreachable_scheduler_is_a_clear_error() {
    let closed = free_port();
    for (url, message) in [
        (
            "df://127.0.0.1".to_string(),
            "should look like df://host:port",
        ),
        (
            "http://127.0.0.1:50050".to_string(),
            "should look like df://host:port",
        ),
        (
            format!("df://127.0.0.1:{closed}"),
            "cannot reach the Ballista scheduler",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_mlfusion"))
            .args(["-q", "--ballista", &url, "-c", "SELECT 1"])
            .output()
            .expect("run mlfusion");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{url}: {stdout}");
        assert!(stdout.contains(message), "{url}: {stdout}");
    }
}
