//! Row encoding v1: the frozen byte encoding of a row of typed values that
//! `row_fingerprint` and `dataset_fingerprint` hash.
//!
//! The exact bytes are specified in `docs/row-encoding.md`; a change to any
//! of them is a new encoding version, never an edit of this one. Values are
//! encoded by their logical value, not their physical type, so the same data
//! read from CSV, Parquet or a query fingerprints alike.

use arrow::array::{
    Array, ArrayAccessor, ArrayRef, AsArray, FixedSizeBinaryArray, GenericByteArray,
    GenericByteViewArray, GenericListArray, GenericListViewArray, OffsetSizeTrait, PrimitiveArray,
};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{
    i256, ArrowDictionaryKeyType, ArrowNativeType, ArrowPrimitiveType, ByteArrayType, ByteViewType,
    DataType, Date32Type, Date64Type, Decimal128Type, Decimal256Type, Decimal32Type, Decimal64Type,
    DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType, DurationSecondType,
    Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    IntervalDayTimeType, IntervalMonthDayNanoType, IntervalUnit, IntervalYearMonthType,
    Time32MillisecondType, Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use datafusion_common::{internal_err, plan_err, Result, ScalarValue};
use datafusion_expr::ColumnarValue;

use crate::farmhash::fingerprint64_rows;

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

/// Rows are encoded and hashed in chunks of at most this many rows and
/// about `CHUNK_BYTES` of encodings, so a chunk stays in the L1 cache while
/// each column writes its part of every row and the rows are hashed. With
/// 50-byte rows, 256 rows measured best (1024 were 20% slower, 64 no
/// faster: `cargo bench -p mlfusion-udfs --bench udfs`); wider rows take
/// fewer.
const CHUNK_ROWS: usize = 256;
const CHUNK_BYTES: usize = 16 * 1024;

/// One argument of a row, encoded a whole column at a time: for a chunk of
/// rows, first every row's encoded length, then every row's bytes, each in
/// one tight loop per column type (as arrow-row converts rows). Nested
/// values and dictionaries, whose elements are reached by index, also
/// encode one value at a time.
trait ColumnEncoder {
    /// The encoded length of every row, when it is the same for all (then
    /// `add_lengths` need not be called).
    fn constant_len(&self) -> Option<usize> {
        None
    }

    /// Adds the encoded length of row `start + i` to `lens[i]`, for every `i`.
    fn add_lengths(&mut self, start: usize, lens: &mut [usize]);

    /// Writes the encoding of row `start + i` at `buf[ends[i]..]` and moves
    /// `ends[i]` past it, for every `i` (after `add_lengths` on these rows).
    fn write(&self, start: usize, buf: &mut [u8], ends: &mut [usize]);

    /// Appends the encoding of one row (an element of a list, a field of a
    /// struct, the value a dictionary key points to, a constant).
    fn encode_row(&self, row: usize, out: &mut Vec<u8>);
}

type Column<'a> = Box<dyn ColumnEncoder + 'a>;

/// Calls `f(row, fingerprint64(encoding of row))` for each of `num_rows` rows
/// of `args` (columns or constants).
pub fn for_each_row_fingerprint(
    args: &[ColumnarValue],
    num_rows: usize,
    mut f: impl FnMut(usize, u64),
) -> Result<()> {
    let mut columns = Vec::with_capacity(args.len());
    for arg in args {
        columns.push(match arg {
            // A constant is encoded once, through a one-row array.
            ColumnarValue::Scalar(s) => {
                let mut bytes = Vec::new();
                column(s.to_array_of_size(1)?.as_ref())?.encode_row(0, &mut bytes);
                Box::new(Constant(bytes)) as Column
            }
            ColumnarValue::Array(array) if array.len() >= num_rows => column(array.as_ref())?,
            ColumnarValue::Array(array) => {
                return internal_err!(
                    "row encoding: a column of {} rows in a batch of {num_rows}",
                    array.len()
                )
            }
        });
    }
    // The length every row has from columns of constant length.
    let base: usize = columns.iter().filter_map(|c| c.constant_len()).sum();
    let mut ends = vec![0usize; CHUNK_ROWS.min(num_rows)];
    let mut hashes = vec![0u64; ends.len()];
    let mut buf = Vec::new();
    let (mut start, mut chunk_rows) = (0, CHUNK_ROWS);
    while start < num_rows {
        let ends = &mut ends[..chunk_rows.min(num_rows - start)];
        ends.fill(base);
        for c in &mut columns {
            if c.constant_len().is_none() {
                c.add_lengths(start, ends);
            }
        }
        // Lengths to start offsets; writing moves each to its row's end.
        let mut total = 0;
        for e in ends.iter_mut() {
            (*e, total) = (total, total + *e);
        }
        buf.resize(total, 0);
        for c in &columns {
            c.write(start, &mut buf, ends);
        }
        let hashes = &mut hashes[..ends.len()];
        fingerprint64_rows(&buf, ends, hashes);
        for (i, &h) in hashes.iter().enumerate() {
            f(start + i, h);
        }
        start += ends.len();
        // The next chunk's rows, sized by this chunk's bytes per row.
        chunk_rows = (CHUNK_BYTES * ends.len() / total.max(1)).clamp(16, CHUNK_ROWS);
    }
    Ok(())
}

/// The encoding of one row of constants (used to fingerprint all-scalar calls).
pub fn encode_scalars(values: &[ScalarValue]) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    for v in values {
        let array = v.to_array_of_size(1)?;
        column(array.as_ref())?.encode_row(0, &mut buf);
    }
    Ok(buf)
}

