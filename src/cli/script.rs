//! Scripts (`-f`, `-c`, the rc files) and the REPL: statements run one at a
//! time, `ASSERT` among them, and a script stops at its first failing
//! statement unless `--continue-on-error` is given.
//!
//! The REPL loop is adapted from datafusion-cli 55.2.0's `exec.rs` (Apache
//! License 2.0, Copyright The Apache Software Foundation), with statements
//! split and run as scripts' are.

use std::fmt;

use datafusion::error::{DataFusionError, Result};
use datafusion::sql::sqlparser::dialect::dialect_from_str;
use datafusion::sql::sqlparser::parser::ParserError;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer};
use datafusion_cli::cli_context::CliSessionContext;
use datafusion_cli::command::{Command, OutputFormat};
use datafusion_cli::exec;
use datafusion_cli::helper::CliHelper;
use datafusion_cli::print_options::PrintOptions;
use mlfusion::statements::{assertion_failure, Assertion};
use rustyline::error::ReadlineError;
use rustyline::Editor;
use tokio::signal;

use crate::output::CliContext;

/// The exit status when a statement failed (or the CLI could not start).
/// Bad command-line arguments exit with 2 (clap's usage error).
pub(crate) const EXIT_ERROR: u8 = 1;
/// The exit status when an `ASSERT` failed.
pub(crate) const EXIT_ASSERTION: u8 = 3;

/// A script to run: its name in messages and its text.
pub(crate) struct Script {
    pub(crate) name: String,
    pub(crate) text: String,
}

impl Script {
    /// The file at `path` (stdin for `/dev/stdin`).
    pub(crate) fn file(path: &str) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| DataFusionError::Execution(format!("cannot read {path}: {e}")))?;
        Ok(Self {
            name: path.to_string(),
            text,
        })
    }

    /// The `n`th (from 1) `-c` argument.
    pub(crate) fn command(n: usize, text: String) -> Self {
        Self {
            name: format!("command {n}"),
            text,
        }
    }
}

/// A statement that failed: where it starts, and why.
#[derive(Debug)]
pub(crate) struct Failed {
    location: String,
    error: DataFusionError,
}

impl Failed {
    /// [`EXIT_ASSERTION`] for a failed `ASSERT`, [`EXIT_ERROR`] otherwise.
    pub(crate) fn exit_code(&self) -> u8 {
        match assertion_failure(&self.error) {
            Some(_) => EXIT_ASSERTION,
            None => EXIT_ERROR,
        }
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location)?;
        match assertion_failure(&self.error) {
            Some(assertion) => write!(f, "{assertion}"),
            None => write!(f, "{}", self.error.strip_backtrace()),
        }
    }
}

impl std::error::Error for Failed {}

/// Runs `scripts` in order. Stops at the first failing statement and
/// returns it; with `continue_on_error` prints each failure (`Error: ` and
/// where it is), runs on, and returns the first.
pub(crate) async fn run_scripts(
    ctx: &CliContext,
    scripts: Vec<Script>,
    print_options: &PrintOptions,
    continue_on_error: bool,
) -> Result<()> {
    let mut first_failure = None;
    let mut fail = |failed: Failed| {
        if !continue_on_error {
            return Err(DataFusionError::External(Box::new(failed)));
        }
        println!("Error: {failed}");
        first_failure.get_or_insert(failed.exit_code());
        Ok(())
    };
    for script in scripts {
        let statements = match statements(ctx, &script.text) {
            Ok(statements) => statements,
            Err(error) => {
                fail(Failed {
                    location: script.name,
                    error,
                })?;
                continue;
            }
        };
        for (line, text) in statements {
            if let Err(error) = run_statement(ctx, print_options, text).await {
                fail(Failed {
                    location: format!("{}:{line}", script.name),
                    error,
                })?;
            }
        }
    }
    match first_failure {
        None => Ok(()),
        Some(code) => Err(DataFusionError::External(Box::new(RanOn(code)))),
    }
}

/// What `--continue-on-error` returns after printing its failures.
#[derive(Debug)]
pub(crate) struct RanOn(u8);

impl RanOn {
    /// The exit status of the first failure.
    pub(crate) fn exit_code(&self) -> u8 {
        self.0
    }
}

impl fmt::Display for RanOn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "statements failed (printed above)")
    }
}

impl std::error::Error for RanOn {}

/// Runs one statement: an `ASSERT` here, any other through datafusion-cli
/// (which prints its result).
async fn run_statement(ctx: &CliContext, print_options: &PrintOptions, text: &str) -> Result<()> {
    let state = ctx.session_state();
    let dialect = state.config().options().sql_parser.dialect;
    if let Ok(statement) = state.sql_to_statement(text, &dialect) {
        if let Some(assertion) = Assertion::of(&statement) {
            return assertion.check(ctx.session()).await;
        }
    }
    exec::exec_from_commands(ctx, vec![text.to_string()], print_options).await
}

