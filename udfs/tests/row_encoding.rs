//! Row encoding v1 (docs/row-encoding.md): the exact bytes of each type, and
//! one test per invariant of DESIGN.md.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, DictionaryArray, Float64Array, Int32Array, Int64Array, LargeStringArray, ListArray,
    StringArray, StringViewArray, StructArray, TimestampNanosecondArray, TimestampSecondArray,
};
use arrow::datatypes::{i256, DataType, Field, Int32Type, Int64Type};
use datafusion_common::ScalarValue;
use datafusion_expr::ColumnarValue;
use mlfusion_udfs::farmhash::fingerprint64;
use mlfusion_udfs::row_encoding::{encode_value, for_each_row_fingerprint};

fn enc(v: ScalarValue) -> Vec<u8> {
    encode_value(&v).unwrap()
}

fn le8(v: i64) -> [u8; 8] {
    v.to_le_bytes()
}

/// Fingerprints of every row of `columns`.
fn row_hashes(columns: Vec<ColumnarValue>, rows: usize) -> Vec<u64> {
    let mut out = vec![0; rows];
    for_each_row_fingerprint(&columns, rows, |r, h| out[r] = h).unwrap();
    out
}

fn col(a: ArrayRef) -> ColumnarValue {
    ColumnarValue::Array(a)
}

#[test]
fn integer_widths_encode_as_one_integer() {
    let five = [&[0x02u8][..], &le8(5)].concat();
    for v in [
        ScalarValue::Int8(Some(5)),
        ScalarValue::Int16(Some(5)),
        ScalarValue::Int32(Some(5)),
        ScalarValue::Int64(Some(5)),
        ScalarValue::UInt8(Some(5)),
        ScalarValue::UInt16(Some(5)),
        ScalarValue::UInt32(Some(5)),
        ScalarValue::UInt64(Some(5)),
    ] {
        assert_eq!(enc(v.clone()), five, "{v:?}");
    }
    assert_eq!(
        enc(ScalarValue::Int8(Some(-1))),
        enc(ScalarValue::Int64(Some(-1)))
    );
    assert_eq!(
        enc(ScalarValue::UInt64(Some(i64::MAX as u64))),
        enc(ScalarValue::Int64(Some(i64::MAX)))
    );
    // Above i64::MAX an unsigned value has its own tag, so it cannot collide
    // with the negative number of the same bits.
    assert_eq!(
        enc(ScalarValue::UInt64(Some(u64::MAX))),
        [&[0x03u8][..], &u64::MAX.to_le_bytes()].concat()
    );
    assert_ne!(
        enc(ScalarValue::UInt64(Some(u64::MAX))),
        enc(ScalarValue::Int64(Some(-1)))
    );
}

#[test]
fn string_types_and_dictionaries_encode_alike() {
    assert_eq!(
        enc(ScalarValue::Utf8(Some("héllo".into()))),
        [&[0x06u8][..], &le8(6), "héllo".as_bytes()].concat()
    );
    let values = ["a", "", "héllo", "a", "zz"];
    let utf8: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
    let large: ArrayRef = Arc::new(LargeStringArray::from(values.to_vec()));
    let view: ArrayRef = Arc::new(StringViewArray::from(values.to_vec()));
    let dict: ArrayRef = Arc::new(
        values
            .iter()
            .copied()
            .collect::<DictionaryArray<Int32Type>>(),
    );
    let expected = row_hashes(vec![col(utf8)], 5);
    for array in [large, view, dict] {
        assert_eq!(row_hashes(vec![col(array)], 5), expected);
    }
    // A string and the same bytes as BINARY are different values.
    assert_ne!(
        enc(ScalarValue::Utf8(Some("a".into()))),
        enc(ScalarValue::Binary(Some(b"a".to_vec())))
    );
    assert_eq!(
        enc(ScalarValue::Binary(Some(b"a".to_vec()))),
        enc(ScalarValue::FixedSizeBinary(1, Some(b"a".to_vec())))
    );
}

