//! `ml_tune(model, source, label, options)`: hyperparameter search scored by
//! k-fold cross-validation, then the final model trained with the best
//! hyperparameters and stored as a new version whose
//! metadata keeps every trial (`ml_trials(model)` reads them back). Tuning
//! and the final fit see the fitted rows only: the rows the evaluation split
//! holds out (`eval_split`) score the final model.
//!
//! Trials run one after another by default, so each is proposed from the
//! results of all those before it; a failing trial is recorded and the
//! search goes on. Folds come from the source's `fold` column (from
//! `ml_split`) or from `abs_mod(row_fingerprint(*), k)`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use datafusion::arrow::compute::{cast, filter_record_batch, not};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{exec_err, plan_err, DataFusionError, Result};
use datafusion::datasource::MemTable;
use datafusion::execution::SessionState;

use super::shared::{
    all_classes, classes, fit, held_out_scores, load_rows, plan_input, scores, store, targets,
    CancelOnDrop, TrainingInput, FINGERPRINT,
};
use crate::errors::IntoDataFusion;
use crate::functions::common::action::{distinct_call, ActionTable};
use crate::functions::common::args::{session_state, Signature};
use crate::models::hyperparameters::{self, Hyperparameters, Kind};
use crate::models::search::{Algorithm, Dimension, Observation, Search, Space, ALGORITHMS};
use crate::models::{metrics, ModelType};
use crate::progress;
use crate::registry::{Trial, Tuning};
use crate::scoring::load_metadata;

const NAME: &str = "ml_tune";

/// `ml_tune`'s own options, besides `model_type`, `features` and the
/// hyperparameters.
const KEYS: &[&str] = &[
    "trials",
    "objective",
    "algorithm",
    "parallel_trials",
    "seed",
    "folds",
];

/// The folds of a source without a `fold` column.
const DEFAULT_FOLDS: u32 = 5;

/// The number of trials when `trials` is not given (grid search: the grid).
const DEFAULT_TRIALS: u32 = 10;

/// The most trials, trials at once, and folds a run takes (BigQuery ML
/// allows 100 trials).
const MAX_TRIALS: usize = 1000;
const MAX_PARALLEL: usize = 64;
const MAX_FOLDS: usize = 100;

/// The metrics a model type can be tuned for (ML.EVALUATE's), the default
/// first: ROC AUC for classifiers, R² for regressors, the Davies–Bouldin
/// index for kmeans, as BigQuery ML.
fn objectives(model_type: ModelType) -> Vec<&'static str> {
    let task = model_type.task();
    let default = task.default_objective();
    let mut names = task.metrics().to_vec();
    names.retain(|n| *n != default);
    names.insert(0, default);
    names
}

/// Where the folds come from.
#[derive(Debug, Clone)]
enum Folds {
    /// The source's column of that name.
    Column(String),
    /// `abs_mod(row_fingerprint(*), k)` over the source's columns.
    Hash(u32),
}

impl Folds {
    fn describe(&self) -> String {
        match self {
            Folds::Column(name) => format!("column {name}"),
            Folds::Hash(k) => format!("abs_mod(row_fingerprint(*), {k})"),
        }
    }
}

#[derive(Debug, Default)]
pub struct MlTune;

/// A tuning run, checked at planning.
struct Plan {
    input: TrainingInput,
    /// The hyperparameters given one value.
    fixed: Hyperparameters,
    search: Search,
    trials: usize,
    objective: &'static str,
    parallel: usize,
    folds: Folds,
}

/// The arguments of `ml_tune`.
const SIGNATURE: Signature = Signature {
    function: NAME,
    names: &["model", "source", "label", "options"],
    required: 3,
    example: "ml_tune('churn', 'train_rows', 'churned', 'model_type=logistic_reg')",
};

