//! `ml_predict(model, source)`: the source's rows with the model's
//! predictions, as a view: a projection over the source calling a scalar
//! function that holds the loaded model. It streams batch by batch (memory
//! does not grow with the data), and filters and projections push through.
//!
//! Output: the source columns, then `predicted_<label>` (the label's type
//! for a classifier, DOUBLE for a regressor) and, for a classifier,
//! `predicted_<label>_probs`: one `{label, prob}` per class, as BigQuery ML;
//! for `kmeans`, `centroid_id` (BIGINT, from 1).

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, ListArray, RecordBatch, StructArray, UInt32Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, Column, Result};
use datafusion::datasource::ViewTable;
use datafusion::execution::SessionState;
use datafusion::functions::core::expr_fn::get_field;
use datafusion::logical_expr::{
    col, ColumnarValue, LogicalPlan, LogicalPlanBuilder, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use serde::{Deserialize, Serialize};

use crate::errors::IntoDataFusion;
use crate::models::{Model, ModelType};
use crate::registry::{parse_model_ref, Metadata, Registry};
use crate::source::{block_on, resolve, session_state, string_arg};

const NAME: &str = "ml_predict";

/// The helper column holding each row's prediction struct.
const PREDICTION: &str = "__mlfusion_prediction";

#[derive(Debug, Default)]
pub struct MlPredict;

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
            name: format!("{NAME}[{}@{}]", metadata.model, metadata.version),
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
        name.starts_with(NAME) && name[NAME.len()..].starts_with('[')
    }

    #[cfg_attr(not(feature = "ballista"), allow(dead_code))]
    pub fn reference(&self) -> &ModelReference {
        &self.reference
    }
}

fn predicted_type(model: &Model) -> Result<DataType> {
    match model.model_type {
        t if t.is_classifier() => model.label.arrow_type().into_df(),
        ModelType::Kmeans => Ok(DataType::Int64),
        _ => Ok(DataType::Float64),
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
            None if self.model.model_type == ModelType::Kmeans => columns.push(Arc::new(
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

/// The model and the source of a `(model, source)` table function, both
/// loaded at planning.
pub fn model_and_source_args(
    function: &str,
    args: &TableFunctionArgs,
) -> Result<(Metadata, Model, LogicalPlan)> {
    let exprs = args.exprs();
    if exprs.len() != 2 {
        return plan_err!(
            "{function}: expects (model, source), got {} arguments; e.g. \
             {function}('churn', 'data/new.parquet') or {function}('churn@3', 'new_rows')",
            exprs.len()
        );
    }
    let model_text = string_arg(function, "model", &exprs[0])?;
    let source_text = string_arg(function, "source", &exprs[1])?;
    let state = session_state(function, args.session())?;
    let (metadata, model) = load_model(function, state, &model_text)?;
    let source = resolve(function, state, &source_text)?;
    Ok((metadata, model, source))
}

impl TableFunctionImpl for MlPredict {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (metadata, model, source) = model_and_source_args(NAME, &args)?;
        let plan = predict_plan(NAME, source, &metadata, model)?;
        Ok(Arc::new(ViewTable::new(plan, None)))
    }
}

/// The name of the prediction column: `predicted_<label>`, or
/// `centroid_id` for k-means.
pub fn predicted_name(model: &Model) -> String {
    if model.model_type == ModelType::Kmeans {
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
