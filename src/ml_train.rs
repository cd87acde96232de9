//! `ml_train(model, source, label [, options])`: trains a model on every row
//! of the source and stores it as a new version in the registry.
//!
//! The rows are put in a canonical order (by their row fingerprint) before
//! training, and every sum runs in a fixed order, so the same rows in any
//! order or file layout give a byte-identical `model.json`.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, Int64Array, MapBuilder, RecordBatch, StringArray,
    StringBuilder,
};
use datafusion::arrow::compute::{cast, concat_batches, sort_to_indices, take};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{exec_err, plan_datafusion_err, plan_err, DataFusionError, Result};
use datafusion::dataframe::DataFrame;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{col, LogicalPlan, ScalarUDF, SortExpr};
use mlfusion_udfs::dataset_fingerprint::State as FingerprintSum;
use mlfusion_udfs::row_fingerprint::RowFingerprint;

use crate::action_table::ActionTable;
use crate::models::linear::{fit_linear, fit_logistic, Penalty};
use crate::models::preprocess::Features;
use crate::models::{boosted, kmeans};
use crate::models::{
    class_indices, label_strings, metrics, numeric_label, Label, Model, ModelType, Params,
    FORMAT_VERSION, MODEL_TYPES,
};
use crate::options::Options;
use crate::registry::{model_fingerprint, now_rfc3339, validate_name, Metadata, Registry};
use crate::source::{resolve, session_state, string_arg};

const NAME: &str = "ml_train";

/// The options each model type takes (besides model_type and features).
fn keys_for(model_type: ModelType) -> &'static [&'static str] {
    match model_type {
        ModelType::LinearReg | ModelType::LogisticReg => {
            &["l1_reg", "l2_reg", "max_iterations", "max_categories"]
        }
        ModelType::BoostedTreeRegressor | ModelType::BoostedTreeClassifier => &[
            "l2_reg",
            "max_iterations",
            "max_categories",
            "max_depth",
            "learning_rate",
            "min_split_loss",
            "min_child_weight",
        ],
        ModelType::Kmeans => &["num_clusters", "max_iterations", "max_categories"],
    }
}

/// Every option key: model_type, features, then each model type's keys in
/// the order of MODEL_TYPES.
fn all_keys() -> Vec<&'static str> {
    let mut keys = vec!["model_type", "features"];
    for key in MODEL_TYPES
        .iter()
        .filter_map(|t| ModelType::parse(t))
        .flat_map(keys_for)
    {
        if !keys.contains(key) {
            keys.push(key);
        }
    }
    keys
}

/// Columns `ml_split` adds, never features by default.
const SPLIT_COLUMNS: &[&str] = &["split", "fold"];

/// The helper column holding each row's fingerprint.
const FINGERPRINT: &str = "__mlfusion_fp";

#[derive(Debug, Default)]
pub struct MlTrain;

/// Everything a training run needs, checked at planning.
#[derive(Clone)]
struct Job {
    name: String,
    source_text: String,
    source: LogicalPlan,
    label: String,
    features: Vec<String>,
    model_type: ModelType,
    options: BTreeMap<String, String>,
    penalty: (f64, f64),
    max_iterations: usize,
    max_categories: usize,
    trees: boosted::Settings,
    /// k-means: the number of clusters (default: log10 of the rows, at least 2).
    num_clusters: Option<usize>,
}

pub fn result_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("version", DataType::Int64, false),
        Field::new("model_type", DataType::Utf8, false),
        Field::new("training_rows", DataType::Int64, false),
        Field::new("data_fingerprint", DataType::Int64, true),
        Field::new("metrics", metrics_map_type(), false),
        Field::new("artifact_uri", DataType::Utf8, false),
    ]))
}

pub fn metrics_map_type() -> DataType {
    let builder = MapBuilder::new(None, StringBuilder::new(), Float64Builder::new());
    let mut builder = builder;
    Array::data_type(&builder.finish()).clone()
}

/// A MAP(VARCHAR, DOUBLE) column with one map per row.
pub fn metrics_map(rows: &[&BTreeMap<String, Option<f64>>]) -> Result<ArrayRef> {
    let mut builder = MapBuilder::new(None, StringBuilder::new(), Float64Builder::new());
    for metrics in rows {
        for (k, v) in metrics.iter() {
            builder.keys().append_value(k);
            builder.values().append_option(*v);
        }
        builder.append(true)?;
    }
    Ok(Arc::new(builder.finish()))
}

