//! Row encoding v1: the frozen byte encoding of a row of typed values that
//! `row_fingerprint` and `dataset_fingerprint` hash.
//!
//! The exact bytes are specified in `docs/row-encoding.md`; a change to any
//! of them is a new encoding version, never an edit of this one. Values are
//! encoded by their logical value, not their physical type, so the same data
//! read from CSV, Parquet or a query fingerprints alike.

use arrow::array::{
    Array, ArrayRef, AsArray, GenericListArray, GenericListViewArray, OffsetSizeTrait,
};
use arrow::datatypes::{
    i256, ArrowDictionaryKeyType, ArrowNativeType, ArrowPrimitiveType, DataType, Date32Type,
    Date64Type, Decimal128Type, Decimal256Type, Decimal32Type, Decimal64Type,
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    IntervalDayTimeType, IntervalMonthDayNanoType, IntervalUnit, IntervalYearMonthType,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use datafusion_common::{plan_err, Result, ScalarValue};
use datafusion_expr::ColumnarValue;

use crate::farmhash::fingerprint64;

/// Type tags of encoding v1 (one byte before each value).
pub mod tag {
    pub const NULL: u8 = 0x00;
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const UNSIGNED_ABOVE_I64: u8 = 0x03;
    pub const FLOAT: u8 = 0x04;
    pub const DECIMAL: u8 = 0x05;
    pub const STRING: u8 = 0x06;
    pub const BINARY: u8 = 0x07;
    pub const DATE: u8 = 0x08;
    pub const TIMESTAMP: u8 = 0x09;
    pub const TIME: u8 = 0x0A;
    pub const DURATION: u8 = 0x0B;
    pub const INTERVAL: u8 = 0x0C;
    pub const LIST: u8 = 0x10;
    pub const STRUCT: u8 = 0x11;
    pub const MAP: u8 = 0x12;
}

/// Example argument lists of functions over encoded rows (any types are
/// accepted; these are what `SHOW FUNCTIONS` lists).
pub(crate) const ROW_EXAMPLES: &[&[DataType]] = &[&[DataType::Utf8, DataType::Int64]];

/// The one NaN every NaN encodes as (the canonical quiet NaN).
const CANONICAL_NAN_BITS: u64 = 0x7FF8_0000_0000_0000;

/// Checks at planning time that every type can be encoded, naming the
/// offending argument otherwise.
pub fn check_encodable(function: &str, arg_types: &[DataType]) -> Result<()> {
    for (i, t) in arg_types.iter().enumerate() {
        if !is_encodable(t) {
            return plan_err!(
                "{function}: argument {} has type {t}, which row encoding v1 does not cover; \
                 supported: NULL, BOOLEAN, integers, floats, decimals, strings, binaries, dates, \
                 timestamps, times, durations, intervals, and lists, structs, maps and \
                 dictionaries of those. Cast it, e.g. CAST(x AS VARCHAR)",
                i + 1
            );
        }
    }
    Ok(())
}

fn is_encodable(t: &DataType) -> bool {
    use DataType::*;
    match t {
        Null | Boolean | Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64
        | Float16 | Float32 | Float64 | Decimal32(..) | Decimal64(..) | Decimal128(..)
        | Decimal256(..) | Utf8 | LargeUtf8 | Utf8View | Binary | LargeBinary | BinaryView
        | FixedSizeBinary(_) | Date32 | Date64 | Timestamp(..) | Time32(_) | Time64(_)
        | Duration(_) | Interval(_) => true,
        List(f) | LargeList(f) | FixedSizeList(f, _) | ListView(f) | LargeListView(f) => {
            is_encodable(f.data_type())
        }
        Struct(fields) => fields.iter().all(|f| is_encodable(f.data_type())),
        Map(entries, _) => is_encodable(entries.data_type()),
        Dictionary(_, values) => is_encodable(values),
        _ => false,
    }
}

/// Writes the encoding of one value (tag and payload) of a column at a row.
type Encoder<'a> = Box<dyn Fn(usize, &mut Vec<u8>) + 'a>;

/// One argument of a row: a whole column, or a constant encoded once.
enum Part<'a> {
    Column(Encoder<'a>),
    Constant(Vec<u8>),
}

/// Calls `f(row, fingerprint64(encoding of row))` for each of `num_rows` rows
/// of `args` (columns or constants), reusing one buffer for all rows.
pub fn for_each_row_fingerprint(
    args: &[ColumnarValue],
    num_rows: usize,
    mut f: impl FnMut(usize, u64),
) -> Result<()> {
    // Constants are turned into one-row arrays and encoded once; the arrays
    // must outlive the encoders that borrow the columns.
    let constants = args
        .iter()
        .map(|a| match a {
            ColumnarValue::Scalar(s) => s.to_array_of_size(1).map(Some),
            ColumnarValue::Array(_) => Ok(None),
        })
        .collect::<Result<Vec<_>>>()?;
    let mut parts = Vec::with_capacity(args.len());
    for (arg, constant) in args.iter().zip(&constants) {
        parts.push(match (arg, constant) {
            (_, Some(array)) => {
                let mut bytes = Vec::new();
                encoder(array.as_ref())?(0, &mut bytes);
                Part::Constant(bytes)
            }
            (ColumnarValue::Array(array), None) => Part::Column(encoder(array.as_ref())?),
            (ColumnarValue::Scalar(_), None) => unreachable!("constants were converted"),
        });
    }
    let mut buf = Vec::with_capacity(256);
    for row in 0..num_rows {
        buf.clear();
        for part in &parts {
            match part {
                Part::Column(encode) => encode(row, &mut buf),
                Part::Constant(bytes) => buf.extend_from_slice(bytes),
            }
        }
        f(row, fingerprint64(&buf));
    }
    Ok(())
}

/// The encoding of one row of constants (used to fingerprint all-scalar calls).
pub fn encode_scalars(values: &[ScalarValue]) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    for v in values {
        let array = v.to_array_of_size(1)?;
        encoder(array.as_ref())?(0, &mut buf);
    }
    Ok(buf)
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&(len as u64).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_integer(out: &mut Vec<u8>, v: i64) {
    out.push(tag::INTEGER);
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_float(out: &mut Vec<u8>, v: f64) {
    let bits = if v.is_nan() {
        CANONICAL_NAN_BITS
    } else if v == 0.0 {
        0 // -0.0 == 0.0
    } else {
        v.to_bits()
    };
    out.push(tag::FLOAT);
    out.extend_from_slice(&bits.to_le_bytes());
}

/// Decimals are normalized to the fewest digits: trailing zeros of the
/// unscaled value are dropped (lowering the scale, possibly below zero), so
/// 1.50 (150, scale 2) and 1.5000 (15000, scale 4) both encode as (15, 1),
/// and zero as (0, 0).
fn put_decimal128(out: &mut Vec<u8>, mut unscaled: i128, mut scale: i32) {
    if unscaled == 0 {
        scale = 0;
    }
    while unscaled != 0 && unscaled % 10 == 0 {
        unscaled /= 10;
        scale -= 1;
    }
    put_decimal_normalized(out, i256::from_i128(unscaled), scale);
}

fn put_decimal256(out: &mut Vec<u8>, mut unscaled: i256, mut scale: i32) {
    if let Some(small) = unscaled.to_i128() {
        return put_decimal128(out, small, scale);
    }
    let ten = i256::from_i128(10);
    while unscaled % ten == i256::ZERO {
        unscaled /= ten;
        scale -= 1;
    }
    put_decimal_normalized(out, unscaled, scale);
}

fn put_decimal_normalized(out: &mut Vec<u8>, unscaled: i256, scale: i32) {
    out.push(tag::DECIMAL);
    out.extend_from_slice(&scale.to_le_bytes());
    out.extend_from_slice(&unscaled.to_le_bytes());
}

fn nanos_per(unit: &TimeUnit) -> i128 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// An encoder for a primitive column: nulls get the NULL tag, values go
/// through `put`.
fn primitive<'a, T: ArrowPrimitiveType>(
    array: &'a dyn Array,
    put: impl Fn(&mut Vec<u8>, T::Native) + 'a,
) -> Encoder<'a> {
    let values = array.as_primitive::<T>();
    Box::new(move |row, out| {
        if values.is_null(row) {
            out.push(tag::NULL);
        } else {
            put(out, values.value(row));
        }
    })
}

