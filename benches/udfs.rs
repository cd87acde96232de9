//! Kernels of mlfusion's functions on 1M rows, next to the physical floor:
//! raw `Fingerprint64` over exactly the bytes each kernel hashes. Beside
//! `row_fingerprint`, two row-at-a-time encoders of its 4-column case show
//! what a redesign of the kernel could reach.
//!
//! Each iteration processes 1,000,000 rows, so the time criterion reports
//! per iteration in ms is the cost per row in ns.
//!
//!     cargo bench -p mlfusion-udfs --bench udfs

use std::hint::black_box;
use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, StringArray, StringViewArray,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field};
use criterion::{criterion_group, criterion_main, Criterion};
use datafusion_common::config::ConfigOptions;
use datafusion_common::ScalarValue;
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF};
use mlfusion_udfs::farmhash::{fingerprint64, fingerprint64_rows};

const ROWS: usize = 1_000_000;
/// DataFusion's default batch size.
const BATCH: usize = 8192;

/// One session's options, shared by every call as in a query (built per
/// batch, they took 12% of the batched `abs_mod` case).
static CONFIG: LazyLock<Arc<ConfigOptions>> = LazyLock::new(Default::default);

/// Deterministic pseudo-random u64s (SplitMix64).
fn splitmix(mut state: u64) -> impl Iterator<Item = u64> {
    std::iter::from_fn(move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Some(z ^ (z >> 31))
    })
}

/// Strings of `min..=max` bytes of printable ASCII.
fn strings(min: usize, max: usize) -> Vec<String> {
    let mut rng = splitmix(42);
    (0..ROWS)
        .map(|_| {
            let len = min + (rng.next().unwrap() as usize) % (max - min + 1);
            (0..len)
                .map(|_| (b'a' + (rng.next().unwrap() % 26) as u8) as char)
                .collect()
        })
        .collect()
}

fn udf(name: &str) -> Arc<ScalarUDF> {
    mlfusion_udfs::scalar_functions()
        .into_iter()
        .find(|f| f.name() == name)
        .expect("registered")
}

fn invoke(udf: &ScalarUDF, args: &[ColumnarValue]) -> ColumnarValue {
    invoke_rows(udf, args, ROWS)
}

/// Invokes `udf` over `args` one batch of `BATCH` rows at a time, as
/// DataFusion calls it.
fn invoke_in_batches(udf: &ScalarUDF, args: &[ColumnarValue]) {
    for start in (0..ROWS).step_by(BATCH) {
        let n = BATCH.min(ROWS - start);
        let batch: Vec<_> = args
            .iter()
            .map(|a| match a {
                ColumnarValue::Array(a) => ColumnarValue::Array(a.slice(start, n)),
                scalar => scalar.clone(),
            })
            .collect();
        black_box(invoke_rows(udf, &batch, n));
    }
}

fn invoke_rows(udf: &ScalarUDF, args: &[ColumnarValue], number_rows: usize) -> ColumnarValue {
    let arg_fields = args
        .iter()
        .enumerate()
        .map(|(i, a)| Arc::new(Field::new(format!("a{i}"), a.data_type(), true)))
        .collect();
    udf.invoke_with_args(ScalarFunctionArgs {
        args: args.to_vec(),
        arg_fields,
        number_rows,
        return_field: Arc::new(Field::new("f", DataType::Int64, true)),
        config_options: Arc::clone(&CONFIG),
    })
    .expect("invoke")
}

fn farm_fingerprint(c: &mut Criterion) {
    let f = udf("farm_fingerprint");
    for (label, min, max) in [("short 8-24B", 8, 24), ("long 200-300B", 200, 300)] {
        let values = strings(min, max);
        let utf8: ArrayRef = Arc::new(StringArray::from_iter_values(&values));
        let view: ArrayRef = Arc::new(StringViewArray::from_iter_values(&values));
        let mut g = c.benchmark_group(format!("farm_fingerprint {label}"));
        g.sample_size(20);
        g.bench_function("raw Fingerprint64 (floor)", |b| {
            let s = utf8.as_string::<i32>();
            b.iter(|| {
                let mut acc = 0u64;
                for i in 0..s.len() {
                    acc ^= fingerprint64(s.value(i).as_bytes());
                }
                black_box(acc)
            })
        });
        g.bench_function("farm_fingerprint Utf8", |b| {
            b.iter(|| black_box(invoke(&f, &[ColumnarValue::Array(utf8.clone())])))
        });
        g.bench_function("farm_fingerprint Utf8View", |b| {
            b.iter(|| black_box(invoke(&f, &[ColumnarValue::Array(view.clone())])))
        });
        g.finish();
    }
}

