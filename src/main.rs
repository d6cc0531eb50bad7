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
    /// Sign in to a berth server; the token is kept (mode 0600) for the other commands.
    Login {
        /// The server, `https://berth.school.example`.
        #[arg(long)]
        server: String,
        /// Asked for when absent.
        #[arg(long)]
        username: Option<String>,
        /// Read the password from the first line of stdin instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Run a command in a container or workspace, with this terminal; the remote exit code is
    /// berth's.
    Exec {
        /// A terminal: raw mode, resizes follow this window, Ctrl-C goes to the remote process.
        #[arg(short = 't', long)]
        tty: bool,
        /// A container's name or id, or a workspace's id or name.
        target: String,
        #[arg(last = true, required = true)]
        cmd: Vec<String>,
    },
    /// Copy a file into or out of a workspace: `berth cp notes.txt ws:notes.txt`,
    /// `berth cp ws:out/result.csv .`.
    Cp { source: String, destination: String },
    /// Run a file of a workspace as its template runs that kind of file.
    Run {
        workspace: String,
        /// Its path in the workspace (relative to /workspace).
        file: String,
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// A container's or workspace's output.
    Logs {
        /// Keep following it.
        #[arg(short = 'f', long)]
        follow: bool,
        /// Only the last lines.
        #[arg(long)]
        tail: Option<u64>,
        target: String,
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
    let command = Cli::parse().command;
    // The client commands speak for themselves; the server logs.
    let client = matches!(
        command,
        Command::Login { .. }
            | Command::Exec { .. }
            | Command::Logs { .. }
            | Command::Cp { .. }
            | Command::Run { .. }
    );
    if !client {
        berth::telemetry::init();
    }
    match command {
        Command::Login {
            server,
            username,
            password_stdin,
        } => berth::cli::login(server, username, password_stdin).await?,
        Command::Exec { tty, target, cmd } => {
            let code = berth::cli::exec(tty, target, cmd).await?;
            std::process::exit(code);
        }
        Command::Cp {
            source,
            destination,
        } => berth::cli::cp(source, destination).await?,
        Command::Run {
            workspace,
            file,
            args,
        } => {
            let code = berth::cli::run(workspace, file, args).await?;
            std::process::exit(code);
        }
        Command::Logs {
            follow,
            tail,
            target,
        } => {
            let code = berth::cli::logs(follow, tail, target).await?;
            std::process::exit(code);
        }
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
