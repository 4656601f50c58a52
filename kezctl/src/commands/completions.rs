//! `kezctl completions <shell>`: the shell completion script, generated from the same clap
//! definition the parser uses, so it never drifts from the real options.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::error::CliError;
use crate::output;

/// Prints the completion script for `shell` on stdout.
pub fn run(shell: clap_complete::Shell) -> Result<(), CliError> {
    // Generated into memory first: clap_complete panics when its writer fails, and a closed
    // pipe must end the command quietly (crate::output).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "kezctl", &mut script);
    output::write_stdout(&script)
}
