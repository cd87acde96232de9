//! FarmHash `Fingerprint64`, the hash behind BigQuery's `FARM_FINGERPRINT`.
//!
//! A line-for-line port of `farmhashna::Hash64` from Google's `farmhash.cc`
//! (MIT licence), which `util::Fingerprint64` forwards to. A fingerprint is
//! frozen by definition: the function must return the same value on every
//! platform forever, so this port reads every word little-endian and is
//! checked against vectors generated with Google's C++ code
//! (`scripts/gen_farmhash_vectors.py`, `udfs/tests/farmhash_vectors.rs`).
//!
//! We do not depend on the `farmhash` crate: its 1.1.5 release returns wrong
//! `fingerprint64` values for some input lengths.

const K0: u64 = 0xc3a5_c85c_97cb_3127;
const K1: u64 = 0xb492_b66f_be98_f273;
const K2: u64 = 0x9ae1_6a3b_2f90_404f;

#[inline(always)]
fn fetch64(s: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"))
}

#[inline(always)]
fn fetch32(s: &[u8], i: usize) -> u64 {
    u32::from_le_bytes(s[i..i + 4].try_into().expect("4 bytes")) as u64
}

#[inline(always)]
fn shift_mix(v: u64) -> u64 {
    v ^ (v >> 47)
}

#[inline(always)]
fn hash_len16(u: u64, v: u64, mul: u64) -> u64 {
    let mut a = (u ^ v).wrapping_mul(mul);
    a ^= a >> 47;
    let mut b = (v ^ a).wrapping_mul(mul);
    b ^= b >> 47;
    b.wrapping_mul(mul)
}

#[inline(always)]
fn hash_len_0_to_16(s: &[u8]) -> u64 {
    let len = s.len();
    if len >= 8 {
        let mul = K2.wrapping_add(len as u64 * 2);
        let a = fetch64(s, 0).wrapping_add(K2);
        let b = fetch64(s, len - 8);
        let c = b.rotate_right(37).wrapping_mul(mul).wrapping_add(a);
        let d = a.rotate_right(25).wrapping_add(b).wrapping_mul(mul);
        return hash_len16(c, d, mul);
    }
    if len >= 4 {
        let mul = K2.wrapping_add(len as u64 * 2);
        let a = fetch32(s, 0);
        return hash_len16((len as u64).wrapping_add(a << 3), fetch32(s, len - 4), mul);
    }
    if len > 0 {
        let a = s[0] as u32;
        let b = s[len >> 1] as u32;
        let c = s[len - 1] as u32;
        let y = a.wrapping_add(b << 8);
        let z = (len as u32).wrapping_add(c << 2);
        return shift_mix((y as u64).wrapping_mul(K2) ^ (z as u64).wrapping_mul(K0))
            .wrapping_mul(K2);
    }
    K2
}

#[inline(always)]
fn hash_len_17_to_32(s: &[u8]) -> u64 {
    let len = s.len();
    let mul = K2.wrapping_add(len as u64 * 2);
    let a = fetch64(s, 0).wrapping_mul(K1);
    let b = fetch64(s, 8);
    let c = fetch64(s, len - 8).wrapping_mul(mul);
    let d = fetch64(s, len - 16).wrapping_mul(K2);
    hash_len16(
        a.wrapping_add(b)
            .rotate_right(43)
            .wrapping_add(c.rotate_right(30))
            .wrapping_add(d),
        a.wrapping_add(b.wrapping_add(K2).rotate_right(18))
            .wrapping_add(c),
        mul,
    )
}

