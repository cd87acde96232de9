// The `mlfusion` command: the datafusion-cli REPL and flags with every
// mlfusion function registered.
//
// Adapted from datafusion-cli 55.2.0's `main.rs` (Apache License 2.0,
// Copyright The Apache Software Foundation): the same flags and behaviour,
// plus mlfusion's functions, its version banner and its rc file.

use std::collections::HashMap;
use std::env;
use std::num::NonZeroUsize;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, LazyLock};

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionConfig;
use datafusion::execution::memory_pool::{
    FairSpillPool, GreedyMemoryPool, MemoryPool, TrackConsumersPool,
};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::ExplainFormat;
use datafusion::prelude::SessionContext;
use datafusion_cli::catalog::DynamicObjectStoreCatalog;
use datafusion_cli::functions::{
    ListFilesCacheFunc, MetadataCacheFunc, ParquetMetadataFunc, StatisticsCacheFunc,
};
use datafusion_cli::object_storage::instrumented::{
    InstrumentedObjectStoreMode, InstrumentedObjectStoreRegistry,
};
use datafusion_cli::object_storage::{is_stdin_location, StdinCarriesCommands};
use datafusion_cli::{
    exec,
    pool_type::PoolType,
    print_format::PrintFormat,
    print_options::{MaxRows, PrintOptions},
};

use clap::Parser;
use datafusion::common::config_err;
use datafusion::config::ConfigOptions;
use datafusion::execution::disk_manager::DiskManagerMode;
use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// `mi_option_purge_delay`: its index in mimalloc 3's `mi_option_e`, which
/// libmimalloc-sys does not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Memory freed by a query stays with the process for 10 s before mimalloc
/// returns it to the OS, not 1 s. A query over a 5M-row Parquet file reads
/// about 250 MB into buffers that it frees as it goes; memory returned
/// between two queries comes back as fresh pages that the kernel zeroes
/// again on first touch: 2-5% of the wall time of back-to-back queries.
/// Not under `--memory-limit`: keeping memory raised the peak RSS of a
/// spilling `ml_split` by 10-15%. `MIMALLOC_PURGE_DELAY` still overrides this
/// default.
fn keep_freed_memory() {
    // SAFETY: sets one integer option; called before any other thread runs.
    unsafe { libmimalloc_sys::mi_option_set_default(MI_OPTION_PURGE_DELAY, 10_000) }
}

/// Keeps freed memory (see [`keep_freed_memory`]) unless `args` (those of
/// the SQL CLI; `None` for a cluster process) set a memory limit.
fn set_up_allocator(args: Option<&Args>) {
    if args.is_none_or(|args| args.memory_limit.is_none()) {
        keep_freed_memory();
    }
}

/// `mlfusion --version`: mlfusion's and DataFusion's versions.
fn version() -> &'static str {
    static VERSION: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{} (DataFusion {})",
            mlfusion::MLFUSION_VERSION,
            datafusion::DATAFUSION_VERSION
        )
    });
    &VERSION
}

