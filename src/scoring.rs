//! Applying a model to rows: the scalar function that holds a loaded model
//! (`ml_predict`'s plan, carried to Ballista executors as a reference to its
//! registry version), and the labels and predictions of a source's rows from
//! which ML.EVALUATE's metrics, the confusion matrix and the ROC curve are
//! computed. `ml_predict`, `ml_evaluate`, `ml_confusion_matrix`,
//! `ml_roc_curve` and `ml_deploy` (judging versions on held-out rows) use it.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, ListArray, RecordBatch, StructArray,
    UInt32Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::{cast, take};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Float64Type, Schema};
use datafusion::common::{exec_datafusion_err, exec_err, plan_err, Column, Result};
use datafusion::execution::SessionState;
use datafusion::functions::core::expr_fn::get_field;
use datafusion::logical_expr::{
    col, ColumnarValue, LogicalPlan, LogicalPlanBuilder, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::physical_plan::execute_stream;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::errors::IntoDataFusion;
use crate::models::{class_indices, kmeans, metrics, numeric_label, Model, Params, Task};
use crate::registry::{parse_model_ref, Metadata, Registry};
use crate::util::block_on;

/// The name of model functions: `ml_predict[<model>@<version>]`.
const PREDICT: &str = "ml_predict";

/// The helper column holding each row's prediction struct.
const PREDICTION: &str = "__mlfusion_prediction";

/// Loads the model a `model` argument names.
/// The metadata of the version `text` names (`name`, `name@3`,
/// `name@alias`), without loading the model.
pub fn load_metadata(function: &str, state: &SessionState, text: &str) -> Result<Metadata> {
    let (name, selector) = parse_model_ref(function, text)?;
    let registry = Registry::for_session(state)?;
    block_on(registry.resolve(function, &name, &selector))
}

pub fn load_model(function: &str, state: &SessionState, text: &str) -> Result<(Metadata, Model)> {
    let metadata = load_metadata(function, state, text)?;
    let model = block_on(Registry::for_session(state)?.load(&metadata))?;
    Ok((metadata, model))
}

/// The type of `predicted_<label>_probs`.
fn probs_type(label: &DataType) -> DataType {
    DataType::List(Arc::new(Field::new_struct(
        "item",
        vec![
            Field::new("label", label.clone(), false),
            Field::new("prob", DataType::Float64, false),
        ],
        false,
    )))
}

/// The scalar function computing a struct `{predicted[, probs]}` per row
/// from the model's feature columns (in the model's order).
#[derive(Debug)]
pub struct PredictUdf {
    name: String,
    signature: Signature,
    model: Arc<Model>,
    reference: ModelReference,
    return_type: DataType,
}

/// Where a [`PredictUdf`]'s model lives: what a plan sent to a cluster
/// carries instead of the model, which each node loads from the registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelReference {
    pub registry: String,
    pub model: String,
    pub version: u64,
    pub model_fingerprint: String,
}

impl PartialEq for PredictUdf {
    fn eq(&self, other: &Self) -> bool {
        self.reference == other.reference
    }
}

impl Eq for PredictUdf {}

impl Hash for PredictUdf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.reference.hash(state);
    }
}

impl PredictUdf {
    pub fn new(metadata: &Metadata, model: Model) -> Result<Self> {
        let mut fields = vec![Field::new("predicted", predicted_type(&model)?, true)];
        if model.model_type.is_classifier() {
            fields.push(Field::new(
                "probs",
                probs_type(&model.label.arrow_type().into_df()?),
                true,
            ));
        }
        Ok(Self {
            name: format!("{PREDICT}[{}@{}]", metadata.model, metadata.version),
            signature: Signature::variadic_any(Volatility::Immutable),
            model: Arc::new(model),
            reference: ModelReference {
                registry: metadata.registry.clone(),
                model: metadata.model.clone(),
                version: metadata.version,
                model_fingerprint: metadata.model_fingerprint.clone(),
            },
            return_type: DataType::Struct(Fields::from(fields)),
        })
    }

