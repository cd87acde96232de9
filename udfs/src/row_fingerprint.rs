//! `row_fingerprint(x1, …, xn)`: a NULL-safe, typed fingerprint of a row.

use std::sync::Arc;

use arrow::array::Int64Array;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion_common::{plan_err, Result, ScalarValue};
use datafusion_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
};
use datafusion_macros::user_doc;

use crate::farmhash::fingerprint64;
use crate::row_encoding::{
    check_encodable, encode_scalars, for_each_row_fingerprint, ROW_EXAMPLES,
};
use crate::utils::{any_arguments_with_examples, data_types};

#[user_doc(
    doc_section(label = "Hashing Functions"),
    description = "Computes a BIGINT fingerprint of a row of values of any types: FarmHash \
        Fingerprint64 of their row encoding v1 (docs/row-encoding.md). The result is never \
        NULL: a NULL value has its own tag instead of making the row vanish as CONCAT does. \
        Values are hashed by logical value and type family, not physical type: 5 as INT or \
        BIGINT, 'a' as Utf8 or Utf8View, -0.0 and 0.0, 1.50 and 1.5 (decimals), the same \
        instant in any timestamp unit or zone all hash alike. Strings and binaries are \
        length-prefixed so ('ab', 'c') and ('a', 'bc') differ. Column names never enter the \
        hash. Pass a literal first argument as a salt to draw an independent assignment.",
    syntax_example = "row_fingerprint(x1[, x2, ..., xn])",
    sql_example = "```sql\n> SELECT abs_mod(row_fingerprint('v1', id, name), 100) < 80 AS is_train, * FROM 'data.parquet';\n```",
    argument(
        name = "x1",
        description = "The first value; a literal here acts as a salt (e.g. 'v1')."
    ),
    argument(
        name = "..., xn",
        description = "Further values. Any supported type: NULL, BOOLEAN, integers, floats, \
            decimals, strings, binaries, dates, timestamps, times, durations, intervals, and \
            lists, structs, maps and dictionaries of those."
    ),
    related_udf(name = "farm_fingerprint"),
    related_udf(name = "abs_mod"),
    related_udf(name = "dataset_fingerprint")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RowFingerprint {
    signature: Signature,
}

impl Default for RowFingerprint {
    fn default() -> Self {
        Self {
            signature: any_arguments_with_examples(ROW_EXAMPLES),
        }
    }
}

impl ScalarUDFImpl for RowFingerprint {
    fn name(&self) -> &str {
        "row_fingerprint"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if arg_types.is_empty() {
            return plan_err!("row_fingerprint: expects at least one argument (x1, ..., xn)");
        }
        check_encodable("row_fingerprint", arg_types)?;
        Ok(DataType::Int64)
    }

    /// Never NULL: a NULL value is encoded, not propagated.
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let data_type = self.return_type(&data_types(args.arg_fields))?;
        Ok(Arc::new(Field::new(self.name(), data_type, false)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalars = args
            .args
            .iter()
            .map(|a| match a {
                ColumnarValue::Scalar(s) => Some(s.clone()),
                ColumnarValue::Array(_) => None,
            })
            .collect::<Option<Vec<_>>>();
        if let Some(scalars) = scalars {
            let hash = fingerprint64(&encode_scalars(&scalars)?) as i64;
            return Ok(ColumnarValue::Scalar(ScalarValue::Int64(Some(hash))));
        }
        let mut hashes = vec![0i64; args.number_rows];
        for_each_row_fingerprint(&args.args, args.number_rows, |row, h| {
            hashes[row] = h as i64
        })?;
        Ok(ColumnarValue::Array(Arc::new(Int64Array::from(hashes))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}
