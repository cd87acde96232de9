//! `ml_confusion_matrix(model, source)`: BigQuery ML.CONFUSION_MATRIX: one
//! row per true class (`expected_label`), one BIGINT column per predicted
//! class (named by the class), counting the source's rows.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;

use crate::errors::IntoDataFusion;
use crate::functions::common::action::ActionTable;
use crate::functions::common::args::Signature;
use crate::functions::common::model_args::model_and_source;
use crate::models::argmax_rows;
use crate::scoring::score_classes;

const NAME: &str = "ml_confusion_matrix";

#[derive(Debug, Default)]
pub struct MlConfusionMatrix;

/// The arguments of `ml_confusion_matrix`.
const SIGNATURE: Signature = Signature {
    function: NAME,
    names: &["model", "source"],
    required: 2,
    example: "ml_confusion_matrix('churn', 'data/new.parquet') or ml_confusion_matrix('churn@3', 'new_rows')",
};

impl TableFunctionImpl for MlConfusionMatrix {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let (metadata, model, source) = model_and_source(&SIGNATURE, &args, true)?;
        let classes = model.label.classes.clone();
        let label_type = model.label.arrow_type().into_df()?;
        let mut fields = vec![Field::new("expected_label", label_type, false)];
        fields.extend(
            classes
                .iter()
                .map(|c| Field::new(c, DataType::Int64, false)),
        );
        let schema = Arc::new(Schema::new(fields));
        let out_schema = Arc::clone(&schema);
        let model = Arc::new(model);
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
                    let (truth, probs) =
                        score_classes(NAME, state, source, &metadata, &model).await?;
                    let k = model.label.classes.len();
                    // counts[predicted][expected]: one output column per predicted class.
                    let mut counts = vec![vec![0i64; k]; k];
                    for (t, p) in truth.iter().zip(argmax_rows(&probs, k)) {
                        counts[p as usize][*t] += 1;
                    }
                    let mut columns: Vec<ArrayRef> = vec![model.label.class_array().into_df()?];
                    for column in counts {
                        columns.push(Arc::new(Int64Array::from(column)));
                    }
                    Ok(vec![RecordBatch::try_new(schema, columns)?])
                })
            }),
        )))
    }
}
