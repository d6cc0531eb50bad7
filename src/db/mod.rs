//! The database, and the only place with SQL: one file per group of tables. SQLite in the data
//! dir by default (WAL, so `berth user create` works beside a running server), or PostgreSQL
//! when `database_url` is `postgres://…`. The same queries run on both, through sqlx's `Any`
//! driver: runtime queries in portable SQL with `$1`-style placeholders, integers as BIGINT,
//! sums cast back to BIGINT (Postgres makes them NUMERIC). The migrations are one set for both,
//! written in what the two share (no serial columns: `events` numbers its rows itself).

pub mod assignments;
pub mod attendance;
pub mod audit;
pub mod checks;
pub mod containers;
pub mod courses;
pub mod events;
pub mod held;
pub mod hosts;
pub mod images;
pub mod installation;
pub mod jobs;
pub mod oidc;
pub mod registries;
pub mod replicas;
pub mod reservations;
pub mod templates;
pub mod throttle;
pub mod tickets;
pub mod tokens;
pub mod users;
pub mod workspaces;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{AnyPool, ConnectOptions, Connection};

use crate::error::ApiError;

/// A pool of connections to berth's database, SQLite's or PostgreSQL's.
pub type Db = AnyPool;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn of(url: &str) -> Option<Dialect> {
        if url.starts_with("sqlite:") {
            Some(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Dialect::Postgres)
        } else {
            None
        }
    }
}

/// Opens (creating a SQLite file if needed) and migrates the database at `url`.
pub async fn connect(url: &str) -> Result<Db, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let pool = match Dialect::of(url) {
        Some(Dialect::Sqlite) => {
            // The file is made, and put in WAL mode (which the file keeps), once, before the
            // pool: every connection of the pool then only sets what is per connection.
            SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .connect()
                .await?
                .close()
                .await?;
            AnyPoolOptions::new()
                .max_connections(8)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        for pragma in [
                            "PRAGMA busy_timeout = 5000",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA synchronous = NORMAL",
                        ] {
                            sqlx::Executor::execute(&mut *conn, pragma).await?;
                        }
                        Ok(())
                    })
                })
                .connect(url)
                .await?
        }
        Some(Dialect::Postgres) => {
            AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?
        }
        None => {
            return Err(sqlx::Error::Configuration(
                "database_url is sqlite://… or postgres://…".into(),
            ))
        }
    };
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

/// A boolean column as it is read: sqlx's `Any` driver cannot read a SQLite BOOLEAN column
/// (sqlx #2778, open), so every boolean is selected as 0 or 1 (`CASE WHEN c THEN 1 ELSE 0 END`,
/// the same on both databases) and its row field decodes it with `#[sqlx(try_from = "Flag")]`.
/// Booleans are written as they are.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub struct Flag(i64);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0 != 0
    }
}

/// A nullable boolean column, selected as NULL, 0 or 1.
#[derive(sqlx::Type)]
#[sqlx(transparent)]
pub struct NullableFlag(Option<i64>);

impl From<NullableFlag> for Option<bool> {
    fn from(flag: NullableFlag) -> Option<bool> {
        flag.0.map(|n| n != 0)
    }
}

/// Makes `tx` the only transaction holding `key` until it ends, for a check and a write that
/// must not interleave with another's (a quota: count, then insert). On PostgreSQL, under its
/// default isolation, two statements can both see the room before either takes it: this is a
/// transaction-scoped advisory lock. SQLite lets one writer at a time already.
pub async fn hold(tx: &mut sqlx::AnyConnection, key: &str) -> Result<(), sqlx::Error> {
    if tx.backend_name() == "PostgreSQL" {
        sqlx::query(
            "SELECT 1 FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS held",
        )
        .bind(key)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
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