/// Fingerprint64 of rows as `row_fingerprint` hashes them: a chunk of about
/// 16 KB of encoded rows in L1, here 100 rows of 100-180 bytes (the churn
/// table's rows are about 140), hashed over and over to 1M rows. One row at
/// a time, and through `fingerprint64_rows` (eight rows per AVX-512 register
/// where the CPU has it).
fn fingerprint64_of_rows(c: &mut Criterion) {
    const CHUNK: usize = 100;
    let rows = strings(100, 180);
    let rows = &rows[..CHUNK];
    let buf: Vec<u8> = rows.iter().flat_map(|r| r.bytes()).collect();
    let ends: Vec<usize> = rows
        .iter()
        .scan(0, |end, r| {
            *end += r.len();
            Some(*end)
        })
        .collect();
    let mut out = vec![0u64; CHUNK];
    let mut g = c.benchmark_group("Fingerprint64 of 100-180B rows in a 14 KB chunk");
    g.sample_size(20);
    g.bench_function("one row at a time", |b| {
        b.iter(|| {
            for _ in 0..ROWS / CHUNK {
                let mut begin = 0;
                for (h, &end) in out.iter_mut().zip(&ends) {
                    *h = fingerprint64(black_box(&buf[begin..end]));
                    begin = end;
                }
                black_box(&out);
            }
        })
    });
    g.bench_function("fingerprint64_rows", |b| {
        b.iter(|| {
            for _ in 0..ROWS / CHUNK {
                fingerprint64_rows(black_box(&buf), &ends, &mut out);
                black_box(&out);
            }
        })
    });
    g.finish();
}

/// A salt, BIGINT ids, short strings and nullable doubles.
fn mixed_row() -> Vec<ColumnarValue> {
    let mut rng = splitmix(7);
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(
        (0..ROWS).map(|_| rng.next().unwrap() as i64),
    ));
    let names: ArrayRef = Arc::new(StringArray::from_iter_values(strings(8, 24)));
    let scores: ArrayRef = Arc::new(Float64Array::from_iter(
        (0..ROWS).map(|i| (i % 10 != 0).then_some(i as f64 / 3.0)),
    ));
    vec![
        ColumnarValue::Scalar(ScalarValue::Utf8(Some("v1".into()))),
        ColumnarValue::Array(ids),
        ColumnarValue::Array(names),
        ColumnarValue::Array(scores),
    ]
}

/// One column of `mixed_row()`, as a row-at-a-time encoder sees it.
enum Part<'a> {
    /// The salt: its encoding padded to 16 bytes, and its length.
    Salt(&'a [u8; 16], usize),
    Int64(&'a [i64]),
    Utf8(&'a [i32], &'a [u8]),
    Float64(&'a [f64], Option<&'a NullBuffer>),
}

impl Part<'_> {
    #[inline(always)]
    fn write(&self, i: usize, buf: &mut [u8], at: usize) -> usize {
        match *self {
            Part::Salt(padded, len) => write_salt(padded, len, buf, at),
            Part::Int64(values) => write_int64(values[i], buf, at),
            Part::Utf8(offsets, data) => write_utf8(offsets, data, i, buf, at),
            Part::Float64(values, nulls) => write_float64(values, nulls, i, buf, at),
        }
    }
}

// Each writes a value at `buf[at..]` and returns where it ends. Values are
// stored in fixed widths that the next value over-writes, so `buf` needs 32
// bytes to spare after the row.

#[inline(always)]
fn write_salt(padded: &[u8; 16], len: usize, buf: &mut [u8], at: usize) -> usize {
    buf[at..at + 16].copy_from_slice(padded);
    at + len
}

#[inline(always)]
fn write_int64(value: i64, buf: &mut [u8], at: usize) -> usize {
    buf[at] = 0x02;
    buf[at + 1..at + 9].copy_from_slice(&value.to_le_bytes());
    at + 9
}

