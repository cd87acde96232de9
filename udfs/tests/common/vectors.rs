//! Reads the FarmHash reference vectors that `scripts/gen_farmhash_vectors.py`
//! generated with Google's C++ FarmHash (pyfarmhash), regenerating the inputs
//! the file describes instead of storing them.

use std::collections::HashMap;

/// One input and Google's `Fingerprint64` of it, as a signed INT64.
#[allow(dead_code)] // not every test that includes this module reads every field
pub struct Vector {
    pub kind: String,
    pub input: Vec<u8>,
    pub fingerprint: i64,
}

/// SplitMix64 bytes: each 64-bit output little-endian, truncated to `len`.
pub fn splitmix64_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 8);
    let mut state = seed;
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        out.extend_from_slice(&z.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

pub fn load() -> Vec<Vector> {
    // Embedded: the test binary may run from another checkout than the one
    // that built it (a shared target dir), so no compile-time paths.
    let text = include_str!("../data/farmhash_vectors.tsv");
    let mut corpora: HashMap<String, Vec<u8>> = HashMap::new();
    let mut vectors = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let f: Vec<&str> = line.split('\t').collect();
        let input = match f[0] {
            "corpus" => {
                corpora.insert(f[1].to_string(), hex(f[2]));
                continue;
            }
            "random" => splitmix64_bytes(f[2].parse().expect("seed"), f[1].parse().expect("len")),
            "text" => corpora[f[2]][..f[1].parse::<usize>().expect("len")].to_vec(),
            "repeat" => {
                let corpus = &corpora[f[2]];
                let len: usize = f[1].parse().expect("len");
                corpus.iter().copied().cycle().take(len).collect()
            }
            other => panic!("unknown vector kind {other}"),
        };
        vectors.push(Vector {
            kind: f[0].to_string(),
            input,
            fingerprint: f[3].parse().expect("fingerprint"),
        });
    }
    vectors
}
