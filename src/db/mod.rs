//! The database, and the only place with SQL: one file per group of tables. SQLite in the data
//! dir by default (WAL, so `berth user create` works beside a running server). Queries are
//! runtime queries in portable SQL with `$1`-style placeholders, so that a Postgres pool can
//! take them later.

pub mod assignments;
pub mod attendance;
pub mod audit;
pub mod checks;
pub mod containers;
pub mod courses;
pub mod hosts;
pub mod images;
pub mod jobs;
pub mod registries;
pub mod reservations;
pub mod templates;
pub mod tokens;
pub mod users;
pub mod workspaces;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;

use crate::error::ApiError;

/// A pool of connections to berth's database.
pub type Db = SqlitePool;

/// Opens (creating it if needed) and migrates the database at `url`.
pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(options)
        .await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

/// Whether the database answers.
pub async fn ping(db: &Db) -> bool {
    sqlx::query("SELECT 1").execute(db).await.is_ok()
}

/// A unique-constraint violation becomes `conflict` with `message`; other errors stay internal.
pub fn conflict_on_unique(message: impl Into<String>) -> impl FnOnce(sqlx::Error) -> ApiError {
    move |e| match e {
        sqlx::Error::Database(db) if db.is_unique_violation() => ApiError::conflict(message),
        other => other.into(),
    }
}

/// Whether an error is a unique-constraint violation (a retry with a new value may work).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}
