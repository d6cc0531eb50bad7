//! The audit log: who did what, when, from where, and whether it was let through. The routes
//! layer records an entry where it knows the caller, the target and the outcome (after the
//! service answered); admins read it through `GET /audit` (JSON or CSV). Entries never hold a
//! secret or a file's content: each call site picks the fields it records.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::db::{self, Db};
use crate::error::ApiError;
use crate::users::User;

/// The most entries one listing answers with.
pub const MAX_LIST: i64 = 10_000;

/// One thing that happened, as a call site describes it.
#[derive(Debug, Clone)]
pub struct Entry {
    action: &'static str,
    user_id: Option<String>,
    username: Option<String>,
    target: Option<String>,
    refused: Option<String>,
    client: Option<IpAddr>,
    detail: serde_json::Map<String, Value>,
}

impl Entry {
    /// `user` did `action` (`container.create`, `auth.login`: area, then verb).
    pub fn by(user: &User, action: &'static str) -> Entry {
        Entry {
            user_id: Some(user.id.clone()),
            username: Some(user.username.clone()),
            ..Entry::anonymous(action)
        }
    }

    /// Someone not signed in tried `action` (a failed sign-in: `as_name` is the name typed).
    pub fn named(as_name: &str, action: &'static str) -> Entry {
        Entry {
            username: Some(as_name.chars().take(64).collect()),
            ..Entry::anonymous(action)
        }
    }

    fn anonymous(action: &'static str) -> Entry {
        Entry {
            action,
            user_id: None,
            username: None,
            target: None,
            refused: None,
            client: None,
            detail: serde_json::Map::new(),
        }
    }

    /// What it was done to: an id, a name, an image reference.
    pub fn target(mut self, target: impl Into<String>) -> Entry {
        self.target = Some(target.into());
        self
    }

    /// A field of what the action was given (never a secret or a file's content).
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Entry {
        self.detail.insert(key.to_string(), value.into());
        self
    }

    pub fn from_client(mut self, client: Option<IpAddr>) -> Entry {
        self.client = client;
        self
    }

    /// It was not let through, for `why`.
    pub fn refused(mut self, why: impl Into<String>) -> Entry {
        self.refused = Some(why.into());
        self
    }

    /// `ok`, or the refusal of `result`.
    pub fn outcome<T>(self, result: &Result<T, ApiError>) -> Entry {
        match result {
            Ok(_) => self,
            Err(e) => self.refused(e.message.clone()),
        }
    }

    /// The outcome of `result`, which made something: when it worked, `id` names it.
    pub fn made<T>(self, result: &Result<T, ApiError>, id: impl FnOnce(&T) -> String) -> Entry {
        match result {
            Ok(made) => self.target(id(made)),
            Err(e) => self.refused(e.message.clone()),
        }
    }
}

/// An entry as admins read it.
#[derive(Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct AuditView {
    pub id: String,
    /// RFC 3339, UTC.
    pub at: String,
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub action: String,
    pub target: Option<String>,
    /// `ok`, or `refused`.
    pub outcome: String,
    /// Why it was refused.
    pub reason: Option<String>,
    pub client: Option<String>,
    #[ts(type = "Record<string, unknown>")]
    pub detail: Value,
}

/// Which entries a listing wants.
#[derive(Debug, Default)]
pub struct Filter<'a> {
    pub since_ms: i64,
    pub username: Option<&'a str>,
    /// An action (`image.pull`), or an area (`image`) for all of its actions.
    pub action: Option<&'a str>,
    pub limit: Option<i64>,
}

pub struct Audit {
    db: Db,
    retention: Duration,
}

impl Audit {
    pub fn new(db: Db, retention_days: u64) -> Audit {
        Audit {
            db,
            retention: Duration::from_secs(retention_days.saturating_mul(86_400)),
        }
    }

    /// Keeps `entry`. An entry that cannot be written is logged, and the action it describes
    /// stands (the log must not take the service down with it).
    pub async fn record(&self, entry: Entry) {
        let mut detail = entry.detail;
        if let Some(why) = entry.refused.as_ref() {
            detail.insert("reason".into(), Value::String(why.clone()));
        }
        let row = db::audit::AuditRow {
            id: uuid::Uuid::now_v7().to_string(),
            at_ms: crate::clock::now_ms(),
            user_id: entry.user_id,
            username: entry.username,
            action: entry.action.to_string(),
            target: entry.target,
            outcome: if entry.refused.is_some() {
                "refused"
            } else {
                "ok"
            }
            .to_string(),
            client: entry.client.map(|c| c.to_string()),
            detail: Value::Object(detail).to_string(),
        };
        if let Err(e) = db::audit::insert(&self.db, &row).await {
            tracing::error!(error = %e, action = %row.action, "could not write an audit entry");
        }
    }