    /// Whether `name` is the name of a model's prediction function.
    #[cfg_attr(not(feature = "ballista"), allow(dead_code))]
    pub fn is_name(name: &str) -> bool {
        name.starts_with(PREDICT) && name[PREDICT.len()..].starts_with('[')
    }

    #[cfg_attr(not(feature = "ballista"), allow(dead_code))]
    pub fn reference(&self) -> &ModelReference {
        &self.reference
    }
}

fn predicted_type(model: &Model) -> Result<DataType> {
    match model.model_type.task() {
        Task::Classification => model.label.arrow_type().into_df(),
        Task::Clustering => Ok(DataType::Int64),
        Task::Regression => Ok(DataType::Float64),
    }
}

impl ScalarUDFImpl for PredictUdf {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.return_type.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let fields: Vec<Field> = self
            .model
            .features
            .columns
            .iter()
            .zip(&arrays)
            .map(|(f, a)| Field::new(&f.name, a.data_type().clone(), true))
            .collect();
        let batch = RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            arrays,
            &datafusion::arrow::array::RecordBatchOptions::new()
                .with_row_count(Some(args.number_rows)),
        )?;
        let p = self.model.predict(&batch).into_df()?;
        let DataType::Struct(fields) = &self.return_type else {
            unreachable!("the return type is a struct")
        };
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(2);
        match p.probs {
            // Centroids are numbered from 1, as in BigQuery ML.
            None if self.model.model_type.task() == Task::Clustering => columns.push(Arc::new(
                Int64Array::from_iter_values(p.values.iter().map(|&c| c as i64 + 1)),
            )),
            None => columns.push(Arc::new(Float64Array::from(p.values))),
            Some(probs) => {
                let classes = self.model.label.class_array().into_df()?;
                let k = classes.len();
                let index = UInt32Array::from_iter_values(p.values.iter().map(|&c| c as u32));
                columns.push(take(&classes, &index, None)?);
                let n = batch.num_rows();
                let all = UInt32Array::from_iter_values((0..n * k).map(|i| (i % k) as u32));
                let DataType::List(item) = probs_type(classes.data_type()) else {
                    unreachable!("probs is a list")
                };
                let DataType::Struct(item_fields) = item.data_type() else {
                    unreachable!("probs items are structs")
                };
                let items = StructArray::try_new(
                    item_fields.clone(),
                    vec![
                        take(&classes, &all, None)?,
                        Arc::new(Float64Array::from(probs)),
                    ],
                    None,
                )?;
                columns.push(Arc::new(ListArray::try_new(
                    Arc::clone(&item),
                    OffsetBuffer::from_lengths(std::iter::repeat_n(k, n)),
                    Arc::new(items),
                    None,
                )?));
            }
        }
        Ok(ColumnarValue::Array(Arc::new(StructArray::try_new(
            fields.clone(),
            columns,
            None,
        )?)))
    }
}

/// The name of the prediction column: `predicted_<label>`, or
/// `centroid_id` for k-means.
pub fn predicted_name(model: &Model) -> String {
    if model.model_type.task() == Task::Clustering {
        "centroid_id".to_string()
    } else {
        format!("predicted_{}", model.label.name)
    }
}

/// The name of a classifier's probabilities column.
pub fn probs_name(model: &Model) -> String {
    format!("predicted_{}_probs", model.label.name)
}

