//! What the table functions share: their arguments and options, sources,
//! the acting-table machinery, and output columns.

pub(crate) mod action;
pub(crate) mod args;
pub(crate) mod model_args;
pub(crate) mod options;
pub(crate) mod schemas;
pub(crate) mod source;
pub(crate) mod splits;
