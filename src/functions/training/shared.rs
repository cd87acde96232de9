//! What `ml_train` and `ml_tune` share: reading a training function's
//! arguments, loading the source's rows in canonical order, fitting a model
//! through its estimator, scoring it, and storing it as a new version.
//!
//! The rows are put in a canonical order (by their row fingerprint) before
//! training, and every sum runs in a fixed order, so the same rows in any
//! order or file layout give a byte-identical `model.json`.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::compute::{cast, concat_batches, sort_to_indices, take};
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::TableFunctionArgs;
use datafusion::common::{exec_err, plan_err, Result};
use datafusion::dataframe::DataFrame;
use datafusion::datasource::{provider_as_source, MemTable};
use datafusion::execution::SessionState;
use datafusion::logical_expr::{col, LogicalPlan, LogicalPlanBuilder, SortExpr};
use mlfusion_udfs::dataset_fingerprint::State as FingerprintSum;
use mlfusion_udfs::expr_fn::row_fingerprint;

use super::eval_split::{self, EvalSplit, Held};
use crate::errors::IntoDataFusion;
use crate::functions::common::args::{session_state, Signature};
use crate::functions::common::options::Options;
use crate::functions::common::source::resolve;
use crate::functions::common::splits::split_of;
use crate::models::hyperparameters::{self, Hyperparameters};
use crate::models::preprocess::{Features, Matrix};
use crate::models::{
    class_indices, kmeans, label_strings, metrics, numeric_label, recorded_type, Label, Model,
    ModelType, Params, Predictions, Task, TrainingData, FORMAT_VERSION, MODEL_TYPES,
};
use crate::profile;
use crate::registry::{
    model_fingerprint, now_rfc3339, validate_name, FeatureStatistics, Metadata, Registry,
    TrainingStatistics, Tuning,
};

/// Columns `ml_split` adds, never features by default.
const SPLIT_COLUMNS: &[&str] = &["split", "fold"];

/// The helper column holding each row's fingerprint.
pub(crate) const FINGERPRINT: &str = "__mlfusion_fp";

/// What a training function checks at planning: the model name, the source,
/// the label, the features and the model type.
pub(crate) struct TrainingInput {
    pub name: String,
    pub source_text: String,
    pub source: LogicalPlan,
    pub label: String,
    pub features: Vec<String>,
    pub model_type: ModelType,
    /// The rows held out of the fit for evaluation.
    pub eval_split: EvalSplit,
}

/// Reads `(model, source, label [, options])` as `ml_train` and `ml_tune`
/// take them: checks the model name, resolves the source, finds the label
/// and the features. Options may be `model_type`, `features`, the
/// hyperparameters of the model type, and `extra_keys`.
pub(crate) fn plan_input(
    signature: &Signature,
    args: &TableFunctionArgs,
    extra_keys: &[&'static str],
) -> Result<(TrainingInput, Options)> {
    let function = signature.function;
    let bound = signature.bind(args)?;
    let name = bound.get("model").to_string();
    validate_name(function, "model name", &name)?;
    let source_text = bound.get("source").to_string();
    let label_text = bound.get("label");
    let options_text = bound.get("options");
    let mut valid = vec!["model_type", "features"];
    valid.extend(hyperparameters::all_keys());
    valid.extend(eval_split::KEYS);
    valid.extend(extra_keys);
    let options = Options::parse(function, options_text, &valid)?;
    let Some(model_type) = options.enumerated::<ModelType>("model_type")? else {
        return plan_err!(
            "{function}: option model_type is required; valid values: {}",
            MODEL_TYPES.join(", ")
        );
    };
    let state = session_state(function, args.session())?;
    let source = resolve(function, state, &source_text)?;
    let schema = Arc::clone(source.schema());
    let find = |wanted: &str| {
        let fields = schema.fields();
        fields
            .iter()
            .find(|f| f.name() == wanted)
            .or_else(|| {
                fields
                    .iter()
                    .find(|f| f.name().eq_ignore_ascii_case(wanted))
            })
            .map(|f| f.name().clone())
    };
    let label = match (model_type.task(), label_text) {
        (Task::Clustering, "") => String::new(),
        (Task::Clustering, _) => {
            return plan_err!(
                "{function}: {} learns without a label; pass '' as the label, e.g. \
                 {function}('segments', 'customers', '', 'model_type=kmeans, num_clusters=4')",
                model_type.name()
            )
        }
        (_, "") => {
            return plan_err!(
                "{function}: {} needs a label column; the label argument is empty",
                model_type.name()
            )
        }
        _ => match find(label_text) {
            Some(label) => label,
            None => {
                return plan_err!(
                    "{function}: the source has no label column {label_text}; its columns are {}",
                    column_list(&schema)
                )
            }
        },
    };
    let eval_split = EvalSplit::plan(function, &options, &schema)?;
    let features = match options.columns("features", &schema)? {
        Some(f) => f,
        None => schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| {
                *n != label
                    && !SPLIT_COLUMNS.contains(&n.as_str())
                    && eval_split.column() != Some(n.as_str())
            })
            .collect(),
    };
    if features.contains(&label) {
        return plan_err!("{function}: the label {label} cannot also be a feature");
    }
    eval_split.check_column(function, &label, &features)?;
    if features.is_empty() {
        return plan_err!("{function}: the source has no feature columns besides the label");
    }
    let own: Vec<&str> = hyperparameters::of(model_type)
        .iter()
        .map(|h| h.key)
        .collect();
    if let Some(key) = options.keys().find(|k| {
        !matches!(*k, "model_type" | "features")
            && !extra_keys.contains(k)
            && !eval_split::KEYS.contains(k)
            && !own.contains(k)
    }) {
        return plan_err!(
            "{function}: option {key} does not apply to {}; its options are features, {}",
            model_type.name(),
            own.join(", ")
        );
    }
    let input = TrainingInput {
        name,
        source_text,
        source,
        label,
        features,
        model_type,
        eval_split,
    };
    Ok((input, options))
}