impl TableFunctionImpl for MlTune {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (input, options) = plan_input(&SIGNATURE, &args, KEYS)?;
        let model_type = input.model_type;
        let mut fixed = Hyperparameters::new(model_type);
        let mut dims = Vec::new();
        for param in hyperparameters::of(model_type) {
            let Some(text) = options.get(param.key) else {
                continue;
            };
            match Space::parse(NAME, param, text).into_df()? {
                Some(space) => dims.push(Dimension { param, space }),
                None => {
                    fixed
                        .given
                        .insert(param.key, param.parse(NAME, text).into_df()?);
                }
            }
        }
        if dims.is_empty() {
            for (key, text) in hyperparameters::default_space(model_type) {
                if fixed.given.contains_key(key) {
                    continue;
                }
                let param = hyperparameters::find(model_type, key)
                    .ok_or_else(|| DataFusionError::Internal(format!("{NAME}: {key}")))?;
                if let Some(space) = Space::parse(NAME, param, text).into_df()? {
                    dims.push(Dimension { param, space });
                }
            }
        }
        if dims.is_empty() {
            return plan_err!(
                "{NAME}: nothing to search: every hyperparameter of {} is given one value; \
                 give a space for one, e.g. l2_reg=range(0, 10) or max_depth=choice(3, 6)",
                model_type.name()
            );
        }
        let valid_objectives = objectives(model_type);
        let objective = options
            .choice("objective", &valid_objectives)?
            .unwrap_or(valid_objectives[0]);
        let algorithm = options
            .choice("algorithm", ALGORITHMS)?
            .and_then(Algorithm::parse)
            .unwrap_or(Algorithm::Tpe);
        let given_trials = options.integer("trials", 1)?.map(|t| t as usize);
        let parallel = options.integer("parallel_trials", 1)?.unwrap_or(1) as usize;
        let seed = options.integer("seed", 0)?.unwrap_or(0) as u64;
        let mut search = Search {
            dims,
            algorithm,
            seed,
            startup: 0,
        };
        let trials = match (algorithm, search.grid_size()) {
            // Grid search visits the whole grid unless trials says fewer.
            (Algorithm::Grid, Some(n)) => given_trials.unwrap_or(n).min(n),
            (Algorithm::Grid, None) => {
                let continuous = search.dims.iter().find(|d| {
                    d.param.kind == Kind::Number && matches!(d.space, Space::Range { .. })
                });
                return match continuous {
                    Some(d) => plan_err!(
                        "{NAME}: algorithm=grid needs a finite grid, but {} is searched over a \
                         continuous range; give it as choice(a, b, ...)",
                        d.param.key
                    ),
                    None => plan_err!(
                        "{NAME}: the grid is too large to enumerate; search fewer values, or use \
                         algorithm=tpe"
                    ),
                };
            }
            _ => given_trials.unwrap_or(DEFAULT_TRIALS as usize),
        };
        if trials > MAX_TRIALS {
            return plan_err!(
                "{NAME}: {trials} trials is too many; give trials={MAX_TRIALS} or fewer (for \
                 algorithm=grid, a smaller grid)"
            );
        }
        if parallel > MAX_PARALLEL {
            return plan_err!(
                "{NAME}: option parallel_trials={parallel} is not valid; give an integer from 1 \
                 to {MAX_PARALLEL}"
            );
        }
        // Random trials first, then TPE: a third of the budget, 2 to 10.
        search.startup = (trials / 3).clamp(2, 10);
        let fold_column = input
            .source
            .schema()
            .fields()
            .iter()
            .find(|f| f.name() == "fold")
            .map(|f| (f.name().clone(), f.data_type().clone()));
        let folds = match (fold_column, options.integer("folds", 2)?) {
            (Some((name, _)), Some(k)) => {
                return plan_err!(
                    "{NAME}: option folds={k} conflicts with the source's {name} column; the \
                     trials are scored on that column's folds (from ml_split). Drop folds={k}, \
                     or leave the column out of the source to use hash folds"
                )
            }
            (Some((name, t)), None) if !t.is_integer() => {
                return plan_err!(
                    "{NAME}: the source's {name} column has type {t}; folds are integers (as \
                     ml_split's fold column)"
                )
            }
            (Some((name, _)), None) => Folds::Column(name),
            (None, Some(k)) if k as usize > MAX_FOLDS => {
                return plan_err!(
                    "{NAME}: option folds={k} is not valid; give an integer from 2 to {MAX_FOLDS}"
                )
            }
            (None, k) => Folds::Hash(k.unwrap_or(DEFAULT_FOLDS)),
        };
        let plan = Arc::new(Plan {
            input,
            fixed,
            search,
            trials,
            objective,
            parallel,
            folds,
        });
        let schema = trials_schema(model_type, &plan.search_space())?;
        Ok(Arc::new(ActionTable::new(
            NAME,
            schema,
            Box::new(move |state| {
                let plan = Arc::clone(&plan);
                Box::pin(async move { plan.run(state).await })
            }),
        )))
    }
}

