//! `image_sources`: the registries with stored logins that images were pulled from.

use super::Db;

/// Records that the image whose layers hash to `chain` came from `host`.
pub async fn record_source(db: &Db, chain: &str, host: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO image_sources (chain, host, recorded_at) VALUES ($1, $2, $3) \
         ON CONFLICT (chain, host) DO NOTHING",
    )
    .bind(chain)
    .bind(host)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// The hosts recorded for any of `chains`.
pub async fn sources_of(db: &Db, chains: &[String]) -> Result<Vec<String>, sqlx::Error> {
    if chains.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=chains.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT DISTINCT host FROM image_sources WHERE chain IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_scalar(&sql);
    for chain in chains {
        query = query.bind(chain);
    }
    query.fetch_all(db).await
}
