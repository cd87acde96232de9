//! `abs_mod(x, n)`: BigQuery's `MOD(ABS(x), n)` bucket fold, total over INT64.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, PrimitiveArray};
use arrow::compute::binary;
use arrow::datatypes::{ArrowPrimitiveType, DataType, Int64Type, UInt64Type};
use datafusion_common::{exec_err, plan_err, Result, ScalarValue};
use datafusion_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature};
use datafusion_macros::user_doc;

use crate::utils::{any_arguments_with_examples, data_types};

#[user_doc(
    doc_section(label = "Math Functions"),
    description = "Folds an integer into a bucket in [0, n): MOD(ABS(x), n) exactly as \
        BigQuery computes it. Unlike ABS, it never fails: for x = -9223372036854775808 (INT64 \
        MIN, where BigQuery's ABS errors) it uses the magnitude 2^63. NULL x gives NULL; n \
        must be a positive integer (n <= 0 or NULL is an error).",
    syntax_example = "abs_mod(x, n)",
    sql_example = "```sql\n> SELECT abs_mod(farm_fingerprint('alphabet'), 10);\n+----------------------------------------------------------+\n| abs_mod(farm_fingerprint(Utf8(\"alphabet\")),Int64(10)) |\n+----------------------------------------------------------+\n| 3                                                        |\n+----------------------------------------------------------+\n```",
    argument(
        name = "x",
        description = "Integer expression, typically a fingerprint (BIGINT)."
    ),
    argument(name = "n", description = "Number of buckets: a positive integer."),
    related_udf(name = "farm_fingerprint"),
    related_udf(name = "row_fingerprint")
)]
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct AbsMod {
    signature: Signature,
}

impl Default for AbsMod {
    fn default() -> Self {
        Self {
            signature: any_arguments_with_examples(&[&[DataType::Int64, DataType::Int64]]),
        }
    }
}

impl ScalarUDFImpl for AbsMod {
    fn name(&self) -> &str {
        "abs_mod"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let [x, n] = arg_types else {
            return plan_err!(
                "abs_mod: expects two arguments (x, n), got {}",
                arg_types.len()
            );
        };
        if !(x.is_integer() || x.is_null()) {
            return plan_err!(
                "abs_mod: argument x must be an integer (BIGINT), got {x}; cast it, or \
                 fingerprint it first with farm_fingerprint or row_fingerprint"
            );
        }
        if !(n.is_integer() || n.is_null()) {
            return plan_err!("abs_mod: argument n must be a positive integer, got {n}");
        }
        Ok(DataType::Int64)
    }