#[test]
fn floats_normalize_negative_zero_and_nan() {
    assert_eq!(
        enc(ScalarValue::Float64(Some(1.0))),
        [&[0x04u8][..], &1.0f64.to_bits().to_le_bytes()].concat()
    );
    assert_eq!(
        enc(ScalarValue::Float64(Some(-0.0))),
        enc(ScalarValue::Float64(Some(0.0)))
    );
    let nan = enc(ScalarValue::Float64(Some(f64::NAN)));
    assert_eq!(
        nan,
        [&[0x04u8][..], &0x7FF8_0000_0000_0000u64.to_le_bytes()].concat()
    );
    for other in [
        -f64::NAN,
        f64::from_bits(0x7FF0_0000_0000_0001),
        f64::from_bits(0xFFFF_FFFF_FFFF_FFFF),
    ] {
        assert_eq!(enc(ScalarValue::Float64(Some(other))), nan);
    }
    assert_eq!(enc(ScalarValue::Float32(Some(f32::NAN))), nan);
    assert_eq!(
        enc(ScalarValue::Float32(Some(-0.0))),
        enc(ScalarValue::Float64(Some(0.0)))
    );
    assert_eq!(
        enc(ScalarValue::Float32(Some(1.5))),
        enc(ScalarValue::Float64(Some(1.5)))
    );
    // Floats and integers are different families.
    assert_ne!(
        enc(ScalarValue::Float64(Some(5.0))),
        enc(ScalarValue::Int64(Some(5)))
    );
}

#[test]
fn timestamps_encode_the_utc_instant() {
    let secs = 1_700_000_000i64;
    let expected = [&[0x09u8][..], &(secs as i128 * 1_000_000_000).to_le_bytes()].concat();
    for tz in [None, Some("UTC"), Some("+05:00"), Some("America/New_York")] {
        let tz: Option<Arc<str>> = tz.map(Into::into);
        for v in [
            ScalarValue::TimestampSecond(Some(secs), tz.clone()),
            ScalarValue::TimestampMillisecond(Some(secs * 1_000), tz.clone()),
            ScalarValue::TimestampMicrosecond(Some(secs * 1_000_000), tz.clone()),
            ScalarValue::TimestampNanosecond(Some(secs * 1_000_000_000), tz.clone()),
        ] {
            assert_eq!(enc(v.clone()), expected, "{v:?}");
        }
    }
    // Beyond the nanosecond INT64 range (year 2262) seconds still encode exactly.
    let far = 20_000_000_000i64;
    assert_eq!(
        enc(ScalarValue::TimestampSecond(Some(far), None)),
        [&[0x09u8][..], &(far as i128 * 1_000_000_000).to_le_bytes()].concat()
    );
    // Arrays of different units and zones agree too.
    let s: ArrayRef = Arc::new(TimestampSecondArray::from(vec![secs, -1]).with_timezone("+01:00"));
    let ns: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![
        secs * 1_000_000_000,
        -1_000_000_000,
    ]));
    assert_eq!(row_hashes(vec![col(s)], 2), row_hashes(vec![col(ns)], 2));
    // Dates are days, not instants.
    assert_eq!(
        enc(ScalarValue::Date32(Some(1))),
        enc(ScalarValue::Date64(Some(86_400_000)))
    );
    assert_ne!(
        enc(ScalarValue::Date64(Some(86_400_000))),
        enc(ScalarValue::TimestampMillisecond(Some(86_400_000), None))
    );
}

#[test]
fn decimals_are_scale_normalized() {
    // 1.5 normalizes to unscaled 15 at scale 1.
    let one_and_a_half = [
        &[0x05u8][..],
        &1i32.to_le_bytes(),
        &i256::from_i128(15).to_le_bytes(),
    ]
    .concat();
    for v in [
        ScalarValue::Decimal128(Some(15), 10, 1),
        ScalarValue::Decimal128(Some(150), 10, 2),
        ScalarValue::Decimal128(Some(1_500_000), 20, 6),
        ScalarValue::Decimal32(Some(150), 9, 2),
        ScalarValue::Decimal64(Some(1500), 18, 3),
        ScalarValue::Decimal256(Some(i256::from_i128(15_000)), 40, 4),
    ] {
        assert_eq!(enc(v.clone()), one_and_a_half, "{v:?}");
    }
    // 100 (scale 0) and 100.00 (scale 2) normalize to 1 at scale -2.
    assert_eq!(
        enc(ScalarValue::Decimal128(Some(100), 10, 0)),
        enc(ScalarValue::Decimal128(Some(10_000), 10, 2))
    );
    // Zero at any scale is (0, 0).
    assert_eq!(
        enc(ScalarValue::Decimal128(Some(0), 10, 5)),
        [
            &[0x05u8][..],
            &0i32.to_le_bytes(),
            &i256::ZERO.to_le_bytes()
        ]
        .concat()
    );
    assert_ne!(
        enc(ScalarValue::Decimal128(Some(15), 10, 1)),
        enc(ScalarValue::Decimal128(Some(105), 10, 2))
    );
    // A Decimal256 beyond the i128 range normalizes the same way.
    let big = i256::from_i128(i128::MAX).wrapping_mul(i256::from_i128(1000));
    assert_eq!(
        enc(ScalarValue::Decimal256(Some(big), 76, 3)),
        enc(ScalarValue::Decimal256(
            Some(i256::from_i128(i128::MAX)),
            76,
            0
        ))
    );
}

