//! One interface over every model type. An [`Estimator`] fits parameters on
//! encoded inputs and their targets; the fitted [`crate::Model`] predicts
//! ([`crate::Model::predict_matrix`]); a model type's [`Task`] says what its
//! targets are, which metrics judge it and which one tuning optimizes by
//! default. A new model type is a new `Estimator` and a line in
//! [`ModelType::estimator`]; the SQL layer calls nothing else.

use crate::hyperparameters::Hyperparameters;
use crate::preprocess::Matrix;
use crate::{boosted, kmeans, linear, metrics, ModelType, Params};

/// What a model type learns to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    /// Predict a number: targets are the label's values.
    Regression,
    /// Predict a class: targets are each row's index among the label's
    /// classes (in ascending order of the values).
    Classification,
    /// Group rows without a label: no targets.
    Clustering,
}

impl Task {
    /// The metrics that judge a model of this task, in ML.EVALUATE's column
    /// order.
    pub fn metrics(self) -> &'static [&'static str] {
        match self {
            Self::Regression => metrics::REGRESSION,
            Self::Classification => metrics::CLASSIFICATION,
            Self::Clustering => metrics::KMEANS,
        }
    }

    /// The metric tuning and deployment optimize by default: R², ROC AUC
    /// and the Davies–Bouldin index, as BigQuery ML.
    pub fn default_objective(self) -> &'static str {
        match self {
            Self::Regression => "r2_score",
            Self::Classification => "roc_auc",
            Self::Clustering => "davies_bouldin_index",
        }
    }

    /// Whether the task learns from a label.
    pub fn is_supervised(self) -> bool {
        self != Self::Clustering
    }
}

/// The encoded rows an estimator learns from, in canonical order.
pub struct TrainingData<'a> {
    pub x: &'a Matrix,
    /// Regression targets or class indices; empty for clustering.
    pub y: &'a [f64],
    /// The number of classes (0 unless classifying).
    pub classes: usize,
    /// The (first column, width) of each one-hot encoded input in `x`.
    pub one_hot_blocks: &'a [(usize, usize)],
}

/// What fitting gives: the parameters, and the raw scores of the training
/// rows when fitting computed them (boosted trees do), exactly as predicting
/// them again gives them.
pub struct Fitted {
    pub params: Params,
    pub training_raw: Option<Vec<f64>>,
}

/// Fits one model type's parameters. `progress` is called with each
/// iteration and its objective; returning false stops the fit early (a
/// cancelled query).
pub trait Estimator: Sync {
    fn fit(
        &self,
        data: &TrainingData,
        hyper: &Hyperparameters,
        progress: &mut dyn FnMut(usize, f64) -> bool,
    ) -> Fitted;
}

impl ModelType {
    /// What the model type learns to do.
    pub fn task(self) -> Task {
        match self {
            Self::LinearReg | Self::BoostedTreeRegressor => Task::Regression,
            Self::LogisticReg | Self::BoostedTreeClassifier => Task::Classification,
            Self::Kmeans => Task::Clustering,
        }
    }

    /// The model type's estimator.
    pub fn estimator(self) -> &'static dyn Estimator {
        match self {
            Self::LinearReg => &LinearRegression,
            Self::LogisticReg => &LogisticRegression,
            Self::BoostedTreeRegressor | Self::BoostedTreeClassifier => &BoostedTrees,
            Self::Kmeans => &KMeans,
        }
    }
}

struct LinearRegression;
struct LogisticRegression;
struct BoostedTrees;
struct KMeans;

impl Estimator for LinearRegression {
    fn fit(
        &self,
        data: &TrainingData,
        hyper: &Hyperparameters,
        progress: &mut dyn FnMut(usize, f64) -> bool,
    ) -> Fitted {
        let fit = linear::fit_linear(
            data.x,
            data.y,
            &hyper.penalty(),
            hyper.max_iterations(),
            progress,
        );
        Fitted {
            params: Params::Linear {
                coef: fit.coef[0].clone(),
                intercept: fit.intercept[0],
            },
            training_raw: None,
        }
    }
}

impl Estimator for LogisticRegression {
    fn fit(
        &self,
        data: &TrainingData,
        hyper: &Hyperparameters,
        progress: &mut dyn FnMut(usize, f64) -> bool,
    ) -> Fitted {
        let fit = linear::fit_logistic(
            data.x,
            data.y,
            data.classes,
            &hyper.penalty(),
            hyper.max_iterations(),
            progress,
        );
        Fitted {
            params: Params::Logistic {
                coef: fit.coef,
                intercept: fit.intercept,
            },
            training_raw: None,
        }
    }
}

impl Estimator for BoostedTrees {
    fn fit(
        &self,
        data: &TrainingData,
        hyper: &Hyperparameters,
        progress: &mut dyn FnMut(usize, f64) -> bool,
    ) -> Fitted {
        let (ensemble, raw) = boosted::fit(
            data.x,
            data.y,
            data.classes,
            &hyper.trees(),
            data.one_hot_blocks,
            progress,
        );
        Fitted {
            params: Params::Boosted(ensemble),
            training_raw: Some(raw),
        }
    }
}

impl Estimator for KMeans {
    fn fit(
        &self,
        data: &TrainingData,
        hyper: &Hyperparameters,
        progress: &mut dyn FnMut(usize, f64) -> bool,
    ) -> Fitted {
        // BigQuery ML's default: log10 of the rows, at least two clusters.
        let k = hyper
            .num_clusters()
            .unwrap_or_else(|| ((data.x.rows as f64).log10().round() as usize).max(2));
        Fitted {
            params: Params::Kmeans {
                centroids: kmeans::fit(data.x, k, hyper.max_iterations(), progress),
            },
            training_raw: None,
        }
    }
}
