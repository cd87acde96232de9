//! `ml_evaluate(model, source)`: one row of BigQuery ML.EVALUATE's metrics
//! for the model on the source's rows (which must have the label column,
//! except for `kmeans`).
//! The predictions stream through; only the labels and scores are kept, as
//! ROC AUC and the median need them all.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use crate::functions::common::action::ActionTable;
use crate::functions::common::args::Signature;
use crate::functions::common::model_args::model_and_source;
use crate::models::Model;
use crate::scoring::evaluate;

const NAME: &str = "ml_evaluate";

#[derive(Debug, Default)]
pub struct MlEvaluate;

fn schema_for(model: &Model) -> SchemaRef {
    Arc::new(Schema::new(
        model
            .model_type
            .task()
            .metrics()
            .iter()
            .map(|n| Field::new(*n, DataType::Float64, true))
            .collect::<Vec<_>>(),
    ))
}

/// The arguments of `ml_evaluate`.
const SIGNATURE: Signature = Signature {
    function: NAME,
    names: &["model", "source"],
    required: 2,
    example: "ml_evaluate('churn', 'data/new.parquet') or ml_evaluate('churn@3', 'new_rows')",
};

impl TableFunctionImpl for MlEvaluate {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (metadata, model, source) = model_and_source(&SIGNATURE, &args, false)?;
        let schema = schema_for(&model);
        let model = Arc::new(model);
        let out_schema = Arc::clone(&schema);
        Ok(Arc::new(ActionTable::new(
            NAME,
            schema,
            Box::new(move |state| {
                let (source, metadata, model, schema) = (
                    source.clone(),
                    metadata.clone(),
                    Arc::clone(&model),
                    Arc::clone(&out_schema),
                );
                Box::pin(async move {
                    let metrics = evaluate(NAME, state, source, &metadata, model).await?;
                    let columns: Vec<ArrayRef> = metrics
                        .into_iter()
                        .map(|(_, v)| Arc::new(Float64Array::from(vec![v])) as ArrayRef)
                        .collect();
                    Ok(vec![RecordBatch::try_new(schema, columns)?])
                })
            }),
        )))
    }
}
