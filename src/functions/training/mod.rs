//! `ml_train`, `ml_tune` and `ml_trials`, over what they share
//! (`shared`, and `eval_split`: the rows held out for evaluation).

mod eval_split;
mod shared;
mod train;
mod tune;

pub use train::MlTrain;
pub use tune::{MlTrials, MlTune};