/// The source's columns plus the prediction columns, as a logical plan.
pub fn predict_plan(
    function: &str,
    source: LogicalPlan,
    metadata: &Metadata,
    model: Model,
) -> Result<LogicalPlan> {
    let schema = Arc::clone(source.schema());
    let mut args = Vec::with_capacity(model.features.columns.len());
    for f in &model.features.columns {
        if schema.field_with_unqualified_name(&f.name).is_err() {
            return plan_err!(
                "{function}: the source has no column {}, a feature of model {}@{}; its \
                 features are {}",
                f.name,
                metadata.model,
                metadata.version,
                metadata.features.join(", ")
            );
        }
        args.push(col(Column::new_unqualified(&f.name)));
    }
    let classifier = model.model_type.is_classifier();
    let (predicted, probs) = (predicted_name(&model), probs_name(&model));
    let taken_names = if classifier {
        vec![&predicted, &probs]
    } else {
        vec![&predicted]
    };
    for taken in taken_names {
        if schema.field_with_unqualified_name(taken).is_ok() {
            return plan_err!(
                "{function}: the source already has a column {taken}, which {function} adds; \
                 drop or rename it first"
            );
        }
    }
    let udf = ScalarUDF::from(PredictUdf::new(metadata, model)?);
    let source_columns: Vec<_> = schema
        .columns()
        .into_iter()
        .map(|c| col(Column::new_unqualified(c.name)))
        .collect();
    let mut outputs = source_columns.clone();
    outputs.push(get_field(col(PREDICTION), "predicted").alias(predicted));
    if classifier {
        outputs.push(get_field(col(PREDICTION), "probs").alias(probs));
    }
    LogicalPlanBuilder::from(source)
        .project(
            source_columns
                .into_iter()
                .chain([udf.call(args).alias(PREDICTION)]),
        )?
        .project(outputs)?
        .build()
}

/// ML.EVALUATE's k-means columns.
/// The k-means metrics of every row of `source`.
async fn evaluate_kmeans(
    function: &str,
    state: SessionState,
    source: LogicalPlan,
    model: Arc<Model>,
) -> Result<Vec<(&'static str, Option<f64>)>> {
    let Params::Kmeans { centroids } = &model.params else {
        return exec_err!("{function}: not a kmeans model");
    };
    let plan = state.create_physical_plan(&source).await?;
    let mut stream = execute_stream(plan, state.task_ctx())?;
    let mut summary = kmeans::Summary::new(centroids);
    while let Some(batch) = stream.next().await {
        summary.add(&model.features.transform(&batch?).into_df()?);
    }
    Ok(summary.finish())
}

/// ML.EVALUATE's metrics of `model` on the rows of `source`.
pub async fn evaluate(
    function: &str,
    state: SessionState,
    source: LogicalPlan,
    metadata: &Metadata,
    model: Arc<Model>,
) -> Result<metrics::Metrics> {
    if model.model_type.task() == Task::Clustering {
        return evaluate_kmeans(function, state, source, model).await;
    }
    Ok(
        match score_rows(function, state, source, metadata, &model).await? {
            Scored::Classes { truth, probs } => {
                metrics::classification(&truth, &probs, model.label.classes.len())
            }
            Scored::Values { truth, predicted } => metrics::regression(&truth, &predicted),
        },
    )
}

/// The true and predicted values of every row of a source.
pub enum Scored {
    /// Class indices and n × k probabilities.
    Classes { truth: Vec<usize>, probs: Vec<f64> },
    Values {
        truth: Vec<f64>,
        predicted: Vec<f64>,
    },
}

/// The labels of `source` (which has them) and the model's predictions:
/// `ml_predict`'s plan, so that the predictions run where the query runs
/// (on a cluster, on its executors), projected to the label and the
/// probabilities (a classifier) or the predicted value.
pub fn scored_plan(
    function: &str,
    source: LogicalPlan,
    metadata: &Metadata,
    model: &Model,
) -> Result<LogicalPlan> {
    let prediction = if model.model_type.is_classifier() {
        probs_name(model)
    } else {
        predicted_name(model)
    };
    LogicalPlanBuilder::from(predict_plan(function, source, metadata, model.clone())?)
        .project([
            col(Column::new_unqualified(&model.label.name)),
            col(Column::new_unqualified(prediction)),
        ])?
        .build()
}

