//! Object stores made on first use, from the standard environment
//! variables: Azure Blob Storage and ADLS Gen2 URLs (`az://`, `azure://`,
//! `abfs://`, `abfss://`, `adl://`; `AZURE_STORAGE_ACCOUNT_NAME`,
//! `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_SAS_TOKEN`,
//! `AZURE_STORAGE_USE_EMULATOR`, …), and `s3://` (`AWS_*`, including
//! `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP`) and `gs://` (`GOOGLE_*`) URLs
//! that no table has registered yet, such as a model registry's.
//! (datafusion-cli registers the stores of the tables it reads itself, with
//! their `OPTIONS('aws.…')`; those take precedence.)

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreRegistry;
use futures::stream::BoxStream;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};
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

/// Wraps a registry: `file://` URLs get [`LocalFiles`] until a store is
/// registered for them, and URLs it has no store for get a cloud store when
/// their scheme is a cloud's.
#[derive(Debug)]
pub struct CloudObjectStoreRegistry {
    inner: Arc<dyn ObjectStoreRegistry>,
    local: Arc<dyn ObjectStore>,
    local_replaced: AtomicBool,
}

impl CloudObjectStoreRegistry {
    pub fn new(inner: Arc<dyn ObjectStoreRegistry>) -> Self {
        Self {
            inner,
            local: Arc::new(LocalFiles::default()),
            local_replaced: AtomicBool::new(false),
        }
    }
}

impl ObjectStoreRegistry for CloudObjectStoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        if url.scheme() == "file" {
            self.local_replaced.store(true, Ordering::Relaxed);
        }
        self.inner.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.inner.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        // Not registered in `inner`: datafusion-cli's registry wraps what is
        // registered through it in a store that reads ranges one by one.
        if url.scheme() == "file" && !self.local_replaced.load(Ordering::Relaxed) {
            return Ok(Arc::clone(&self.local));
        }
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

/// The local file system, reading byte ranges into buffers that are not
/// zero-filled first.
///
/// `LocalFileSystem::get_ranges` fills each buffer with zeros, then reads
/// over them. A Parquet scan reads every column chunk it decodes that way,
/// and the fill alone took about 3% of the CPU of a query that hashes every
/// row of a 5M-row table. Everything else is `LocalFileSystem`'s own.
#[derive(Debug, Default)]
pub struct LocalFiles {
    fs: LocalFileSystem,
}

impl fmt::Display for LocalFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalFiles({})", self.fs)
    }
}

/// Every byte of `ranges` of the file at `path`, or `None` if any is
/// missing (no such file, a range past its end, an I/O error).
fn read_ranges(path: &std::path::Path, ranges: &[Range<u64>]) -> Option<Vec<Bytes>> {
    let mut file = File::open(path).ok()?;
    ranges
        .iter()
        .map(|range| {
            let len = range.end.checked_sub(range.start)?;
            let mut buf = Vec::with_capacity(usize::try_from(len).ok()?);
            file.seek(SeekFrom::Start(range.start)).ok()?;
            // `read_to_end` reads into the vector's spare capacity as it is.
            (&mut file).take(len).read_to_end(&mut buf).ok()?;
            (buf.len() as u64 == len).then(|| Bytes::from(buf))
        })
        .collect()
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl ObjectStore for LocalFiles {
    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        let path = self.fs.path_to_filesystem(location)?;
        let owned = ranges.to_vec();
        match tokio::task::spawn_blocking(move || read_ranges(&path, &owned)).await {
            Ok(Some(bytes)) => Ok(bytes),
            // LocalFileSystem reads them again, and names what is wrong.
            _ => self.fs.get_ranges(location, ranges).await,
        }
    }

    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.fs.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.fs.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.fs.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.fs.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.fs.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.fs.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.fs.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.fs.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.fs.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use datafusion::execution::object_store::DefaultObjectStoreRegistry;

    use super::*;

    /// A file of `len` pseudo-random bytes, and its object store path.
    fn scratch_file(name: &str, len: usize) -> (std::path::PathBuf, Path) {
        let dir = std::env::temp_dir().join(format!("mlfusion-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let file = dir.join("data.bin");
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(&file, bytes).expect("scratch file");
        let location = Path::from_filesystem_path(&file).expect("a path");
        (dir, location)
    }

    #[tokio::test]
    async fn local_ranges_read_what_the_file_system_reads() {
        let (dir, location) = scratch_file("local-ranges", 100_000);
        let ranges = [
            0..10,
            5..70_000,
            99_990..100_000,
            100_000..100_000,
            0..0,
            123..124,
        ];
        let ours = LocalFiles::default().get_ranges(&location, &ranges).await;
        let theirs = LocalFileSystem::new().get_ranges(&location, &ranges).await;
        let (ours, theirs) = (ours.expect("read"), theirs.expect("read"));
        assert_eq!(ours.len(), ranges.len());
        assert_eq!(ours, theirs);
        assert_eq!(ours[1].len(), 69_995);
        // Read by `read_ranges` itself, not by the fallback.
        assert_eq!(read_ranges(&dir.join("data.bin"), &ranges), Some(theirs));
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[tokio::test]
    #[allow(clippy::single_range_in_vec_init)] // lists of one byte range, as meant
    async fn local_range_errors_are_the_file_systems() {
        let (dir, location) = scratch_file("local-range-errors", 1_000);
        let missing = Path::from_filesystem_path(&dir)
            .expect("a path")
            .join("missing.bin");
        for (location, ranges) in [
            (&location, &[0..10, 990..1_001][..]),
            (&location, &[2_000..2_010][..]),
            (&missing, &[0..10][..]),
        ] {
            let path = LocalFileSystem::new()
                .path_to_filesystem(location)
                .expect("a path");
            assert_eq!(read_ranges(&path, ranges), None);
            let ours = LocalFiles::default().get_ranges(location, ranges).await;
            let theirs = LocalFileSystem::new().get_ranges(location, ranges).await;
            let (ours, theirs) = (ours.expect_err("fails"), theirs.expect_err("fails"));
            assert_eq!(ours.to_string(), theirs.to_string());
        }
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn file_urls_get_local_files_until_a_store_is_registered() {
        let registry = CloudObjectStoreRegistry::new(Arc::new(DefaultObjectStoreRegistry::new()));
        let url = Url::parse("file:///").expect("a URL");
        let store = registry.get_store(&url).expect("a store");
        assert!(store.to_string().starts_with("LocalFiles("), "{store}");
        registry.register_store(&url, Arc::new(LocalFileSystem::new()));
        let store = registry.get_store(&url).expect("a store");
        assert!(store.to_string().starts_with("LocalFileSystem("), "{store}");
    }
}
