//! `ml_deploy(model [, options])`: points an alias (`champion` unless
//! `alias=` says otherwise) at a version of a model, by one of the
//! strategies: `best_score` (default: the best score on the rows each
//! version held out of its fit, its `eval_metrics`: ROC AUC for
//! classifiers, R² for regressors, the lowest Davies–Bouldin index for
//! k-means; the newest on ties; versions without evaluation rows are
//! skipped, with a notice), `most_recent`,
//! `rollback` (the version the alias pointed at before its current one), or
//! `version=N`. With `evaluate_on=<held-out rows>`, `best_score` instead
//! evaluates the alias's current version and the newest one on those rows
//! and keeps the better (the current one on ties). Every move is appended
//! to the model's deployment log.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::LogicalPlan;

use crate::functions::common::action::ActionTable;
use crate::functions::common::args::{session_state, Signature};
use crate::functions::common::options::{Choice, Options};
use crate::functions::common::source::resolve;
use crate::models::{metrics, ModelType};
use crate::progress;
use crate::registry::{now_rfc3339, validate_alias, validate_name, AliasEntry, Metadata, Registry};
use crate::scoring::evaluate;

const NAME: &str = "ml_deploy";

const KEYS: &[&str] = &["strategy", "version", "alias", "evaluate_on"];

/// How `ml_deploy` picks the version (without `version=N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// The best headline score (on each version's evaluation rows, or on
    /// `evaluate_on`).
    BestScore,
    MostRecent,
    /// The version the alias pointed at before its current one.
    Rollback,
}

impl Choice for Strategy {
    const CHOICES: &'static [(&'static str, Self)] = &[
        ("best_score", Self::BestScore),
        ("most_recent", Self::MostRecent),
        ("rollback", Self::Rollback),
    ];
}

#[derive(Debug, Default)]
pub struct MlDeploy;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("alias", DataType::Utf8, false),
        Field::new("version", DataType::Int64, false),
        Field::new("previous_version", DataType::Int64, true),
        Field::new("strategy", DataType::Utf8, false),
    ]))
}

/// The score `best_score` maximizes: the default objective of the model's
/// task (ROC AUC, R², the Davies–Bouldin index), negated where lower is
/// better, so that higher is better for every model type.
fn headline(version: &Metadata, metric: impl Fn(&str) -> Option<f64>) -> Option<f64> {
    let objective = ModelType::parse(&version.model_type)?
        .task()
        .default_objective();
    let value = metric(objective)?;
    Some(if metrics::higher_is_better(objective) {
        value
    } else {
        -value
    })
}

/// The headline score on the version's own evaluation rows.
fn score(m: &Metadata) -> Option<f64> {
    let eval = m.eval_metrics.as_ref()?;
    headline(m, |k| eval.get(k).copied().flatten())
}

struct Request {
    name: String,
    alias: String,
    strategy: Strategy,
    version: Option<u64>,
    /// Held-out rows to judge the current version and the newest on.
    evaluate_on: Option<(String, LogicalPlan)>,
}

/// The headline score of a version on `rows`.
async fn held_out_score(
    state: &SessionState,
    registry: &Registry,
    version: &Metadata,
    rows: &LogicalPlan,
) -> Result<Option<f64>> {
    let model = Arc::new(registry.load(version).await?);
    let metrics = evaluate(NAME, state.clone(), rows.clone(), version, model).await?;
    Ok(headline(version, |k| {
        metrics
            .iter()
            .find(|(name, _)| *name == k)
            .and_then(|(_, v)| *v)
    }))
}