    /// Keeps `entry` with `result`'s outcome (when the entry has none yet), and hands `result`
    /// back.
    pub async fn record_outcome<T>(
        &self,
        entry: Entry,
        result: Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        self.record(entry.outcome(&result)).await;
        result
    }

    pub async fn list(&self, filter: Filter<'_>) -> Result<Vec<AuditView>, ApiError> {
        let limit = filter.limit.unwrap_or(1000).clamp(1, MAX_LIST);
        let rows = db::audit::list(
            &self.db,
            filter.since_ms,
            filter.username,
            filter.action,
            limit,
        )
        .await?;
        Ok(rows.into_iter().map(view).collect())
    }

    /// Removes what is older than `audit.retention_days`, now and every hour until `stop`.
    pub async fn keep_within_retention(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let before = crate::clock::now_ms() - self.retention.as_millis() as i64;
            match db::audit::delete_before(&self.db, before).await {
                Ok(0) => {}
                Ok(gone) => tracing::info!(gone, "audit entries past their retention removed"),
                Err(e) => tracing::warn!(error = %e, "could not remove old audit entries"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            }
        }
    }
}

fn view(row: db::audit::AuditRow) -> AuditView {
    let mut detail: Value = serde_json::from_str(&row.detail).unwrap_or(Value::Null);
    let reason = detail
        .as_object_mut()
        .and_then(|d| d.remove("reason"))
        .and_then(|r| r.as_str().map(str::to_string));
    AuditView {
        id: row.id,
        at: crate::clock::rfc3339(row.at_ms),
        user_id: row.user_id,
        username: row.username,
        action: row.action,
        target: row.target,
        outcome: row.outcome,
        reason,
        client: row.client,
        detail,
    }
}

/// The entries as CSV, one row each. A cell that a spreadsheet would take for a formula (a
/// student's command can start with `=`) gets a `'` before it.
pub fn to_csv(entries: &[AuditView]) -> Result<Vec<u8>, ApiError> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = [
        "at", "username", "action", "target", "outcome", "reason", "client", "detail",
    ];
    out.write_record(header)
        .map_err(|e| ApiError::internal(&e))?;
    for e in entries {
        let detail = e.detail.to_string();
        let cells = [
            e.at.as_str(),
            e.username.as_deref().unwrap_or(""),
            e.action.as_str(),
            e.target.as_deref().unwrap_or(""),
            e.outcome.as_str(),
            e.reason.as_deref().unwrap_or(""),
            e.client.as_deref().unwrap_or(""),
            detail.as_str(),
        ];
        out.write_record(cells.map(|cell| inert(cell).into_owned()))
            .map_err(|e| ApiError::internal(&e))?;
    }
    out.into_inner()
        .map_err(|e| ApiError::internal(&std::io::Error::other(e.to_string())))
}

/// A cell a spreadsheet shows as text.
fn inert(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_never_formulas() {
        let entry = AuditView {
            id: "1".into(),
            at: "2026-12-01T10:00:00.000Z".into(),
            user_id: None,
            username: Some("eve".into()),
            action: "exec.start".into(),
            target: Some("c1".into()),
            outcome: "ok".into(),
            reason: None,
            client: None,
            detail: serde_json::json!({"command": ["sh", "-c", "echo \"a,b\""]}),
        };
        let mut formula = AuditView {
            target: Some("=HYPERLINK(\"http://x\")".into()),
            ..entry
        };
        let text = String::from_utf8(to_csv(std::slice::from_ref(&formula)).unwrap()).unwrap();
        let mut rows = csv::Reader::from_reader(text.as_bytes());
        let row = rows.records().next().unwrap().unwrap();
        assert_eq!(&row[3], "'=HYPERLINK(\"http://x\")");
        let detail: Value = serde_json::from_str(&row[7]).unwrap();
        assert_eq!(detail["command"][2], "echo \"a,b\"");
        formula.target = Some("-1".into());
        assert!(String::from_utf8(to_csv(&[formula]).unwrap())
            .unwrap()
            .contains("'-1"));
    }
}
