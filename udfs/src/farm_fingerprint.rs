//! `farm_fingerprint(x)`: BigQuery's FARM_FINGERPRINT.

use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayAccessor, ArrayRef, AsArray, Int64Array};
use arrow::compute::take;
use arrow::datatypes::DataType;
use datafusion_common::{exec_err, plan_err, Result, ScalarValue};
use datafusion_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature};
use datafusion_macros::user_doc;

use crate::farmhash;
use crate::utils::any_arguments_with_examples;

#[user_doc(
    doc_section(label = "Hashing Functions"),
    description = "Computes the FarmHash Fingerprint64 of a STRING or BYTES value and returns \
        it as a signed BIGINT, bit-identical to BigQuery's FARM_FINGERPRINT. Strings are \
        hashed as their UTF-8 bytes. NULL input gives NULL. Other types are an error (no \
        implicit casts): cast explicitly, or use row_fingerprint for typed, NULL-safe row \
        hashing.",
    syntax_example = "farm_fingerprint(x)",
    sql_example = "```sql\n> SELECT farm_fingerprint('alphabet');\n+-------------------------------------+\n| farm_fingerprint(Utf8(\"alphabet\")) |\n+-------------------------------------+\n| -2427165924636348523                |\n+-------------------------------------+\n\n> SELECT abs_mod(farm_fingerprint(concat(cast(id AS varchar), name)), 10) AS bucket FROM 'data.parquet';\n```",
    argument(
        name = "x",
        description = "STRING or BYTES expression: Utf8, LargeUtf8, Utf8View, Binary, \
            LargeBinary, BinaryView, FixedSizeBinary, or a dictionary of those."
    ),
    related_udf(name = "row_fingerprint"),
    related_udf(name = "abs_mod")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FarmFingerprint {
    signature: Signature,
}

impl Default for FarmFingerprint {
    fn default() -> Self {
        Self {
            signature: any_arguments_with_examples(&[
                &[DataType::Utf8],
                &[DataType::LargeUtf8],
                &[DataType::Utf8View],
                &[DataType::Binary],
                &[DataType::LargeBinary],
                &[DataType::BinaryView],
            ]),
        }
    }
}

/// Whether `farm_fingerprint` hashes values of this type as they are.
fn is_hashable(data_type: &DataType) -> bool {
    match data_type {
        DataType::Null
        | DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => true,
        DataType::Dictionary(_, value) => is_hashable(value),
        _ => false,
    }
}

impl ScalarUDFImpl for FarmFingerprint {
    fn name(&self) -> &str {
        "farm_fingerprint"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t] if is_hashable(t) => Ok(DataType::Int64),
            [t] => plan_err!(
                "farm_fingerprint: argument x must be STRING or BYTES (Utf8, LargeUtf8, Utf8View, \
                 Binary, LargeBinary, BinaryView, FixedSizeBinary or a dictionary of those), got \
                 {t}; cast it explicitly, e.g. farm_fingerprint(CAST(x AS VARCHAR)), or use \
                 row_fingerprint(x)"
            ),
            _ => plan_err!(
                "farm_fingerprint: expects exactly one argument (x), got {}",
                arg_types.len()
            ),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [x] = args.args.as_slice() else {
            return exec_err!("farm_fingerprint: expects exactly one argument");
        };
        match x {
            ColumnarValue::Scalar(s) => Ok(ColumnarValue::Scalar(ScalarValue::Int64(
                fingerprint_scalar(s)?,
            ))),
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(fingerprint_array(a)?)),
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

fn fingerprint_scalar(value: &ScalarValue) -> Result<Option<i64>> {
    Ok(match value {
        ScalarValue::Null => None,
        ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => v
            .as_deref()
            .map(|s| farmhash::farm_fingerprint(s.as_bytes())),
        ScalarValue::Binary(v)
        | ScalarValue::LargeBinary(v)
        | ScalarValue::BinaryView(v)
        | ScalarValue::FixedSizeBinary(_, v) => v.as_deref().map(farmhash::farm_fingerprint),
        ScalarValue::Dictionary(_, v) => fingerprint_scalar(v)?,
        other => {
            return exec_err!(
                "farm_fingerprint: unsupported argument type {}",
                other.data_type()
            );
        }
    })
}

/// Fingerprints every valid slot; null slots stay null (and are not hashed:
/// after `nullif` or `CASE` they may still hold large values).
fn fingerprint_values<A>(values: A) -> Int64Array
where
    A: ArrayAccessor,
    A::Item: AsRef<[u8]>,
{
    let nulls = values.logical_nulls();
    let hash = |i| farmhash::farm_fingerprint(values.value(i).as_ref());
    let hashes: Vec<i64> = match &nulls {
        Some(n) if n.null_count() > 0 => (0..values.len())
            .map(|i| if n.is_valid(i) { hash(i) } else { 0 })
            .collect(),
        _ => (0..values.len()).map(hash).collect(),
    };
    Int64Array::new(hashes.into(), nulls)
}

pub(crate) fn fingerprint_array(array: &ArrayRef) -> Result<ArrayRef> {
    let hashes: Int64Array = match array.data_type() {
        DataType::Null => return Ok(new_null_array(&DataType::Int64, array.len())),
        DataType::Utf8 => fingerprint_values(array.as_string::<i32>()),
        DataType::LargeUtf8 => fingerprint_values(array.as_string::<i64>()),
        DataType::Utf8View => fingerprint_values(array.as_string_view()),
        DataType::Binary => fingerprint_values(array.as_binary::<i32>()),
        DataType::LargeBinary => fingerprint_values(array.as_binary::<i64>()),
        DataType::BinaryView => fingerprint_values(array.as_binary_view()),
        DataType::FixedSizeBinary(_) => fingerprint_values(array.as_fixed_size_binary()),
        DataType::Dictionary(_, _) => {
            // Hash each distinct value once, then gather by key.
            let dict = array.as_any_dictionary();
            let value_hashes = fingerprint_array(dict.values())?;
            return Ok(take(&value_hashes, dict.keys(), None)?);
        }
        other => return exec_err!("farm_fingerprint: unsupported argument type {other}"),
    };
    Ok(Arc::new(hashes))
}
