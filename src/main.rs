use std::io::BufRead;
use std::path::PathBuf;

use anyhow::Context;
use berth::config::{Overrides, Settings};
use berth::startup::Application;
use berth::users::{self, Role};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "Live, safe browser sessions on Docker containers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// A TOML settings file.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Manage accounts directly in the database (works while the server runs).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    Create {
        #[arg(long)]
        username: String,
        /// The password, or `-` to read it from the first line of stdin.
        #[arg(long)]
        password: String,
        #[arg(long, value_parser = ["admin", "teacher", "student"])]
        role: String,
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    berth::telemetry::init();
    match Cli::parse().command {
        Command::Serve {
            listen,
            data_dir,
            config,
        } => {
            let settings = Settings::load(config.as_deref(), Overrides { listen, data_dir })
                .context("reading settings")?;
            tracing::info!(?settings, "starting");
            let app = Application::build(settings).await?;
            tracing::info!(address = %app.address(), "listening");
            app.run_until_stopped().await?;
        }
        Command::User {
            command:
                UserCommand::Create {
                    username,
                    password,
                    role,
                    data_dir,
                    config,
                },
        } => {
            let settings = Settings::load(
                config.as_deref(),
                Overrides {
                    listen: None,
                    data_dir,
                },
            )
            .context("reading settings")?;
            let password = if password == "-" {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                line.trim_end_matches(['\r', '\n']).to_string()
            } else {
                password
            };
            let role = Role::parse(&role).context("unknown role")?;
            std::fs::create_dir_all(&settings.data_dir)?;
            let db = berth::db::connect(&settings.database_url()).await?;
            let user = users::create(&db, &username, &password, role)
                .await
                .map_err(|e| anyhow::anyhow!(e.message))?;
            println!("{}", serde_json::to_string(&user)?);
        }
    }
    Ok(())
}
