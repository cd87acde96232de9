//! `ml_models()`: one row per model version in the registry.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, Int64Array, MapBuilder, RecordBatch, StringArray, StringBuilder,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::Result;
use datafusion::execution::SessionState;

use crate::functions::common::action::ActionTable;
use crate::functions::common::args::Signature;
use crate::functions::common::schemas::{metrics_map, metrics_map_type};
use crate::registry::{Metadata, Registry};

const NAME: &str = "ml_models";

#[derive(Debug, Default)]
pub struct MlModels;

fn created_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

fn options_map_type() -> DataType {
    let mut builder = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    Array::data_type(&builder.finish()).clone()
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("model", DataType::Utf8, false),
        Field::new("version", DataType::Int64, false),
        Field::new("aliases", DataType::Utf8, false),
        Field::new("created", created_type(), true),
        Field::new("model_type", DataType::Utf8, false),
        Field::new("label", DataType::Utf8, false),
        Field::new("params", options_map_type(), false),
        Field::new("metrics", metrics_map_type(), false),
        Field::new("eval_metrics", metrics_map_type(), true),
        Field::new("training_rows", DataType::Int64, false),
        Field::new("eval_rows", DataType::Int64, false),
        Field::new("data_fingerprint", DataType::Int64, true),
        Field::new("source", DataType::Utf8, false),
        Field::new("split_spec", DataType::Utf8, true),
        Field::new("artifact_uri", DataType::Utf8, false),
    ]))
}

async fn list(state: SessionState) -> Result<Vec<RecordBatch>> {
    let registry = Registry::for_session(&state)?;
    let mut rows: Vec<(Metadata, String)> = Vec::new();
    for name in registry.names().await? {
        let aliases = registry.aliases(&name).await?;
        for m in registry.versions(&name).await? {
            let names: Vec<&str> = aliases
                .iter()
                .filter(|(_, &v)| v == m.version)
                .map(|(a, _)| a.as_str())
                .collect();
            rows.push((m, names.join(", ")));
        }
    }
    let text = |f: &dyn Fn(&(Metadata, String)) -> String| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let int = |f: &dyn Fn(&Metadata) -> Option<i64>| -> ArrayRef {
        Arc::new(Int64Array::from_iter(rows.iter().map(|(m, _)| f(m))))
    };
    let mut params = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
    for (m, _) in &rows {
        for (k, v) in &m.options {
            params.keys().append_value(k);
            params.values().append_value(v);
        }
        params.append(true)?;
    }
    let created: ArrayRef = Arc::new(StringArray::from_iter_values(
        rows.iter().map(|(m, _)| m.created.as_str()),
    ));
    let columns: Vec<ArrayRef> = vec![
        text(&|(m, _)| m.model.clone()),
        int(&|m| Some(m.version as i64)),
        text(&|(_, a)| a.clone()),
        cast(&created, &created_type())?,
        text(&|(m, _)| m.model_type.clone()),
        text(&|(m, _)| m.label.clone()),
        Arc::new(params.finish()),
        metrics_map(rows.iter().map(|(m, _)| Some(&m.metrics)))?,
        metrics_map(rows.iter().map(|(m, _)| m.eval_metrics.as_ref()))?,
        int(&|m| Some(m.training_rows as i64)),
        int(&|m| Some(m.eval_rows as i64)),
        int(&|m| m.data_fingerprint),
        text(&|(m, _)| m.source.clone()),
        Arc::new(StringArray::from_iter(
            rows.iter().map(|(m, _)| m.split_text()),
        )),
        text(&|(m, _)| registry.uri(&m.model, m.version)),
    ];
    Ok(vec![RecordBatch::try_new(schema(), columns)?])
}

/// The arguments of `ml_models`.
const SIGNATURE: Signature = Signature {
    function: NAME,
    names: &[],
    required: 0,
    example: "SELECT * FROM ml_models()",
};

impl TableFunctionImpl for MlModels {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        SIGNATURE.bind(&args)?;
        Ok(Arc::new(ActionTable::new(
            NAME,
            schema(),
            Box::new(|state| Box::pin(list(state))),
        )))
    }
}
