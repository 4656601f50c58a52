//! `kezctl completions <shell>`: the shell completion script, generated from the same clap
//! definition the parser uses, so it never drifts from the real options.

use clap::CommandFactory;

use crate::cli::Cli;

/// Prints the completion script for `shell` on stdout.
pub fn run(shell: clap_complete::Shell) {
    clap_complete::generate(shell, &mut Cli::command(), "kezctl", &mut std::io::stdout());
}