/// `dst.copy_from_slice(src)` for slices of equal length, inline for up to
/// 64 bytes: values are mostly that short, and a call to `memcpy` per value
/// costs more than the copy.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    let dst = &mut dst[..n];
    match n {
        // Four 8-byte copies, overlapping as the length needs: one path for
        // every length from 8 to 32, as a branch on the exact length
        // mispredicts on values of mixed lengths.
        8..=32 => {
            for at in [0, 8.min(n - 8), 16.min(n - 8), n - 8] {
                dst[at..at + 8].copy_from_slice(&src[at..at + 8]);
            }
        }
        0..4 => dst.iter_mut().zip(src).for_each(|(d, s)| *d = *s),
        // Two copies of a fixed width that overlap in the middle.
        4..8 => {
            dst[..4].copy_from_slice(&src[..4]);
            dst[n - 4..].copy_from_slice(&src[n - 4..]);
        }
        33..=64 => {
            dst[..32].copy_from_slice(&src[..32]);
            dst[n - 32..].copy_from_slice(&src[n - 32..]);
        }
        _ => dst.copy_from_slice(src),
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&(len as u64).to_le_bytes());
}

/// A tag and a little-endian payload of `N` bytes, as one array of `W = 1 + N`.
fn tagged<const N: usize, const W: usize>(tag: u8, payload: [u8; N]) -> [u8; W] {
    const { assert!(W == N + 1) };
    let mut out = [0; W];
    out[0] = tag;
    out[1..].copy_from_slice(&payload);
    out
}

fn integer(v: i64) -> [u8; 9] {
    tagged(tag::INTEGER, v.to_le_bytes())
}

fn float(v: f64) -> [u8; 9] {
    let bits = if v.is_nan() {
        CANONICAL_NAN_BITS
    } else if v == 0.0 {
        0 // -0.0 == 0.0
    } else {
        v.to_bits()
    };
    tagged(tag::FLOAT, bits.to_le_bytes())
}

/// Decimals are normalized to the fewest digits: trailing zeros of the
/// unscaled value are dropped (lowering the scale, possibly below zero), so
/// 1.50 (150, scale 2) and 1.5000 (15000, scale 4) both encode as (15, 1),
/// and zero as (0, 0).
fn decimal128(mut unscaled: i128, mut scale: i32) -> [u8; 37] {
    if unscaled == 0 {
        scale = 0;
    }
    while unscaled != 0 && unscaled % 10 == 0 {
        unscaled /= 10;
        scale -= 1;
    }
    decimal_normalized(i256::from_i128(unscaled), scale)
}

