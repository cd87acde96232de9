//! `ml_train`, `ml_tune` and `ml_trials`, over what they share
//! (`shared`).

mod shared;
mod train;
mod tune;

pub use train::MlTrain;
pub use tune::{MlTrials, MlTune};
