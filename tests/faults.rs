//! The registry's promise under faults and concurrency: a version that
//! `ml_train` reports exists and is whole, an alias points at a version
//! that exists, and a failed write leaves no half-written visible version.
//!
//! - Concurrent `ml_deploy` of one alias from 8 processes, on the local file
//!   system and on S3.
//! - Trainings and deploys from several processes through a fault-injecting
//!   proxy in front of the S3 server (`common/fault_proxy.rs`), then the
//!   registry read back directly.
//!
//! The S3 tests (`#[ignore]`) run through `scripts/test.sh`, which starts a
//! local moto server and sets `MLFUSION_TEST_S3_ENDPOINT` and
//! `MLFUSION_TEST_S3_BUCKET`.

mod common;
#[path = "common/fault_proxy.rs"]
mod fault_proxy;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};

use fault_proxy::{Fault, FaultProxy, Rates};
use object_store::aws::AmazonS3Builder;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::Value;

/// Where a test registry lives, and how to reach it.
enum Place {
    Local(PathBuf),
    S3 {
        endpoint: String,
        bucket: String,
        prefix: String,
    },
}

impl Place {
    fn local(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("mlfusion-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temp dir");
        Place::Local(dir)
    }

    fn s3(name: &str) -> Self {
        Place::S3 {
            endpoint: std::env::var("MLFUSION_TEST_S3_ENDPOINT")
                .expect("MLFUSION_TEST_S3_ENDPOINT: run through scripts/test.sh"),
            bucket: std::env::var("MLFUSION_TEST_S3_BUCKET").expect("MLFUSION_TEST_S3_BUCKET"),
            prefix: format!("{name}-{}", std::process::id()),
        }
    }

    /// A URL (or path) under this place.
    fn url(&self, path: &str) -> String {
        match self {
            Place::Local(dir) => dir.join(path).display().to_string(),
            Place::S3 { bucket, prefix, .. } => format!("s3://{bucket}/{prefix}/{path}"),
        }
    }

