//! Membership changes take effect at once (issue 16): Telegram's `chat_member` updates keep
//! Hotline's cache of the group's administrators current, so a demoted operator loses the
//! admin commands with their next message, not at the next periodic refresh (10 minutes).

mod common;
mod ops;

use common::spawn_app;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promotion_and_demotion_apply_to_the_next_command() {
    let t = spawn_app().await;
    let mia = ops::member(&t, "Mia");
    ops::general_as(&t, mia, "/stats", "for the group's administrators").await;

    let rights = json!({"can_manage_topics": true, "can_delete_messages": true});
    t.ctl.promote(t.group, mia, rights).unwrap();
    // The promotion reaches Hotline as a `chat_member` update before Mia's next message
    // (updates are handled in order), so that very command is an administrator's.
    let stats = ops::general_as(&t, mia, "/stats", "").await;
    assert!(
        !stats.contains("🔒"),
        "the promoted member was refused: {stats}"
    );

    t.ctl.demote(t.group, mia).unwrap();
    ops::general_as(&t, mia, "/stats", "for the group's administrators").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_team_hears_at_once_when_the_bot_loses_and_regains_its_rights() {
    let t = spawn_app().await;
    // Demoted to a plain member: it may still post in General, not manage topics.
    t.ctl.demote(t.group, t.bot).unwrap();
    t.wait_until("the alert in General", || {
        !ops::general_answers(&t, "no longer an administrator").is_empty()
    })
    .await;
    // Promoted without the topics right: still not enough, and nothing new is said.
    t.ctl
        .promote(t.group, t.bot, json!({"can_delete_messages": true}))
        .unwrap();
    t.ctl
        .promote(
            t.group,
            t.bot,
            json!({"can_manage_topics": true, "can_delete_messages": true}),
        )
        .unwrap();
    t.wait_until("the all-clear in General", || {
        !ops::general_answers(&t, "manage topics in this group again").is_empty()
    })
    .await;
    assert_eq!(
        ops::general_answers(&t, "no longer an administrator").len(),
        1,
        "one alert for one loss"
    );
    // Back to work: a new user gets a topic.
    let ann = t.person("Ann");
    t.user_says(ann, "hello");
    let thread = t.wait_topic("Ann").await;
    t.wait_in_topic(thread, "hello").await;
}