#[derive(Debug, Parser, PartialEq)]
/// mlfusion: reproducible ML data work as SQL (the datafusion-cli REPL with
/// mlfusion's functions).
#[clap(
    name = "mlfusion",
    version = version(),
    about,
    long_about = None,
    after_help = "Ballista cluster processes: `mlfusion scheduler --help`, `mlfusion executor --help`"
)]
struct Args {
    #[clap(
        short = 'p',
        long,
        help = "Path to your data, default to current directory",
        value_parser(parse_valid_data_dir)
    )]
    data_path: Option<String>,

    #[clap(
        short = 'b',
        long,
        help = "The batch size of each query, or use DataFusion default",
        value_parser(parse_batch_size)
    )]
    batch_size: Option<usize>,

    #[clap(
        short = 'c',
        long,
        num_args = 0..,
        help = "Execute the given command string(s), then exit. Commands are expected to be non empty.",
        value_parser(parse_command)
    )]
    command: Vec<String>,

    #[clap(
        short = 'm',
        long,
        help = "The memory pool limitation (e.g. '10g'), default to None (no limit)",
        value_parser(extract_memory_pool_size)
    )]
    memory_limit: Option<usize>,

    #[clap(
        short,
        long,
        num_args = 0..,
        help = "Execute commands from file(s), then exit",
        value_parser(parse_valid_file)
    )]
    file: Vec<String>,

    #[clap(
        short = 'r',
        long,
        num_args = 0..,
        help = "Run the provided files on startup instead of ~/.mlfusionrc",
        value_parser(parse_valid_file),
        conflicts_with = "file"
    )]
    rc: Option<Vec<String>>,

    #[clap(long, value_enum, default_value_t = PrintFormat::Automatic)]
    format: PrintFormat,

    #[clap(
        short,
        long,
        help = "Reduce printing other than the results and work quietly"
    )]
    quiet: bool,

    // Fair by default (datafusion-cli's default is greedy): under a memory
    // limit, ml_split's balanced method repartitions and sorts at once, and a
    // greedy pool lets the repartition take what the sort needs to spill
    // (measured in benches/README.md).
    #[clap(
        long,
        help = "Specify the memory pool type 'greedy' or 'fair' (mlfusion's default: fair)",
        default_value_t = PoolType::Fair
    )]
    mem_pool_type: PoolType,

    #[clap(
        long,
        help = "The number of top memory consumers to display when query fails due to memory exhaustion. To disable memory consumer tracking, set this value to 0",
        default_value = "3"
    )]
    top_memory_consumers: usize,

    #[clap(
        long,
        help = "The max number of rows to display for 'Table' format\n[possible values: numbers(0/10/...), inf(no limit)]",
        default_value = "40"
    )]
    maxrows: MaxRows,

    #[clap(long, help = "Enables console syntax highlighting")]
    color: bool,

    #[clap(
        short = 'd',
        long,
        help = "Available disk space for spilling queries (e.g. '10g'), default to None (uses DataFusion's default value of '100g')",
        value_parser(extract_disk_limit)
    )]
    disk_limit: Option<usize>,

    #[clap(
        long,
        help = "Specify the default object_store_profiling mode, defaults to 'disabled'.\n[possible values: disabled, summary, trace]",
        default_value_t = InstrumentedObjectStoreMode::Disabled
    )]
    object_store_profiling: InstrumentedObjectStoreMode,

    #[clap(
        long,
        value_name = "URL",
        help = "Run queries on the Apache DataFusion Ballista cluster whose scheduler is at URL (df://host:port); start one with `mlfusion scheduler` and `mlfusion executor`"
    )]
    ballista: Option<String>,
}

/// `mlfusion scheduler`: a Ballista scheduler with every mlfusion function.
#[derive(Debug, Parser)]
#[clap(name = "mlfusion scheduler", bin_name = "mlfusion scheduler", version = version())]
struct SchedulerArgs {
    #[clap(
        long,
        default_value = "127.0.0.1:50050",
        help = "The address (host:port) to listen on"
    )]
    bind: std::net::SocketAddr,

    #[clap(
        long,
        help = "The host executors and clients reach this scheduler at (default: the bind host)"
    )]
    external_host: Option<String>,
}

/// `mlfusion executor`: a Ballista executor with every mlfusion function.
#[derive(Debug, Parser)]
#[clap(name = "mlfusion executor", bin_name = "mlfusion executor", version = version())]
struct ExecutorArgs {
    #[clap(
        long,
        default_value = "127.0.0.1:50050",
        help = "The scheduler's address (host:port)"
    )]
    scheduler: String,

    #[clap(
        long,
        default_value = "127.0.0.1:50051",
        help = "The address (host:port) to serve results on (Arrow Flight)"
    )]
    bind: std::net::SocketAddr,

    #[clap(
        long,
        default_value_t = 50052,
        help = "The port the scheduler sends tasks to (gRPC)"
    )]
    grpc_port: u16,

    #[clap(
        long,
        help = "The host the scheduler and other executors reach this executor at (default: the bind host)"
    )]
    external_host: Option<String>,

    #[clap(
        long,
        help = "The folder for shuffle files and spills (default: a temporary folder)"
    )]
    work_dir: Option<String>,

    #[clap(
        long,
        help = "How many tasks to run at once (default: the number of cores)"
    )]
    concurrent_tasks: Option<usize>,
}