fn decimal256(mut unscaled: i256, mut scale: i32) -> [u8; 37] {
    if let Some(small) = unscaled.to_i128() {
        return decimal128(small, scale);
    }
    let ten = i256::from_i128(10);
    while unscaled % ten == i256::ZERO {
        unscaled /= ten;
        scale -= 1;
    }
    decimal_normalized(unscaled, scale)
}

fn decimal_normalized(unscaled: i256, scale: i32) -> [u8; 37] {
    let mut payload = [0; 36];
    payload[..4].copy_from_slice(&scale.to_le_bytes());
    payload[4..].copy_from_slice(&unscaled.to_le_bytes());
    tagged(tag::DECIMAL, payload)
}

fn interval(months: i32, days: i32, nanos: i64) -> [u8; 17] {
    let mut payload = [0; 16];
    payload[..4].copy_from_slice(&months.to_le_bytes());
    payload[4..8].copy_from_slice(&days.to_le_bytes());
    payload[8..].copy_from_slice(&nanos.to_le_bytes());
    tagged(tag::INTERVAL, payload)
}

fn nanos_per(unit: &TimeUnit) -> i128 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

/// The same bytes on every row.
struct Constant(Vec<u8>);

impl ColumnEncoder for Constant {
    fn constant_len(&self) -> Option<usize> {
        Some(self.0.len())
    }

    fn add_lengths(&mut self, _: usize, lens: &mut [usize]) {
        lens.iter_mut().for_each(|l| *l += self.0.len());
    }

    fn write(&self, _: usize, buf: &mut [u8], ends: &mut [usize]) {
        let n = self.0.len();
        if (8..=16).contains(&n) {
            // An integer, or a salt of up to 7 characters: two 8-byte
            // copies a row, not `copy_short`'s four, as the length is the
            // same on every row.
            let (head, tail) = (&self.0[..8], &self.0[n - 8..]);
            for e in ends {
                let out = &mut buf[*e..*e + n];
                out[..8].copy_from_slice(head);
                out[n - 8..].copy_from_slice(tail);
                *e += n;
            }
        } else {
            for e in ends {
                copy_short(&mut buf[*e..*e + n], &self.0);
                *e += n;
            }
        }
    }

    fn encode_row(&self, _: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}

/// Calls `f(i)` for the index of each unset bit of `bits` (each NULL of a
/// validity), 64 bits at a time: NULLs are mostly few.
fn for_each_unset(bits: &BooleanBuffer, mut f: impl FnMut(usize)) {
    for (w, word) in bits.bit_chunks().iter_padded().enumerate() {
        let mut unset = !word;
        while unset != 0 {
            let i = w * 64 + unset.trailing_zeros() as usize;
            if i >= bits.len() {
                return; // the last word's padding
            }
            f(i);
            unset &= unset - 1;
        }
    }
}

/// A primitive column whose values encode to `W` bytes each (`put`), and
/// whose NULLs to the NULL tag.
struct Fixed<'a, T: ArrowPrimitiveType, F> {
    values: &'a PrimitiveArray<T>,
    put: F,
}

impl<T, F, const W: usize> Fixed<'_, T, F>
where
    T: ArrowPrimitiveType,
    F: Fn(T::Native) -> [u8; W],
{
    /// The validity of rows `start..start + len`, if any is NULL.
    fn validity(&self, start: usize, len: usize) -> Option<BooleanBuffer> {
        let nulls = self.values.nulls().filter(|n| n.null_count() > 0)?;
        Some(nulls.inner().slice(start, len))
    }
}

