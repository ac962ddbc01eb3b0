//! The `roost` binary: parses the command line, then runs the server or a
//! user-management command against the same store.

use std::process::ExitCode;

use clap::Parser;

use roost::cli::{
    Cli, Commands, load_config, run_admin_command, run_index_command, run_user_command,
};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Errors are printed with their whole context chain, not as a Debug
    // dump, so the user reads "file:line: key: what is wrong".
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("roost: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let config = load_config(cli)?;
    match &cli.command {
        Commands::User(cmd) => run_user_command(cmd, &config),
        Commands::Index(cmd) => run_index_command(cmd, &config),
        Commands::Admin(cmd) => run_admin_command(cmd, &config),
        Commands::Serve(_) => {
            roost::logging::init(&config.log);
            actix_rt::System::new().block_on(roost::server::run(config))
        }
    }
}