#[inline(always)]
fn hash_len_33_to_64(s: &[u8]) -> u64 {
    let len = s.len();
    let mul = K2.wrapping_add(len as u64 * 2);
    let a = fetch64(s, 0).wrapping_mul(K2);
    let b = fetch64(s, 8);
    let c = fetch64(s, len - 8).wrapping_mul(mul);
    let d = fetch64(s, len - 16).wrapping_mul(K2);
    let y = a
        .wrapping_add(b)
        .rotate_right(43)
        .wrapping_add(c.rotate_right(30))
        .wrapping_add(d);
    let z = hash_len16(
        y,
        a.wrapping_add(b.wrapping_add(K2).rotate_right(18))
            .wrapping_add(c),
        mul,
    );
    let e = fetch64(s, 16).wrapping_mul(mul);
    let f = fetch64(s, 24);
    let g = y.wrapping_add(fetch64(s, len - 32)).wrapping_mul(mul);
    let h = z.wrapping_add(fetch64(s, len - 24)).wrapping_mul(mul);
    hash_len16(
        e.wrapping_add(f)
            .rotate_right(43)
            .wrapping_add(g.rotate_right(30))
            .wrapping_add(h),
        e.wrapping_add(f.wrapping_add(a).rotate_right(18))
            .wrapping_add(g),
        mul,
    )
}

/// `WeakHashLen32WithSeeds` over the 32 bytes at `s[i..]`.
#[inline(always)]
fn weak_hash_len32_with_seeds(s: &[u8], i: usize, a: u64, b: u64) -> (u64, u64) {
    let w = fetch64(s, i);
    let x = fetch64(s, i + 8);
    let y = fetch64(s, i + 16);
    let z = fetch64(s, i + 24);
    let a = a.wrapping_add(w);
    let b = b.wrapping_add(a).wrapping_add(z).rotate_right(21);
    let c = a;
    let a = a.wrapping_add(x).wrapping_add(y);
    let b = b.wrapping_add(a.rotate_right(44));
    (a.wrapping_add(z), b.wrapping_add(c))
}

/// FarmHash `Fingerprint64` of `s` (unsigned). BigQuery's `FARM_FINGERPRINT`
/// is this value reinterpreted as a signed INT64: see [`farm_fingerprint`].
pub fn fingerprint64(s: &[u8]) -> u64 {
    let len = s.len();
    if len <= 16 {
        return hash_len_0_to_16(s);
    }
    if len <= 32 {
        return hash_len_17_to_32(s);
    }
    if len <= 64 {
        return hash_len_33_to_64(s);
    }

    const SEED: u64 = 81;
    let mut x = SEED;
    let mut y = SEED.wrapping_mul(K1).wrapping_add(113);
    let mut z = shift_mix(y.wrapping_mul(K2).wrapping_add(113)).wrapping_mul(K2);
    let mut v = (0u64, 0u64);
    let mut w = (0u64, 0u64);
    x = x.wrapping_mul(K2).wrapping_add(fetch64(s, 0));

    // Whole 64-byte blocks, leaving 1..=64 bytes that the tail re-reads as
    // the last 64 bytes of the input.
    let end = ((len - 1) / 64) * 64;
    let last64 = end + ((len - 1) & 63) - 63;
    let mut i = 0;
    while i != end {
        x = x
            .wrapping_add(y)
            .wrapping_add(v.0)
            .wrapping_add(fetch64(s, i + 8))
            .rotate_right(37)
            .wrapping_mul(K1);
        y = y
            .wrapping_add(v.1)
            .wrapping_add(fetch64(s, i + 48))
            .rotate_right(42)
            .wrapping_mul(K1);
        x ^= w.1;
        y = y.wrapping_add(v.0).wrapping_add(fetch64(s, i + 40));
        z = z.wrapping_add(w.0).rotate_right(33).wrapping_mul(K1);
        v = weak_hash_len32_with_seeds(s, i, v.1.wrapping_mul(K1), x.wrapping_add(w.0));
        w = weak_hash_len32_with_seeds(
            s,
            i + 32,
            z.wrapping_add(w.1),
            y.wrapping_add(fetch64(s, i + 16)),
        );
        std::mem::swap(&mut z, &mut x);
        i += 64;
    }

    let mul = K1.wrapping_add((z & 0xff) << 1);
    let i = last64;
    w.0 = w.0.wrapping_add(((len - 1) & 63) as u64);
    v.0 = v.0.wrapping_add(w.0);
    w.0 = w.0.wrapping_add(v.0);
    x = x
        .wrapping_add(y)
        .wrapping_add(v.0)
        .wrapping_add(fetch64(s, i + 8))
        .rotate_right(37)
        .wrapping_mul(mul);
    y = y
        .wrapping_add(v.1)
        .wrapping_add(fetch64(s, i + 48))
        .rotate_right(42)
        .wrapping_mul(mul);
    x ^= w.1.wrapping_mul(9);
    y = y
        .wrapping_add(v.0.wrapping_mul(9))
        .wrapping_add(fetch64(s, i + 40));
    z = z.wrapping_add(w.0).rotate_right(33).wrapping_mul(mul);
    v = weak_hash_len32_with_seeds(s, i, v.1.wrapping_mul(mul), x.wrapping_add(w.0));
    w = weak_hash_len32_with_seeds(
        s,
        i + 32,
        z.wrapping_add(w.1),
        y.wrapping_add(fetch64(s, i + 16)),
    );
    std::mem::swap(&mut z, &mut x);
    hash_len16(
        hash_len16(v.0, w.0, mul)
            .wrapping_add(shift_mix(y).wrapping_mul(K0))
            .wrapping_add(z),
        hash_len16(v.1, w.1, mul).wrapping_add(x),
        mul,
    )
}