impl<T, F, const W: usize> ColumnEncoder for Fixed<'_, T, F>
where
    T: ArrowPrimitiveType,
    F: Fn(T::Native) -> [u8; W],
{
    fn constant_len(&self) -> Option<usize> {
        (self.values.null_count() == 0).then_some(W)
    }

    fn add_lengths(&mut self, start: usize, lens: &mut [usize]) {
        match self.validity(start, lens.len()) {
            None => lens.iter_mut().for_each(|l| *l += W),
            Some(valid) => {
                lens.iter_mut().for_each(|l| *l += W);
                for_each_unset(&valid, |i| lens[i] -= W - 1);
            }
        }
    }

    fn write(&self, start: usize, buf: &mut [u8], ends: &mut [usize]) {
        let values = &self.values.values()[start..start + ends.len()];
        match self.validity(start, ends.len()) {
            None => {
                for (e, &v) in ends.iter_mut().zip(values) {
                    buf[*e..*e + W].copy_from_slice(&(self.put)(v));
                    *e += W;
                }
            }
            Some(valid) => {
                for ((e, &v), valid) in ends.iter_mut().zip(values).zip(valid.iter()) {
                    if valid {
                        buf[*e..*e + W].copy_from_slice(&(self.put)(v));
                        *e += W;
                    } else {
                        buf[*e] = tag::NULL;
                        *e += 1;
                    }
                }
            }
        }
    }

    fn encode_row(&self, row: usize, out: &mut Vec<u8>) {
        if self.values.is_null(row) {
            out.push(tag::NULL);
        } else {
            out.extend_from_slice(&(self.put)(self.values.value(row)));
        }
    }
}

fn fixed<'a, T: ArrowPrimitiveType, const W: usize>(
    array: &'a dyn Array,
    put: impl Fn(T::Native) -> [u8; W] + 'a,
) -> Column<'a> {
    Box::new(Fixed {
        values: array.as_primitive::<T>(),
        put,
    })
}

fn integers<'a, T>(array: &'a dyn Array) -> Column<'a>
where
    T: ArrowPrimitiveType,
    T::Native: Into<i64>,
{
    fixed::<T, 9>(array, |v| integer(v.into()))
}

/// Timestamps, durations and times of day: `i128` nanoseconds, exact for
/// every unit and every stored value (even a time beyond one day).
fn nanos<'a, T>(array: &'a dyn Array, unit: &TimeUnit, tag: u8) -> Column<'a>
where
    T: ArrowPrimitiveType,
    T::Native: Into<i64>,
{
    let scale = nanos_per(unit);
    fixed::<T, 17>(array, move |v| {
        tagged(tag, (v.into() as i128 * scale).to_le_bytes())
    })
}

/// Strings and binaries: the tag, the length as 8 bytes, the bytes.
struct Bytes<A> {
    values: A,
    tag: u8,
}

/// The byte length of a value, read without finding where its bytes are.
trait ValueLen {
    fn value_len(&self, row: usize) -> usize;
}

impl<T: ByteArrayType> ValueLen for &GenericByteArray<T> {
    fn value_len(&self, row: usize) -> usize {
        let offsets = self.value_offsets();
        (offsets[row + 1] - offsets[row]).as_usize()
    }
}

impl<T: ByteViewType + ?Sized> ValueLen for &GenericByteViewArray<T> {
    fn value_len(&self, row: usize) -> usize {
        // A view's low 32 bits are its length.
        self.views()[row] as u32 as usize
    }
}

impl ValueLen for &FixedSizeBinaryArray {
    fn value_len(&self, _: usize) -> usize {
        self.value_length() as usize
    }
}

impl<A> ColumnEncoder for Bytes<A>
where
    A: ArrayAccessor + ValueLen,
    A::Item: AsRef<[u8]>,
{
    fn add_lengths(&mut self, start: usize, lens: &mut [usize]) {
        for (i, l) in lens.iter_mut().enumerate() {
            *l += 9 + self.values.value_len(start + i);
        }
        // A NULL is its tag alone, whatever its slot holds.
        if let Some(nulls) = self.values.nulls().filter(|n| n.null_count() > 0) {
            let valid = nulls.inner().slice(start, lens.len());
            for_each_unset(&valid, |i| lens[i] -= 8 + self.values.value_len(start + i));
        }
    }

    fn write(&self, start: usize, buf: &mut [u8], ends: &mut [usize]) {
        for (i, e) in ends.iter_mut().enumerate() {
            let row = start + i;
            if self.values.is_null(row) {
                buf[*e] = tag::NULL;
                *e += 1;
            } else {
                let bytes = self.values.value(row);
                let bytes = bytes.as_ref();
                let out = &mut buf[*e..*e + 9 + bytes.len()];
                out[0] = self.tag;
                out[1..9].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
                copy_short(&mut out[9..], bytes);
                *e += out.len();
            }
        }
    }

    fn encode_row(&self, row: usize, out: &mut Vec<u8>) {
        if self.values.is_null(row) {
            out.push(tag::NULL);
        } else {
            let bytes = self.values.value(row);
            out.push(self.tag);
            put_len(out, bytes.as_ref().len());
            out.extend_from_slice(bytes.as_ref());
        }
    }
}