#[test]
fn null_has_its_own_tag() {
    assert_eq!(enc(ScalarValue::Null), [0x00]);
    for typed in [
        ScalarValue::Int64(None),
        ScalarValue::Utf8(None),
        ScalarValue::Float64(None),
        ScalarValue::Boolean(None),
    ] {
        assert_eq!(enc(typed), [0x00]);
    }
    // A NULL never makes the row vanish: (NULL, 'a') ≠ ('a'), and NULL ≠ ''.
    let a = ColumnarValue::Scalar(ScalarValue::Utf8(Some("a".into())));
    let null = ColumnarValue::Scalar(ScalarValue::Null);
    assert_ne!(
        row_hashes(vec![null.clone(), a.clone()], 1),
        row_hashes(vec![a.clone()], 1)
    );
    assert_ne!(
        enc(ScalarValue::Null),
        enc(ScalarValue::Utf8(Some(String::new())))
    );
    // NULLs inside an array column are encoded per row.
    let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None]));
    let h = row_hashes(vec![col(ints)], 2);
    assert_eq!(h[1], fingerprint64(&[0x00]));
    assert_eq!(h[0], fingerprint64(&[&[0x02u8][..], &le8(1)].concat()));
}

#[test]
fn strings_and_binaries_are_length_prefixed() {
    let pair = |a: &str, b: &str| {
        row_hashes(
            vec![
                ColumnarValue::Scalar(ScalarValue::Utf8(Some(a.into()))),
                ColumnarValue::Scalar(ScalarValue::Utf8(Some(b.into()))),
            ],
            1,
        )
    };
    assert_ne!(pair("ab", "c"), pair("a", "bc"));
    assert_ne!(pair("", "abc"), pair("abc", ""));
    let bin = |a: &[u8], b: &[u8]| {
        let mut x = enc(ScalarValue::Binary(Some(a.to_vec())));
        x.extend(enc(ScalarValue::Binary(Some(b.to_vec()))));
        x
    };
    assert_ne!(bin(b"ab", b"c"), bin(b"a", b"bc"));
}

#[test]
fn lists_and_structs_recurse() {
    let list_i32 = ScalarValue::List(Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(
        vec![Some(vec![Some(1), Some(2)])],
    )));
    let list_i64 = ScalarValue::List(Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(
        vec![Some(vec![Some(1), Some(2)])],
    )));
    let expected = [&[0x10u8][..], &le8(2), &[0x02], &le8(1), &[0x02], &le8(2)].concat();
    assert_eq!(enc(list_i32.clone()), expected);
    assert_eq!(enc(list_i64), expected);
    let with_null = ScalarValue::List(Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(
        vec![Some(vec![Some(1), Some(2), None])],
    )));
    assert_ne!(enc(with_null), expected);
    let empty = ScalarValue::List(Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(
        vec![Some(Vec::<Option<i32>>::new())],
    )));
    assert_eq!(enc(empty), [&[0x10u8][..], &le8(0)].concat());

    // Struct field names never enter the hash; values and order do.
    let make = |names: [&str; 2], a: i32, b: f64| -> ArrayRef {
        Arc::new(StructArray::from(vec![
            (
                Arc::new(Field::new(names[0], DataType::Int32, true)),
                Arc::new(Int32Array::from(vec![a])) as ArrayRef,
            ),
            (
                Arc::new(Field::new(names[1], DataType::Float64, true)),
                Arc::new(Float64Array::from(vec![b])) as ArrayRef,
            ),
        ]))
    };
    let s = row_hashes(vec![col(make(["a", "b"], 1, 2.0))], 1);
    assert_eq!(s, row_hashes(vec![col(make(["x", "y"], 1, 2.0))], 1));
    assert_ne!(s, row_hashes(vec![col(make(["a", "b"], 2, 1.0))], 1));
    assert_eq!(
        s[0],
        fingerprint64(
            &[
                &[0x11u8][..],
                &le8(2),
                &[0x02],
                &le8(1),
                &[0x04],
                &2.0f64.to_bits().to_le_bytes()
            ]
            .concat()
        )
    );
    // A struct is not the flat row of its fields.
    let flat = row_hashes(
        vec![
            ColumnarValue::Scalar(ScalarValue::Int32(Some(1))),
            ColumnarValue::Scalar(ScalarValue::Float64(Some(2.0))),
        ],
        1,
    );
    assert_ne!(s, flat);
}

