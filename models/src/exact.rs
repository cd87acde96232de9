//! Floats in model artifacts as decimal strings ("0.1", "-3.25e-7"): Rust
//! writes the shortest string that reads back to the same f64 and reads it
//! back exactly, whereas serde_json's default number parser may miss by one
//! unit in the last place (its exact mode is a crate-wide feature that
//! would rebuild DataFusion). A reloaded model is the trained model, bit for
//! bit, so tree thresholds that equal training values keep their rows.
//!
//! Use as `#[serde(with = "exact")]` on f64, `Option<f64>`, `Vec<f64>` and
//! `Vec<Vec<f64>>` fields.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub trait Exact: Sized {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error>;
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error>;
}

fn parse<E: serde::de::Error>(text: &str) -> Result<f64, E> {
    text.parse()
        .map_err(|_| E::custom(format!("not a number: {text:?}")))
}

impl Exact for f64 {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        parse(&String::deserialize(d)?)
    }
}

impl Exact for Option<f64> {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.map(|v| v.to_string()).serialize(s)
    }
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| parse(&t))
            .transpose()
    }
}

impl Exact for Vec<f64> {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.iter()
            .map(f64::to_string)
            .collect::<Vec<_>>()
            .serialize(s)
    }
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| parse::<D::Error>(t))
            .collect()
    }
}

impl Exact for Vec<Vec<f64>> {
    fn write<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.iter()
            .map(|row| row.iter().map(f64::to_string).collect::<Vec<_>>())
            .collect::<Vec<_>>()
            .serialize(s)
    }
    fn read<'de, D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<Vec<String>>::deserialize(d)?
            .iter()
            .map(|row| row.iter().map(|t| parse::<D::Error>(t)).collect())
            .collect()
    }
}

pub fn serialize<T: Exact, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    value.write(s)
}

pub fn deserialize<'de, T: Exact, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    T::read(d).map_err(|e| D::Error::custom(e.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn floats_read_back_bit_for_bit() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct T {
            #[serde(with = "super")]
            v: Vec<f64>,
        }
        // Values whose shortest decimal form serde_json's fast parser can
        // misread, plus extremes.
        let mut v = vec![0.1 + 0.2, 1e-300, -2.5e-310, f64::MAX, -0.0, 1.0 / 3.0];
        let mut x = 0.123_456_789_f64;
        for _ in 0..10_000 {
            x = (x * 7.0 + 0.271_828_3).fract() * 6.0 - 3.0;
            v.push(x);
        }
        let json = serde_json::to_string(&T { v: v.clone() }).expect("write");
        let back: T = serde_json::from_str(&json).expect("read");
        for (a, b) in v.iter().zip(&back.v) {
            assert_eq!(a.to_bits(), b.to_bits(), "{a} read back as {b}");
        }
    }
}
