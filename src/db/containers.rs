//! `containers`: where each container berth created lives, so that an id or name finds its host.

use super::Db;

/// A container as recorded at creation.
#[derive(sqlx::FromRow)]
pub struct ContainerRow {
    pub id: String,
    pub name: String,
    pub host: String,
    pub image: String,
    pub owner_id: String,
}

/// Fails with a unique violation when the name is taken.
pub async fn insert(db: &Db, row: &ContainerRow, created_at: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO containers (id, name, host, image, owner_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.host)
    .bind(&row.image)
    .bind(&row.owner_id)
    .bind(created_at)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn delete(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM containers WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// The container recorded under `name`: (id, host).
pub async fn by_name(db: &Db, name: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT id, host FROM containers WHERE name = $1")
        .bind(name)
        .fetch_optional(db)
        .await
}

/// The host of the container with this id, id prefix (12 characters or more) or name.
pub async fn host_of(db: &Db, id_or_name: &str) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT host FROM containers WHERE id = $1 OR name = $1 \
         OR (length($1) >= 12 AND substr(id, 1, length($1)) = $1) LIMIT 1",
    )
    .bind(id_or_name)
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(host,)| host))
}

/// Containers recorded on a host: one owner's, or all.
pub async fn on_host(
    db: &Db,
    host: &str,
    owner: Option<&str>,
) -> Result<Vec<ContainerRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name, host, image, owner_id FROM containers \
         WHERE host = $1 AND ($2 IS NULL OR owner_id = $2) ORDER BY created_at",
    )
    .bind(host)
    .bind(owner)
    .fetch_all(db)
    .await
}

/// What berth's rows say its engines hold: the id of every recorded container (users' and
/// workspaces'), and the submissions whose checks have not ended (their sandboxes may run).
#[derive(Default)]
pub struct Recorded {
    pub containers: std::collections::HashSet<String>,
    pub checks: std::collections::HashSet<String>,
    pub workspaces: std::collections::HashSet<String>,
}

pub async fn recorded(db: &Db) -> Result<Recorded, sqlx::Error> {
    let containers: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM containers UNION ALL SELECT container_id FROM workspaces",
    )
    .fetch_all(db)
    .await?;
    let checks: Vec<String> =
        sqlx::query_scalar("SELECT submission_id FROM checks WHERE state IN ('queued', 'running')")
            .fetch_all(db)
            .await?;
    let workspaces: Vec<String> = sqlx::query_scalar("SELECT id FROM workspaces")
        .fetch_all(db)
        .await?;
    Ok(Recorded {
        containers: containers.into_iter().collect(),
        checks: checks.into_iter().collect(),
        workspaces: workspaces.into_iter().collect(),
    })
}

/// Records again, for the leader in `term`, a container its host holds but whose row is
/// missing; false when the term is over or the id or name is recorded meanwhile.
pub async fn adopt(
    db: &Db,
    row: &ContainerRow,
    created_at: i64,
    term: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO containers (id, name, host, image, owner_id, created_at) \
         SELECT $1, $2, $3, $4, $5, $6 \
         WHERE EXISTS (SELECT 1 FROM leadership WHERE id = 1 AND term = $7) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.host)
    .bind(&row.image)
    .bind(&row.owner_id)
    .bind(created_at)
    .bind(term)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets, for the leader in `term`, a container its host no longer holds.
pub async fn forget_gone(db: &Db, id: &str, term: i64) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "DELETE FROM containers WHERE id = $1 \
         AND EXISTS (SELECT 1 FROM leadership WHERE id = 1 AND term = $2)",
    )
    .bind(id)
    .bind(term)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