#[test]
fn a_literal_first_argument_acts_as_a_salt() {
    let n = 1000;
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n as i64));
    let salted = |salt: &str| {
        row_hashes(
            vec![
                ColumnarValue::Scalar(ScalarValue::Utf8(Some(salt.into()))),
                col(ids.clone()),
            ],
            n,
        )
    };
    let v1 = salted("v1");
    // The constant is encoded like a column holding that value in every row.
    let salt_column: ArrayRef = Arc::new(StringArray::from(vec!["v1"; n]));
    assert_eq!(v1, row_hashes(vec![col(salt_column), col(ids.clone())], n));
    // Another salt moves every row to an unrelated fingerprint.
    let v2 = salted("v2");
    assert!(v1.iter().zip(&v2).all(|(a, b)| a != b));
    // Bucket assignments under two salts agree about as often as chance.
    let same = v1
        .iter()
        .zip(&v2)
        .filter(|(a, b)| *a % 10 == *b % 10)
        .count();
    assert!(
        (50..=150).contains(&same),
        "{same} of {n} rows kept their bucket"
    );
}

#[test]
fn sliced_arrays_encode_like_fresh_ones() {
    use arrow::array::{
        Array, BooleanArray, FixedSizeListArray, Int32Builder, MapBuilder, StringBuilder,
    };
    use arrow::buffer::NullBuffer;
    use arrow::compute::concat;
    use arrow::datatypes::Int8Type;

    let list: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
        Some(vec![Some(1)]),
        None,
        Some(vec![Some(2), None]),
        Some(vec![]),
        Some(vec![Some(3)]),
        Some(vec![Some(4), Some(5)]),
    ]));
    let fixed: ArrayRef = Arc::new(FixedSizeListArray::from_iter_primitive::<Int32Type, _, _>(
        vec![
            Some(vec![Some(1), Some(2)]),
            None,
            Some(vec![Some(3), None]),
            Some(vec![Some(4), Some(5)]),
            Some(vec![Some(6), Some(7)]),
            Some(vec![Some(8), Some(9)]),
        ],
        2,
    ));
    let strukt: ArrayRef = Arc::new(
        StructArray::try_new(
            vec![
                Arc::new(Field::new("a", DataType::Int32, true)),
                Arc::new(Field::new("b", DataType::Utf8, true)),
            ]
            .into(),
            vec![
                Arc::new(Int32Array::from(vec![
                    Some(1),
                    None,
                    Some(3),
                    Some(4),
                    None,
                    Some(6),
                ])),
                Arc::new(StringArray::from(vec![
                    Some("x"),
                    Some("y"),
                    None,
                    Some("w"),
                    Some("v"),
                    Some("u"),
                ])),
            ],
            Some(NullBuffer::from(vec![true, false, true, true, true, true])),
        )
        .unwrap(),
    );
    let mut map = MapBuilder::new(None, StringBuilder::new(), Int32Builder::new());
    for row in 0..6 {
        for k in 0..row % 3 {
            map.keys().append_value(format!("k{k}"));
            map.values().append_value(row * 10 + k);
        }
        map.append(row != 1).unwrap();
    }
    let map: ArrayRef = Arc::new(map.finish());
    let dict: ArrayRef = Arc::new(
        vec![Some("a"), None, Some("b"), Some("a"), Some("c"), None]
            .into_iter()
            .collect::<DictionaryArray<Int8Type>>(),
    );
    let view: ArrayRef = Arc::new(StringViewArray::from(vec![
        Some("short"),
        None,
        Some("a string longer than twelve bytes"),
        Some(""),
        Some("another string longer than twelve"),
        Some("z"),
    ]));
    let bools: ArrayRef = Arc::new(BooleanArray::from(vec![
        Some(true),
        None,
        Some(false),
        Some(true),
        Some(false),
        None,
    ]));

    for full in [list, fixed, strukt, map, dict, view, bools] {
        let sliced = full.slice(2, 3);
        let compact = concat(&[sliced.as_ref()]).unwrap();
        let from_full = row_hashes(vec![col(full.clone())], 6)[2..5].to_vec();
        assert_eq!(
            row_hashes(vec![col(sliced)], 3),
            from_full,
            "{}",
            full.data_type()
        );
        assert_eq!(
            row_hashes(vec![col(compact)], 3),
            from_full,
            "{}",
            full.data_type()
        );
    }
}