/// One trial's outcome: the objective on each fold and the seconds spent
/// training, or the error that ended it.
type Outcome = std::result::Result<(Vec<f64>, f64), String>;

impl Plan {
    fn search_space(&self) -> Vec<(String, String)> {
        self.search
            .dims
            .iter()
            .map(|d| (d.param.key.to_string(), d.space.to_string()))
            .collect()
    }

    async fn run(self: Arc<Self>, state: SessionState) -> Result<Vec<RecordBatch>> {
        let rows = load_rows(NAME, &state, &self.input).await?;
        // Tuning and the final fit see the fitted rows only.
        let held = Arc::new(self.input.eval_split.apply(NAME, &rows.data)?);
        let classes = all_classes(NAME, &self.input, &rows.data)?;
        let cancelled = Arc::new(AtomicBool::new(false));
        let guard = CancelOnDrop(Arc::clone(&cancelled));
        let (plan, rows_held) = (Arc::clone(&self), Arc::clone(&held));
        let (tuning, model, metrics, eval_metrics) = tokio::task::spawn_blocking(move || {
            let data = &rows_held.fit;
            let tuning = plan.tune(data, &cancelled)?;
            let best =
                tuning.trials.iter().find(|t| t.is_optimal).ok_or_else(|| {
                    DataFusionError::Internal(format!("{NAME}: no optimal trial"))
                })?;
            let hyper = plan.with_point(&best.hyperparameters);
            let fit = fit(
                NAME,
                &plan.input,
                &hyper,
                data,
                classes.as_deref(),
                |_, _| !cancelled.load(Ordering::Relaxed),
            )?;
            if cancelled.load(Ordering::Relaxed) {
                return exec_err!("{NAME}: cancelled");
            }
            let metrics = fit.metrics();
            let eval_metrics = match &rows_held.eval {
                Some(eval) => Some(held_out_scores(NAME, &plan.input, &fit.model, eval)?),
                None => None,
            };
            Ok::<_, DataFusionError>((tuning, fit.model, metrics, eval_metrics))
        })
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))??;
        drop(guard);
        let batch = trials_batch(self.input.model_type, &tuning)?;
        let best = tuning
            .trials
            .iter()
            .find(|t| t.is_optimal)
            .map_or(0, |t| t.trial_id);
        let (metadata, uri) = store(
            &state,
            &self.input,
            &model,
            metrics,
            eval_metrics,
            &held,
            &rows,
            Some(tuning),
        )
        .await?;
        progress::report(&format!(
            "{NAME} {}: version {} trained on {} rows ({} held out for evaluation) with the \
             hyperparameters of trial {best}: {uri}",
            metadata.model, metadata.version, metadata.training_rows, metadata.eval_rows
        ));
        Ok(vec![batch])
    }

    fn with_point(&self, point: &[f64]) -> Hyperparameters {
        let mut hyper = self.fixed.clone();
        for (d, v) in self.search.dims.iter().zip(point) {
            hyper.given.insert(d.param.key, *v);
        }
        hyper
    }

    /// Runs the trials; returns them with exactly one marked optimal.
    fn tune(&self, data: &RecordBatch, cancelled: &AtomicBool) -> Result<Tuning> {
        let folds = self.fold_masks(data)?;
        let classes = match self.input.model_type.is_classifier() {
            true => Some(classes(NAME, &self.input.label, data)?),
            false => None,
        };
        if let Some(classes) = &classes {
            self.check_folds_have_every_class(data, &folds, classes)?;
        }
        let maximize = metrics::higher_is_better(self.objective);
        let run = |point: &Vec<f64>| -> Outcome {
            self.run_trial(point, data, &folds, classes.as_deref(), cancelled)
        };
        let mut trials: Vec<Trial> = Vec::new();
        let mut history: Vec<Observation> = Vec::new();
        // A point proposed again (a small grid of choices, say) is not
        // trained again: it scores what it scored.
        let mut seen: HashMap<Vec<u64>, Outcome> = HashMap::new();
        let mut best: Option<(f64, u64)> = None;
        while trials.len() < self.trials {
            let first = trials.len();
            let batch: Vec<usize> = (first..(first + self.parallel).min(self.trials)).collect();
            // Every trial of a batch is proposed from the trials finished
            // before the batch, so the run does not depend on timing.
            let points: Vec<Vec<f64>> = batch
                .iter()
                .map(|&t| self.search.propose(t, &history))
                .collect();
            let outcomes: Vec<(Outcome, bool)> = std::thread::scope(|scope| {
                let pending: Vec<Pending> = points
                    .iter()
                    .map(|p| match seen.get(&bits(p)) {
                        Some(o) => Pending::Repeated(o.clone()),
                        // A lone trial runs here; a panic in it fails the
                        // trial, as it does on a thread of its own.
                        None if points.len() == 1 => Pending::Done(
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(p)))
                                .unwrap_or_else(|_| Err("the trial panicked".to_string())),
                        ),
                        None => Pending::Running(scope.spawn(|| run(p))),
                    })
                    .collect();
                pending.into_iter().map(Pending::finish).collect()
            });
            if cancelled.load(Ordering::Relaxed) {
                return exec_err!("{NAME}: cancelled");
            }
            for ((t, point), (outcome, repeated)) in batch.iter().zip(points).zip(outcomes) {
                let trial_id = *t as u64 + 1;
                seen.entry(bits(&point)).or_insert_with(|| outcome.clone());
                let trial = match outcome {
                    Ok((values, seconds)) => {
                        let m = values.len() as f64;
                        let mean = values.iter().sum::<f64>() / m;
                        let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / m;
                        let better = match best {
                            None => true,
                            Some((b, _)) if maximize => mean > b,
                            Some((b, _)) => mean < b,
                        };
                        if better {
                            best = Some((mean, trial_id));
                        }
                        history.push(Observation {
                            point: point.clone(),
                            loss: if maximize { -mean } else { mean },
                        });
                        Trial {
                            trial_id,
                            hyperparameters: point,
                            fold_values: values,
                            objective_mean: Some(mean),
                            objective_stddev: Some(var.sqrt()),
                            training_seconds: if repeated { 0.0 } else { seconds },
                            status: "succeeded".to_string(),
                            error_message: None,
                            is_optimal: false,
                        }
                    }
                    Err(error) => Trial {
                        trial_id,
                        hyperparameters: point,
                        fold_values: vec![],
                        objective_mean: None,
                        objective_stddev: None,
                        training_seconds: 0.0,
                        status: "failed".to_string(),
                        error_message: Some(error),
                        is_optimal: false,
                    },
                };
                self.report(&trial, best, repeated);
                trials.push(trial);
            }
        }
        let Some((_, best_id)) = best else {
            let first = trials
                .first()
                .and_then(|t| t.error_message.clone())
                .unwrap_or_default();
            return exec_err!("{NAME}: every trial failed; the first with: {first}");
        };
        for t in &mut trials {
            t.is_optimal = t.trial_id == best_id;
        }
        Ok(Tuning {
            objective: self.objective.to_string(),
            maximize,
            algorithm: self.search.algorithm.name().to_string(),
            seed: self.search.seed,
            folds: self.folds.describe(),
            search_space: self.search_space(),
            trials,
        })
    }

    /// Reports a trial's line (the CLI prints it to stderr, the Python
    /// package to `sys.stderr`), so the user can follow the search.
    fn report(&self, trial: &Trial, best: Option<(f64, u64)>, repeated: bool) {
        let values: Vec<String> = self
            .search
            .dims
            .iter()
            .zip(&trial.hyperparameters)
            .map(|(d, v)| format!("{}={v}", d.param.key))
            .collect();
        let head = format!(
            "{NAME} {}: trial {} of {} ({})",
            self.input.name,
            trial.trial_id,
            self.trials,
            values.join(", ")
        );
        match (trial.objective_mean, &trial.error_message) {
            (Some(mean), _) => {
                let (b, id) = best.unwrap_or((mean, trial.trial_id));
                let again = if repeated {
                    " (as an earlier trial)"
                } else {
                    ""
                };
                progress::report(&format!(
                    "{head}: {} {mean:.6} ± {:.6}{again}; best {b:.6} (trial {id})",
                    self.objective,
                    trial.objective_stddev.unwrap_or_default(),
                ));
            }
            (None, error) => progress::report(&format!(
                "{head} failed: {}",
                error.as_deref().unwrap_or("")
            )),
        }
    }

    /// Each fold's id and which rows are its validation rows.
    fn fold_masks(&self, data: &RecordBatch) -> Result<Vec<(i64, BooleanArray)>> {
        let ids: Vec<i64> = match &self.folds {
            Folds::Column(name) => {
                let column = cast(data.column(data.schema().index_of(name)?), &DataType::Int64)?;
                if column.null_count() > 0 {
                    return plan_err!(
                        "{NAME}: the source's {name} column has {} NULL values; tune on the \
                         rows of one split (ml_split gives every train row a fold: WHERE \
                         split = 'train'), or leave the column out to use hash folds",
                        column.null_count()
                    );
                }
                column.as_primitive::<Int64Type>().values().to_vec()
            }
            Folds::Hash(k) => {
                let fps = data.column_by_name(FINGERPRINT).ok_or_else(|| {
                    DataFusionError::Internal(format!("{NAME}: no {FINGERPRINT} column"))
                })?;
                let fps = fps.as_primitive::<Int64Type>().values();
                fps.iter()
                    .map(|h| (h.unsigned_abs() % *k as u64) as i64)
                    .collect()
            }
        };
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if let Folds::Hash(k) = self.folds {
            if distinct.len() < k as usize {
                return plan_err!(
                    "{NAME}: the {} rows fill only {} of the {k} hash folds; use fewer folds",
                    ids.len(),
                    distinct.len()
                );
            }
        }
        if distinct.len() < 2 {
            return plan_err!(
                "{NAME}: the source's rows are all in one fold; cross-validation needs at \
                 least 2 (ml_split(..., 'folds=5'))"
            );
        }
        if distinct.len() > MAX_FOLDS {
            return plan_err!(
                "{NAME}: the source's fold column has {} distinct values; cross-validation \
                 takes at most {MAX_FOLDS} folds",
                distinct.len()
            );
        }
        Ok(distinct
            .iter()
            .map(|f| (*f, ids.iter().map(|id| Some(id == f)).collect()))
            .collect())
    }

    /// A training fold without every class could not score the validation
    /// rows of the missing class: refuse it before any trial runs.
    fn check_folds_have_every_class(
        &self,
        data: &RecordBatch,
        folds: &[(i64, BooleanArray)],
        classes: &[String],
    ) -> Result<()> {
        let y = targets(NAME, &self.input, data, classes)?;
        for (f, validation) in folds {
            let mut seen = vec![false; classes.len()];
            for (c, held_out) in y.iter().zip(validation.values().iter()) {
                if !held_out {
                    seen[*c as usize] = true;
                }
            }
            if let Some(missing) = seen.iter().position(|s| !s) {
                return plan_err!(
                    "{NAME}: the training rows of fold {} have no row of class {} of label {}; \
                     stratify the folds (ml_split(..., 'folds=5, stratify={}')) or use fewer",
                    f,
                    classes[missing],
                    self.input.label,
                    self.input.label
                );
            }
        }
        Ok(())
    }

    /// Trains on every fold but one and scores on that one, for each fold.
    fn run_trial(
        &self,
        point: &[f64],
        data: &RecordBatch,
        folds: &[(i64, BooleanArray)],
        classes: Option<&[String]>,
        cancelled: &AtomicBool,
    ) -> Outcome {
        let hyper = self.with_point(point);
        let mut values = Vec::with_capacity(folds.len());
        let mut seconds = 0.0;
        for (f, validation) in folds {
            if cancelled.load(Ordering::Relaxed) {
                return Err("cancelled".to_string());
            }
            let score = || -> Result<(f64, f64)> {
                let train = filter_record_batch(data, &not(validation)?)?;
                let start = Instant::now();
                let fit = fit(NAME, &self.input, &hyper, &train, classes, |_, _| {
                    !cancelled.load(Ordering::Relaxed)
                })?;
                let elapsed = start.elapsed().as_secs_f64();
                let valid = filter_record_batch(data, validation)?;
                let x = fit.model.features.transform(&valid).into_df()?;
                let y = targets(NAME, &self.input, &valid, &fit.model.label.classes)?;
                match scores(&fit.model, &x, &y)
                    .get(self.objective)
                    .copied()
                    .flatten()
                {
                    Some(v) if v.is_finite() => Ok((v, elapsed)),
                    _ => exec_err!(
                        "{} is undefined on the validation rows of fold {f}",
                        self.objective
                    ),
                }
            };
            match score() {
                Ok((v, elapsed)) => {
                    values.push(v);
                    seconds += elapsed;
                }
                Err(DataFusionError::Execution(m) | DataFusionError::Plan(m)) => return Err(m),
                Err(e) => return Err(e.strip_backtrace()),
            }
        }
        Ok((values, seconds))
    }
}