fn bytes<'a, A>(values: A, tag: u8) -> Column<'a>
where
    A: ArrayAccessor + ValueLen + 'a,
    A::Item: AsRef<[u8]>,
{
    Box::new(Bytes { values, tag })
}

/// Appends the encoding of the value at a row.
type EncodeRow<'a> = Box<dyn Fn(usize, &mut Vec<u8>) + 'a>;

/// A column encoded one value at a time by `encode`: booleans, nested
/// values and dictionaries. A chunk's rows are encoded once, into `scratch`,
/// when their lengths are asked for, and copied from there.
struct ByRow<'a> {
    encode: EncodeRow<'a>,
    scratch: Vec<u8>,
    lens: Vec<usize>,
}

impl ColumnEncoder for ByRow<'_> {
    fn add_lengths(&mut self, start: usize, lens: &mut [usize]) {
        self.scratch.clear();
        self.lens.clear();
        for (i, l) in lens.iter_mut().enumerate() {
            let before = self.scratch.len();
            (self.encode)(start + i, &mut self.scratch);
            let len = self.scratch.len() - before;
            self.lens.push(len);
            *l += len;
        }
    }

    fn write(&self, _: usize, buf: &mut [u8], ends: &mut [usize]) {
        let mut from = 0;
        for (e, &len) in ends.iter_mut().zip(&self.lens) {
            copy_short(&mut buf[*e..*e + len], &self.scratch[from..from + len]);
            *e += len;
            from += len;
        }
    }

    fn encode_row(&self, row: usize, out: &mut Vec<u8>) {
        (self.encode)(row, out)
    }
}

fn by_row<'a>(encode: impl Fn(usize, &mut Vec<u8>) + 'a) -> Column<'a> {
    Box::new(ByRow {
        encode: Box::new(encode),
        scratch: Vec::new(),
        lens: Vec::new(),
    })
}

/// Lists of any kind: the element count, then each element.
fn list_elements<'a>(
    array: &'a dyn Array,
    range: impl Fn(usize) -> (usize, usize) + 'a,
    child: &'a ArrayRef,
) -> Result<Column<'a>> {
    let element = column(child.as_ref())?;
    Ok(by_row(move |row, out| {
        if array.is_null(row) {
            out.push(tag::NULL);
            return;
        }
        let (start, end) = range(row);
        out.push(tag::LIST);
        put_len(out, end - start);
        for i in start..end {
            element.encode_row(i, out);
        }
    }))
}

fn list<'a, O: OffsetSizeTrait>(list: &'a GenericListArray<O>) -> Result<Column<'a>> {
    let offsets = list.value_offsets();
    list_elements(
        list,
        move |row| (offsets[row].as_usize(), offsets[row + 1].as_usize()),
        list.values(),
    )
}

fn list_view<'a, O: OffsetSizeTrait>(list: &'a GenericListViewArray<O>) -> Result<Column<'a>> {
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

fn dictionary<'a, K: ArrowDictionaryKeyType>(array: &'a dyn Array) -> Result<Column<'a>> {
    let dict = array.as_dictionary::<K>();
    let keys = dict.keys();
    let value = column(dict.values().as_ref())?;
    Ok(by_row(move |row, out| {
        if keys.is_null(row) {
            out.push(tag::NULL);
        } else {
            value.encode_row(keys.value(row).as_usize(), out);
        }
    }))
}

