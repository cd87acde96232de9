//! `fingerprint64` against Google's C++ FarmHash on every input length from
//! 0 to 1100 bytes (two random inputs each), 64 KiB and 1 MiB inputs, and
//! every character-boundary prefix of a multi-script UTF-8 text.

mod common;

use mlfusion_udfs::farmhash::farm_fingerprint;

#[test]
fn fingerprint64_matches_google_farmhash() {
    let vectors = common::vectors::load();
    let mut lengths = std::collections::BTreeSet::new();
    for v in &vectors {
        assert_eq!(
            farm_fingerprint(&v.input),
            v.fingerprint,
            "{} input of {} bytes",
            v.kind,
            v.input.len()
        );
        lengths.insert(v.input.len());
    }
    // The file really covers what it claims.
    assert!((0..=1100).all(|l| lengths.contains(&l)));
    assert!(lengths.contains(&(64 * 1024)) && lengths.contains(&(1024 * 1024)));
    let text = vectors.iter().filter(|v| v.kind == "text").count();
    assert!(text > 500, "only {text} text vectors");
    assert!(vectors
        .iter()
        .filter(|v| v.kind == "text")
        .all(|v| std::str::from_utf8(&v.input).is_ok()));
}

#[test]
fn bigquery_documentation_examples() {
    // https://cloud.google.com/bigquery/docs/reference/standard-sql/hash_functions
    for (input, expected) in [
        ("1footrue", -1541654101129638711),
        ("2applefalse", 2794438866806483259),
        ("3true", -4880158226897771312),
        ("alphabet", -2427165924636348523),
    ] {
        assert_eq!(farm_fingerprint(input.as_bytes()), expected, "{input}");
    }
}
