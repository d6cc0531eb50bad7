//! PostgreSQL as berth's database. The whole suite runs on it too (`BERTH_TEST_DATABASE=postgres`,
//! from scripts/test.sh); these are what only a shared database asks for.

use berth::config::Settings;
use berth::startup::Application;

use crate::helpers::{TestDatabase, TEST_JWT_SECRET, TEST_SECRET_KEY};

fn settings_on(database: &TestDatabase, data_dir: &std::path::Path) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.to_path_buf(),
        database_url: Some(database.url().to_string()),
        ..Settings::default()
    }
}

#[tokio::test]
async fn a_shared_database_without_the_keys_in_the_settings_is_refused_at_start() {
    let database = TestDatabase::postgres();
    let dir = tempfile::tempdir().unwrap();

    // With both keys given, berth starts on it (and migrates it).
    let mut given = settings_on(&database, dir.path());
    given.jwt_secret = Some(TEST_JWT_SECRET.into());
    given.secret_key = Some(TEST_SECRET_KEY.into());
    let started = Application::build(given).await;
    assert!(started.is_ok(), "{:?}", started.err());
    drop(started);

    for missing in ["jwt_secret", "secret_key"] {
        let mut settings = settings_on(&database, dir.path());
        if missing != "jwt_secret" {
            settings.jwt_secret = Some(TEST_JWT_SECRET.into());
        }
        if missing != "secret_key" {
            settings.secret_key = Some(TEST_SECRET_KEY.into());
        }
        let refused = Application::build(settings).await;
        let said = format!("{:#}", refused.err().expect("started without its keys"));
        assert!(said.contains("jwt_secret and secret_key"), "{said}");
        // Nothing was generated into the data dir in their place.
        assert!(!dir.path().join(missing).exists());
    }
}

/// Holds a connection of the pool for a moment.
async fn hold_a_connection(db: &berth::db::Db) {
    for _ in 0..3 {
        berth::db::ping(db).await;
    }
}

/// Twenty takers at once, on one database, where the quota has room for three: exactly three
/// get it. On SQLite writers take turns; on PostgreSQL the check and the insert are one
/// transaction holding the owner's lock, or several would see the same free room.
#[tokio::test]
async fn quota_takers_racing_on_one_database_get_exactly_the_room_there_is() {
    let dir = tempfile::tempdir().unwrap();
    for database in [
        TestDatabase::for_data_dir(dir.path()),
        TestDatabase::postgres(),
    ] {
        let db = berth::db::connect(database.url()).await.unwrap();
        let user = berth::users::create(
            &db,
            "racer",
            "racer-password-1",
            berth::users::Role::Student,
        )
        .await
        .unwrap();
        // Every connection of the pool open first, so that the takers truly run at once.
        let warm = (0..8).map(|_| hold_a_connection(&db));
        futures_util::future::join_all(warm).await;
        let ids: Vec<String> = (0..20).map(|i| format!("r{i}")).collect();
        let takers = ids.iter().map(|id| {
            let (db, owner) = (db.clone(), user.id.clone());
            async move {
                let r = berth::db::reservations::Reservation {
                    id,
                    owner_id: &owner,
                    kind: "workspace",
                    memory_mb: 100,
                };
                berth::db::reservations::take(&db, &r, 0, 300, 10, 0)
                    .await
                    .unwrap()
            }
        });
        let taken = futures_util::future::join_all(takers).await;
        let taken = taken.iter().filter(|t| **t).count();
        assert_eq!(
            taken,
            3,
            "{} let {taken} of 20 take 100 MiB of 300",
            database.url()
        );
        let held = berth::db::reservations::held_by(&db, &user.id)
            .await
            .unwrap();
        assert_eq!(held, (3, 300));
    }
}
