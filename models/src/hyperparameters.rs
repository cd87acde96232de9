//! The hyperparameters of each model type: what values are valid, the
//! defaults (BigQuery ML's), and the values a training run uses. `ml_train`
//! reads them from its options; `ml_tune` searches them.

use std::collections::BTreeMap;

use crate::{plan_err, Result};

use super::boosted;
use super::linear::Penalty;
use super::ModelType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Integer,
    Number,
}

/// One hyperparameter and its valid values.
#[derive(Debug)]
pub struct Hyperparameter {
    pub key: &'static str,
    pub kind: Kind,
    /// The least valid value (excluded when `min_exclusive`).
    pub min: f64,
    pub min_exclusive: bool,
    /// The greatest valid value.
    pub max: f64,
}

const fn number(key: &'static str, min: f64) -> Hyperparameter {
    Hyperparameter {
        key,
        kind: Kind::Number,
        min,
        min_exclusive: false,
        max: f64::INFINITY,
    }
}

const fn integer(key: &'static str, min: f64) -> Hyperparameter {
    Hyperparameter {
        key,
        kind: Kind::Integer,
        min,
        min_exclusive: false,
        max: u32::MAX as f64,
    }
}

const L1_REG: Hyperparameter = number("l1_reg", 0.0);
const L2_REG: Hyperparameter = number("l2_reg", 0.0);
const MAX_ITERATIONS: Hyperparameter = integer("max_iterations", 1.0);
const MAX_CATEGORIES: Hyperparameter = integer("max_categories", 1.0);
const MAX_DEPTH: Hyperparameter = integer("max_depth", 1.0);
const LEARNING_RATE: Hyperparameter = Hyperparameter {
    key: "learning_rate",
    kind: Kind::Number,
    min: 0.0,
    min_exclusive: true,
    max: 1.0,
};
const MIN_SPLIT_LOSS: Hyperparameter = number("min_split_loss", 0.0);
const MIN_CHILD_WEIGHT: Hyperparameter = number("min_child_weight", 0.0);
const NUM_CLUSTERS: Hyperparameter = integer("num_clusters", 2.0);

const LINEAR: &[Hyperparameter] = &[L1_REG, L2_REG, MAX_ITERATIONS, MAX_CATEGORIES];
const BOOSTED: &[Hyperparameter] = &[
    L2_REG,
    MAX_ITERATIONS,
    MAX_CATEGORIES,
    MAX_DEPTH,
    LEARNING_RATE,
    MIN_SPLIT_LOSS,
    MIN_CHILD_WEIGHT,
];
const KMEANS: &[Hyperparameter] = &[NUM_CLUSTERS, MAX_ITERATIONS, MAX_CATEGORIES];

/// The hyperparameters of a model type, in the order its docs list them.
pub fn of(model_type: ModelType) -> &'static [Hyperparameter] {
    match model_type {
        ModelType::LinearReg | ModelType::LogisticReg => LINEAR,
        ModelType::BoostedTreeRegressor | ModelType::BoostedTreeClassifier => BOOSTED,
        ModelType::Kmeans => KMEANS,
    }
}

/// The search space when the options search no hyperparameter, after
/// BigQuery ML's default spaces (docs/models.md lists them).
pub fn default_space(model_type: ModelType) -> &'static [(&'static str, &'static str)] {
    match model_type {
        ModelType::LinearReg | ModelType::LogisticReg => {
            &[("l1_reg", "range(0, 10)"), ("l2_reg", "range(0, 10)")]
        }
        ModelType::BoostedTreeRegressor | ModelType::BoostedTreeClassifier => &[
            ("l2_reg", "range(0, 10)"),
            ("max_depth", "range(1, 10)"),
            ("learning_rate", "range(0.01, 1, log)"),
            ("min_split_loss", "range(0, 10)"),
            ("min_child_weight", "range(0, 20)"),
        ],
        ModelType::Kmeans => &[("num_clusters", "range(2, 10)")],
    }
}

/// The hyperparameter `key` of a model type, if it has one.
pub fn find(model_type: ModelType, key: &str) -> Option<&'static Hyperparameter> {
    of(model_type).iter().find(|h| h.key == key)
}

/// Every hyperparameter key of every model type, each once.
pub fn all_keys() -> Vec<&'static str> {
    let mut keys = Vec::new();
    for h in [LINEAR, BOOSTED, KMEANS].into_iter().flatten() {
        if !keys.contains(&h.key) {
            keys.push(h.key);
        }
    }
    keys
}

impl Hyperparameter {
    pub fn is_valid(&self, value: f64) -> bool {
        let above_min = if self.min_exclusive {
            value > self.min
        } else {
            value >= self.min
        };
        value.is_finite()
            && above_min
            && value <= self.max
            && (self.kind == Kind::Number || value.fract() == 0.0)
    }

