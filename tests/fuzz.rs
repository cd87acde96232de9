//! Fuzzing the table functions' argument handling: every mlfusion table
//! function called (planned, not run) with random arguments: sources,
//! model references, option strings from a grammar of real keys and values
//! mixed with arbitrary text, numbers (NaN, infinities, extremes), NULLs,
//! booleans and columns. Nothing panics, and every rejection is a planning
//! error that names the function.
//!
//! 20,000 cases; `MLFUSION_FUZZ_CASES=1000000 cargo test --workspace --test
//! fuzz` is the long run (as for the options and row-encoding fuzzers).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl};
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{col, lit, Expr};
use datafusion::prelude::{SessionConfig, SessionContext};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn cases() -> u32 {
    std::env::var("MLFUSION_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_000)
}

/// Option keys of every function, and a few that are none's.
const KEYS: &[&str] = &[
    "test_fraction",
    "validation_fraction",
    "folds",
    "key",
    "stratify",
    "group",
    "salt",
    "method",
    "model_type",
    "max_iterations",
    "l1_reg",
    "l2_reg",
    "learning_rate",
    "max_depth",
    "num_clusters",
    "num_trials",
    "algorithm",
    "strategy",
    "version",
    "alias",
    "evaluate_on",
    "features",
    "thresholds",
    "threshold",
    "top_k",
    "quantiles",
    "no_such_key",
];

/// Sources, model references and column names, good and bad.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["t", "m", "label", "m@champion", "m@1"]),
        1 => prop::sample::select(vec![
            "SELECT * FROM t", "SELECT x, label FROM t WHERE id > 3", "no_such_table", "m@0",
            "m@99", "m@", "@", "m@@x", "x", "id", "WITH a AS (SELECT 1) SELECT * FROM a",
            "SELECT", "'", "t; DROP TABLE t", "../m", "M",
        ]),
    ]
    .prop_map(str::to_string)
}

/// An options string: real keys and values, and arbitrary text.
fn options() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        prop::sample::select(KEYS).prop_map(str::to_string),
        "\\PC{0,6}"
    ];
    let value = prop_oneof![
        "-?[0-9]{0,4}(\\.[0-9]{0,3})?",
        "\\[[a-z_, :0-9.]{0,16}\\]?",
        "(choice|range|loguniform)\\([0-9., a-z]{0,12}\\)?",
        prop::sample::select(vec![
            "NaN",
            "inf",
            "1e309",
            "",
            "hash",
            "balanced",
            "kmeans",
            "logistic_reg",
            "boosted_tree_classifier",
            "linear_reg",
            "tpe",
            "grid",
            "rollback",
            "best_score",
            "most_recent",
            "x",
            "label",
            "t",
            "id",
        ])
        .prop_map(str::to_string),
        "\\PC{0,8}",
    ];
    prop::collection::vec(
        (
            key,
            prop_oneof![4 => Just("=".to_string()), 1 => "[ =]{0,2}"],
            value,
        ),
        0..4,
    )
    .prop_map(|items| {
        items
            .into_iter()
            .map(|(k, eq, v)| format!("{k}{eq}{v}"))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![3 => options(), 2 => name(), 1 => "\\PC{0,24}"]
}

/// Argument lists: anything, or the shapes the functions take (names, then
/// options) with random parts.
fn args() -> impl Strategy<Value = Vec<Expr>> {
    prop_oneof![
        prop::collection::vec(arg(), 0..6),
        (name(), name(), name(), options(), 1..5usize).prop_map(|(a, b, c, o, n)| {
            [lit(a), lit(b), lit(c), lit(o)]
                .into_iter()
                .take(n)
                .collect()
        }),
        (name(), name(), options(), options())
            .prop_map(|(a, b, o, p)| { vec![lit(a), lit(b), lit(o), lit(p)] }),
        (name(), options()).prop_map(|(a, o)| vec![lit(a), lit(o)]),
    ]
}

fn arg() -> impl Strategy<Value = Expr> {
    prop_oneof![
        6 => text().prop_map(lit),
        1 => any::<i64>().prop_map(lit),
        1 => prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(-0.0)].prop_map(lit),
        1 => Just(lit(ScalarValue::Null)),
        1 => Just(lit(ScalarValue::Utf8(None))),
        1 => any::<bool>().prop_map(lit),
        1 => Just(col("x")),
        1 => Just(lit("t").alias("named")),
    ]
}

/// A session with a table `t` and a registry holding model `m` (one
/// version, with the alias champion).
async fn session(registry: &std::path::Path) -> SessionState {
    let ctx: SessionContext = mlfusion::session_context(SessionConfig::new());
    for sql in [
        format!("SET mlfusion.registry = '{}'", registry.display()),
        "CREATE TABLE t AS SELECT v AS id, v * 1.0 AS x, v % 2 = 0 AS label \
         FROM generate_series(1, 60) AS g(v)"
            .into(),
        "SELECT * FROM ml_train('m', 't', 'label', 'model_type=logistic_reg, max_iterations=3')"
            .into(),
        "SELECT * FROM ml_deploy('m', 'strategy=most_recent')".into(),
    ] {
        ctx.sql(&sql).await.unwrap().collect().await.unwrap();
    }
    ctx.state()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_function_arguments_are_used_or_refused_with_a_planning_error() {
    let registry = std::env::temp_dir().join(format!("mlfusion-fuzz-{}", std::process::id()));
    let state = session(&registry).await;
    let functions: Vec<(&str, Arc<dyn TableFunctionImpl>)> = mlfusion::table_functions();
    let names: Vec<&str> = functions.iter().map(|(n, _)| *n).collect();
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (0..functions.len(), args());
    let (used, refused) = (AtomicU64::new(0), AtomicU64::new(0));
    let result = runner.run(&strategy, |(f, args)| {
        let (name, function) = &functions[f];
        match function.call_with_args(TableFunctionArgs::new(&args, &state)) {
            Ok(_) => {
                used.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                refused.fetch_add(1, Ordering::Relaxed);
                prop_assert!(
                    matches!(e, DataFusionError::Plan(_)),
                    "{name}({args:?}): {e}"
                );
                prop_assert!(e.message().contains(name), "{name}({args:?}): {e}");
            }
        }
        Ok(())
    });
    let _ = std::fs::remove_dir_all(&registry);
    result.unwrap();
    let (used, refused) = (used.into_inner(), refused.into_inner());
    println!(
        "{} cases over {names:?}: {used} planned, {refused} refused",
        used + refused
    );
    assert!(used > 0 && refused > 0, "{used} planned, {refused} refused");
}