impl Args {
    /// Without -c/-f the CLI enters the REPL, which reads its SQL from
    /// stdin — interactively or piped.
    fn repl_mode(&self) -> bool {
        self.command.is_empty() && self.file.is_empty()
    }

    /// Whether the CLI consumes stdin for its own SQL input. This covers the
    /// REPL (no -c/-f, reading SQL interactively or piped) as well as an
    /// explicit `-f /dev/stdin` (or the other stdin pseudo-paths), where the
    /// SQL file *is* stdin. In either case stdin is already spoken for and
    /// cannot also back a `LOCATION '/dev/stdin'` table.
    fn reads_sql_from_stdin(&self) -> bool {
        self.repl_mode() || self.file.iter().any(|f| is_stdin_location(f))
    }
}

/// Parses the arguments and sets up the allocator before any thread starts,
/// runs [`main_inner`] (or a cluster process), then prints any error and
/// returns the exit code
pub fn main() -> ExitCode {
    let cluster = match env::args().nth(1).as_deref() {
        Some("scheduler") => Some(true),
        Some("executor") => Some(false),
        _ => None,
    };
    let args = cluster.is_none().then(Args::parse);
    set_up_allocator(args.as_ref());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let result = match (runtime, args) {
        (Ok(runtime), Some(args)) => runtime.block_on(main_inner(args)),
        (Ok(runtime), None) => runtime.block_on(cluster_process(cluster == Some(true))),
        (Err(e), _) => Err(DataFusionError::External(Box::new(e))),
    };
    if let Err(e) = result {
        println!("Error: {e}");
        return ExitCode::FAILURE;
    }

    ExitCode::SUCCESS
}