/// The statements of `sql` with the line each starts on (from 1): split at
/// the semicolons outside strings, identifiers and comments, as the
/// session's SQL dialect reads them. A first line starting `#!` is skipped.
fn statements<'a>(ctx: &CliContext, sql: &'a str) -> Result<Vec<(u64, &'a str)>> {
    let dialect_name = ctx.task_ctx().session_config().options().sql_parser.dialect;
    let dialect = dialect_from_str(dialect_name)
        .ok_or_else(|| DataFusionError::Plan(format!("Unsupported SQL dialect: {dialect_name}")))?;
    // The shebang line as blanks, so that offsets and lines stay.
    let shebang = if sql.starts_with("#!") {
        sql.find('\n').unwrap_or(sql.len())
    } else {
        0
    };
    let text = format!("{}{}", " ".repeat(shebang), &sql[shebang..]);
    let tokens = Tokenizer::new(dialect.as_ref(), &text)
        .tokenize_with_location()
        .map_err(|e| DataFusionError::SQL(Box::new(ParserError::from(e)), None))?;
    let lines = LineIndex::new(sql);
    let mut statements = Vec::new();
    let mut start: Option<Location> = None;
    for token in tokens {
        match token.token {
            Token::Whitespace(_) => {}
            Token::SemiColon => {
                if let Some(from) = start.take() {
                    let end = lines.offset(token.span.start) + 1;
                    statements.push((from.line, &sql[lines.offset(from)..end]));
                }
            }
            _ => {
                start.get_or_insert(token.span.start);
            }
        }
    }
    if let Some(from) = start {
        statements.push((from.line, &sql[lines.offset(from)..]));
    }
    Ok(statements)
}

/// Byte offsets of the tokenizer's (line, column) locations, both counted
/// from 1, columns in characters.
struct LineIndex<'a> {
    sql: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(sql: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { sql, starts }
    }

    fn offset(&self, location: Location) -> usize {
        let line_start = self.starts[(location.line as usize).saturating_sub(1)];
        let column = (location.column as usize).saturating_sub(1);
        self.sql[line_start..]
            .char_indices()
            .nth(column)
            .map_or(self.sql.len(), |(i, _)| line_start + i)
    }
}

/// The interactive loop: each line's statements run in turn; a failure is
/// printed and the loop goes on.
pub(crate) async fn repl(
    ctx: &CliContext,
    print_options: &mut PrintOptions,
) -> rustyline::Result<()> {
    let mut rl = Editor::new()?;
    rl.set_helper(Some(CliHelper::new(
        &ctx.task_ctx().session_config().options().sql_parser.dialect,
        print_options.color,
    )));
    rl.load_history(".history").ok();

    loop {
        match rl.readline("> ") {
            Ok(line) if line.starts_with('\\') => {
                rl.add_history_entry(line.trim_end())?;
                let command = line.split_whitespace().collect::<Vec<_>>().join(" ");
                let Ok(cmd) = command[1..].parse::<Command>() else {
                    eprintln!(
                        "'\\{}' is not a valid command, you can use '\\?' to see all commands",
                        &line[1..]
                    );
                    continue;
                };
                match cmd {
                    Command::Quit => break,
                    Command::OutputFormat(None) => {
                        println!("Output format is {:?}.", print_options.format);
                    }
                    Command::OutputFormat(Some(subcommand)) => {
                        match subcommand.parse::<OutputFormat>() {
                            Ok(command) => {
                                if let Err(e) = command.execute(print_options) {
                                    eprintln!("{e}")
                                }
                            }
                            Err(_) => eprintln!(
                                "'\\{}' is not a valid command, you can use '\\?' to see all commands",
                                &line[1..]
                            ),
                        }
                    }
                    _ => {
                        if let Err(e) = cmd.execute(ctx, print_options).await {
                            eprintln!("{e}")
                        }
                    }
                }
            }
            Ok(line) => {
                let statements = match statements(ctx, &line) {
                    Ok(statements) => statements,
                    Err(e) => {
                        eprintln!("{e}");
                        continue;
                    }
                };
                for (_, statement) in statements {
                    rl.add_history_entry(statement.trim_end())?;
                    tokio::select! {
                        res = run_statement(ctx, print_options, statement) => if let Err(e) = res {
                            match assertion_failure(&e) {
                                Some(assertion) => eprintln!("{assertion}"),
                                None => eprintln!("{e}"),
                            }
                        },
                        _ = signal::ctrl_c() => {
                            println!("^C");
                            continue
                        },
                    }
                    // dialect might have changed
                    if let Some(helper) = rl.helper_mut() {
                        helper.set_dialect(
                            &ctx.task_ctx().session_config().options().sql_parser.dialect,
                        );
                    }
                }
            }
            Err(ReadlineError::Interrupted) => {
                println!("^C");
                if let Some(helper) = rl.helper() {
                    helper.reset_hint();
                }
                continue;
            }
            Err(ReadlineError::Eof) => {
                println!("\\q");
                break;
            }
            Err(err) => {
                eprintln!("Unknown error happened {err:?}");
                break;
            }
        }
    }

    rl.save_history(".history")
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;
    use datafusion_cli::print_format::PrintFormat;

    use super::*;

    fn split(sql: &str) -> Vec<(u64, &str)> {
        let ctx = CliContext::new(SessionContext::new(), PrintFormat::Table, false);
        statements(&ctx, sql).unwrap()
    }

    #[test]
    fn statements_split_at_semicolons_outside_strings_and_comments() {
        let sql = "#!/usr/bin/env mlfusion -f\n\
                   -- a comment; not a statement\n\
                   SELECT 'a;b' AS \"c;d\"; SELECT 2;\n\
                   /* ; */\n\
                   SELECT\n  3;\n\
                   SELECT 'é', 4";
        assert_eq!(
            split(sql),
            vec![
                (3, "SELECT 'a;b' AS \"c;d\";"),
                (3, "SELECT 2;"),
                (5, "SELECT\n  3;"),
                (7, "SELECT 'é', 4"),
            ]
        );
    }

    #[test]
    fn empty_statements_and_trailing_comments_are_nothing() {
        assert_eq!(split(";;\n-- only a comment\n"), Vec::<(u64, &str)>::new());
        assert_eq!(split(""), Vec::<(u64, &str)>::new());
    }
}
