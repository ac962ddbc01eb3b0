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
            eprintln!("roost: {}", roost::logging::error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<()> {
    let config = load_config(cli)?;
    match &cli.command {
        Commands::User(cmd) => run_user_command(cmd, &config),
        Commands::Index(cmd) => run_index_command(cmd, &config),
        Commands::Deliver(args) => {
            // sysexits codes matter to the MTA that runs us: exit here
            // with the one delivery chose. The delivery line goes where the
            // server's lines go (stderr, or the journal under systemd).
            roost::logging::init(&config.log);
            let code = roost::lmtp::lda::run(args, &config);
            std::process::exit(i32::from(code));
        }
        Commands::Backup { dir } => roost::backup::backup(&config, dir, &mut std::io::stdout()),
        Commands::Restore { dir, force } => {
            roost::backup::restore(&config, dir, *force, &mut std::io::stdout())
        }
        Commands::Admin(cmd) => run_admin_command(cmd, &config),
        Commands::Import(args) => {
            if !roost::cli::run_import(args, &config)? {
                // Done, but not everything is in: say so to scripts.
                std::process::exit(3);
            }
            Ok(())
        }
        Commands::Export(args) => {
            if !roost::cli::run_export(args, &config)? {
                std::process::exit(3);
            }
            Ok(())
        }
        Commands::Serve(_) => {
            roost::logging::init(&config.log);
            let again = cli.clone();
            let reload = Box::new(move || load_config(&again));
            actix_rt::System::new().block_on(roost::server::run(config, reload))
        }
    }
}