/// Main CLI entrypoint
async fn main_inner(args: Args) -> Result<()> {
    env_logger::init();

    if !args.quiet {
        println!(
            "mlfusion v{} (DataFusion v{}). \\? for help; SHOW FUNCTIONS LIKE '%fingerprint%' describes mlfusion's functions.",
            mlfusion::MLFUSION_VERSION,
            datafusion::DATAFUSION_VERSION
        );
    }

    if let Some(ref path) = args.data_path {
        let p = Path::new(path);
        env::set_current_dir(p).map_err(|e| {
            DataFusionError::Execution(format!("cannot change to data path {path}: {e}"))
        })?;
    };

    let session_config = get_session_config(&args)?;

    let mut rt_builder = RuntimeEnvBuilder::new();
    // set memory pool size
    if let Some(memory_limit) = args.memory_limit {
        // set memory pool type
        let pool: Arc<dyn MemoryPool> = match args.mem_pool_type {
            PoolType::Fair if args.top_memory_consumers == 0 => {
                Arc::new(FairSpillPool::new(memory_limit))
            }
            PoolType::Fair => Arc::new(TrackConsumersPool::new(
                FairSpillPool::new(memory_limit),
                NonZeroUsize::new(args.top_memory_consumers).unwrap(),
            )),
            PoolType::Greedy if args.top_memory_consumers == 0 => {
                Arc::new(GreedyMemoryPool::new(memory_limit))
            }
            PoolType::Greedy => Arc::new(TrackConsumersPool::new(
                GreedyMemoryPool::new(memory_limit),
                NonZeroUsize::new(args.top_memory_consumers).unwrap(),
            )),
        };

        rt_builder = rt_builder.with_memory_pool(pool)
    }

    // set disk limit (on mlfusion's disk manager: spill merges capped)
    let mut disk_manager = mlfusion::disk_manager_builder();
    if let Some(disk_limit) = args.disk_limit {
        disk_manager = disk_manager
            .with_mode(DiskManagerMode::OsTmpDirectory)
            .with_max_temp_directory_size(disk_limit.try_into().unwrap());
    }
    rt_builder = rt_builder.with_disk_manager_builder(disk_manager);

    let instrumented_registry = Arc::new(
        InstrumentedObjectStoreRegistry::new().with_profile_mode(args.object_store_profiling),
    );
    // Azure URLs besides datafusion-cli's stores.
    rt_builder = rt_builder.with_object_store_registry(Arc::new(
        mlfusion::object_stores::CloudObjectStoreRegistry::new(instrumented_registry.clone()),
    ));

    let runtime_env = rt_builder.build_arc()?;

    // enable dynamic file query
    let ctx = SessionContext::new_with_config_rt(session_config, runtime_env);
    mlfusion::register_all(&ctx);
    let ctx = match &args.ballista {
        // The client enables URL tables itself.
        Some(url) => ballista_client(url, ctx).await?,
        None => ctx.enable_url_table(),
    };
    ctx.refresh_catalogs().await?;
    // install dynamic catalog provider that can register required object stores
    ctx.register_catalog_list(Arc::new(DynamicObjectStoreCatalog::new(
        ctx.state().catalog_list().clone(),
        ctx.state_weak_ref(),
    )));
    // register `parquet_metadata` table function to get metadata from parquet files
    ctx.register_udtf("parquet_metadata", Arc::new(ParquetMetadataFunc {}));

    // register `metadata_cache` table function to get the contents of the file metadata cache
    ctx.register_udtf(
        "metadata_cache",
        Arc::new(MetadataCacheFunc::new(
            ctx.task_ctx().runtime_env().cache_manager.clone(),
        )),
    );

    // register `statistics_cache` table function to get the contents of the file statistics cache
    ctx.register_udtf(
        "statistics_cache",
        Arc::new(StatisticsCacheFunc::new(
            ctx.task_ctx().runtime_env().cache_manager.clone(),
        )),
    );

    ctx.register_udtf(
        "list_files_cache",
        Arc::new(ListFilesCacheFunc::new(
            ctx.task_ctx().runtime_env().cache_manager.clone(),
        )),
    );

    let mut print_options = PrintOptions {
        format: args.format,
        quiet: args.quiet,
        maxrows: args.maxrows,
        color: args.color,
        instrumented_registry: Arc::clone(&instrumented_registry),
    };

    let repl_mode = args.repl_mode();
    let commands = args.command;
    let files = args.file;
    let rc = match args.rc {
        Some(file) => file,
        None => {
            let mut files = Vec::new();
            let home = dirs::home_dir();
            if let Some(p) = home {
                let home_rc = p.join(".mlfusionrc");
                if home_rc.exists() {
                    files.push(home_rc.into_os_string().into_string().unwrap());
                }
            }
            files
        }
    };

    if repl_mode {
        if !rc.is_empty() {
            exec::exec_from_files(&ctx, rc, &print_options).await?;
        }
        // TODO maybe we can have thiserror for cli but for now let's keep it simple
        return exec::exec_from_repl(&ctx, &mut print_options)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)));
    }

    if !files.is_empty() {
        exec::exec_from_files(&ctx, files, &print_options).await?;
    }

    if !commands.is_empty() {
        exec::exec_from_commands(&ctx, commands, &print_options).await?;
    }

    Ok(())
}

#[cfg(feature = "ballista")]
async fn ballista_client(url: &str, ctx: SessionContext) -> Result<SessionContext> {
    mlfusion::ballista::remote(url, ctx.state()).await
}

#[cfg(not(feature = "ballista"))]
async fn ballista_client(_url: &str, _ctx: SessionContext) -> Result<SessionContext> {
    config_err!("--ballista: this mlfusion was built without the ballista feature")
}