/// Builds the encoder of a column (after [`check_encodable`] passed on its type).
fn column(array: &dyn Array) -> Result<Column<'_>> {
    use DataType::*;
    Ok(match array.data_type() {
        Null => Box::new(Constant(vec![tag::NULL])),
        Boolean => {
            let values = array.as_boolean();
            by_row(move |row, out| {
                if values.is_null(row) {
                    out.push(tag::NULL);
                } else {
                    out.extend_from_slice(&[tag::BOOLEAN, values.value(row) as u8]);
                }
            })
        }
        Int8 => integers::<Int8Type>(array),
        Int16 => integers::<Int16Type>(array),
        Int32 => integers::<Int32Type>(array),
        Int64 => integers::<Int64Type>(array),
        UInt8 => integers::<UInt8Type>(array),
        UInt16 => integers::<UInt16Type>(array),
        UInt32 => integers::<UInt32Type>(array),
        UInt64 => fixed::<UInt64Type, 9>(array, |v| match i64::try_from(v) {
            Ok(v) => integer(v),
            Err(_) => tagged(tag::UNSIGNED_ABOVE_I64, v.to_le_bytes()),
        }),
        Float16 => fixed::<Float16Type, 9>(array, |v| float(v.to_f64())),
        Float32 => fixed::<Float32Type, 9>(array, |v| float(v as f64)),
        Float64 => fixed::<Float64Type, 9>(array, float),
        Decimal32(_, s) => {
            let s = *s as i32;
            fixed::<Decimal32Type, 37>(array, move |v| decimal128(v as i128, s))
        }
        Decimal64(_, s) => {
            let s = *s as i32;
            fixed::<Decimal64Type, 37>(array, move |v| decimal128(v as i128, s))
        }
        Decimal128(_, s) => {
            let s = *s as i32;
            fixed::<Decimal128Type, 37>(array, move |v| decimal128(v, s))
        }
        Decimal256(_, s) => {
            let s = *s as i32;
            fixed::<Decimal256Type, 37>(array, move |v| decimal256(v, s))
        }
        Utf8 => bytes(array.as_string::<i32>(), tag::STRING),
        LargeUtf8 => bytes(array.as_string::<i64>(), tag::STRING),
        Utf8View => bytes(array.as_string_view(), tag::STRING),
        Binary => bytes(array.as_binary::<i32>(), tag::BINARY),
        LargeBinary => bytes(array.as_binary::<i64>(), tag::BINARY),
        BinaryView => bytes(array.as_binary_view(), tag::BINARY),
        FixedSizeBinary(_) => bytes(array.as_fixed_size_binary(), tag::BINARY),
        Date32 => fixed::<Date32Type, 9>(array, |days| {
            tagged(tag::DATE, (days as i64 * 86_400_000).to_le_bytes())
        }),
        Date64 => fixed::<Date64Type, 9>(array, |millis| tagged(tag::DATE, millis.to_le_bytes())),
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
            fixed::<IntervalYearMonthType, 17>(array, |months| interval(months, 0, 0))
        }
        Interval(IntervalUnit::DayTime) => fixed::<IntervalDayTimeType, 17>(array, |v| {
            interval(0, v.days, v.milliseconds as i64 * 1_000_000)
        }),
        Interval(IntervalUnit::MonthDayNano) => fixed::<IntervalMonthDayNanoType, 17>(array, |v| {
            interval(v.months, v.days, v.nanoseconds)
        }),
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
                .map(|c| column(c.as_ref()))
                .collect::<Result<Vec<_>>>()?;
            by_row(move |row, out| {
                if array.is_null(row) {
                    out.push(tag::NULL);
                    return;
                }
                out.push(tag::STRUCT);
                put_len(out, fields.len());
                for field in &fields {
                    field.encode_row(row, out);
                }
            })
        }
        Map(_, _) => {
            let map = array.as_map();
            let offsets = map.value_offsets();
            let key = column(map.keys().as_ref())?;
            let value = column(map.values().as_ref())?;
            by_row(move |row, out| {
                if map.is_null(row) {
                    out.push(tag::NULL);
                    return;
                }
                let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
                out.push(tag::MAP);
                put_len(out, end - start);
                for i in start..end {
                    key.encode_row(i, out);
                    value.encode_row(i, out);
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