#[inline(always)]
fn write_utf8(offsets: &[i32], data: &[u8], i: usize, buf: &mut [u8], at: usize) -> usize {
    let (from, to) = (offsets[i] as usize, offsets[i + 1] as usize);
    let len = to - from;
    buf[at] = 0x06;
    buf[at + 1..at + 9].copy_from_slice(&(len as u64).to_le_bytes());
    let at = at + 9;
    if len <= 32 && from + 32 <= data.len() {
        buf[at..at + 32].copy_from_slice(&data[from..from + 32]);
    } else {
        buf[at..at + len].copy_from_slice(&data[from..to]);
    }
    at + len
}

#[inline(always)]
fn write_float64(
    values: &[f64],
    nulls: Option<&NullBuffer>,
    i: usize,
    buf: &mut [u8],
    at: usize,
) -> usize {
    let valid = nulls.is_none_or(|n| n.is_valid(i));
    let v = values[i];
    let bits = if v.is_nan() {
        0x7FF8_0000_0000_0000
    } else if v == 0.0 {
        0
    } else {
        v.to_bits()
    };
    buf[at] = if valid { 0x04 } else { 0x00 };
    buf[at + 1..at + 9].copy_from_slice(&bits.to_le_bytes());
    at + if valid { 9 } else { 1 }
}

fn parts_of<'a>(
    ids: &'a Int64Array,
    names: &'a StringArray,
    scores: &'a Float64Array,
) -> [Part<'a>; 4] {
    [
        Part::Salt(&SALT, 11),
        Part::Int64(ids.values()),
        Part::Utf8(names.value_offsets(), names.value_data()),
        Part::Float64(scores.values(), scores.nulls()),
    ]
}

/// The salt 'v1' (tag, length, bytes), padded to one 16-byte store.
const SALT: [u8; 16] = [6, 2, 0, 0, 0, 0, 0, 0, 0, b'v', b'1', 0, 0, 0, 0, 0];

/// Fingerprints `out.len()` rows, 64 at a time: each row is written whole
/// by `write_row` into a buffer that stays in L1, then the rows are hashed.
fn fingerprint_rows(out: &mut [i64], write_row: impl Fn(usize, &mut [u8]) -> usize) {
    const CHUNK: usize = 64;
    // Room for 64 rows of up to 64 bytes, plus the over-writes.
    let mut buf = [0u8; CHUNK * 64 + 64];
    let mut ends = [0usize; CHUNK];
    for start in (0..out.len()).step_by(CHUNK) {
        let rows = CHUNK.min(out.len() - start);
        let mut at = 0;
        for (i, end) in (start..start + rows).zip(&mut ends) {
            at = write_row(i, &mut buf[at..]) + at;
            *end = at;
        }
        let mut begin = 0;
        for (o, &end) in out[start..start + rows].iter_mut().zip(&ends) {
            *o = fingerprint64(&buf[begin..end]) as i64;
            begin = end;
        }
    }
}

/// The fingerprints of `mixed_row()`'s rows by an encoder written by hand for
/// exactly these four types: each row is written whole, with nothing looked
/// up per value, no pass for lengths, and values stored in fixed widths that
/// the next one over-writes. No safe encoder that takes any types can beat
/// it, so it bounds what a redesign of the kernel could reach without
/// generated code and unchecked writes (about a quarter of its writing
/// instructions are bounds checks).
fn by_hand(parts: &[Part], out: &mut [i64]) {
    let [Part::Salt(salt, salt_len), Part::Int64(ids), Part::Utf8(offsets, data), Part::Float64(scores, nulls)] =
        *parts
    else {
        panic!("the columns of mixed_row()")
    };
    fingerprint_rows(out, |i, buf| {
        let at = write_salt(salt, salt_len, buf, 0);
        let at = write_int64(ids[i], buf, at);
        let at = write_utf8(offsets, data, i, buf, at);
        write_float64(scores, nulls, i, buf, at)
    });
}

/// The same rows, written whole by a loop over the columns that dispatches
/// on each one's kind: a row-at-a-time encoder that takes any types, cut
/// down to these four.
fn by_kind(parts: &[Part], out: &mut [i64]) {
    fingerprint_rows(out, |i, buf| {
        parts.iter().fold(0, |at, part| part.write(i, buf, at))
    });
}