#[test]
fn unsupported_types_are_a_planning_error_naming_the_argument() {
    use arrow::datatypes::{UnionFields, UnionMode};
    use mlfusion_udfs::row_encoding::check_encodable;
    let union = DataType::Union(
        UnionFields::try_new(vec![0], vec![Field::new("a", DataType::Int32, true)]).unwrap(),
        UnionMode::Sparse,
    );
    let err = check_encodable("row_fingerprint", &[DataType::Int64, union])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("row_fingerprint: argument 2 has type Union"),
        "{err}"
    );
    assert!(check_encodable("row_fingerprint", &[DataType::Int64, DataType::Utf8View]).is_ok());
}

#[test]
fn times_of_day_are_exact_nanoseconds() {
    let hour = [&[0x0Au8][..], &(3_600_000_000_000i128).to_le_bytes()].concat();
    for v in [
        ScalarValue::Time32Second(Some(3_600)),
        ScalarValue::Time32Millisecond(Some(3_600_000)),
        ScalarValue::Time64Microsecond(Some(3_600_000_000)),
        ScalarValue::Time64Nanosecond(Some(3_600_000_000_000)),
    ] {
        assert_eq!(enc(v.clone()), hour, "{v:?}");
    }
    // Arrow does not bound times to one day; an out-of-range value neither
    // overflows nor collides with a valid one.
    assert_eq!(
        enc(ScalarValue::Time64Microsecond(Some(i64::MAX))),
        [&[0x0Au8][..], &(i64::MAX as i128 * 1_000).to_le_bytes()].concat()
    );
}