async fn deploy(state: SessionState, r: &Request) -> Result<Vec<RecordBatch>> {
    let registry = Registry::for_session(&state)?;
    let versions = registry.versions(&r.name).await?;
    if versions.is_empty() {
        return plan_err!("{NAME}: no model named {} in the registry", r.name);
    }
    let log: Vec<AliasEntry> = registry
        .alias_log(&r.name)
        .await?
        .into_iter()
        .filter(|e| e.alias == r.alias)
        .collect();
    let current = log.last().map(|e| e.version);
    let target = match (r.strategy, r.version) {
        (_, Some(v)) => match versions.iter().find(|m| m.version == v) {
            Some(m) => m.version,
            None => return plan_err!("{NAME}: model {} has no version {v}", r.name),
        },
        (Strategy::MostRecent, _) => versions[versions.len() - 1].version,
        (Strategy::Rollback, _) => {
            // Replay the log as a stack: deployments push, rollbacks pop, so
            // repeated rollbacks walk back through the history.
            let mut stack: Vec<u64> = Vec::new();
            for e in &log {
                if e.strategy == Strategy::Rollback.name() {
                    stack.pop();
                } else {
                    stack.push(e.version);
                }
            }
            match stack.len().checked_sub(2).map(|i| stack[i]) {
                Some(v) => v,
                None => {
                    return plan_err!(
                        "{NAME}: {}@{} has no earlier version to roll back to",
                        r.name,
                        r.alias
                    )
                }
            }
        }
        (Strategy::BestScore, _) if r.evaluate_on.is_some() => {
            let newest = &versions[versions.len() - 1];
            let champion = current.and_then(|v| versions.iter().find(|m| m.version == v));
            match (champion, &r.evaluate_on) {
                (Some(champion), Some((text, rows))) if champion.version != newest.version => {
                    let old = held_out_score(&state, &registry, champion, rows).await?;
                    let new = held_out_score(&state, &registry, newest, rows).await?;
                    progress::report(&format!(
                        "{NAME} {}: on {text}, version {} (current) scores {}, version {} \
                         (newest) {}",
                        r.name,
                        champion.version,
                        old.map_or("NULL".to_string(), |s| format!("{s:.6}")),
                        newest.version,
                        new.map_or("NULL".to_string(), |s| format!("{s:.6}")),
                    ));
                    if new.unwrap_or(f64::NEG_INFINITY) > old.unwrap_or(f64::NEG_INFINITY) {
                        newest.version
                    } else {
                        champion.version
                    }
                }
                _ => newest.version,
            }
        }
        _ => {
            // Without evaluation rows, or without the headline metric on
            // them (a ROC AUC over evaluation rows of one class).
            let (scored, unscored): (Vec<&Metadata>, Vec<&Metadata>) =
                versions.iter().partition(|m| score(m).is_some());
            let Some(mut best) = scored.first().copied() else {
                return plan_err!(
                    "{NAME}: no version of {} has evaluation metrics (rows held out of its \
                     fit: trained with data_split_method=no_split, or on fewer than 500 rows \
                     with auto_split), so best_score cannot rank them; give held-out rows with \
                     evaluate_on=<table or query>, or use strategy=most_recent or version=N",
                    r.name
                );
            };
            if !unscored.is_empty() {
                progress::report(&format!(
                    "{NAME} {}: best_score skips version(s) {} (no score on evaluation rows)",
                    r.name,
                    unscored
                        .iter()
                        .map(|m| m.version.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            for m in &scored[1..] {
                if score(m).unwrap_or(f64::NEG_INFINITY) >= score(best).unwrap_or(f64::NEG_INFINITY)
                {
                    best = m;
                }
            }
            best.version
        }
    };
    let strategy = match (r.version, &r.evaluate_on) {
        (Some(v), _) => format!("version={v}"),
        (None, Some((text, _))) => format!("{}, evaluate_on={text}", r.strategy.name()),
        (None, None) => r.strategy.name().to_string(),
    };
    registry
        .set_alias(
            &r.name,
            &AliasEntry {
                alias: r.alias.clone(),
                version: target,
                strategy: strategy.clone(),
                created: now_rfc3339(),
                write_id: None,
            },
        )
        .await?;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(vec![r.name.clone()])),
        Arc::new(StringArray::from(vec![r.alias.clone()])),
        Arc::new(Int64Array::from(vec![target as i64])),
        Arc::new(Int64Array::from(vec![current.map(|v| v as i64)])),
        Arc::new(StringArray::from(vec![strategy])),
    ];
    Ok(vec![RecordBatch::try_new(schema(), columns)?])
}

/// The arguments of `ml_deploy`.
const SIGNATURE: Signature = Signature {
    function: NAME,
    names: &["model", "options"],
    required: 1,
    example: "ml_deploy('churn', 'strategy=best_score')",
};

impl TableFunctionImpl for MlDeploy {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let bound = SIGNATURE.bind(&args)?;
        let name = bound.get("model").to_string();
        validate_name(NAME, "model name", &name)?;
        let options = Options::parse(NAME, bound.get("options"), KEYS)?;
        let strategy = options.enumerated::<Strategy>("strategy")?;
        let version = options.integer("version", 1)?.map(u64::from);
        if strategy.is_some() && version.is_some() {
            return plan_err!("{NAME}: give either strategy or version, not both");
        }
        let alias = options.get("alias").unwrap_or("champion").to_string();
        validate_alias(NAME, &alias)?;
        let evaluate_on = match options.get("evaluate_on") {
            None => None,
            Some(_)
                if matches!(strategy, Some(s) if s != Strategy::BestScore) || version.is_some() =>
            {
                return plan_err!("{NAME}: option evaluate_on goes with strategy=best_score")
            }
            Some(text) => {
                let state = session_state(NAME, args.session())?;
                Some((text.to_string(), resolve(NAME, state, text)?))
            }
        };
        let request = Arc::new(Request {
            name,
            alias,
            strategy: strategy.unwrap_or(Strategy::BestScore),
            evaluate_on,
            version,
        });
        Ok(Arc::new(ActionTable::new(
            NAME,
            schema(),
            Box::new(move |state| {
                let request = Arc::clone(&request);
                Box::pin(async move { deploy(state, &request).await })
            }),
        )))
    }
}
