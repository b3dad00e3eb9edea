//! `hotline dead-letters list|retry|drop` against a database holding a dead update: the
//! listing shows kind, id, connection, attempts, time and error; retry re-queues it; drop
//! removes it for good; an unknown id is an error with a clear message.

use std::process::Command;

use hotline::store::{DeadKind, Store};
use serde_json::json;

fn run(config: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .arg("dead-letters")
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("HOTLINE_CONFIG")
        .env_remove("HOTLINE_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn list_retry_and_drop() {
    let dir = tempfile::tempdir().unwrap();
    let db = hotline::store::testdb::TestDatabase::create(Some(dir.path())).await;
    let config = dir.path().join("hotline.toml");
    std::fs::write(
        &config,
        format!(
            "database_url = \"{}\"\n[[connection]]\nname = \"support\"\n\
             token = \"123456:ABC-def\"\ngroup_id = -100123\n",
            db.url()
        ),
    )
    .unwrap();
    let store = Store::open(db.url()).await.unwrap();
    store.migrate().await.unwrap();
    let conn = store.ensure_connection("support").await.unwrap();
    store
        .insert_updates(conn, &[json!({"update_id": 4242, "message": {}})], 1)
        .await
        .unwrap();
    let kill = |store: Store| async move {
        store
            .update_failed(
                conn,
                4242,
                "panic: boom\tin\nparts",
                5,
                None,
                1_764_547_200_000,
            )
            .await
            .unwrap();
    };
    kill(store.clone()).await;
    let id = store.dead_letters(DeadKind::Update, 10).await.unwrap()[0].id;

    let (ok, out, err) = run(&config, &["list"]);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "kind\tid\tconnection\tattempts\tsince\tlast error"
    );
    assert_eq!(
        lines[1],
        format!("update\t{id} (update_id 4242)\tsupport\t5\t2025-12-01 00:00:00 UTC\tpanic: boom in parts")
    );
    assert_eq!(lines.len(), 2, "{out}");
    let (ok, out, _) = run(&config, &["list", "--kind", "intent"]);
    assert!(ok);
    assert_eq!(out.trim(), "no dead letters");

    let (ok, out, err) = run(&config, &["retry", "update", &id.to_string()]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("update {id} re-queued"));
    let pending = store.unprocessed_updates(conn, 10).await.unwrap();
    assert_eq!((pending.len(), pending[0].attempts), (1, 0));
    assert_eq!(run(&config, &["list"]).1.trim(), "no dead letters");

    kill(store.clone()).await;
    let (ok, out, err) = run(&config, &["drop", "update", &id.to_string()]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("update {id} dropped"));
    assert!(store
        .unprocessed_updates(conn, 10)
        .await
        .unwrap()
        .is_empty());
    let (ok, _, err) = run(&config, &["drop", "update", &id.to_string()]);
    assert!(!ok);
    assert!(
        err.contains(&format!("no dead update with id {id}")),
        "{err}"
    );
    let (ok, _, err) = run(&config, &["retry", "parcel", "1"]);
    assert!(!ok);
    assert!(err.contains("invalid value 'parcel'"), "{err}");
    store.close().await;
}