    /// What a valid value is, for messages: "an integer of at least 1".
    pub fn expected(&self) -> String {
        match self.kind {
            Kind::Integer => format!("an integer of at least {}", self.min),
            Kind::Number if self.max.is_finite() => {
                let open = if self.min_exclusive { '(' } else { '[' };
                format!("a number in {open}{}, {}]", self.min, self.max)
            }
            Kind::Number => format!("a number of at least {}", self.min),
        }
    }

    /// Reads a number as written for this hyperparameter: an integer is
    /// written as one (`6`, not `6.0`).
    pub fn read(&self, text: &str) -> Option<f64> {
        let text = text.trim();
        let value = match self.kind {
            Kind::Integer => text.parse::<u32>().ok()? as f64,
            Kind::Number => text.parse::<f64>().ok()?,
        };
        self.is_valid(value).then_some(value)
    }

    /// Reads a value written in an option.
    pub fn parse(&self, function: &str, text: &str) -> Result<f64> {
        match self.read(text) {
            Some(v) => Ok(v),
            None => plan_err!(
                "{function}: option {}={text} is not valid; give {}",
                self.key,
                self.expected()
            ),
        }
    }
}

/// The values one training run uses: those given, the rest at their
/// defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Hyperparameters {
    pub model_type: ModelType,
    /// Values given (or chosen by a search), by key.
    pub given: BTreeMap<&'static str, f64>,
}

impl Hyperparameters {
    pub fn new(model_type: ModelType) -> Self {
        Self {
            model_type,
            given: BTreeMap::new(),
        }
    }

    /// The value of `key`: given, or else the default (BigQuery ML's:
    /// boosted trees have 20 rounds of depth 6 at learning rate 0.3 with
    /// l2_reg 1). `num_clusters` has none: it depends on the row count.
    pub fn value(&self, key: &str) -> Option<f64> {
        if let Some(v) = self.given.get(key) {
            return Some(*v);
        }
        let boosted = self.model_type.is_boosted();
        match key {
            "l1_reg" | "min_split_loss" => Some(0.0),
            "l2_reg" => Some(if boosted { 1.0 } else { 0.0 }),
            "max_iterations" => Some(if boosted || self.model_type == ModelType::Kmeans {
                20.0
            } else {
                100.0
            }),
            "max_categories" => Some(100.0),
            "max_depth" => Some(6.0),
            "learning_rate" => Some(0.3),
            "min_child_weight" => Some(1.0),
            _ => None,
        }
    }

    fn count(&self, key: &str) -> usize {
        self.value(key).unwrap_or(0.0) as usize
    }

    pub fn max_iterations(&self) -> usize {
        self.count("max_iterations")
    }

    pub fn max_categories(&self) -> usize {
        self.count("max_categories")
    }

    pub fn num_clusters(&self) -> Option<usize> {
        self.value("num_clusters").map(|k| k as usize)
    }

    pub fn penalty(&self) -> Penalty {
        Penalty {
            l1: self.value("l1_reg").unwrap_or(0.0),
            l2: self.value("l2_reg").unwrap_or(0.0),
        }
    }

    pub fn trees(&self) -> boosted::Settings {
        boosted::Settings {
            rounds: self.max_iterations(),
            max_depth: self.count("max_depth"),
            learning_rate: self.value("learning_rate").unwrap_or(0.3),
            l2: self.value("l2_reg").unwrap_or(1.0),
            min_split_loss: self.value("min_split_loss").unwrap_or(0.0),
            min_child_weight: self.value("min_child_weight").unwrap_or(1.0),
        }
    }

    /// The model type's hyperparameters with their values, as text: what a
    /// model and its registry entry record (`num_clusters` only when set).
    pub fn recorded(&self) -> BTreeMap<String, String> {
        of(self.model_type)
            .iter()
            .filter_map(|h| Some((h.key.to_string(), self.value(h.key)?.to_string())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_default_as_bigquery_and_check_their_range() {
        let mut h = Hyperparameters::new(ModelType::BoostedTreeClassifier);
        assert_eq!(h.trees().rounds, 20);
        assert_eq!(h.trees().l2, 1.0);
        h.given.insert("max_depth", 3.0);
        assert_eq!(h.trees().max_depth, 3);
        assert_eq!(h.recorded()["learning_rate"], "0.3");
        assert!(!h.recorded().contains_key("l1_reg"));
        let k = Hyperparameters::new(ModelType::Kmeans);
        assert_eq!(k.num_clusters(), None);
        assert!(!k.recorded().contains_key("num_clusters"));
        assert_eq!(k.max_iterations(), 20);

        assert!(!LEARNING_RATE.is_valid(0.0));
        assert!(LEARNING_RATE.is_valid(1.0));
        assert!(!MAX_DEPTH.is_valid(2.5));
        assert_eq!(LEARNING_RATE.expected(), "a number in (0, 1]");
        let err = NUM_CLUSTERS.parse("f", "1").unwrap_err().to_string();
        assert!(
            err.contains("f: option num_clusters=1 is not valid; give an integer of at least 2")
        );
    }
}