impl TableFunctionImpl for MlTrain {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if exprs.len() < 3 || exprs.len() > 4 {
            return plan_err!(
                "{NAME}: expects (model, source, label [, options]), got {} arguments; e.g. \
                 ml_train('churn', 'train_rows', 'churned', 'model_type=logistic_reg')",
                exprs.len()
            );
        }
        let name = string_arg(NAME, "model", &exprs[0])?;
        validate_name(NAME, "model name", &name)?;
        let source_text = string_arg(NAME, "source", &exprs[1])?;
        let label_text = string_arg(NAME, "label", &exprs[2])?;
        let options_text = match exprs.get(3) {
            Some(e) => string_arg(NAME, "options", e)?,
            None => String::new(),
        };
        let options = Options::parse(NAME, &options_text, &all_keys())?;
        let model_type = match options.choice("model_type", MODEL_TYPES)? {
            Some(t) => ModelType::parse(t).ok_or_else(|| plan_datafusion_err!("{NAME}: {t}"))?,
            None => {
                return plan_err!(
                    "{NAME}: option model_type is required; valid values: {}",
                    MODEL_TYPES.join(", ")
                )
            }
        };
        let state = session_state(NAME, args.session())?;
        let source = resolve(NAME, state, &source_text)?;
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
        let label = match (model_type, label_text.as_str()) {
            (ModelType::Kmeans, "") => String::new(),
            (ModelType::Kmeans, _) => {
                return plan_err!(
                    "{NAME}: kmeans learns without a label; pass '' as the label, e.g. \
                     ml_train('segments', 'customers', '', 'model_type=kmeans, num_clusters=4')"
                )
            }
            (_, "") => {
                return plan_err!(
                    "{NAME}: {} needs a label column; the label argument is empty",
                    model_type.name()
                )
            }
            _ => match find(&label_text) {
                Some(label) => label,
                None => {
                    return plan_err!(
                        "{NAME}: the source has no label column {label_text}; its columns are {}",
                        column_list(&schema)
                    )
                }
            },
        };
        let features = match options.columns("features", &schema)? {
            Some(f) => f,
            None => schema
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|n| *n != label && !SPLIT_COLUMNS.contains(&n.as_str()))
                .collect(),
        };
        if features.contains(&label) {
            return plan_err!("{NAME}: the label {label} cannot also be a feature");
        }
        if features.is_empty() {
            return plan_err!("{NAME}: the source has no feature columns besides the label");
        }
        let valid = keys_for(model_type);
        if let Some(key) = options
            .keys()
            .find(|k| !matches!(*k, "model_type" | "features") && !valid.contains(k))
        {
            return plan_err!(
                "{NAME}: option {key} does not apply to {}; its options are features, {}",
                model_type.name(),
                valid.join(", ")
            );
        }
        let boosted = model_type.is_boosted();
        // Defaults as BigQuery ML's: boosted trees have 20 rounds of depth 6
        // at learning rate 0.3 with l2_reg 1.
        let l1 = options.number("l1_reg", 0.0)?.unwrap_or(0.0);
        let l2 = options
            .number("l2_reg", 0.0)?
            .unwrap_or(if boosted { 1.0 } else { 0.0 });
        let is_kmeans = model_type == ModelType::Kmeans;
        let max_iterations = options
            .integer("max_iterations", 1)?
            .unwrap_or(if boosted || is_kmeans { 20 } else { 100 })
            as usize;
        let num_clusters = options.integer("num_clusters", 2)?.map(|k| k as usize);
        let max_categories = options.integer("max_categories", 1)?.unwrap_or(100) as usize;
        let learning_rate = options.number("learning_rate", 0.0)?.unwrap_or(0.3);
        if learning_rate == 0.0 || learning_rate > 1.0 {
            return plan_err!(
                "{NAME}: option learning_rate={learning_rate} is not valid; give a number in (0, 1]"
            );
        }
        let trees = boosted::Settings {
            rounds: max_iterations,
            max_depth: options.integer("max_depth", 1)?.unwrap_or(6) as usize,
            learning_rate,
            l2,
            min_split_loss: options.number("min_split_loss", 0.0)?.unwrap_or(0.0),
            min_child_weight: options.number("min_child_weight", 0.0)?.unwrap_or(1.0),
        };
        let mut recorded = BTreeMap::new();
        recorded.insert("model_type".to_string(), model_type.name().to_string());
        recorded.insert("features".to_string(), format!("[{}]", features.join(", ")));
        recorded.insert("l2_reg".to_string(), l2.to_string());
        recorded.insert("max_iterations".to_string(), max_iterations.to_string());
        recorded.insert("max_categories".to_string(), max_categories.to_string());
        if let Some(k) = num_clusters {
            recorded.insert("num_clusters".to_string(), k.to_string());
        }
        if boosted {
            recorded.insert("max_depth".to_string(), trees.max_depth.to_string());
            recorded.insert("learning_rate".to_string(), trees.learning_rate.to_string());
            recorded.insert(
                "min_split_loss".to_string(),
                trees.min_split_loss.to_string(),
            );
            recorded.insert(
                "min_child_weight".to_string(),
                trees.min_child_weight.to_string(),
            );
        } else if !is_kmeans {
            recorded.insert("l1_reg".to_string(), l1.to_string());
        }
        if is_kmeans {
            recorded.remove("l2_reg");
        }
        let job = Arc::new(Job {
            name,
            source_text,
            source,
            label,
            features,
            model_type,
            options: recorded,
            penalty: (l1, l2),
            max_iterations,
            max_categories,
            trees,
            num_clusters,
        });
        Ok(Arc::new(ActionTable::new(
            NAME,
            result_schema(),
            Box::new(move |state| {
                let job = Arc::clone(&job);
                Box::pin(async move { job.run(state).await })
            }),
        )))
    }
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
    let strings = label_strings(label)?;
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

