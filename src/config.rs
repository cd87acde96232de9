//! mlfusion's session settings, set with `SET mlfusion.<key> = <value>`.

use datafusion::common::extensions_options;
use datafusion::config::ConfigExtension;

extensions_options! {
    /// Settings of mlfusion's table functions.
    pub struct MlfusionOptions {
        /// Where models are stored: a local folder or an object store URL
        /// (`s3://bucket/models`).
        pub registry: String, default = "./mlfusion_registry".to_string()
    }
}

impl ConfigExtension for MlfusionOptions {
    const PREFIX: &'static str = "mlfusion";
}
