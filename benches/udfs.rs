//! Kernels of mlfusion's functions on 1M rows, next to the physical floor:
//! raw `Fingerprint64` over exactly the bytes each kernel hashes.
//!
//! Each iteration processes 1,000,000 rows, so the time criterion reports
//! per iteration in ms is the cost per row in ns.
//!
//!     cargo bench -p mlfusion-udfs --bench udfs

use std::hint::black_box;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, StringArray, StringViewArray,
};
use arrow::datatypes::{DataType, Field};
use criterion::{criterion_group, criterion_main, Criterion};
use datafusion_common::config::ConfigOptions;
use datafusion_common::ScalarValue;
use datafusion_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF};
use mlfusion_udfs::farmhash::fingerprint64;
use mlfusion_udfs::row_encoding::for_each_row_fingerprint;

const ROWS: usize = 1_000_000;
/// DataFusion's default batch size.
const BATCH: usize = 8192;

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
        config_options: Arc::new(ConfigOptions::default()),
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

fn row_fingerprint(c: &mut Criterion) {
    let f = udf("row_fingerprint");
    let args = mixed_row();
    // The exact bytes row_fingerprint hashes, prepared once: the floor.
    let encoded: Vec<Vec<u8>> = {
        let mut rows = Vec::with_capacity(ROWS);
        let ids = args[1].to_array(ROWS).unwrap();
        let names = args[2].to_array(ROWS).unwrap();
        let scores = args[3].to_array(ROWS).unwrap();
        let (ids, names, scores) = (
            ids.as_primitive::<arrow::datatypes::Int64Type>(),
            names.as_string::<i32>(),
            scores.as_primitive::<arrow::datatypes::Float64Type>(),
        );
        for i in 0..ROWS {
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
            rows.push(b);
        }
        rows
    };
    // The floor is only meaningful if it hashes what the kernel hashes.
    let mut kernel = vec![0u64; 3];
    for_each_row_fingerprint(&args, 3, |r, h| kernel[r] = h).unwrap();
    assert_eq!(
        kernel,
        encoded[..3]
            .iter()
            .map(|b| fingerprint64(b))
            .collect::<Vec<_>>()
    );

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
    g.bench_function("row_fingerprint", |b| {
        b.iter(|| black_box(invoke(&f, &args)))
    });
    // As DataFusion calls it: one batch of 8192 rows at a time.
    g.bench_function("row_fingerprint, 8192-row batches", |b| {
        b.iter(|| {
            for start in (0..ROWS).step_by(BATCH) {
                let n = BATCH.min(ROWS - start);
                let batch: Vec<_> = args
                    .iter()
                    .map(|a| match a {
                        ColumnarValue::Array(a) => ColumnarValue::Array(a.slice(start, n)),
                        scalar => scalar.clone(),
                    })
                    .collect();
                black_box(invoke_rows(&f, &batch, n));
            }
        })
    });
    g.finish();

    let abs_mod = udf("abs_mod");
    let hashes = invoke(&f, &args);
    let mut g = c.benchmark_group("abs_mod(BIGINT, 10)");
    g.sample_size(20);
    g.bench_function("abs_mod", |b| {
        b.iter(|| {
            black_box(invoke(
                &abs_mod,
                &[
                    hashes.clone(),
                    ColumnarValue::Scalar(ScalarValue::Int64(Some(10))),
                ],
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, farm_fingerprint, row_fingerprint);
criterion_main!(benches);