fn column_list(schema: &datafusion::common::DFSchema) -> String {
    schema
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The distinct values of a label column as strings, in ascending order of
/// the values themselves (so 2 comes before 10).
fn classes_of(label: &ArrayRef) -> Result<Vec<String>> {
    let strings = label_strings(label).into_df()?;
    let distinct: HashSet<&str> = strings.as_string::<i32>().iter().flatten().collect();
    let distinct: ArrayRef = Arc::new(StringArray::from_iter_values(distinct));
    let typed = cast(&distinct, label.data_type())?;
    let order = sort_to_indices(&typed, None, None)?;
    let sorted = take(&distinct, &order, None)?;
    Ok(sorted
        .as_string::<i32>()
        .iter()
        .map(|s| s.unwrap_or_default().to_string())
        .collect())
}

/// Reports progress once training has taken a few seconds, and
/// stops the training when the query was cancelled.
pub(crate) fn progress_printer<'a>(
    function: &'a str,
    name: &'a str,
    cancelled: &'a AtomicBool,
) -> impl FnMut(usize, f64) -> bool + 'a {
    let start = Instant::now();
    let mut last = start;
    move |iteration, objective| {
        let now = Instant::now();
        if now - start > Duration::from_secs(3) && now - last > Duration::from_secs(1) {
            last = now;
            crate::progress::report(&format!(
                "{function} {name}: iteration {iteration}, objective {objective:.6}"
            ));
        }
        !cancelled.load(Ordering::Relaxed)
    }
}