/// Whole columns are encoded a column at a time, in chunks of rows; single
/// values (constants, elements of nested values) one at a time. Both must
/// give the same bytes for every type, with NULLs, on a sliced array, across
/// chunk boundaries.
#[test]
fn columns_encode_as_their_values_do() {
    use arrow::array::{
        Array, BinaryViewArray, FixedSizeBinaryArray, IntervalMonthDayNanoArray, NullArray,
        UInt64Array,
    };
    use arrow::compute::cast;
    use arrow::datatypes::{IntervalMonthDayNano, TimeUnit};

    const ROWS: usize = 2_500;
    let base: ArrayRef = Arc::new(Int64Array::from_iter(
        (0..ROWS as i64).map(|i| (i % 7 != 3).then_some((i * 7919) % 20_000 - 10_000)),
    ));
    let targets = [
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::UInt8,
        DataType::UInt32,
        DataType::Float32,
        DataType::Float64,
        DataType::Decimal128(12, 2),
        DataType::Decimal256(40, 3),
        DataType::Utf8,
        DataType::LargeUtf8,
        DataType::Utf8View,
        DataType::Binary,
        DataType::Boolean,
        DataType::Date32,
        DataType::Timestamp(TimeUnit::Second, None),
        DataType::Timestamp(TimeUnit::Nanosecond, Some("+02:00".into())),
        DataType::Duration(TimeUnit::Millisecond),
        DataType::Time64(TimeUnit::Microsecond),
        DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
    ];
    let mut columns: Vec<ArrayRef> = targets
        .iter()
        .map(|t| cast(&base, t).unwrap_or_else(|e| panic!("cast to {t}: {e}")))
        .collect();
    columns.push(Arc::new(NullArray::new(ROWS)));
    columns.push(Arc::new(UInt64Array::from_iter(
        (0..ROWS as u64).map(|i| (i % 5 != 0).then_some(u64::MAX - i * 3)),
    )));
    columns.push(Arc::new(IntervalMonthDayNanoArray::from_iter(
        (0..ROWS as i32).map(|i| {
            (i % 11 != 0).then_some(IntervalMonthDayNano::new(i % 13, -i, i as i64 * 1_000))
        }),
    )));
    let long_strings: ArrayRef =
        Arc::new(StringViewArray::from_iter((0..ROWS).map(|i| {
            (i % 9 != 0).then(|| "a string longer than twelve bytes, ".repeat(i % 4))
        })));
    columns.push(long_strings);
    // Every length up to 70 bytes, each copied its own way.
    let every_length: ArrayRef = Arc::new(StringArray::from_iter((0..ROWS).map(|i| {
        (i % 73 != 0).then(|| {
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ!@#$%^&*()"[..i % 71]
                .to_string()
        })
    })));
    // As views too (inline up to 12 bytes), and as binaries of up to 150
    // bytes: values of every copy path, some at the very end of their buffer.
    for t in [DataType::Utf8View, DataType::LargeBinary] {
        columns.push(cast(&every_length, &t).unwrap());
    }
    columns.push(every_length);
    columns.push(Arc::new(BinaryViewArray::from_iter((0..ROWS).map(|i| {
        (i % 31 != 0).then(|| b"0123456789".repeat(15)[..(i * 7) % 151].to_vec())
    }))));
    // Fixed-size binaries, short and of a copy path's width.
    for width in [3, 20] {
        columns.push(Arc::new(
            FixedSizeBinaryArray::try_from_sparse_iter_with_size(
                (0..ROWS).map(|i| (i % 6 != 1).then(|| vec![(i % 251) as u8; width])),
                width as i32,
            )
            .unwrap(),
        ));
    }
    let columns: Vec<ArrayRef> = columns.iter().map(|c| c.slice(5, ROWS - 5)).collect();
    let rows = ROWS - 5;

    let value_bytes = |c: &ArrayRef, row: usize| enc(ScalarValue::try_from_array(c, row).unwrap());
    for c in &columns {
        let expected: Vec<u64> = (0..rows)
            .map(|r| fingerprint64(&value_bytes(c, r)))
            .collect();
        assert_eq!(
            row_hashes(vec![col(c.clone())], rows),
            expected,
            "{}",
            c.data_type()
        );
    }
    // All of them in one row, after a constant salt; constants of every
    // length from 1 to 24 bytes, each copied its own way.
    let salts = (0..16)
        .map(|n| ScalarValue::Utf8(Some("0123456789abcdef"[..n].into())))
        .chain([ScalarValue::Null, ScalarValue::Boolean(Some(true))]);
    for salt in salts {
        let mut args = vec![ColumnarValue::Scalar(salt.clone())];
        args.extend(columns.iter().cloned().map(col));
        let expected: Vec<u64> = (0..rows)
            .map(|r| {
                let mut bytes = enc(salt.clone());
                for c in &columns {
                    bytes.extend(value_bytes(c, r));
                }
                fingerprint64(&bytes)
            })
            .collect();
        assert_eq!(row_hashes(args, rows), expected, "salt {salt:?}");
    }
    assert!(columns.iter().all(|c| c.len() == rows));
}

/// Fuzzing: rows of random values of many types (NULLs, NaN, -0.0,
/// infinities, empty and non-ASCII strings, extreme integers, decimals,
/// timestamps in every unit). The column path (arrays, as queries run)
/// gives every row the fingerprint of the constant path (one row of
/// scalars), nothing panics, and an INT and a BIGINT of one value hash alike.
mod fuzz {
    use mlfusion_udfs::row_encoding::encode_scalars;
    use proptest::prelude::*;

    use super::*;