/// Prints progress to stderr once training has taken a few seconds, and
/// stops the training when the query was cancelled.
fn progress_printer<'a>(
    name: &'a str,
    cancelled: &'a AtomicBool,
) -> impl FnMut(usize, f64) -> bool + 'a {
    let start = Instant::now();
    let mut last = start;
    move |iteration, objective| {
        let now = Instant::now();
        if now - start > Duration::from_secs(3) && now - last > Duration::from_secs(1) {
            last = now;
            eprintln!("{NAME} {name}: iteration {iteration}, objective {objective:.6}");
        }
        !cancelled.load(Ordering::Relaxed)
    }
}

/// Sets its flag when dropped: a query dropped mid-training (Ctrl-C in the
/// CLI or in Python) stops the training thread at its next iteration.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Job {
    async fn run(&self, state: SessionState) -> Result<Vec<RecordBatch>> {
        // Every column, in the canonical order of the rows' fingerprints.
        let columns: Vec<_> = self
            .source
            .schema()
            .fields()
            .iter()
            .map(|f| col(datafusion::common::Column::new_unqualified(f.name())))
            .collect();
        let fingerprint = ScalarUDF::from(RowFingerprint::default()).call(columns.clone());
        let df = DataFrame::new(state.clone(), self.source.clone())
            .select(columns.into_iter().chain([fingerprint.alias(FINGERPRINT)]))?
            .sort(vec![SortExpr::new(col(FINGERPRINT), true, false)])?;
        let batches = df.collect().await?;
        let schema = match batches.first() {
            Some(b) => b.schema(),
            None => {
                return plan_err!(
                    "{NAME}: the source {} has no rows to train on",
                    self.source_text
                )
            }
        };
        let data = concat_batches(&schema, &batches)?;
        drop(batches);
        if data.num_rows() == 0 {
            return plan_err!(
                "{NAME}: the source {} has no rows to train on",
                self.source_text
            );
        }
        let mut sum = FingerprintSum::default();
        let fps: &Int64Array = data.column(data.num_columns() - 1).as_primitive();
        fps.values().iter().for_each(|&h| sum.add_row(h as u64));

        let job = self.clone();
        let rows = data.num_rows();
        let cancelled = Arc::new(AtomicBool::new(false));
        let guard = CancelOnDrop(Arc::clone(&cancelled));
        let (model, training_metrics) =
            tokio::task::spawn_blocking(move || job.train(&data, &cancelled))
                .await
                .map_err(|e| DataFusionError::External(Box::new(e)))??;
        drop(guard);
        let model_json = model.to_json()?;
        let registry = Registry::for_session(&state)?;
        let metadata = Metadata {
            format_version: FORMAT_VERSION,
            model: self.name.clone(),
            version: 0,
            model_type: self.model_type.name().to_string(),
            created: now_rfc3339(),
            mlfusion_version: crate::MLFUSION_VERSION.to_string(),
            row_encoding: "v1".to_string(),
            label: self.label.clone(),
            features: self.features.clone(),
            options: self.options.clone(),
            metrics: training_metrics,
            training_rows: rows as u64,
            data_fingerprint: sum.finish(),
            source: self.source_text.clone(),
            split_spec: split_spec(&self.source_text),
            model_fingerprint: model_fingerprint(&model_json),
        };
        let metadata = registry.create_version(&model_json, metadata).await?;
        let row = RecordBatch::try_new(
            result_schema(),
            vec![
                Arc::new(StringArray::from(vec![metadata.model.clone()])),
                Arc::new(Int64Array::from(vec![metadata.version as i64])),
                Arc::new(StringArray::from(vec![metadata.model_type.clone()])),
                Arc::new(Int64Array::from(vec![metadata.training_rows as i64])),
                Arc::new(Int64Array::from(vec![metadata.data_fingerprint])),
                metrics_map(&[&metadata.metrics])?,
                Arc::new(StringArray::from(vec![
                    registry.uri(&metadata.model, metadata.version)
                ])),
            ],
        )?;
        Ok(vec![row])
    }

    /// Fits the model on the canonically ordered rows; returns it with its
    /// metrics on those rows.
    fn train(
        &self,
        data: &RecordBatch,
        cancelled: &AtomicBool,
    ) -> Result<(Model, BTreeMap<String, Option<f64>>)> {
        let features = Features::fit(data, &self.features, self.max_categories)?;
        let x = features.transform(data)?;
        let progress = progress_printer(&self.name, cancelled);
        if self.model_type == ModelType::Kmeans {
            let k = self
                .num_clusters
                .unwrap_or_else(|| ((data.num_rows() as f64).log10().round() as usize).max(2));
            let centroids = kmeans::fit(&x, k, self.max_iterations, progress);
            let mut summary = kmeans::Summary::new(&centroids);
            summary.add(&x);
            let metrics = summary
                .finish()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            let model = Model {
                format_version: FORMAT_VERSION,
                model_type: self.model_type,
                label: Label {
                    name: String::new(),
                    data_type: DataType::Null.to_string(),
                    classes: vec![],
                },
                features,
                options: self.options.clone(),
                params: Params::Kmeans { centroids },
            };
            return Ok((model, metrics));
        }
        let label_array = data.column(data.schema().index_of(&self.label)?);
        let label_type = match label_array.data_type() {
            DataType::Dictionary(_, v) => v.as_ref().clone(),
            t => t.clone(),
        };
        let penalty = Penalty {
            l1: self.penalty.0,
            l2: self.penalty.1,
        };
        let regression = !self.model_type.is_classifier();
        let (classes, y) = if regression {
            (vec![], numeric_label(NAME, &self.label, label_array)?)
        } else {
            let classes = classes_of(label_array)?;
            if classes.len() < 2 {
                return plan_err!(
                    "{NAME}: label {} has {} distinct value(s); a classifier needs at least \
                     two classes",
                    self.label,
                    classes.len()
                );
            }
            let y = class_indices(NAME, &self.label, label_array, &classes)?
                .into_iter()
                .map(|c| c.unwrap_or_default() as f64)
                .collect();
            (classes, y)
        };
        let k = classes.len();
        let params = match self.model_type {
            ModelType::LinearReg => {
                let fit = fit_linear(&x, &y, &penalty, self.max_iterations, progress);
                Params::Linear {
                    coef: fit.coef[0].clone(),
                    intercept: fit.intercept[0],
                }
            }
            ModelType::LogisticReg => {
                let fit = fit_logistic(&x, &y, k, &penalty, self.max_iterations, progress);
                Params::Logistic {
                    coef: fit.coef,
                    intercept: fit.intercept,
                }
            }
            ModelType::BoostedTreeRegressor | ModelType::BoostedTreeClassifier => Params::Boosted(
                boosted::fit(&x, &y, k, &self.trees, &features.one_hot_blocks(), progress),
            ),
            ModelType::Kmeans => return exec_err!("{NAME}: kmeans is trained without a label"),
        };
        let label = Label {
            name: self.label.clone(),
            data_type: label_type.to_string(),
            classes,
        };
        // Check that the label type reads back (predictions are cast to it).
        if label.arrow_type().is_err() {
            return exec_err!("{NAME}: label type {} cannot be stored", label.data_type);
        }
        let model = Model {
            format_version: FORMAT_VERSION,
            model_type: self.model_type,
            label,
            features,
            options: self.options.clone(),
            params,
        };
        // Metrics on the training rows, through the same path as ml_predict
        // (after the transform, which gave `x` already).
        let p = model.predict_matrix(&x);
        let metrics = match p.probs {
            None => metrics::regression(&y, &p.values),
            Some(probs) => {
                let truth: Vec<usize> = y.iter().map(|&c| c as usize).collect();
                metrics::classification(&truth, &probs, k)
            }
        };
        let metrics = metrics
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        Ok((model, metrics))
    }
}

/// The `ml_split(...)` call in a source query, if there is one.
fn split_spec(source: &str) -> Option<String> {
    let lower = source.to_ascii_lowercase();
    let start = lower.find("ml_split(")?;
    let mut depth = 0;
    for (i, c) in source[start..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(source[start..start + i + 1].to_string());
                }
            }
            _ => {}
        }
    }
    None
}
