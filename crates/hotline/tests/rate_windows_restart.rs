//! Rate windows survive a restart (issues 14 and 16): Telegram keeps counting a group's 20
//! messages per minute across Hotline's restart, so the restarted outbox starts with the
//! windows of the sends it finished, not empty ones — it paces the group instead of
//! meeting a 429 that pauses the group for up to a minute.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_pacing_the_group() {
    // Telegram's limits on the harness's clock: 20 sends per 6 s into the group.
    let mut t = spawn_app().await;
    // Six first contacts: topic, card and copy each, 18 of the group's 20.
    for i in 1..=6 {
        let name = format!("Before{i}");
        t.user_says(t.person(&name), &format!("first from {name}"));
    }
    for i in 1..=6 {
        let name = format!("Before{i}");
        let thread = t.wait_topic(&name).await;
        t.wait_in_topic(thread, &format!("first from {name}")).await;
    }

    // Restarted well inside the window, three more first contacts need 9 sends: two fit,
    // the rest wait until the first sends leave Telegram's window.
    t.restart().await;
    for i in 1..=3 {
        let name = format!("After{i}");
        t.user_says(t.person(&name), &format!("first from {name}"));
    }
    for i in 1..=3 {
        let name = format!("After{i}");
        let thread = t.wait_topic(&name).await;
        t.wait_in_topic(thread, &format!("first from {name}")).await;
    }
    let too_many = t.ctl.calls().iter().filter(|c| c.error_code == 429).count();
    assert_eq!(too_many, 0, "the emulator answered 429 {too_many} times");
    t.assert_conformant();
}