fn integer<'a, T>(array: &'a dyn Array) -> Encoder<'a>
where
    T: ArrowPrimitiveType,
    T::Native: Into<i64>,
{
    primitive::<T>(array, |out, v| put_integer(out, v.into()))
}

/// Timestamps, durations and times of day: `i128` nanoseconds, exact for
/// every unit and every stored value (even a time beyond one day).
fn nanos<'a, T>(array: &'a dyn Array, unit: &TimeUnit, tag: u8) -> Encoder<'a>
where
    T: ArrowPrimitiveType,
    T::Native: Into<i64>,
{
    let scale = nanos_per(unit);
    primitive::<T>(array, move |out, v| {
        out.push(tag);
        out.extend_from_slice(&(v.into() as i128 * scale).to_le_bytes());
    })
}

fn put_interval(out: &mut Vec<u8>, months: i32, days: i32, nanos: i64) {
    out.push(tag::INTERVAL);
    out.extend_from_slice(&months.to_le_bytes());
    out.extend_from_slice(&days.to_le_bytes());
    out.extend_from_slice(&nanos.to_le_bytes());
}

fn bytes<'a, A>(values: A, tag: u8) -> Encoder<'a>
where
    A: arrow::array::ArrayAccessor + 'a,
    A::Item: AsRef<[u8]>,
{
    Box::new(move |row, out| {
        if values.is_null(row) {
            out.push(tag::NULL);
        } else {
            put_bytes(out, tag, values.value(row).as_ref());
        }
    })
}