fn row_fingerprint(c: &mut Criterion) {
    let f = udf("row_fingerprint");
    let args = mixed_row();
    let (ids, names, scores) = (
        args[1].to_array(ROWS).unwrap(),
        args[2].to_array(ROWS).unwrap(),
        args[3].to_array(ROWS).unwrap(),
    );
    let (ids, names, scores) = (
        ids.as_primitive::<arrow::datatypes::Int64Type>(),
        names.as_string::<i32>(),
        scores.as_primitive::<arrow::datatypes::Float64Type>(),
    );
    // The exact bytes row_fingerprint hashes, prepared once: the floor.
    let encoded: Vec<Vec<u8>> = (0..ROWS)
        .map(|i| {
            let mut b = vec![0x06];
            b.extend(2u64.to_le_bytes());
            b.extend(b"v1");
            b.push(0x02);
            b.extend(ids.value(i).to_le_bytes());
            b.push(0x06);
            b.extend((names.value(i).len() as u64).to_le_bytes());
            b.extend(names.value(i).as_bytes());
            if scores.is_null(i) {
                b.push(0x00);
            } else {
                b.push(0x04);
                b.extend(scores.value(i).to_bits().to_le_bytes());
            }
            b
        })
        .collect();
    // The floor is only meaningful if it hashes what the kernel hashes; the
    // row-at-a-time encoders must give the kernel's hashes too.
    let ColumnarValue::Array(kernel) = invoke(&f, &args) else {
        panic!("row_fingerprint of columns returns a column")
    };
    let kernel = kernel
        .as_primitive::<arrow::datatypes::Int64Type>()
        .values();
    let floor: Vec<i64> = encoded.iter().map(|b| fingerprint64(b) as i64).collect();
    assert_eq!(kernel, &floor[..]);
    for encode in [by_hand as fn(&[Part], &mut [i64]), by_kind] {
        let mut out = vec![0i64; ROWS];
        encode(&parts_of(ids, names, scores), &mut out);
        assert_eq!(kernel, &out[..]);
    }
    // As DataFusion calls it: one batch of 8192 rows at a time.
    let in_batches = |encode: fn(&[Part], &mut [i64])| {
        for start in (0..ROWS).step_by(BATCH) {
            let n = BATCH.min(ROWS - start);
            let (ids, names, scores) = (
                ids.slice(start, n),
                names.slice(start, n),
                scores.slice(start, n),
            );
            let mut out = vec![0i64; n];
            encode(&parts_of(&ids, &names, &scores), &mut out);
            black_box(Int64Array::from(out));
        }
    };

    let mut g = c.benchmark_group("row_fingerprint('v1', BIGINT, VARCHAR 8-24B, DOUBLE NULL)");
    g.sample_size(20);
    g.bench_function("raw Fingerprint64 of the encoded rows (floor)", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for row in &encoded {
                acc ^= fingerprint64(row);
            }
            black_box(acc)
        })
    });
    g.bench_function(
        "rows written by hand for these types (bound), 8192-row batches",
        |b| b.iter(|| in_batches(by_hand)),
    );
    g.bench_function(
        "rows written by a loop over the columns' kinds, 8192-row batches",
        |b| b.iter(|| in_batches(by_kind)),
    );
    g.bench_function("row_fingerprint", |b| {
        b.iter(|| black_box(invoke(&f, &args)))
    });
    // As DataFusion calls it: one batch of 8192 rows at a time.
    g.bench_function("row_fingerprint, 8192-row batches", |b| {
        b.iter(|| invoke_in_batches(&f, &args))
    });
    g.finish();

    let abs_mod = udf("abs_mod");
    let args = [
        invoke(&f, &args),
        ColumnarValue::Scalar(ScalarValue::Int64(Some(10))),
    ];
    let mut g = c.benchmark_group("abs_mod(BIGINT, 10)");
    g.sample_size(20);
    g.bench_function("abs_mod", |b| b.iter(|| black_box(invoke(&abs_mod, &args))));
    // As DataFusion calls it.
    g.bench_function("abs_mod, 8192-row batches", |b| {
        b.iter(|| invoke_in_batches(&abs_mod, &args))
    });
    g.finish();
}

criterion_group!(
    benches,
    farm_fingerprint,
    fingerprint64_of_rows,
    row_fingerprint
);
criterion_main!(benches);
