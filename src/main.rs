use std::process::ExitCode;

use clap::Parser as _;
use partypic::{
    config::{Cli, Command},
    startup::{self, Application},
    telemetry,
};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            let rendered = err.render().to_string();
            let first = rendered
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ");
            eprintln!("partypic: configuration error: {first}");
            return ExitCode::from(2);
        }
    };
    let command = match cli.command.unwrap_or(Command::Serve) {
        // Needs no configuration: CI and the client type generators run it without a server.
        Command::Openapi => return print_openapi(),
        command => command,
    };
    let settings = match cli.config.resolve() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("partypic: configuration error: {message}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format);
    let result = match command {
        Command::Migrate => run_migrations(&settings).await,
        Command::Serve | Command::Openapi => serve(settings).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("partypic: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_openapi() -> ExitCode {
    match partypic::http::openapi_document().to_pretty_json() {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("partypic: cannot render the OpenAPI document: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run_migrations(settings: &partypic::config::Settings) -> anyhow::Result<()> {
    let db = startup::open_database(settings).await?;
    startup::migrate(db.as_ref()).await?;
    db.close().await;
    tracing::info!("migrations applied");
    Ok(())
}

async fn serve(settings: partypic::config::Settings) -> anyhow::Result<()> {
    tracing::info!(?settings, "starting");
    Application::build(settings)
        .await?
        .run_until(startup::shutdown_signal())
        .await
}