/// Lists of any kind: the element count, then each element.
fn list_elements<'a>(
    array: &'a dyn Array,
    range: impl Fn(usize) -> (usize, usize) + 'a,
    child: &'a ArrayRef,
) -> Result<Encoder<'a>> {
    let element = encoder(child.as_ref())?;
    Ok(Box::new(move |row, out| {
        if array.is_null(row) {
            out.push(tag::NULL);
            return;
        }
        let (start, end) = range(row);
        out.push(tag::LIST);
        put_len(out, end - start);
        for i in start..end {
            element(i, out);
        }
    }))
}

fn list<'a, O: OffsetSizeTrait>(list: &'a GenericListArray<O>) -> Result<Encoder<'a>> {
    let offsets = list.value_offsets();
    list_elements(
        list,
        move |row| (offsets[row].as_usize(), offsets[row + 1].as_usize()),
        list.values(),
    )
}

fn list_view<'a, O: OffsetSizeTrait>(list: &'a GenericListViewArray<O>) -> Result<Encoder<'a>> {
    let (offsets, sizes) = (list.value_offsets(), list.value_sizes());
    list_elements(
        list,
        move |row| {
            let start = offsets[row].as_usize();
            (start, start + sizes[row].as_usize())
        },
        list.values(),
    )
}

fn dictionary<'a, K: ArrowDictionaryKeyType>(array: &'a dyn Array) -> Result<Encoder<'a>> {
    let dict = array.as_dictionary::<K>();
    let keys = dict.keys();
    let value = encoder(dict.values().as_ref())?;
    Ok(Box::new(move |row, out| {
        if keys.is_null(row) {
            out.push(tag::NULL);
        } else {
            value(keys.value(row).as_usize(), out);
        }
    }))
}