    fn return_field_from_args(
        &self,
        args: datafusion_expr::ReturnFieldArgs,
    ) -> Result<arrow::datatypes::FieldRef> {
        let data_type = self.return_type(&data_types(args.arg_fields))?;
        // A literal n is checked while planning, so a bad query fails before
        // it reads any data.
        if let Some(Some(n)) = args.scalar_arguments.get(1) {
            check_scalar_n(n)?;
        }
        let nullable = args.arg_fields.first().is_none_or(|f| f.is_nullable());
        Ok(Arc::new(arrow::datatypes::Field::new(
            self.name(),
            data_type,
            nullable,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [x, n] = args.args.as_slice() else {
            return exec_err!("abs_mod: expects two arguments (x, n)");
        };
        // Every integer type but UInt64 fits in Int64; UInt64 keeps its range.
        let x = match x.data_type() {
            DataType::UInt64 | DataType::Int64 => x.clone(),
            _ => x.cast_to(&DataType::Int64, None)?,
        };
        let n = n.cast_to(&DataType::Int64, None)?;
        match (&x, &n) {
            (ColumnarValue::Scalar(x), ColumnarValue::Scalar(n)) => {
                let n = check_scalar_n(n)?;
                let result = match x {
                    ScalarValue::UInt64(x) => x.map(|x| abs_mod_u64(x, n)),
                    ScalarValue::Int64(x) => x.map(|x| abs_mod_i64(x, n)),
                    other => return exec_err!("abs_mod: unexpected x type {}", other.data_type()),
                };
                Ok(ColumnarValue::Scalar(ScalarValue::Int64(result)))
            }
            (ColumnarValue::Array(x), ColumnarValue::Scalar(n)) => {
                let n = Remainder::new(check_scalar_n(n)?);
                Ok(ColumnarValue::Array(match x.data_type() {
                    DataType::UInt64 => fold(x.as_primitive::<UInt64Type>(), |x| n.of(x)),
                    _ => fold(x.as_primitive::<Int64Type>(), |x| n.of(x.unsigned_abs())),
                }))
            }
            (x, ColumnarValue::Array(n)) => {
                let n = n.as_primitive::<Int64Type>();
                if let Some(bad) = n.iter().find(|v| !matches!(v, Some(v) if *v > 0)) {
                    check_n(bad)?;
                }
                let x = x.to_array(n.len())?;
                let result: Int64Array = match x.data_type() {
                    DataType::UInt64 => binary(x.as_primitive::<UInt64Type>(), n, |x, n| {
                        abs_mod_u64(x, n as u64)
                    })?,
                    _ => binary(x.as_primitive::<Int64Type>(), n, |x, n| {
                        abs_mod_i64(x, n as u64)
                    })?,
                };
                Ok(ColumnarValue::Array(Arc::new(result)))
            }
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.doc()
    }
}

/// A constant n as an unsigned modulus, or the error users see for a bad one.
fn check_scalar_n(n: &ScalarValue) -> Result<u64> {
    match n.cast_to(&DataType::Int64) {
        Ok(ScalarValue::Int64(v)) => check_n(v),
        _ => plan_err!("abs_mod: argument n must be a positive BIGINT, got {n}"),
    }
}

/// `n` as an unsigned modulus, or the error users see for a bad one.
fn check_n(n: Option<i64>) -> Result<u64> {
    match n {
        Some(n) if n > 0 => Ok(n as u64),
        Some(n) => plan_err!("abs_mod: argument n must be a positive integer, got {n}"),
        None => plan_err!("abs_mod: argument n must be a positive integer, got NULL"),
    }
}

/// `unsigned_abs` gives 2^63 for INT64 MIN, so no input can overflow.
#[inline]
fn abs_mod_i64(x: i64, n: u64) -> i64 {
    (x.unsigned_abs() % n) as i64
}

#[inline]
fn abs_mod_u64(x: u64, n: u64) -> i64 {
    (x % n) as i64
}

/// `x % n` for a column of x and one n, by multiplying instead of dividing
/// (a 64-bit division costs several multiplies): the quotient is the high
/// half of `x * m`, corrected and shifted, as compilers do for a constant n
/// (Granlund and Montgomery, "Division by invariant integers using
/// multiplication", 1994; Hacker's Delight, 10-8).
struct Remainder {
    n: u64,
    /// floor(2^64 * (2^l - n) / n) + 1, with l = ceil(log2 n).
    m: u64,
    /// l - 1 (n = 1, where l = 0, is handled apart).
    shift: u32,
}

impl Remainder {
    fn new(n: u64) -> Self {
        if n <= 1 {
            return Self { n, m: 0, shift: 0 };
        }
        debug_assert!(n <= i64::MAX as u64);
        let l = u64::BITS - (n - 1).leading_zeros();
        // 2^(64 + l) fits in 128 bits: l = 64 only for n > 2^63, and n is a
        // positive BIGINT.
        let m = ((1u128 << (64 + l)) / u128::from(n) - (1u128 << 64) + 1) as u64;
        Self { n, m, shift: l - 1 }
    }

    #[inline]
    fn of(&self, x: u64) -> u64 {
        if self.n <= 1 {
            return 0;
        }
        let t = ((u128::from(x) * u128::from(self.m)) >> 64) as u64;
        let q = (t + ((x - t) >> 1)) >> self.shift;
        x - q * self.n
    }
}

fn fold<T: ArrowPrimitiveType>(x: &PrimitiveArray<T>, f: impl Fn(T::Native) -> u64) -> ArrayRef {
    Arc::new(x.unary::<_, Int64Type>(|v| f(v) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int64_min_uses_the_magnitude_two_to_the_63() {
        // 2^63 = 9223372036854775808
        assert_eq!(abs_mod_i64(i64::MIN, 10), 8);
        assert_eq!(
            abs_mod_i64(i64::MIN, 7),
            (9223372036854775808u128 % 7) as i64
        );
        assert_eq!(abs_mod_i64(i64::MAX, 10), 7);
        assert_eq!(abs_mod_i64(-7, 3), 1);
        assert_eq!(abs_mod_u64(u64::MAX, 10), 5);
    }

    #[test]
    fn remainder_by_multiplying_is_exact() {
        // Edges of both operands, and pseudo-random ones (fingerprints of
        // counters) at every magnitude.
        let random = |i: u64| crate::farmhash::fingerprint64(&i.to_le_bytes());
        let mut ns = vec![1, 2, 3, 5, 7, 10, 16, 100, 1 << 32, (1 << 32) + 1, 1 << 62];
        ns.extend([(1 << 62) + 1, i64::MAX as u64 - 1, i64::MAX as u64]);
        ns.extend(
            (0..300)
                .map(|i| random(i) >> (i % 63 + 1))
                .filter(|&n| n > 0),
        );
        for (k, n) in ns.into_iter().enumerate() {
            let r = Remainder::new(n);
            let mut xs = vec![0, 1, n - 1, n, n + 1, n.wrapping_mul(3), 1 << 63, u64::MAX];
            xs.extend((0..500).map(|i| random(1_000_000 * (k as u64 + 1) + i) >> (i % 64)));
            for x in xs {
                assert_eq!(r.of(x), x % n, "{x} % {n}");
            }
        }
    }
}
