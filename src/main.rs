use std::{path::Path, process::ExitCode};

use clap::Parser as _;
use partypic::{
    app::event_archive,
    config::{Cli, Command},
    domain::password::PasswordHasher,
    startup::{self, Application},
    telemetry,
};

/// glibc malloc settings the server runs with unless `GLIBC_TUNABLES` is set (docs/performance.md,
/// "Memory"): two arenas instead of up to eight per core (smoke peak 61 → 48 MB; one arena costs
/// ~23 % of the throughput of cheap requests, the tokio workers sharing one malloc lock), and fixed
/// thresholds: the top of either arena goes back to the system past 1 MiB free, blocks of 8 MiB
/// and more are mapped of their own. glibc's own thresholds grow with the largest block freed
/// (7 MiB argon2 memory, image buffers), and the second arena's top is trimmed only by them:
/// 60 s after the peak smoke 34.4 → 29.5 MB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MALLOC_TUNABLES: &str = "glibc.malloc.arena_max=2:glibc.malloc.trim_threshold=1048576:glibc.malloc.mmap_threshold=8388608";

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    apply_malloc_tunables();
    run()
}

/// glibc reads its tunables only from the environment at exec, so the process execs itself once
/// with them (same pid, same arguments). An operator's own `GLIBC_TUNABLES` is left alone.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply_malloc_tunables() {
    use std::os::unix::process::CommandExt as _;
    // The marker stops a second exec where glibc drops GLIBC_TUNABLES (setuid/secure mode).
    const MARKER: &str = "PARTYPIC_MALLOC_TUNABLES_APPLIED";
    if std::env::var_os("GLIBC_TUNABLES").is_some() || std::env::var_os(MARKER).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", MALLOC_TUNABLES)
        .env(MARKER, "1")
        .exec();
    // exec returns only when it failed: run with glibc's defaults rather than not at all.
    eprintln!("partypic: could not apply the malloc settings ({err}); running without them");
}

#[tokio::main]
async fn run() -> ExitCode {
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
    if matches!(command, Command::Admin { .. }) {
        // Standard output is the command's result: logs go to standard error.
        telemetry::init_for_command();
    } else {
        telemetry::init(settings.log_format);
    }
    let result = match command {
        Command::Migrate => run_migrations(&settings).await,
        Command::Backup { file } => backup(&settings, &file).await,
        Command::Restore { file } => restore(&settings, &file).await,
        Command::Export { event_id, file } => export(&settings, event_id, &file).await,
        Command::Import { file, host_email } => {
            import(&settings, &file, host_email.as_deref()).await
        }
        Command::Admin { command } => return admin(&settings, command).await,
        Command::Serve | Command::Openapi => serve(settings).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.is::<partypic::backup::Refused>() => {
            eprintln!("partypic: {err}");
            ExitCode::from(2)
        }
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("partypic: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_openapi() -> ExitCode {
    use std::io::Write as _;
    let json = match partypic::http::openapi_document().to_pretty_json() {
        Ok(json) => json,
        Err(err) => {
            eprintln!("partypic: cannot render the OpenAPI document: {err}");
            return ExitCode::FAILURE;
        }
    };
    match writeln!(std::io::stdout().lock(), "{json}") {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped early (`partypic openapi | head`) took what it wanted.
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("partypic: cannot write the OpenAPI document: {err}");
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

async fn admin(
    settings: &partypic::config::Settings,
    command: partypic::config::AdminCommand,
) -> ExitCode {
    let admin = match startup::open_admin(settings).await {
        Ok(admin) => admin,
        Err(err) => {
            eprintln!("partypic admin: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    let code = partypic::admin_cli::run(&admin, command).await;
    admin.db.close().await;
    code
}

async fn serve(settings: partypic::config::Settings) -> anyhow::Result<()> {
    tracing::info!(?settings, "starting");
    let release_binary_pages = settings.release_binary_pages;
    let mut application = Application::build(settings).await?;
    if release_binary_pages {
        application = application.releasing_binary_pages();
    }
    application.run_until(startup::shutdown_signal()).await
}

async fn backup(settings: &partypic::config::Settings, file: &Path) -> anyhow::Result<()> {
    let report = partypic::backup::backup(settings, file).await?;
    println!(
        "backup written to {}: {} photos, {} files, {} bytes",
        file.display(),
        report.photos,
        report.files,
        report.bytes
    );
    for id in &report.dropped_photos {
        println!("photo {id} was deleted during the backup and is not in it");
    }
    Ok(())
}

async fn restore(settings: &partypic::config::Settings, file: &Path) -> anyhow::Result<()> {
    let report = partypic::backup::restore(settings, file).await?;
    println!(
        "restored {} photos ({} files, checksums verified) into {}",
        report.photos,
        report.files,
        settings.data_dir.display()
    );
    Ok(())
}

async fn export(
    settings: &partypic::config::Settings,
    event_id: uuid::Uuid,
    file: &Path,
) -> anyhow::Result<()> {
    let db = startup::open_database(settings).await?;
    startup::migrate(db.as_ref()).await?;
    let store = startup::open_store(settings).await?;
    let result = event_archive::export(db.as_ref(), store.as_ref(), event_id, file).await;
    db.close().await;
    let report = result?;
    println!(
        "event {event_id} written to {}: {} photos, {} guests, {} bytes",
        file.display(),
        report.photos,
        report.guests,
        report.bytes
    );
    for id in &report.skipped {
        println!("photo {id} was deleted during the export and is not in it");
    }
    Ok(())
}

async fn import(
    settings: &partypic::config::Settings,
    file: &Path,
    host_email: Option<&str>,
) -> anyhow::Result<()> {
    let db = startup::open_database(settings).await?;
    startup::migrate(db.as_ref()).await?;
    let store = startup::open_store(settings).await?;
    let hasher = PasswordHasher::new(&settings.hashing)?;
    let result =
        event_archive::import(db.as_ref(), store.as_ref(), &hasher, file, host_email).await;
    db.close().await;
    let report = result?;
    println!(
        "event {} imported for {}: {} photos, {} guests",
        report.event_id, report.host_email, report.photos, report.guests
    );
    if let Some(password) = report.new_host_password {
        println!(
            "created host {} with the password {password}: give it to the host, it is shown only now",
            report.host_email
        );
    }
    Ok(())
}