/// The labels and predictions of every row of `source` (see
/// [`scored_plan`]).
pub async fn score_rows(
    function: &str,
    state: SessionState,
    source: LogicalPlan,
    metadata: &Metadata,
    model: &Model,
) -> Result<Scored> {
    let label = model.label.name.clone();
    let scored = scored_plan(function, source, metadata, model)?;
    let plan = state.create_physical_plan(&scored).await?;
    let mut stream = execute_stream(plan, state.task_ctx())?;
    let classes = &model.label.classes;
    let k = classes.len();
    let (mut truth, mut values, mut probs, mut classes_seen) =
        (Vec::new(), Vec::<f64>::new(), Vec::new(), Vec::new());
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let (label_array, prediction) = (batch.column(0), batch.column(1));
        if model.model_type.is_classifier() {
            // In the training label's type, so that BIGINT 1 matches a DOUBLE
            // model's class "1.0".
            let label_array = &cast(label_array, &model.label.arrow_type().into_df()?)?;
            for (i, c) in class_indices(function, &label, label_array, classes)
                .into_df()?
                .into_iter()
                .enumerate()
            {
                match c {
                    Some(c) => classes_seen.push(c),
                    None => {
                        let value = datafusion::arrow::util::display::array_value_to_string(
                            label_array,
                            i,
                        )?;
                        return exec_err!(
                            "{function}: label {label} has the value {value}, which is not one \
                             of the model's classes ({})",
                            classes.join(", ")
                        );
                    }
                }
            }
            // Each row's list holds the k class probabilities in class order.
            let list = prediction.as_list::<i32>();
            let items = list.values().as_struct();
            let all = items
                .column_by_name("prob")
                .ok_or_else(|| exec_datafusion_err!("{function}: predictions have no prob"))?
                .as_primitive::<Float64Type>()
                .values();
            for w in list.value_offsets().windows(2) {
                let (start, end) = (w[0] as usize, w[1] as usize);
                if end - start != k {
                    return exec_err!(
                        "{function}: a prediction has {} classes, not {k}",
                        end - start
                    );
                }
                probs.extend_from_slice(&all[start..end]);
            }
        } else {
            truth.extend(numeric_label(function, &label, label_array).into_df()?);
            values.extend(prediction.as_primitive::<Float64Type>().values().iter());
        }
    }
    if truth.is_empty() && classes_seen.is_empty() {
        return exec_err!("{function}: the source has no rows to evaluate on");
    }
    Ok(if model.model_type.is_classifier() {
        let order = canonical_order(classes_seen.len(), |a, b| {
            probs[a * k..(a + 1) * k]
                .iter()
                .zip(&probs[b * k..(b + 1) * k])
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
                .then(classes_seen[a].cmp(&classes_seen[b]))
        });
        Scored::Classes {
            truth: order.iter().map(|&i| classes_seen[i]).collect(),
            probs: order
                .iter()
                .flat_map(|&i| probs[i * k..(i + 1) * k].iter().copied())
                .collect(),
        }
    } else {
        let order = canonical_order(truth.len(), |a, b| {
            values[a]
                .total_cmp(&values[b])
                .then(truth[a].total_cmp(&truth[b]))
        });
        Scored::Values {
            truth: order.iter().map(|&i| truth[i]).collect(),
            predicted: order.iter().map(|&i| values[i]).collect(),
        }
    })
}

/// The row indices `0..n` sorted by `cmp`. Metrics sum over rows, and a
/// floating-point sum depends on its order: scoring rows in an order fixed
/// by their values makes the metrics independent of the order the rows
/// arrived in (file layout, partitions, a cluster's executors).
fn canonical_order(n: usize, cmp: impl Fn(usize, usize) -> Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| cmp(a, b));
    order
}

/// The true class indices and the n × k probabilities of a classifier over
/// every row of `source`.
pub async fn score_classes(
    function: &str,
    state: SessionState,
    source: LogicalPlan,
    metadata: &Metadata,
    model: &Model,
) -> Result<(Vec<usize>, Vec<f64>)> {
    match score_rows(function, state, source, metadata, model).await? {
        Scored::Classes { truth, probs } => Ok((truth, probs)),
        Scored::Values { .. } => exec_err!("{function}: the model is not a classifier"),
    }
}