/// Runs `mlfusion scheduler` (or, if not `scheduler`, `mlfusion executor`)
/// until the process is stopped. Logs at info level unless `RUST_LOG` says
/// otherwise.
#[cfg(feature = "ballista")]
async fn cluster_process(scheduler: bool) -> Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    // The subcommand is not one of its own flags.
    let args = env::args()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, a)| a);
    if scheduler {
        let args = SchedulerArgs::parse_from(args);
        mlfusion::ballista::run_scheduler(args.bind, args.external_host).await
    } else {
        let args = ExecutorArgs::parse_from(args);
        let (host, port) = args
            .scheduler
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
            .ok_or_else(|| {
                DataFusionError::Configuration(format!(
                    "--scheduler {}: expected host:port, e.g. 127.0.0.1:50050",
                    args.scheduler
                ))
            })?;
        mlfusion::ballista::run_executor(mlfusion::ballista::ExecutorOptions {
            scheduler_host: host,
            scheduler_port: port,
            bind: args.bind,
            grpc_port: args.grpc_port,
            external_host: args.external_host,
            work_dir: args.work_dir,
            concurrent_tasks: args.concurrent_tasks,
        })
        .await
    }
}

#[cfg(not(feature = "ballista"))]
async fn cluster_process(_scheduler: bool) -> Result<()> {
    config_err!("this mlfusion was built without the ballista feature: no scheduler or executor")
}

/// Get the session configuration based on the provided arguments
/// and environment settings.
fn get_session_config(args: &Args) -> Result<SessionConfig> {
    // Read options from environment variables and merge with command line options
    let mut config_options = ConfigOptions::from_env()?;

    if let Some(batch_size) = args.batch_size {
        if batch_size == 0 {
            return config_err!("batch_size must be greater than 0");
        }
        config_options.execution.batch_size =
            datafusion::common::config::ConfigNonZeroUsize::try_new(batch_size)?;
    };

    // use easier to understand "tree" mode by default
    // if the user hasn't specified an explain format in the environment
    if env::var_os("DATAFUSION_EXPLAIN_FORMAT").is_none() {
        config_options.explain.format = ExplainFormat::Tree;
    }

    // in the CLI, we want to show NULL values rather the empty strings
    if env::var_os("DATAFUSION_FORMAT_NULL").is_none() {
        config_options.format.null = String::from("NULL");
    }

    let mut session_config = SessionConfig::from(config_options).with_information_schema(true);

    if args.reads_sql_from_stdin() {
        // When stdin carries the session's SQL — the REPL (including any rc
        // file run before it) or an explicit `-f /dev/stdin` — it cannot also
        // serve as a data source for `LOCATION '/dev/stdin'`.
        session_config = session_config.with_extension(Arc::new(StdinCarriesCommands));
    }

    Ok(session_config)
}

fn parse_valid_file(dir: &str) -> Result<String, String> {
    if Path::new(dir).is_file() {
        Ok(dir.to_string())
    } else {
        Err(format!("Invalid file '{dir}'"))
    }
}

fn parse_valid_data_dir(dir: &str) -> Result<String, String> {
    if Path::new(dir).is_dir() {
        Ok(dir.to_string())
    } else {
        Err(format!("Invalid data directory '{dir}'"))
    }
}

fn parse_batch_size(size: &str) -> Result<usize, String> {
    match size.parse::<usize>() {
        Ok(size) if size > 0 => Ok(size),
        _ => Err(format!("Invalid batch size '{size}'")),
    }
}

fn parse_command(command: &str) -> Result<String, String> {
    if !command.is_empty() {
        Ok(command.to_string())
    } else {
        Err("-c flag expects only non empty commands".to_string())
    }
}

#[derive(Debug, Clone, Copy)]
enum ByteUnit {
    Byte,
    KiB,
    MiB,
    GiB,
    TiB,
}

