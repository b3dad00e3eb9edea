//! Start-up checks: a connection whose token, group or rights are wrong does not start,
//! and the error says exactly what to fix.

mod common;

use hotline::store::testdb::TestDatabase;

use common::{config_toml_url, test_tuning};
use hotline::app;
use hotline::config::Config;
use serde_json::json;
use tg_emulator::Emulator;

async fn start_error(emu: &Emulator, token: &str, group: i64) -> String {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDatabase::create(Some(dir.path())).await;
    let toml = config_toml_url(db.url(), &emu.url(), token, group, "");
    let config = Config::parse(&toml, dir.path(), |_| None).expect("valid config");
    match app::start(&config, test_tuning(&config)).await {
        Ok(_) => panic!("started although the connection is unusable"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_token_group_or_rights_are_explained() {
    let emu = Emulator::start_local().await.unwrap();
    let ctl = emu.control();
    let token = "7000001:test-token-support";
    let bot = ctl.add_bot(token, "support_bot", "Support").unwrap();
    let owner = ctl.add_user("Olga", None, None, None)["id"]
        .as_i64()
        .unwrap();

    let forum = ctl.add_group("Support team", true, Some(owner));
    let e = start_error(&emu, "7000009:not-a-real-token", forum).await;
    assert!(e.contains("rejected the bot token"), "{e}");

    let e = start_error(&emu, token, forum).await;
    assert!(e.contains("not reachable"), "bot not in the group: {e}");

    let plain = ctl.add_group("Plain group", false, Some(owner));
    ctl.add_admin_bot(plain, bot).unwrap();
    let e = start_error(&emu, token, plain).await;
    assert!(
        e.contains("not a forum") && e.contains("enable Topics"),
        "{e}"
    );

    ctl.set_member(
        forum,
        bot,
        "administrator",
        json!({"can_manage_topics": false}),
    )
    .unwrap();
    let e = start_error(&emu, token, forum).await;
    assert!(e.contains("manage topics"), "{e}");
    assert!(
        !e.contains("test-token-support"),
        "the token never appears in errors: {e}"
    );
}
