//! Object stores made on first use, from the standard environment
//! variables: Azure Blob Storage and ADLS Gen2 URLs (`az://`, `azure://`,
//! `abfs://`, `abfss://`, `adl://`; `AZURE_STORAGE_ACCOUNT_NAME`,
//! `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_SAS_TOKEN`,
//! `AZURE_STORAGE_USE_EMULATOR`, …), and `s3://` (`AWS_*`, including
//! `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP`) and `gs://` (`GOOGLE_*`) URLs
//! that no table has registered yet, such as a model registry's.
//! (datafusion-cli registers the stores of the tables it reads itself, with
//! their `OPTIONS('aws.…')`; those take precedence.)

use std::sync::Arc;

use std::str::FromStr;

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreRegistry;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::ObjectStore;
use url::Url;

const AZURE_SCHEMES: &[&str] = &["az", "azure", "abfs", "abfss", "adl"];

fn is_cloud(url: &Url) -> bool {
    AZURE_SCHEMES.contains(&url.scheme()) || ["s3", "gs"].contains(&url.scheme())
}

/// The object store for `url` (`s3://bucket`, `gs://bucket`, an Azure
/// container): the environment's settings, then `options` in object_store's
/// configuration keys (`aws_endpoint`, `aws_access_key_id`,
/// `aws_allow_http`, `azure_storage_account_name`,
/// `google_service_account`, …).
pub fn cloud_store(url: &Url, options: &[(String, String)]) -> Result<Arc<dyn ObjectStore>> {
    fn keyed<K: FromStr<Err = object_store::Error>>(url: &Url, key: &str) -> Result<K> {
        K::from_str(key).map_err(|_| {
            DataFusionError::Plan(format!(
                "object store options for {url}: unknown option {key:?}; see object_store's \
                 configuration keys for {} (e.g. aws_endpoint, aws_access_key_id, \
                 azure_storage_account_name, google_service_account)",
                url.scheme()
            ))
        })
    }
    Ok(match url.scheme() {
        s if AZURE_SCHEMES.contains(&s) => {
            let mut builder = MicrosoftAzureBuilder::from_env().with_url(url.as_str());
            for (key, value) in options {
                builder = builder.with_config(keyed::<AzureConfigKey>(url, key)?, value);
            }
            Arc::new(builder.build()?)
        }
        "s3" => {
            let mut builder = AmazonS3Builder::from_env().with_url(url.as_str());
            for (key, value) in options {
                builder = builder.with_config(keyed::<AmazonS3ConfigKey>(url, key)?, value);
            }
            Arc::new(builder.build()?)
        }
        "gs" => {
            let mut builder = GoogleCloudStorageBuilder::from_env().with_url(url.as_str());
            for (key, value) in options {
                builder = builder.with_config(keyed::<GoogleConfigKey>(url, key)?, value);
            }
            Arc::new(builder.build()?)
        }
        other => {
            return Err(DataFusionError::Plan(format!(
                "object store for {url}: the scheme {other}:// is not a cloud store; use s3://, \
                 gs://, or an Azure scheme ({})",
                AZURE_SCHEMES.join(", ")
            )))
        }
    })
}

/// Wraps a registry: URLs it has no store for get an Azure store when their
/// scheme is Azure's.
#[derive(Debug)]
pub struct CloudObjectStoreRegistry {
    inner: Arc<dyn ObjectStoreRegistry>,
}

impl CloudObjectStoreRegistry {
    pub fn new(inner: Arc<dyn ObjectStoreRegistry>) -> Self {
        Self { inner }
    }
}

impl ObjectStoreRegistry for CloudObjectStoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.inner.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.inner.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        match self.inner.get_store(url) {
            Err(e) => {
                if !is_cloud(url) {
                    return Err(e);
                }
                let store = cloud_store(url, &[])?;
                self.inner.register_store(url, Arc::clone(&store));
                Ok(store)
            }
            ok => ok,
        }
    }
}