impl ByteUnit {
    fn multiplier(&self) -> u64 {
        match self {
            ByteUnit::Byte => 1,
            ByteUnit::KiB => 1 << 10,
            ByteUnit::MiB => 1 << 20,
            ByteUnit::GiB => 1 << 30,
            ByteUnit::TiB => 1 << 40,
        }
    }
}

fn parse_size_string(size: &str, label: &str) -> Result<usize, String> {
    static BYTE_SUFFIXES: LazyLock<HashMap<&'static str, ByteUnit>> = LazyLock::new(|| {
        let mut m = HashMap::new();
        m.insert("b", ByteUnit::Byte);
        m.insert("k", ByteUnit::KiB);
        m.insert("kb", ByteUnit::KiB);
        m.insert("m", ByteUnit::MiB);
        m.insert("mb", ByteUnit::MiB);
        m.insert("g", ByteUnit::GiB);
        m.insert("gb", ByteUnit::GiB);
        m.insert("t", ByteUnit::TiB);
        m.insert("tb", ByteUnit::TiB);
        m
    });

    static SUFFIX_REGEX: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"^(-?[0-9]+)([a-z]+)?$").unwrap());

    let lower = size.to_lowercase();
    if let Some(caps) = SUFFIX_REGEX.captures(&lower) {
        let num_str = caps.get(1).unwrap().as_str();
        let num = num_str
            .parse::<usize>()
            .map_err(|_| format!("Invalid numeric value in {label} '{size}'"))?;

        let suffix = caps.get(2).map(|m| m.as_str()).unwrap_or("b");
        let unit = BYTE_SUFFIXES
            .get(suffix)
            .ok_or_else(|| format!("Invalid {label} '{size}'"))?;
        let total_bytes = usize::try_from(unit.multiplier())
            .ok()
            .and_then(|multiplier| num.checked_mul(multiplier))
            .ok_or_else(|| format!("{label} '{size}' is too large"))?;

        Ok(total_bytes)
    } else {
        Err(format!("Invalid {label} '{size}'"))
    }
}

pub fn extract_memory_pool_size(size: &str) -> Result<usize, String> {
    parse_size_string(size, "memory pool size")
}

pub fn extract_disk_limit(size: &str) -> Result<usize, String> {
    parse_size_string(size, "disk limit")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHILD: &str = "MLFUSION_TEST_PURGE_DELAY_CHILD";

    /// Index 15 is the purge delay: mimalloc reads `MIMALLOC_PURGE_DELAY`
    /// into it when a process starts, so a copy of this test started with
    /// that variable finds it there, and `set_up_allocator` leaves it.
    #[test]
    fn purge_delay_is_10_s_without_a_memory_limit_and_the_environment_overrides_it() {
        let get = || unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        if env::var_os(CHILD).is_some() {
            assert_eq!(get(), 4321);
            set_up_allocator(None);
            assert_eq!(get(), 4321);
            return;
        }
        if env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            let mimallocs = get();
            assert_ne!(mimallocs, 10_000);
            let limited = Args::parse_from(["mlfusion", "--memory-limit", "256M"]);
            set_up_allocator(Some(&limited));
            assert_eq!(get(), mimallocs, "a memory limit keeps mimalloc's delay");
            set_up_allocator(Some(&Args::parse_from(["mlfusion"])));
            assert_eq!(get(), 10_000);
        }
        let exe = env::current_exe().expect("the test binary");
        let child = std::process::Command::new(exe)
            .args([
                "--exact",
                "tests::purge_delay_is_10_s_without_a_memory_limit_and_the_environment_overrides_it",
            ])
            .env(CHILD, "1")
            .env("MIMALLOC_PURGE_DELAY", "4321")
            .output()
            .expect("the test binary runs");
        let out = String::from_utf8_lossy(&child.stdout);
        assert!(child.status.success(), "{out}");
        assert!(out.contains("1 passed"), "{out}");
    }
}