    /// The environment of an `mlfusion` process reaching this place at
    /// `endpoint` (the server, or a proxy in front of it).
    fn env(&self, endpoint: Option<&str>) -> Vec<(String, String)> {
        match self {
            Place::Local(_) => Vec::new(),
            Place::S3 {
                endpoint: server, ..
            } => [
                ("AWS_ACCESS_KEY_ID", "mlfusion-test"),
                ("AWS_SECRET_ACCESS_KEY", "mlfusion-test"),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ENDPOINT_URL", endpoint.unwrap_or(server)),
                ("AWS_ALLOW_HTTP", "true"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        }
    }

    fn server(&self) -> SocketAddr {
        let Place::S3 { endpoint, .. } = self else {
            panic!("not S3")
        };
        let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
        host.parse().expect("the S3 endpoint as host:port")
    }

    /// Every object under `path`, as (path relative to it, bytes), read
    /// directly (never through a proxy).
    fn objects(&self, path: &str) -> Vec<(String, Vec<u8>)> {
        match self {
            Place::Local(dir) => {
                let root = dir.join(path);
                let mut out = Vec::new();
                let mut stack = vec![root.clone()];
                while let Some(d) = stack.pop() {
                    let Ok(entries) = std::fs::read_dir(&d) else {
                        continue;
                    };
                    for e in entries {
                        let p = e.expect("a dir entry").path();
                        if p.is_dir() {
                            stack.push(p);
                        } else {
                            let rel = p
                                .strip_prefix(&root)
                                .unwrap()
                                .to_string_lossy()
                                .into_owned();
                            out.push((rel, std::fs::read(&p).expect("read an object")));
                        }
                    }
                }
                out.sort();
                out
            }
            Place::S3 {
                endpoint,
                bucket,
                prefix,
            } => {
                let store = AmazonS3Builder::new()
                    .with_endpoint(endpoint)
                    .with_allow_http(true)
                    .with_bucket_name(bucket)
                    .with_region("us-east-1")
                    .with_access_key_id("mlfusion-test")
                    .with_secret_access_key("mlfusion-test")
                    .build()
                    .expect("an S3 client");
                let root = format!("{prefix}/{path}");
                let runtime = tokio::runtime::Runtime::new().expect("a runtime");
                runtime.block_on(async {
                    use futures::TryStreamExt;
                    let root_path = object_store::path::Path::from(root.as_str());
                    let listed: Vec<_> = store
                        .list(Some(&root_path))
                        .try_collect()
                        .await
                        .expect("list the registry");
                    let mut out = Vec::new();
                    for meta in listed {
                        let bytes = store
                            .get(&meta.location)
                            .await
                            .expect("get an object")
                            .bytes()
                            .await
                            .expect("read an object");
                        let rel = meta.location.as_ref()[root.len() + 1..].to_string();
                        out.push((rel, bytes.to_vec()));
                    }
                    out.sort();
                    out
                })
            }
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Place::Local(dir) = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Starts `mlfusion` with `commands` (nd-json rows, every statement run even
/// after failures).
fn spawn(env: &[(String, String)], commands: &[String]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlfusion"));
    cmd.args(["-q", "--format", "nd-json", "--continue-on-error"]);
    for c in commands {
        cmd.args(["-c", c]);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .env_remove("AWS_ENDPOINT")
        .current_dir(common::repo_root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start mlfusion")
}

/// Runs `commands`, which must all succeed; the rows as JSON objects.
fn rows(env: &[(String, String)], commands: &[String]) -> Vec<Value> {
    let out = spawn(env, commands)
        .wait_with_output()
        .expect("run mlfusion");
    let text = common::succeeded(&out);
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// What one statement of a run gave: its rows, or its error.
#[derive(Debug)]
enum Outcome {
    Rows(Vec<Value>),
    Failed(String),
}

/// The outcome of each statement of a `spawn`ed run whose statements each
/// return one row or fail (the first statement, a SET, returns none).
fn outcomes(out: &Output, statements: usize) -> Vec<Outcome> {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "a panic: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut by_statement: BTreeMap<usize, Outcome> = BTreeMap::new();
    let mut next = 2;
    for line in stdout.lines() {
        if let Some(error) = line.strip_prefix("Error: command ") {
            let (n, message) = error.split_once(":1: ").expect("Error: command N:1: ...");
            let n: usize = n.parse().expect("a command number");
            by_statement.insert(n, Outcome::Failed(message.to_string()));
            next = n + 1;
        } else if line.starts_with('{') {
            while matches!(by_statement.get(&next), Some(Outcome::Failed(_))) {
                next += 1;
            }
            let row = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            by_statement.insert(next, Outcome::Rows(vec![row]));
            next += 1;
        } else if !line.trim().is_empty() {
            // An error message over several lines continues the last one.
            if let Some(Outcome::Failed(m)) = by_statement.get_mut(&(next - 1)) {
                m.push('\n');
                m.push_str(line);
            }
        }
    }
    assert_eq!(by_statement.len(), statements, "{stdout}");
    by_statement.into_values().collect()
}

const TRAINING_ROWS: &str = "SELECT v * 1.0 AS x, (v * 7) % 10 * 1.0 AS z, v % 3 = 0 AS label \
                             FROM generate_series(1, 600) AS t(v)";

/// A registry's deployment logs and versions, read from its objects.
#[derive(Debug, Default)]
struct Contents {
    /// Per model, the versions with metadata.json (visible) and those with
    /// model.json only (a write that did not finish).
    visible: BTreeMap<String, BTreeSet<u64>>,
    unfinished: BTreeMap<String, BTreeSet<u64>>,
    /// Per model, the deployment log in order: (alias, version, strategy).
    logs: BTreeMap<String, Vec<(String, u64, String)>>,
}

fn contents(place: &Place) -> Contents {
    let mut c = Contents::default();
    let mut files: BTreeMap<(String, u64), BTreeSet<String>> = BTreeMap::new();
    for (path, bytes) in place.objects("registry") {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            [model, "aliases", _] => {
                let entry: Value = serde_json::from_slice(&bytes).expect("a whole log entry");
                c.logs.entry(model.to_string()).or_default().push((
                    entry["alias"].as_str().unwrap().to_string(),
                    entry["version"].as_u64().unwrap(),
                    entry["strategy"].as_str().unwrap().to_string(),
                ));
            }
            [model, version, file] => {
                let version = version.parse().expect("a version folder");
                files
                    .entry((model.to_string(), version))
                    .or_default()
                    .insert(file.to_string());
            }
            _ => panic!("an unexpected object {path}"),
        }
    }
    for ((model, version), names) in files {
        if names.contains("metadata.json") {
            assert!(
                names.contains("model.json"),
                "{model}/{version} is visible without its model.json"
            );
            c.visible.entry(model).or_default().insert(version);
        } else {
            assert_eq!(names, BTreeSet::from(["model.json".to_string()]));
            c.unfinished.entry(model).or_default().insert(version);
        }
    }
    c
}

/// The version `ml_deploy`'s rollback goes to after `log` (deployments push,
/// rollbacks pop, as deploy.rs replays it).
fn rollback_target(log: &[(String, u64, String)]) -> Option<u64> {
    let mut stack = Vec::new();
    for (_, version, strategy) in log {
        if strategy == "rollback" {
            stack.pop();
        } else {
            stack.push(*version);
        }
    }
    stack.len().checked_sub(2).map(|i| stack[i])
}

/// 8 processes move one alias at once, 5 times each, by mixed strategies;
/// the log then replays to a version that exists, `ml_models()` agrees, and
/// a rollback goes where the replayed log says.
fn concurrent_deploys(place: &Place) {
    let env = place.env(None);
    let set = format!("SET mlfusion.registry = '{}'", place.url("registry"));
    let mut train = vec![set.clone()];
    for i in 1..=4 {
        train.push(format!(
            "SELECT version FROM ml_train('race', 'SELECT x * {i} AS x, z, label FROM ({TRAINING_ROWS})', \
             'label', 'model_type=logistic_reg, max_iterations=5')"
        ));
    }
    assert_eq!(rows(&env, &train).len(), 4);

    let strategies = |p: usize, k: usize| match (p + k) % 4 {
        0 => "strategy=most_recent".to_string(),
        1 => "strategy=best_score".to_string(),
        2 => "strategy=rollback".to_string(),
        _ => format!("version={}", (p * 5 + k) % 4 + 1),
    };
    let children: Vec<Child> = (0..8)
        .map(|p| {
            let mut commands = vec![set.clone()];
            commands.extend((0..5).map(|k| {
                format!(
                    "SELECT version, strategy FROM ml_deploy('race', '{}')",
                    strategies(p, k)
                )
            }));
            spawn(&env, &commands)
        })
        .collect();
    let mut deployed = 0;
    for child in children {
        let out = child.wait_with_output().expect("run mlfusion");
        for outcome in outcomes(&out, 5) {
            match outcome {
                Outcome::Rows(_) => deployed += 1,
                // A rollback before any history: refused, nothing written.
                Outcome::Failed(m) => assert!(m.contains("no earlier version"), "{m}"),
            }
        }
    }

    let c = contents(place);
    let log = &c.logs["race"];
    assert_eq!(
        log.len(),
        deployed,
        "a reported deployment is not in the log"
    );
    assert!(deployed >= 20, "{deployed} of 40 deployments");
    let versions = &c.visible["race"];
    assert!(log.iter().all(|(_, v, _)| versions.contains(v)), "{log:?}");
    let current = log.last().unwrap().1;
    let listed = rows(
        &env,
        &[
            set.clone(),
            "SELECT version FROM ml_models() WHERE model = 'race' AND aliases = 'champion'".into(),
            "SELECT count(*) AS n FROM ml_predict('race@champion', 'SELECT 1.0 AS x, 2.0 AS z')"
                .into(),
        ],
    );
    assert_eq!(listed[0]["version"].as_u64(), Some(current));
    assert_eq!(listed[1]["n"].as_u64(), Some(1));

    let expected = rollback_target(log);
    let rolled = spawn(
        &env,
        &[
            set,
            "SELECT version FROM ml_deploy('race', 'strategy=rollback')".into(),
        ],
    )
    .wait_with_output()
    .expect("run mlfusion");
    match (expected, &outcomes(&rolled, 1)[0]) {
        (Some(v), Outcome::Rows(r)) => assert_eq!(r[0]["version"].as_u64(), Some(v)),
        (None, Outcome::Failed(m)) => assert!(m.contains("no earlier version"), "{m}"),
        (e, o) => panic!("rollback: expected {e:?}, got {o:?}"),
    }
}

#[test]
fn concurrent_deploys_on_the_local_file_system() {
    concurrent_deploys(&Place::local("deploys"));
}

#[test]
#[ignore = "needs an S3 server: run scripts/test.sh"]
fn concurrent_deploys_on_s3() {
    concurrent_deploys(&Place::s3("deploys"));
}

/// The seeded fault run: `PROCESSES` processes each train and deploy
/// `ROUNDS` times over 16 models through the fault-injecting proxy; then the
/// registry, read directly, has every version a training reported, whole
/// and loadable, no visible version without its model, and every alias at a
/// version that exists.
#[test]
#[ignore = "needs an S3 server: run scripts/test.sh"]
fn trainings_and_deploys_through_faults_lose_nothing() {
    const PROCESSES: usize = 4;
    const ROUNDS: usize = 50;
    let place = Place::s3("faults");
    // The training rows, written directly.
    let data = place.url("data/rows.parquet");
    rows(
        &place.env(None),
        &[format!("COPY ({TRAINING_ROWS}) TO '{data}'")],
    );
    let seed: u64 = std::env::var("MLFUSION_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261208);
    let proxy = FaultProxy::start(
        place.server(),
        seed,
        Rates {
            delay: 10,
            service_unavailable: 10,
            internal_error: 5,
            too_many_requests: 5,
            reset_mid_request: 15,
            reset_after_forward: 30,
            truncated_body: 130,
            error_after_forward: 30,
        },
    );
    let env = place.env(Some(&proxy.url()));
    let set = format!("SET mlfusion.registry = '{}'", place.url("registry"));
    let model = |p: usize, i: usize| format!("m{}", (p * 5 + i) % 16);
    let children: Vec<Child> = (0..PROCESSES)
        .map(|p| {
            let mut commands = vec![set.clone()];
            for i in 0..ROUNDS {
                commands.push(format!(
                    "SELECT model, version FROM ml_train('{}', '{data}', 'label', \
                     'model_type=logistic_reg, max_iterations=3')",
                    model(p, i)
                ));
                let strategy = ["most_recent", "best_score", "rollback"][(p + i) % 3];
                commands.push(format!(
                    "SELECT model, alias, version FROM ml_deploy('{}', 'strategy={strategy}')",
                    model(p, i + 1)
                ));
            }
            spawn(&env, &commands)
        })
        .collect();

    let mut trained: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    let mut deployed: Vec<(String, u64)> = Vec::new();
    let (mut failed_trainings, mut failed_deploys, mut refused) = (0, 0, 0);
    let mut kinds: BTreeSet<String> = BTreeSet::new();
    for child in children {
        let out = child.wait_with_output().expect("run mlfusion");
        for (i, outcome) in outcomes(&out, 2 * ROUNDS).into_iter().enumerate() {
            let training = i % 2 == 0;
            match outcome {
                Outcome::Rows(r) => {
                    let (m, v) = (
                        r[0]["model"].as_str().unwrap(),
                        r[0]["version"].as_u64().unwrap(),
                    );
                    if training {
                        assert!(
                            trained.entry(m.to_string()).or_default().insert(v),
                            "{m}@{v} twice"
                        );
                    } else {
                        deployed.push((m.to_string(), v));
                    }
                }
                // Not a fault: no version yet, or nothing to roll back to.
                Outcome::Failed(m)
                    if !training
                        && (m.contains("no earlier version") || m.contains("no model named")) =>
                {
                    refused += 1
                }
                Outcome::Failed(m) => {
                    kinds.insert(
                        m.chars()
                            .filter(|c| !c.is_ascii_digit())
                            .take(160)
                            .collect(),
                    );
                    let function = if training { "ml_train" } else { "ml_deploy" };
                    assert!(
                        m.contains(function),
                        "the failure does not name {function}: {m}"
                    );
                    assert!(
                        m.contains(&proxy.url()) || m.contains(&place.url("")),
                        "the failure names no URL: {m}"
                    );
                    assert!(!m.contains("is corrupt"), "a fault read as corruption: {m}");
                    if training {
                        failed_trainings += 1
                    } else {
                        failed_deploys += 1
                    }
                }
            }
        }
    }
    let counts = proxy.counts();
    let lost_answers = proxy.lost_write_answers();
    let unsupported = proxy.unsupported();
    drop(proxy);
    println!(
        "failures seen:\n{}",
        kinds.into_iter().collect::<Vec<_>>().join("\n")
    );

    // Read back directly: every reported version visible, whole and
    // loadable; every deployment reported in the log, every alias entry at
    // a visible version.
    let c = contents(&place);
    for (model, versions) in &trained {
        let visible = c.visible.get(model).cloned().unwrap_or_default();
        assert!(
            versions.is_subset(&visible),
            "{model}: reported {versions:?}, visible {visible:?}"
        );
    }
    for (model, version) in &deployed {
        assert!(
            c.logs[model].iter().any(|(_, v, _)| v == version),
            "{model}: deployment to {version} not in the log"
        );
    }
    for (model, log) in &c.logs {
        for (_, v, _) in log {
            assert!(
                c.visible[model].contains(v),
                "{model}'s log names missing version {v}"
            );
        }
    }
    let env = place.env(None);
    let mut checks = vec![set.clone()];
    for (model, versions) in &c.visible {
        for v in versions {
            checks.push(format!(
                "SELECT count(*) AS n FROM ml_predict('{model}@{v}', 'SELECT 1.0 AS x, 2.0 AS z')"
            ));
        }
        if c.logs.contains_key(model) {
            checks.push(format!(
                "SELECT count(*) AS n FROM ml_predict('{model}@champion', 'SELECT 1.0 AS x, 2.0 AS z')"
            ));
        }
    }
    checks.push("SELECT count(*) AS n FROM ml_models()".into());
    let read = rows(&env, &checks);
    let listed = read.last().unwrap()["n"].as_u64().unwrap();
    let visible: usize = c.visible.values().map(BTreeSet::len).sum();
    assert_eq!(
        listed, visible as u64,
        "ml_models() lists other than the visible versions"
    );

    let operations = 2 * PROCESSES * ROUNDS;
    let failed = failed_trainings + failed_deploys;
    let faults: u64 = counts
        .iter()
        .filter(|(f, _)| *f != Fault::Pass)
        .map(|(_, n)| n)
        .sum();
    let unfinished: usize = c.unfinished.values().map(BTreeSet::len).sum();
    println!(
        "fault run (seed {seed}): {operations} operations, {} trainings and {} deploys \
         reported, {failed_trainings} trainings and {failed_deploys} deploys failed, {refused} \
         refused; {visible} versions visible, {unfinished} unfinished writes ignored, 0 lost; \
         requests: {counts:?}, {lost_answers} writes landed with their answer lost",
        trained.values().map(BTreeSet::len).sum::<usize>(),
        deployed.len(),
    );
    assert!(faults > 100, "too few faults injected: {counts:?}");
    // The read-back path of registry writes ran.
    assert!(
        lost_answers > 10,
        "too few lost answers to writes: {lost_answers}"
    );
    assert_eq!(unsupported, 0, "requests the proxy could not read");
    assert!(
        (operations / 10..operations / 2).contains(&failed),
        "{failed} of {operations} operations failed: the fault rate is off"
    );
}
