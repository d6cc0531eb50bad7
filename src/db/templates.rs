//! `templates`: what workspaces are made from.

use super::Db;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateRow {
    pub id: String,
    pub name: String,
    pub image: String,
    pub description: Option<String>,
    pub memory_mb: Option<i64>,
    pub cpus: Option<f64>,
    pub pids: Option<i64>,
    pub gpus: Option<i64>,
    /// `none` or `bridge`.
    pub network: String,
    pub idle_timeout_s: Option<i64>,
    pub job_max_s: Option<i64>,
    /// JSON: extension to argv.
    pub run: String,
    /// JSON: starter files, path to text.
    pub files: String,
    /// Who made it (None once that account is gone): only they and admins change it.
    pub created_by: Option<String>,
}

const COLUMNS: &str = "id, name, image, description, memory_mb, cpus, pids, gpus, network, \
                       idle_timeout_s, job_max_s, run, files, created_by";

/// The templates not deleted, by name.
pub async fn all(db: &Db) -> Result<Vec<TemplateRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM templates WHERE NOT deleted ORDER BY name"
    ))
    .fetch_all(db)
    .await
}

/// The template with this id or name (a deleted one only by id, for its workspaces).
pub async fn find(db: &Db, id_or_name: &str) -> Result<Option<TemplateRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM templates WHERE id = $1 OR (name = $1 AND NOT deleted)"
    ))
    .bind(id_or_name)
    .fetch_optional(db)
    .await
}

/// Inserts or, when the id exists, replaces a template (its creator stays); a taken name is a
/// unique violation.
pub async fn upsert(db: &Db, t: &TemplateRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO templates (id, name, image, description, memory_mb, cpus, pids, gpus, \
         network, idle_timeout_s, run, files, created_by, created_at, job_max_s) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (id) DO UPDATE SET name = $2, image = $3, description = $4, \
         memory_mb = $5, cpus = $6, pids = $7, gpus = $8, network = $9, idle_timeout_s = $10, \
         run = $11, files = $12, job_max_s = $15",
    )
    .bind(&t.id)
    .bind(&t.name)
    .bind(&t.image)
    .bind(&t.description)
    .bind(t.memory_mb)
    .bind(t.cpus)
    .bind(t.pids)
    .bind(t.gpus)
    .bind(&t.network)
    .bind(t.idle_timeout_s)
    .bind(&t.run)
    .bind(&t.files)
    .bind(&t.created_by)
    .bind(now)
    .bind(t.job_max_s)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes a template; one that workspaces still use is only hidden (and its name freed).
pub async fn delete(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE templates SET deleted = TRUE, name = id || ':' || name WHERE id = $1 \
         AND EXISTS (SELECT 1 FROM workspaces WHERE template_id = $1)",
    )
    .bind(id)
    .execute(db)
    .await?;
    sqlx::query(
        "DELETE FROM templates WHERE id = $1 \
         AND NOT EXISTS (SELECT 1 FROM workspaces WHERE template_id = $1)",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}