/// Sets its flag when dropped: a query dropped mid-training (Ctrl-C in the
/// CLI or in Python) stops the training thread at its next iteration.
pub(crate) struct CancelOnDrop(pub Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A source's rows in the canonical order of their fingerprints (the last
/// column, [`FINGERPRINT`]), with the order-free checksum of them all.
pub(crate) struct Rows {
    pub data: Arc<RecordBatch>,
    pub fingerprint: Option<i64>,
}

pub(crate) async fn load_rows(
    function: &str,
    state: &SessionState,
    input: &TrainingInput,
) -> Result<Rows> {
    let columns: Vec<_> = input
        .source
        .schema()
        .fields()
        .iter()
        .map(|f| col(datafusion::common::Column::new_unqualified(f.name())))
        .collect();
    let fingerprint = row_fingerprint(None, columns.clone());
    let df = DataFrame::new(state.clone(), input.source.clone())
        .select(columns.into_iter().chain([fingerprint.alias(FINGERPRINT)]))?
        .sort(vec![SortExpr::new(col(FINGERPRINT), true, false)])?;
    let batches = df.collect().await?;
    let no_rows = || {
        plan_err!(
            "{function}: the source {} has no rows to train on",
            input.source_text
        )
    };
    let Some(schema) = batches.first().map(|b| b.schema()) else {
        return no_rows();
    };
    let data = concat_batches(&schema, &batches)?;
    drop(batches);
    if data.num_rows() == 0 {
        return no_rows();
    }
    let mut sum = FingerprintSum::default();
    let fps: &Int64Array = data.column(data.num_columns() - 1).as_primitive();
    fps.values().iter().for_each(|&h| sum.add_row(h as u64));
    Ok(Rows {
        data: Arc::new(data),
        fingerprint: sum.finish(),
    })
}

/// A fitted model with the encoded rows it learned from.
pub(crate) struct Fit {
    pub model: Model,
    pub x: Matrix,
    /// Regression targets or class indices (empty for kmeans).
    pub y: Vec<f64>,
    /// The model's predictions for `x` when training computed them (boosted
    /// trees keep their training rows' scores), exactly as predicting `x`
    /// gives them.
    pub predictions: Option<Predictions>,
}

impl Fit {
    /// The model's metrics on its training rows.
    pub fn metrics(&self) -> BTreeMap<String, Option<f64>> {
        match &self.predictions {
            Some(p) => by_name(prediction_metrics(&self.model, p, &self.y)),
            None => scores(&self.model, &self.x, &self.y),
        }
    }
}

/// The classifier's classes of a label column, or an error when there are
/// fewer than two.
pub(crate) fn classes(function: &str, label: &str, data: &RecordBatch) -> Result<Vec<String>> {
    let classes = classes_of(data.column(data.schema().index_of(label)?))?;
    if classes.len() < 2 {
        return plan_err!(
            "{function}: label {label} has {} distinct value(s); a classifier needs at least \
             two classes",
            classes.len()
        );
    }
    Ok(classes)
}

/// The targets of `data`'s rows: regression values, or the index of each
/// row's class among `classes` (every label must be one of them).
pub(crate) fn targets(
    function: &str,
    input: &TrainingInput,
    data: &RecordBatch,
    classes: &[String],
) -> Result<Vec<f64>> {
    let label = match input.model_type.task() {
        Task::Clustering => return Ok(vec![]),
        Task::Regression => {
            let label = data.column(data.schema().index_of(&input.label)?);
            return numeric_label(function, &input.label, label).into_df();
        }
        Task::Classification => data.column(data.schema().index_of(&input.label)?),
    };
    class_indices(function, &input.label, label, classes)
        .into_df()?
        .into_iter()
        .map(|c| match c {
            Some(c) => Ok(c as f64),
            None => exec_err!(
                "{function}: label {} has a value outside its classes",
                input.label
            ),
        })
        .collect()
}

/// Fits the model on rows in canonical order, through the model type's
/// [`Estimator`](crate::models::Estimator). A classifier learns the label's
/// classes from the rows unless `classes` gives them (`ml_tune` gives every
/// fold the classes of all its rows).
pub(crate) fn fit(
    function: &str,
    input: &TrainingInput,
    hyper: &Hyperparameters,
    data: &RecordBatch,
    classes: Option<&[String]>,
    mut progress: impl FnMut(usize, f64) -> bool,
) -> Result<Fit> {
    let features = Features::fit(data, &input.features, hyper.max_categories()).into_df()?;
    let x = features.transform(data).into_df()?;
    let mut options = hyper.recorded();
    options.insert(
        "model_type".to_string(),
        input.model_type.name().to_string(),
    );
    options.insert(
        "features".to_string(),
        format!("[{}]", input.features.join(", ")),
    );
    let task = input.model_type.task();
    let (label, y) = if task.is_supervised() {
        let label_array = data.column(data.schema().index_of(&input.label)?);
        let classes = match (task, classes) {
            (Task::Classification, Some(c)) => c.to_vec(),
            (Task::Classification, None) => self::classes(function, &input.label, data)?,
            _ => vec![],
        };
        let y = targets(function, input, data, &classes)?;
        let label = Label {
            name: input.label.clone(),
            data_type: recorded_type(label_array.data_type()).to_string(),
            classes,
        };
        // Check that the label type reads back (predictions are cast to it).
        if label.arrow_type().is_err() {
            return exec_err!(
                "{function}: label type {} cannot be stored",
                label.data_type
            );
        }
        (label, y)
    } else {
        let label = Label {
            name: String::new(),
            data_type: DataType::Null.to_string(),
            classes: vec![],
        };
        (label, vec![])
    };
    let one_hot_blocks = features.one_hot_blocks();
    let training = TrainingData {
        x: &x,
        y: &y,
        classes: label.classes.len(),
        one_hot_blocks: &one_hot_blocks,
    };
    let fitted = input
        .model_type
        .estimator()
        .fit(&training, hyper, &mut progress);
    let model = Model {
        format_version: FORMAT_VERSION,
        model_type: input.model_type,
        label,
        features,
        options,
        params: fitted.params,
    };
    let predictions = match (&model.params, fitted.training_raw) {
        (Params::Boosted(ensemble), Some(raw)) => Some(model.boosted(ensemble, raw)),
        _ => None,
    };
    Ok(Fit {
        model,
        x,
        y,
        predictions,
    })
}

/// The classes of a classifier's label over all the source's rows (fitted
/// and held out, so that an evaluation row's class is one of them); None
/// for other tasks.
pub(crate) fn all_classes(
    function: &str,
    input: &TrainingInput,
    data: &RecordBatch,
) -> Result<Option<Vec<String>>> {
    match input.model_type.task() {
        Task::Classification => Ok(Some(classes(function, &input.label, data)?)),
        _ => Ok(None),
    }
}

/// The model's metrics on the rows held out of its fit.
pub(crate) fn held_out_scores(
    function: &str,
    input: &TrainingInput,
    model: &Model,
    eval: &RecordBatch,
) -> Result<BTreeMap<String, Option<f64>>> {
    let x = model.features.transform(eval).into_df()?;
    let y = targets(function, input, eval, &model.label.classes)?;
    Ok(scores(model, &x, &y))
}

/// The model's metrics on encoded rows and their targets, through the same
/// path as `ml_predict` and `ml_evaluate` (ML.EVALUATE's metrics).
pub(crate) fn scores(model: &Model, x: &Matrix, y: &[f64]) -> BTreeMap<String, Option<f64>> {
    let metrics = match &model.params {
        Params::Kmeans { centroids } => {
            let mut summary = kmeans::Summary::new(centroids);
            summary.add(x);
            summary.finish()
        }
        _ => prediction_metrics(model, &model.predict_matrix(x), y),
    };
    by_name(metrics)
}

/// The metrics of a supervised model's predictions against their targets.
fn prediction_metrics(model: &Model, p: &Predictions, y: &[f64]) -> metrics::Metrics {
    match &p.probs {
        None => metrics::regression(y, &p.values),
        Some(probs) => {
            let truth: Vec<usize> = y.iter().map(|&c| c as usize).collect();
            metrics::classification(&truth, probs, model.label.classes.len())
        }
    }
}

fn by_name(metrics: metrics::Metrics) -> BTreeMap<String, Option<f64>> {
    metrics
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// Writes a trained model as a new version of `input.name`; returns its
/// metadata and URI.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn store(
    state: &SessionState,
    input: &TrainingInput,
    model: &Model,
    metrics: BTreeMap<String, Option<f64>>,
    eval_metrics: Option<BTreeMap<String, Option<f64>>>,
    held: &Held,
    rows: &Rows,
    tuning: Option<Tuning>,
) -> Result<(Metadata, String)> {
    let model_json = model.to_json().into_df()?;
    let registry = Registry::for_session(state)?;
    let fitted = Arc::new(held.fit.clone());
    let training_statistics = Some(training_statistics(state, input, &fitted).await?);
    let metadata = Metadata {
        format_version: FORMAT_VERSION,
        model: input.name.clone(),
        version: 0,
        model_type: input.model_type.name().to_string(),
        created: now_rfc3339(),
        mlfusion_version: crate::MLFUSION_VERSION.to_string(),
        row_encoding: "v1".to_string(),
        label: input.label.clone(),
        features: input.features.clone(),
        options: model.options.clone(),
        metrics,
        training_rows: held.fit.num_rows() as u64,
        eval_metrics,
        eval_rows: held.eval.as_ref().map_or(0, |e| e.num_rows() as u64),
        data_split: Some(held.description.clone()),
        data_fingerprint: rows.fingerprint,
        source: input.source_text.clone(),
        split_spec: None,
        split: split_of(input.source.schema()),
        model_fingerprint: model_fingerprint(&model_json),
        tuning,
        training_statistics,
        registry: String::new(),
        write_id: None,
    };
    let metadata = registry.create_version(&model_json, metadata).await?;
    let uri = registry.uri(&metadata.model, metadata.version);
    Ok((metadata, uri))
}

/// The features' types and distributions in the training rows (already in
/// memory: profiled without reading the source again).
async fn training_statistics(
    state: &SessionState,
    input: &TrainingInput,
    data: &Arc<RecordBatch>,
) -> Result<TrainingStatistics> {
    let schema = data.schema();
    let table = MemTable::try_new(Arc::clone(&schema), vec![vec![data.as_ref().clone()]])?;
    let plan =
        LogicalPlanBuilder::scan("training", provider_as_source(Arc::new(table)), None)?.build()?;
    let mut requests = Vec::new();
    let mut features = Vec::new();
    for name in &input.features {
        let data_type = schema.field_with_name(name)?.data_type();
        let kind = profile::kind_of(data_type);
        if let Some(kind) = kind {
            requests.push(profile::Request {
                name: name.clone(),
                kind,
                range: None,
            });
        }
        features.push((name.clone(), data_type.to_string(), kind.is_some()));
    }
    let (rows, mut profiles) = profile::profiles(state, &plan, &requests).await?;
    let mut profiles = profiles.drain(..);
    Ok(TrainingStatistics {
        rows,
        features: features
            .into_iter()
            .map(|(name, data_type, profiled)| FeatureStatistics {
                name,
                data_type,
                profile: if profiled { profiles.next() } else { None },
            })
            .collect(),
    })
}
