//! What the CLI prints: results in CSV or TSV with nested values (lists,
//! structs, maps: `ml_train`'s `metrics`, `ml_predict`'s probabilities) as
//! their text, as the table format shows them. Arrow's CSV writer refuses
//! nested columns, and it would do so only after the query ran (after
//! `ml_train` trained and stored a version): the columns are turned into
//! text in the plan, before anything runs.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::common::{Column, Result};
use datafusion::dataframe::DataFrame;
use datafusion::execution::{SessionState, TaskContext};
use datafusion::logical_expr::{
    col, ColumnarValue, LogicalPlan, LogicalPlanBuilder, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion_cli::cli_context::CliSessionContext;
use datafusion_cli::print_format::PrintFormat;
use object_store::ObjectStore;

/// The CLI's session: a [`SessionContext`] whose top-level queries print in
/// `format` (the format given on the command line; `\pset format` in the
/// REPL does not change it).
pub(crate) struct CliContext {
    ctx: SessionContext,
    format: PrintFormat,
    nested_as_text: bool,
}

impl CliContext {
    pub(crate) fn new(ctx: SessionContext, format: PrintFormat, nested_as_text: bool) -> Self {
        Self {
            ctx,
            format,
            nested_as_text,
        }
    }

    /// The session the statements run on.
    pub(crate) fn session(&self) -> &SessionContext {
        &self.ctx
    }
}

/// Whether the CSV writer cannot write a column of type `t`.
fn needs_text(t: &DataType) -> bool {
    t.is_nested()
}

/// `plan` with the columns that `format` cannot print turned into text.
fn printable(plan: LogicalPlan, format: PrintFormat) -> Result<LogicalPlan> {
    let delimited = matches!(format, PrintFormat::Csv | PrintFormat::Tsv);
    let schema = plan.schema();
    if !delimited || !schema.fields().iter().any(|f| needs_text(f.data_type())) {
        return Ok(plan);
    }
    let text = Arc::new(ScalarUDF::from(AsText::default()));
    let columns: Vec<_> = schema
        .iter()
        .map(|(qualifier, field)| {
            let column = col(Column::from((qualifier, field)));
            if needs_text(field.data_type()) {
                text.call(vec![column])
                    .alias_qualified(qualifier.cloned(), field.name())
            } else {
                column
            }
        })
        .collect();
    LogicalPlanBuilder::from(plan).project(columns)?.build()
}

#[async_trait]
impl CliSessionContext for CliContext {
    fn task_ctx(&self) -> Arc<TaskContext> {
        self.ctx.task_ctx()
    }

    fn session_state(&self) -> SessionState {
        self.ctx.state()
    }

    fn register_object_store(
        &self,
        url: &url::Url,
        object_store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore + 'static>> {
        self.ctx.register_object_store(url, object_store)
    }

    fn register_table_options_extension_from_scheme(&self, scheme: &str) {
        CliSessionContext::register_table_options_extension_from_scheme(&self.ctx, scheme)
    }

    async fn execute_logical_plan(&self, plan: LogicalPlan) -> Result<DataFrame> {
        let plan = if self.nested_as_text {
            printable(plan, self.format)?
        } else {
            plan
        };
        self.ctx.execute_logical_plan(plan).await
    }
}

/// Any value as the text the table format shows for it (NULL stays NULL).
#[derive(Debug, PartialEq, Eq, Hash)]
struct AsText {
    signature: Signature,
}

impl Default for AsText {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for AsText {
    fn name(&self) -> &str {
        "mlfusion_cli_text"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let array = args.args[0].to_array(args.number_rows)?;
        Ok(ColumnarValue::Array(as_text(&array)?))
    }
}

fn as_text(array: &ArrayRef) -> Result<ArrayRef> {
    let formatter = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())?;
    let mut text = StringBuilder::with_capacity(array.len(), array.len() * 16);
    for i in 0..array.len() {
        if array.is_null(i) {
            text.append_null();
        } else {
            formatter.value(i).write(&mut text)?;
            text.append_value("");
        }
    }
    Ok(Arc::new(text.finish()))
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{AsArray, ListArray};
    use datafusion::arrow::datatypes::Int32Type;

    use super::*;

    #[test]
    fn nested_values_print_as_the_table_shows_them() -> Result<()> {
        let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None]),
            None,
        ]));
        let text = as_text(&list)?;
        let text = text.as_string::<i32>();
        assert_eq!(text.value(0), "[1, ]");
        assert!(text.is_null(1));
        Ok(())
    }
}