/// [`fingerprint64`] of every row of `buf`, where row `i` is
/// `buf[ends[i - 1]..ends[i]]` (row 0 starts at 0), into `out[i]`.
///
/// On CPUs with AVX-512 (F and DQ), rows over 64 bytes are hashed eight at a
/// time, one per 64-bit lane: their loop is nothing but 64-bit adds, xors,
/// shifts, rotates and low-half multiplies, and the rows are independent.
///
/// # Panics
/// If `ends` decreases or passes the end of `buf`, or `out` is shorter.
pub fn fingerprint64_rows(buf: &[u8], ends: &[usize], out: &mut [u64]) {
    // Each row is checked to be inside `buf` where it is sliced, in the loops
    // below (the lanes read without bounds checks): no pass of its own.
    assert!(
        out.len() >= ends.len(),
        "fingerprint64_rows: out is shorter than ends"
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512dq")
    {
        // SAFETY: the CPU has the features the function is compiled for.
        return unsafe { lanes::fingerprint64_rows(buf, ends, out) };
    }
    fingerprint64_rows_scalar(buf, ends, out)
}

fn fingerprint64_rows_scalar(buf: &[u8], ends: &[usize], out: &mut [u64]) {
    let mut begin = 0;
    for (h, &end) in out.iter_mut().zip(ends) {
        *h = fingerprint64(&buf[begin..end]);
        begin = end;
    }
}

/// Fingerprint64 of rows over 64 bytes in the eight lanes of AVX-512
/// registers: the loop of [`fingerprint64`] step for step, each 64-byte
/// block of the eight rows loaded whole and transposed into its eight words
/// (one gather a word measured slower than the scalar loop).
#[cfg(target_arch = "x86_64")]
mod lanes {
    use std::arch::x86_64::*;

    use super::{fingerprint64, K0, K1, K2};

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn splat(v: u64) -> __m512i {
        _mm512_set1_epi64(v as i64)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn add(a: __m512i, b: __m512i) -> __m512i {
        _mm512_add_epi64(a, b)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn mul(a: __m512i, b: __m512i) -> __m512i {
        _mm512_mullo_epi64(a, b)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn xor(a: __m512i, b: __m512i) -> __m512i {
        _mm512_xor_si512(a, b)
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn shift_mix(v: __m512i) -> __m512i {
        xor(v, _mm512_srli_epi64::<47>(v))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn hash_len16(u: __m512i, v: __m512i, m: __m512i) -> __m512i {
        let a = shift_mix(mul(xor(u, v), m));
        let b = shift_mix(mul(xor(v, a), m));
        mul(b, m)
    }

    /// `WeakHashLen32WithSeeds` of the words `f[0..4]`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn weak_hash_len32_with_seeds(f: &[__m512i], a: __m512i, b: __m512i) -> (__m512i, __m512i) {
        let a = add(a, f[0]);
        let b = _mm512_ror_epi64::<21>(add(add(b, a), f[3]));
        let c = a;
        let a = add(add(a, f[1]), f[2]);
        let b = add(b, _mm512_ror_epi64::<44>(a));
        (add(a, f[3]), add(b, c))
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    fn vec(v: [u64; 8]) -> __m512i {
        // SAFETY: an unaligned load of 64 bytes from an array of 64 bytes.
        unsafe { _mm512_loadu_si512(v.as_ptr() as *const _) }
    }

    /// The eight words of the 64 bytes at `buf[at[l]..]`, lane `l` from row
    /// `l`: each row's block loaded whole, then the 8 x 8 words transposed.
    ///
    /// # Safety
    /// Every `at[l] + 64 <= buf.len()`, and the CPU has AVX-512 F.
    #[inline]
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn fetch_block(buf: &[u8], at: [u64; 8]) -> [__m512i; 8] {
        let r: [__m512i; 8] = std::array::from_fn(|l| {
            // SAFETY: 64 bytes at `at[l]`, inside `buf`.
            unsafe { _mm512_loadu_si512(buf.as_ptr().add(at[l] as usize) as *const _) }
        });
        // Pairs of rows: even words, then odd words.
        let t: [__m512i; 8] = std::array::from_fn(|k| {
            let (a, b) = (r[k & !1], r[k | 1]);
            if k % 2 == 0 {
                _mm512_unpacklo_epi64(a, b)
            } else {
                _mm512_unpackhi_epi64(a, b)
            }
        });
        // Quads of rows: u[0] words 0 and 4, u[1] 1 and 5, u[2] 2 and 6, u[3] 3 and 7.
        let (lo, hi) = (
            vec([0, 1, 8, 9, 4, 5, 12, 13]),
            vec([2, 3, 10, 11, 6, 7, 14, 15]),
        );
        let quad = |base: usize| -> [__m512i; 4] {
            [
                _mm512_permutex2var_epi64(t[base], lo, t[base + 2]),
                _mm512_permutex2var_epi64(t[base + 1], lo, t[base + 3]),
                _mm512_permutex2var_epi64(t[base], hi, t[base + 2]),
                _mm512_permutex2var_epi64(t[base + 1], hi, t[base + 3]),
            ]
        };
        let (u, v) = (quad(0), quad(4));
        let (lo, hi) = (
            vec([0, 1, 2, 3, 8, 9, 10, 11]),
            vec([4, 5, 6, 7, 12, 13, 14, 15]),
        );
        std::array::from_fn(|j| {
            let m = if j < 4 { lo } else { hi };
            _mm512_permutex2var_epi64(u[j % 4], m, v[j % 4])
        })
    }

    /// # Safety
    /// The CPU has AVX-512 F and DQ.
    #[target_feature(enable = "avx512f,avx512dq")]
    pub(super) unsafe fn fingerprint64_rows(buf: &[u8], ends: &[usize], out: &mut [u64]) {
        // Rows over 64 bytes wait here until there are eight.
        let (mut rows, mut waiting) = ([0usize; 8], 0);
        let mut begin = 0;
        for (i, &end) in ends.iter().enumerate() {
            // The slice checks that the row is inside `buf`.
            let row = &buf[begin..end];
            if row.len() <= 64 {
                out[i] = fingerprint64(row);
            } else {
                rows[waiting] = i;
                waiting += 1;
                if waiting == 8 {
                    // SAFETY: the rows are over 64 bytes; the CPU has the features.
                    unsafe { eight_rows(buf, ends, rows, out) };
                    waiting = 0;
                }
            }
            begin = end;
        }
        if waiting > 0 {
            // The empty lanes hash the first row again.
            let first = rows[0];
            rows[waiting..].fill(first);
            // SAFETY: as above.
            unsafe { eight_rows(buf, ends, rows, out) };
        }
    }

    /// # Safety
    /// Each row `rows[l]` of `ends` is over 64 bytes and the CPU has AVX-512
    /// F and DQ.
    #[target_feature(enable = "avx512f,avx512dq")]
    unsafe fn eight_rows(buf: &[u8], ends: &[usize], rows: [usize; 8], out: &mut [u64]) {
        let (mut start, mut len, mut blocks) = ([0u64; 8], [0u64; 8], [0u64; 8]);
        for l in 0..8 {
            let end = ends[rows[l]];
            let begin = if rows[l] == 0 { 0 } else { ends[rows[l] - 1] };
            debug_assert!(end - begin > 64 && end <= buf.len());
            (start[l], len[l]) = (begin as u64, (end - begin) as u64);
            // Whole 64-byte blocks, leaving 1..=64 bytes for the tail.
            blocks[l] = (len[l] - 1) / 64;
        }
        let seed = 81u64;
        // SAFETY: the first 64 bytes of each row are inside it.
        let first = unsafe { fetch_block(buf, start) };
        let mut x = add(splat(seed.wrapping_mul(K2)), first[0]);
        let mut y = splat(seed.wrapping_mul(K1).wrapping_add(113));
        let mut z = splat(
            super::shift_mix(
                seed.wrapping_mul(K1)
                    .wrapping_add(113)
                    .wrapping_mul(K2)
                    .wrapping_add(113),
            )
            .wrapping_mul(K2),
        );
        let (mut v0, mut v1, mut w0, mut w1) = (splat(0), splat(0), splat(0), splat(0));
        let k1 = splat(K1);
        let most = blocks.iter().copied().max().unwrap_or(0);
        for block in 0..most {
            // Lanes whose row has no such block keep their state; they read
            // their first block again, which is inside their row.
            let mut live = 0u8;
            let mut at = [0u64; 8];
            for l in 0..8 {
                if block < blocks[l] {
                    live |= 1 << l;
                    at[l] = 64 * block;
                }
                at[l] += start[l];
            }
            // SAFETY: block `block` of a live row ends at most at its length.
            let f = unsafe { fetch_block(buf, at) };
            let nx = mul(_mm512_ror_epi64::<37>(add(add(add(x, y), v0), f[1])), k1);
            let ny = mul(_mm512_ror_epi64::<42>(add(add(y, v1), f[6])), k1);
            let nx = xor(nx, w1);
            let ny = add(add(ny, v0), f[5]);
            let nz = mul(_mm512_ror_epi64::<33>(add(z, w0)), k1);
            let (nv0, nv1) = weak_hash_len32_with_seeds(&f[..4], mul(v1, k1), add(nx, w0));
            let (nw0, nw1) = weak_hash_len32_with_seeds(&f[4..], add(nz, w1), add(ny, f[2]));
            // The scalar loop swaps x and z at the end of each block.
            x = _mm512_mask_mov_epi64(x, live, nz);
            z = _mm512_mask_mov_epi64(z, live, nx);
            y = _mm512_mask_mov_epi64(y, live, ny);
            v0 = _mm512_mask_mov_epi64(v0, live, nv0);
            v1 = _mm512_mask_mov_epi64(v1, live, nv1);
            w0 = _mm512_mask_mov_epi64(w0, live, nw0);
            w1 = _mm512_mask_mov_epi64(w1, live, nw1);
        }

        // The tail: the last 64 bytes of each row.
        let m = add(k1, _mm512_slli_epi64::<1>(_mm512_and_si512(z, splat(0xff))));
        let rest = vec(std::array::from_fn(|l| (len[l] - 1) & 63));
        // SAFETY: the last 64 bytes of each row are inside it.
        let f = unsafe { fetch_block(buf, std::array::from_fn(|l| start[l] + len[l] - 64)) };
        w0 = add(w0, rest);
        v0 = add(v0, w0);
        w0 = add(w0, v0);
        let nine = splat(9);
        let nx = mul(_mm512_ror_epi64::<37>(add(add(add(x, y), v0), f[1])), m);
        let ny = mul(_mm512_ror_epi64::<42>(add(add(y, v1), f[6])), m);
        let nx = xor(nx, mul(w1, nine));
        let y = add(add(ny, mul(v0, nine)), f[5]);
        let nz = mul(_mm512_ror_epi64::<33>(add(z, w0)), m);
        let (v0, v1) = weak_hash_len32_with_seeds(&f[..4], mul(v1, m), add(nx, w0));
        let (w0, w1) = weak_hash_len32_with_seeds(&f[4..], add(nz, w1), add(y, f[2]));
        let (x, z) = (nz, nx);
        let h = hash_len16(
            add(add(hash_len16(v0, w0, m), mul(shift_mix(y), splat(K0))), z),
            add(hash_len16(v1, w1, m), x),
            m,
        );
        let mut hashes = [0u64; 8];
        // SAFETY: an unaligned store of 64 bytes into an array of 64 bytes.
        unsafe { _mm512_storeu_si512(hashes.as_mut_ptr() as *mut _, h) };
        for l in 0..8 {
            out[rows[l]] = hashes[l];
        }
    }
}

/// BigQuery's `FARM_FINGERPRINT`: [`fingerprint64`] read as a signed INT64.
#[inline]
pub fn farm_fingerprint(s: &[u8]) -> i64 {
    fingerprint64(s) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of every length up to 300 bytes in a pseudo-random order, some
    /// calls with fewer than eight rows over 64 bytes, the last row at the
    /// very end of its buffer: each hashed as `fingerprint64` hashes it alone.
    #[test]
    fn rows_hash_as_they_do_alone() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            state >> 33
        };
        let mut lens: Vec<usize> = (0..=300).collect();
        for i in (1..lens.len()).rev() {
            lens.swap(i, next() as usize % (i + 1));
        }
        for rows in [1, 2, 7, 8, 9, 17, lens.len()] {
            for chunk in lens.chunks(rows) {
                let ends: Vec<usize> = chunk
                    .iter()
                    .scan(0, |end, len| {
                        *end += len;
                        Some(*end)
                    })
                    .collect();
                let buf: Vec<u8> = (0..*ends.last().unwrap()).map(|_| next() as u8).collect();
                let alone: Vec<u64> = ends
                    .iter()
                    .zip(std::iter::once(0).chain(ends.iter().copied()))
                    .map(|(&end, begin)| fingerprint64(&buf[begin..end]))
                    .collect();
                let mut out = vec![0; ends.len()];
                fingerprint64_rows(&buf, &ends, &mut out);
                assert_eq!(out, alone, "row lengths {chunk:?}");
                let mut out = vec![0; ends.len()];
                fingerprint64_rows_scalar(&buf, &ends, &mut out);
                assert_eq!(out, alone, "row lengths {chunk:?}, one at a time");
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512dq")
                {
                    let mut out = vec![0; ends.len()];
                    // SAFETY: the CPU has the features.
                    unsafe { lanes::fingerprint64_rows(&buf, &ends, &mut out) };
                    assert_eq!(out, alone, "row lengths {chunk:?}, in lanes");
                }
            }
        }
    }

    /// The lanes read rows without bounds checks, so rows outside the buffer
    /// must be refused before they get there: a row over 64 bytes that ends
    /// past the buffer, and ends that go back.
    #[test]
    #[should_panic(expected = "out of range")]
    fn rows_past_the_buffer_panic() {
        let ends: Vec<usize> = (1..=8).map(|i| i * 100).collect();
        fingerprint64_rows(&[0; 799], &ends, &mut [0; 8]);
    }

    #[test]
    #[should_panic(expected = "slice index starts at 200 but ends at 100")]
    fn decreasing_row_ends_panic() {
        fingerprint64_rows(&[0; 900], &[100, 200, 100, 900], &mut [0; 4]);
    }

    #[test]
    fn bigquery_documentation_examples() {
        assert_eq!(farm_fingerprint(b"alphabet"), -2427165924636348523);
        assert_eq!(farm_fingerprint(b"1footrue"), -1541654101129638711);
        assert_eq!(farm_fingerprint(b"2applefalse"), 2794438866806483259);
        assert_eq!(farm_fingerprint(b"3true"), -4880158226897771312);
    }
}
