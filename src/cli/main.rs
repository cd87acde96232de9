//! The `mlfusion` command: the datafusion-cli REPL and flags with every
//! mlfusion function registered.
//!
//! Adapted from datafusion-cli 55.2.0's `main.rs` (Apache License 2.0,
//! Copyright The Apache Software Foundation): the same flags and behaviour,
//! plus mlfusion's functions, its version banner and its rc file.

mod alloc;
mod args;
mod cluster;
mod output;
mod script;

use std::env;
use std::num::NonZeroUsize;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use alloc::set_up_allocator;
use args::Args;
use clap::Parser;
use cluster::{ballista_client, cluster_process};
use datafusion::common::config_err;
use datafusion::config::ConfigOptions;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionConfig;
use datafusion::execution::disk_manager::DiskManagerMode;
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
use datafusion_cli::object_storage::instrumented::InstrumentedObjectStoreRegistry;
use datafusion_cli::object_storage::StdinCarriesCommands;
use datafusion_cli::pool_type::PoolType;
use datafusion_cli::print_options::PrintOptions;
use output::CliContext;
use script::{run_scripts, Script};

/// `mlfusion -c '…' | head` ends quietly when `head` has read enough: a
/// write to a closed pipe ends the process, as it does `cat` (Rust ignores
/// SIGPIPE, so every later write to stdout would fail, and `println!`
/// panics). Not for the cluster processes, which write to sockets.
fn quit_quietly_when_the_reader_goes() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to its default, before any
    // thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
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
    if args.is_some() {
        quit_quietly_when_the_reader_goes();
    }
    set_up_allocator(args.as_ref());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let result = match (runtime, args) {
        (Ok(runtime), Some(args)) => runtime.block_on(main_inner(args)),
        (Ok(runtime), None) => runtime.block_on(cluster_process(cluster == Some(true))),
        (Err(e), _) => Err(DataFusionError::External(Box::new(e))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(report(&e)),
    }
}

/// Prints `e` on a line starting `Error: ` (a failed statement with its
/// script and line, a failed assertion without DataFusion's "External
/// error" prefix; the failures `--continue-on-error` printed as they came,
/// not again) and returns the exit status.
fn report(e: &DataFusionError) -> u8 {
    if let DataFusionError::External(inner) = e {
        if let Some(ran_on) = inner.downcast_ref::<script::RanOn>() {
            return ran_on.exit_code();
        }
        if let Some(failed) = inner.downcast_ref::<script::Failed>() {
            println!("Error: {failed}");
            return failed.exit_code();
        }
    }
    println!("Error: {e}");
    script::EXIT_ERROR
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

    // Nested values print as text in CSV and TSV, except on a cluster, whose
    // executors cannot run the CLI's own text function.
    let ctx = CliContext::new(ctx, args.format, args.ballista.is_none());
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
            // A failing rc statement is printed; the REPL still starts.
            let rc = rc.iter().map(|f| Script::file(f)).collect::<Result<_>>()?;
            if let Err(e) = run_scripts(&ctx, rc, &print_options, true).await {
                report(&e);
            }
        }
        return script::repl(&ctx, &mut print_options)
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)));
    }

    // Files first, then commands, each statement in turn: the first failure
    // ends the run unless --continue-on-error.
    let mut scripts = files
        .iter()
        .map(|f| Script::file(f))
        .collect::<Result<Vec<_>>>()?;
    scripts.extend(
        commands
            .into_iter()
            .enumerate()
            .map(|(i, c)| Script::command(i + 1, c)),
    );
    run_scripts(&ctx, scripts, &print_options, args.continue_on_error).await
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