/// Builds the encoder of a column (after [`check_encodable`] passed on its type).
fn encoder(array: &dyn Array) -> Result<Encoder<'_>> {
    use DataType::*;
    Ok(match array.data_type() {
        Null => Box::new(|_, out| out.push(tag::NULL)),
        Boolean => {
            let values = array.as_boolean();
            Box::new(move |row, out| {
                if values.is_null(row) {
                    out.push(tag::NULL);
                } else {
                    out.extend_from_slice(&[tag::BOOLEAN, values.value(row) as u8]);
                }
            })
        }
        Int8 => integer::<Int8Type>(array),
        Int16 => integer::<Int16Type>(array),
        Int32 => integer::<Int32Type>(array),
        Int64 => integer::<Int64Type>(array),
        UInt8 => integer::<UInt8Type>(array),
        UInt16 => integer::<UInt16Type>(array),
        UInt32 => integer::<UInt32Type>(array),
        UInt64 => primitive::<UInt64Type>(array, |out, v| match i64::try_from(v) {
            Ok(v) => put_integer(out, v),
            Err(_) => {
                out.push(tag::UNSIGNED_ABOVE_I64);
                out.extend_from_slice(&v.to_le_bytes());
            }
        }),
        Float16 => primitive::<Float16Type>(array, |out, v| put_float(out, v.to_f64())),
        Float32 => primitive::<Float32Type>(array, |out, v| put_float(out, v as f64)),
        Float64 => primitive::<Float64Type>(array, put_float),
        Decimal32(_, s) => {
            let s = *s as i32;
            primitive::<Decimal32Type>(array, move |out, v| put_decimal128(out, v as i128, s))
        }
        Decimal64(_, s) => {
            let s = *s as i32;
            primitive::<Decimal64Type>(array, move |out, v| put_decimal128(out, v as i128, s))
        }
        Decimal128(_, s) => {
            let s = *s as i32;
            primitive::<Decimal128Type>(array, move |out, v| put_decimal128(out, v, s))
        }
        Decimal256(_, s) => {
            let s = *s as i32;
            primitive::<Decimal256Type>(array, move |out, v| put_decimal256(out, v, s))
        }
        Utf8 => bytes(array.as_string::<i32>(), tag::STRING),
        LargeUtf8 => bytes(array.as_string::<i64>(), tag::STRING),
        Utf8View => bytes(array.as_string_view(), tag::STRING),
        Binary => bytes(array.as_binary::<i32>(), tag::BINARY),
        LargeBinary => bytes(array.as_binary::<i64>(), tag::BINARY),
        BinaryView => bytes(array.as_binary_view(), tag::BINARY),
        FixedSizeBinary(_) => bytes(array.as_fixed_size_binary(), tag::BINARY),
        Date32 => primitive::<Date32Type>(array, |out, days| {
            out.push(tag::DATE);
            out.extend_from_slice(&(days as i64 * 86_400_000).to_le_bytes());
        }),
        Date64 => primitive::<Date64Type>(array, |out, millis| {
            out.push(tag::DATE);
            out.extend_from_slice(&millis.to_le_bytes());
        }),
        Timestamp(unit, _) => match unit {
            TimeUnit::Second => nanos::<TimestampSecondType>(array, unit, tag::TIMESTAMP),
            TimeUnit::Millisecond => nanos::<TimestampMillisecondType>(array, unit, tag::TIMESTAMP),
            TimeUnit::Microsecond => nanos::<TimestampMicrosecondType>(array, unit, tag::TIMESTAMP),
            TimeUnit::Nanosecond => nanos::<TimestampNanosecondType>(array, unit, tag::TIMESTAMP),
        },
        Duration(unit) => match unit {
            TimeUnit::Second => nanos::<DurationSecondType>(array, unit, tag::DURATION),
            TimeUnit::Millisecond => nanos::<DurationMillisecondType>(array, unit, tag::DURATION),
            TimeUnit::Microsecond => nanos::<DurationMicrosecondType>(array, unit, tag::DURATION),
            TimeUnit::Nanosecond => nanos::<DurationNanosecondType>(array, unit, tag::DURATION),
        },
        Time32(unit) => match unit {
            TimeUnit::Second => nanos::<Time32SecondType>(array, unit, tag::TIME),
            _ => nanos::<Time32MillisecondType>(array, unit, tag::TIME),
        },
        Time64(unit) => match unit {
            TimeUnit::Microsecond => nanos::<Time64MicrosecondType>(array, unit, tag::TIME),
            _ => nanos::<Time64NanosecondType>(array, unit, tag::TIME),
        },
        Interval(IntervalUnit::YearMonth) => {
            primitive::<IntervalYearMonthType>(array, |out, months| put_interval(out, months, 0, 0))
        }
        Interval(IntervalUnit::DayTime) => primitive::<IntervalDayTimeType>(array, |out, v| {
            put_interval(out, 0, v.days, v.milliseconds as i64 * 1_000_000)
        }),
        Interval(IntervalUnit::MonthDayNano) => {
            primitive::<IntervalMonthDayNanoType>(array, |out, v| {
                put_interval(out, v.months, v.days, v.nanoseconds)
            })
        }
        List(_) => list(array.as_list::<i32>())?,
        LargeList(_) => list(array.as_list::<i64>())?,
        ListView(_) => list_view(array.as_list_view::<i32>())?,
        LargeListView(_) => list_view(array.as_list_view::<i64>())?,
        FixedSizeList(_, size) => {
            let size = *size as usize;
            let list = array.as_fixed_size_list();
            list_elements(
                list,
                move |row| (row * size, (row + 1) * size),
                list.values(),
            )?
        }
        Struct(_) => {
            let fields = array
                .as_struct()
                .columns()
                .iter()
                .map(|c| encoder(c.as_ref()))
                .collect::<Result<Vec<_>>>()?;
            Box::new(move |row, out| {
                if array.is_null(row) {
                    out.push(tag::NULL);
                    return;
                }
                out.push(tag::STRUCT);
                put_len(out, fields.len());
                for field in &fields {
                    field(row, out);
                }
            })
        }
        Map(_, _) => {
            let map = array.as_map();
            let offsets = map.value_offsets();
            let key = encoder(map.keys().as_ref())?;
            let value = encoder(map.values().as_ref())?;
            Box::new(move |row, out| {
                if map.is_null(row) {
                    out.push(tag::NULL);
                    return;
                }
                let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
                out.push(tag::MAP);
                put_len(out, end - start);
                for i in start..end {
                    key(i, out);
                    value(i, out);
                }
            })
        }
        Dictionary(key, _) => match key.as_ref() {
            Int8 => dictionary::<Int8Type>(array)?,
            Int16 => dictionary::<Int16Type>(array)?,
            Int32 => dictionary::<Int32Type>(array)?,
            Int64 => dictionary::<Int64Type>(array)?,
            UInt8 => dictionary::<UInt8Type>(array)?,
            UInt16 => dictionary::<UInt16Type>(array)?,
            UInt32 => dictionary::<UInt32Type>(array)?,
            UInt64 => dictionary::<UInt64Type>(array)?,
            other => return plan_err!("row encoding v1: invalid dictionary key type {other}"),
        },
        other => {
            return plan_err!("row encoding v1 does not cover values of type {other}");
        }
    })
}

/// The encoding of one value, for tests and documentation examples.
pub fn encode_value(value: &ScalarValue) -> Result<Vec<u8>> {
    encode_scalars(std::slice::from_ref(value))
}