    /// Cases per run: 20,000, or `MLFUSION_FUZZ_CASES` (a long run).
    fn cases() -> u32 {
        std::env::var("MLFUSION_FUZZ_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(20_000)
    }

    /// A column type and a strategy for its values (None is NULL).
    fn column() -> impl Strategy<Value = Vec<ScalarValue>> {
        let rows = 1..6usize;
        prop_oneof![
            prop::collection::vec(any::<Option<i64>>(), rows.clone())
                .prop_map(|v| v.into_iter().map(ScalarValue::Int64).collect()),
            prop::collection::vec(any::<Option<i32>>(), rows.clone())
                .prop_map(|v| v.into_iter().map(ScalarValue::Int32).collect()),
            prop::collection::vec(any::<Option<u64>>(), rows.clone())
                .prop_map(|v| v.into_iter().map(ScalarValue::UInt64).collect()),
            prop::collection::vec(
                prop::option::of(prop_oneof![
                    any::<f64>(),
                    Just(f64::NAN),
                    Just(-0.0),
                    Just(f64::INFINITY),
                    Just(f64::NEG_INFINITY)
                ]),
                rows.clone()
            )
            .prop_map(|v| v.into_iter().map(ScalarValue::Float64).collect()),
            prop::collection::vec(any::<Option<f32>>(), rows.clone())
                .prop_map(|v| v.into_iter().map(ScalarValue::Float32).collect()),
            prop::collection::vec(any::<Option<bool>>(), rows.clone())
                .prop_map(|v| v.into_iter().map(ScalarValue::Boolean).collect()),
            prop::collection::vec(prop::option::of("\\PC{0,12}"), rows.clone())
                .prop_map(|v| v.into_iter().map(ScalarValue::Utf8).collect()),
            prop::collection::vec(prop::option::of("\\PC{0,12}"), rows.clone())
                .prop_map(|v| v.into_iter().map(ScalarValue::Utf8View).collect()),
            prop::collection::vec(
                prop::option::of(prop::collection::vec(any::<u8>(), 0..20)),
                rows.clone()
            )
            .prop_map(|v| v.into_iter().map(ScalarValue::Binary).collect()),
            (
                prop::collection::vec(any::<Option<i64>>(), rows.clone()),
                0i8..20
            )
                .prop_map(|(v, scale)| v
                    .into_iter()
                    .map(|x| ScalarValue::Decimal128(x.map(i128::from), 38, scale))
                    .collect()),
            (
                prop::collection::vec(any::<Option<i64>>(), rows.clone()),
                0..4usize
            )
                .prop_map(|(v, unit)| v
                    .into_iter()
                    .map(|x| match unit {
                        0 => ScalarValue::TimestampSecond(x, None),
                        1 => ScalarValue::TimestampMillisecond(x, Some("UTC".into())),
                        2 => ScalarValue::TimestampMicrosecond(x, None),
                        _ => ScalarValue::TimestampNanosecond(x, Some("+02:00".into())),
                    })
                    .collect()),
            prop::collection::vec(any::<Option<i32>>(), rows)
                .prop_map(|v| v.into_iter().map(ScalarValue::Date32).collect()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(cases()))]

        #[test]
        fn columns_hash_as_their_rows_of_constants(columns in prop::collection::vec(column(), 1..5)) {
            let rows = columns.iter().map(Vec::len).min().unwrap();
            let arrays: Vec<ColumnarValue> = columns
                .iter()
                .map(|c| ScalarValue::iter_to_array(c[..rows].iter().cloned()).map(ColumnarValue::Array))
                .collect::<datafusion_common::Result<_>>()
                .unwrap();
            let hashes = row_hashes(arrays, rows);
            for (row, hash) in hashes.iter().enumerate() {
                let scalars: Vec<ScalarValue> = columns.iter().map(|c| c[row].clone()).collect();
                let encoded = encode_scalars(&scalars).unwrap();
                prop_assert_eq!(*hash, fingerprint64(&encoded), "row {} of {:?}", row, scalars);
            }
        }

        #[test]
        fn integers_of_one_value_hash_alike(v in any::<Option<i32>>()) {
            let encode = |s: ScalarValue| encode_scalars(&[s]).unwrap();
            prop_assert_eq!(encode(ScalarValue::Int32(v)), encode(ScalarValue::Int64(v.map(i64::from))));
            if let Some(Ok(small)) = v.map(i16::try_from) {
                prop_assert_eq!(encode(ScalarValue::Int16(Some(small))), encode(ScalarValue::Int32(v)));
            }
        }
    }
}