/// A trial of a batch: scored before, run on this thread, or running on
/// its own.
enum Pending<'scope> {
    Repeated(Outcome),
    Done(Outcome),
    Running(std::thread::ScopedJoinHandle<'scope, Outcome>),
}

impl Pending<'_> {
    /// The outcome, and whether it repeats an earlier trial's.
    fn finish(self) -> (Outcome, bool) {
        match self {
            Pending::Repeated(o) => (o, true),
            Pending::Done(o) => (o, false),
            Pending::Running(handle) => (
                handle
                    .join()
                    .unwrap_or_else(|_| Err("the trial panicked".to_string())),
                false,
            ),
        }
    }
}

fn bits(point: &[f64]) -> Vec<u64> {
    point.iter().map(|v| v.to_bits()).collect()
}

/// `ml_tune`'s and `ml_trials`' columns: the trial, the searched
/// hyperparameters, the objective and how the trial went.
fn trials_schema(model_type: ModelType, space: &[(String, String)]) -> Result<SchemaRef> {
    let mut fields = vec![Field::new("trial_id", DataType::Int64, false)];
    for (key, _) in space {
        let data_type = match hyperparameters::find(model_type, key).map(|h| h.kind) {
            Some(Kind::Integer) => DataType::Int64,
            Some(Kind::Number) => DataType::Float64,
            None => return exec_err!("{NAME}: {} has no hyperparameter {key}", model_type.name()),
        };
        fields.push(Field::new(key, data_type, false));
    }
    fields.extend([
        Field::new("objective", DataType::Utf8, false),
        Field::new("objective_mean", DataType::Float64, true),
        Field::new("objective_stddev", DataType::Float64, true),
        Field::new("training_seconds", DataType::Float64, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("error_message", DataType::Utf8, true),
        Field::new("is_optimal", DataType::Boolean, false),
    ]);
    Ok(Arc::new(Schema::new(fields)))
}

fn trials_batch(model_type: ModelType, tuning: &Tuning) -> Result<RecordBatch> {
    let schema = trials_schema(model_type, &tuning.search_space)?;
    let t = &tuning.trials;
    let mut columns: Vec<ArrayRef> = vec![Arc::new(Int64Array::from_iter_values(
        t.iter().map(|t| t.trial_id as i64),
    ))];
    for (i, field) in schema.fields()[1..=tuning.search_space.len()]
        .iter()
        .enumerate()
    {
        let values = t
            .iter()
            .map(|t| t.hyperparameters.get(i).copied())
            .collect::<Option<Vec<f64>>>()
            .ok_or_else(|| {
                DataFusionError::Execution(format!(
                    "{NAME}: a trial has no value for {}; the tuning record is damaged",
                    field.name()
                ))
            })?;
        columns.push(match field.data_type() {
            DataType::Int64 => Arc::new(Int64Array::from_iter_values(
                values.into_iter().map(|v| v as i64),
            )),
            _ => Arc::new(Float64Array::from(values)),
        });
    }
    columns.extend([
        Arc::new(StringArray::from_iter_values(
            t.iter().map(|_| tuning.objective.as_str()),
        )) as ArrayRef,
        Arc::new(Float64Array::from_iter(t.iter().map(|t| t.objective_mean))),
        Arc::new(Float64Array::from_iter(
            t.iter().map(|t| t.objective_stddev),
        )),
        Arc::new(Float64Array::from_iter_values(
            t.iter().map(|t| t.training_seconds),
        )),
        Arc::new(StringArray::from_iter_values(t.iter().map(|t| &t.status))),
        Arc::new(StringArray::from_iter(
            t.iter().map(|t| t.error_message.as_deref()),
        )),
        Arc::new(BooleanArray::from_iter(
            t.iter().map(|t| Some(t.is_optimal)),
        )),
    ]);
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// `ml_trials(model)`: the trials of a version `ml_tune` trained, read back
/// from the registry (BigQuery's ML.TRIAL_INFO).
#[derive(Debug, Default)]
pub struct MlTrials;

impl TableFunctionImpl for MlTrials {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const NAME: &str = "ml_trials";
        const SIGNATURE: Signature = Signature {
            function: NAME,
            names: &["model"],
            required: 1,
            example: "ml_trials('churn') or ml_trials('churn@3')",
        };
        let bound = SIGNATURE.bind(&args)?;
        let text = bound.get("model");
        let state = session_state(NAME, args.session())?;
        let metadata = load_metadata(NAME, state, text)?;
        let Some(tuning) = &metadata.tuning else {
            return plan_err!(
                "{NAME}: model {}@{} was trained by ml_train, not ml_tune; it has no trials",
                metadata.model,
                metadata.version
            );
        };
        let Some(model_type) = ModelType::parse(&metadata.model_type) else {
            return plan_err!(
                "{NAME}: model {}@{} has a model type this mlfusion does not know: {}",
                metadata.model,
                metadata.version,
                metadata.model_type
            );
        };
        let batch = trials_batch(model_type, tuning)?;
        let schema = distinct_call(&batch.schema());
        let batch = batch.with_schema(Arc::clone(&schema))?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_start_with_bigquerys_default_and_spaces_parse() {
        assert_eq!(objectives(ModelType::LogisticReg)[0], "roc_auc");
        assert_eq!(objectives(ModelType::LinearReg)[0], "r2_score");
        assert_eq!(objectives(ModelType::Kmeans)[0], "davies_bouldin_index");
        assert_eq!(objectives(ModelType::LogisticReg).len(), 6);
        assert!(metrics::higher_is_better("roc_auc") && !metrics::higher_is_better("log_loss"));
        for t in [
            ModelType::LinearReg,
            ModelType::BoostedTreeClassifier,
            ModelType::Kmeans,
        ] {
            for (key, text) in hyperparameters::default_space(t) {
                let param = hyperparameters::find(t, key).unwrap();
                assert!(Space::parse(NAME, param, text).unwrap().is_some());
            }
        }
    }
}
