//! The command line: datafusion-cli's flags, and the `scheduler` and
//! `executor` subcommands of a Ballista cluster.

use std::collections::HashMap;
use std::path::Path;
use std::sync::LazyLock;

use clap::Parser;
use datafusion::error::Result;
use datafusion_cli::object_storage::instrumented::InstrumentedObjectStoreMode;
use datafusion_cli::object_storage::is_stdin_location;
use datafusion_cli::pool_type::PoolType;
use datafusion_cli::print_format::PrintFormat;
use datafusion_cli::print_options::MaxRows;

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
pub(crate) struct Args {
    #[clap(
        short = 'p',
        long,
        help = "Path to your data, default to current directory",
        value_parser(parse_valid_data_dir)
    )]
    pub(crate) data_path: Option<String>,

    #[clap(
        short = 'b',
        long,
        help = "The batch size of each query, or use DataFusion default",
        value_parser(parse_batch_size)
    )]
    pub(crate) batch_size: Option<usize>,

    #[clap(
        short = 'c',
        long,
        num_args = 0..,
        help = "Execute the given command string(s), then exit. Commands are expected to be non empty.",
        value_parser(parse_command)
    )]
    pub(crate) command: Vec<String>,

    #[clap(
        short = 'm',
        long,
        help = "The memory pool limitation (e.g. '10g'), default to None (no limit)",
        value_parser(extract_memory_pool_size)
    )]
    pub(crate) memory_limit: Option<usize>,

    #[clap(
        short,
        long,
        num_args = 0..,
        help = "Execute commands from file(s), then exit",
        value_parser(parse_valid_file)
    )]
    pub(crate) file: Vec<String>,

    #[clap(
        short = 'r',
        long,
        num_args = 0..,
        help = "Run the provided files on startup instead of ~/.mlfusionrc",
        value_parser(parse_valid_file),
        conflicts_with = "file"
    )]
    pub(crate) rc: Option<Vec<String>>,

    #[clap(long, value_enum, default_value_t = PrintFormat::Automatic)]
    pub(crate) format: PrintFormat,

    #[clap(
        short,
        long,
        help = "Reduce printing other than the results and work quietly"
    )]
    pub(crate) quiet: bool,

    // Fair by default (datafusion-cli's default is greedy): under a memory
    // limit, ml_split's balanced method repartitions and sorts at once, and a
    // greedy pool lets the repartition take what the sort needs to spill
    // (measured in benches/README.md).
    #[clap(
        long,
        help = "Specify the memory pool type 'greedy' or 'fair' (mlfusion's default: fair)",
        default_value_t = PoolType::Fair
    )]
    pub(crate) mem_pool_type: PoolType,

    #[clap(
        long,
        help = "The number of top memory consumers to display when query fails due to memory exhaustion. To disable memory consumer tracking, set this value to 0",
        default_value = "3"
    )]
    pub(crate) top_memory_consumers: usize,

    #[clap(
        long,
        help = "The max number of rows to display for 'Table' format\n[possible values: numbers(0/10/...), inf(no limit)]",
        default_value = "40"
    )]
    pub(crate) maxrows: MaxRows,

    #[clap(long, help = "Enables console syntax highlighting")]
    pub(crate) color: bool,

    #[clap(
        short = 'd',
        long,
        help = "Available disk space for spilling queries (e.g. '10g'), default to None (uses DataFusion's default value of '100g')",
        value_parser(extract_disk_limit)
    )]
    pub(crate) disk_limit: Option<usize>,

    #[clap(
        long,
        help = "Specify the default object_store_profiling mode, defaults to 'disabled'.\n[possible values: disabled, summary, trace]",
        default_value_t = InstrumentedObjectStoreMode::Disabled
    )]
    pub(crate) object_store_profiling: InstrumentedObjectStoreMode,

    #[clap(
        long,
        value_name = "URL",
        help = "Run queries on the Apache DataFusion Ballista cluster whose scheduler is at URL (df://host:port); start one with `mlfusion scheduler` and `mlfusion executor`"
    )]
    pub(crate) ballista: Option<String>,

    #[clap(
        long,
        help = "Run every statement of -f and -c even after one fails (the exit status is then that of the first failure); by default the first failure ends the run"
    )]
    pub(crate) continue_on_error: bool,
}

/// `mlfusion scheduler`: a Ballista scheduler with every mlfusion function.
#[derive(Debug, Parser)]
#[clap(name = "mlfusion scheduler", bin_name = "mlfusion scheduler", version = version())]
pub(crate) struct SchedulerArgs {
    #[clap(
        long,
        default_value = "127.0.0.1:50050",
        help = "The address (host:port) to listen on"
    )]
    pub(crate) bind: std::net::SocketAddr,

    #[clap(
        long,
        help = "The host executors and clients reach this scheduler at (default: the bind host)"
    )]
    pub(crate) external_host: Option<String>,
}

/// `mlfusion executor`: a Ballista executor with every mlfusion function.
#[derive(Debug, Parser)]
#[clap(name = "mlfusion executor", bin_name = "mlfusion executor", version = version())]
pub(crate) struct ExecutorArgs {
    #[clap(
        long,
        default_value = "127.0.0.1:50050",
        help = "The scheduler's address (host:port)"
    )]
    pub(crate) scheduler: String,

    #[clap(
        long,
        default_value = "127.0.0.1:50051",
        help = "The address (host:port) to serve results on (Arrow Flight)"
    )]
    pub(crate) bind: std::net::SocketAddr,

    #[clap(
        long,
        default_value_t = 50052,
        help = "The port the scheduler sends tasks to (gRPC)"
    )]
    pub(crate) grpc_port: u16,

    #[clap(
        long,
        help = "The host the scheduler and other executors reach this executor at (default: the bind host)"
    )]
    pub(crate) external_host: Option<String>,

    #[clap(
        long,
        help = "The folder for shuffle files and spills (default: a temporary folder)"
    )]
    pub(crate) work_dir: Option<String>,

    #[clap(
        long,
        help = "How many tasks to run at once (default: the number of cores)"
    )]
    pub(crate) concurrent_tasks: Option<usize>,
}

impl Args {
    /// Without -c/-f the CLI enters the REPL, which reads its SQL from
    /// stdin — interactively or piped.
    pub(crate) fn repl_mode(&self) -> bool {
        self.command.is_empty() && self.file.is_empty()
    }

    /// Whether the CLI consumes stdin for its own SQL input. This covers the
    /// REPL (no -c/-f, reading SQL interactively or piped) as well as an
    /// explicit `-f /dev/stdin` (or the other stdin pseudo-paths), where the
    /// SQL file *is* stdin. In either case stdin is already spoken for and
    /// cannot also back a `LOCATION '/dev/stdin'` table.
    pub(crate) fn reads_sql_from_stdin(&self) -> bool {
        self.repl_mode() || self.file.iter().any(|f| is_stdin_location(f))
    }
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
