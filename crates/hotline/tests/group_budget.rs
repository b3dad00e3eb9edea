//! The group budget (issue 16): with Telegram's 20 messages per minute into a group (the
//! harness's clock ten times faster), a burst of new dialogs queues behind it. Answers to
//! users must not wait behind that queue, and the first messages of new dialogs go before
//! the follow-ups of dialogs the team already sees.

mod common;

use std::time::Duration;

use common::*;

/// Long enough for three group windows (60 sends) on a loaded machine.
const BURST_DEADLINE: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_and_new_dialogs_go_before_mirroring_follow_ups() {
    let t = spawn_app().await;
    let anna = t.person("Anna");
    t.user_says(anna, "hello from Anna");
    let anna_topic = t.wait_topic("Anna").await;
    t.wait_in_topic(anna_topic, "hello from Anna").await;

    // Ten new people write at once: topic, card and copy each, 30 sends for a group that
    // takes 20 per window.
    let early: Vec<i64> = (1..=10)
        .map(|i| t.person(&format!("Early{i:02}")))
        .collect();
    for (i, u) in early.iter().enumerate() {
        t.user_says(*u, &format!("first from Early{:02}", i + 1));
    }
    // While they queue, Anna writes again and the operator answers her.
    t.user_says(anna, "follow-up from Anna");
    t.operator_says(anna_topic, "answer for Anna");
    // Then four more new people write.
    let late: Vec<i64> = (1..=4).map(|i| t.person(&format!("Late{i}"))).collect();
    for (i, u) in late.iter().enumerate() {
        t.user_says(*u, &format!("first from Late{}", i + 1));
    }

    // The answer reaches Anna while the group still works through the burst: 14 dialogs
    // need 42 sends, three windows of the group, and the answer needs none of them.
    t.wait_in_user_chat(anna, "answer for Anna").await;
    let topics_then = t.topics().len();
    assert!(
        topics_then < 15,
        "the answer waited for the whole burst ({topics_then} topics existed)"
    );

    // Everyone is seen in the end; the late newcomers' first messages went before Anna's
    // follow-up although they wrote after it.
    wait_until_for("Anna's follow-up in her topic", BURST_DEADLINE, || {
        t.topic(Some(anna_topic))
            .iter()
            .any(|m| text_of(m).contains("follow-up from Anna"))
    })
    .await;
    let mut late_first = Vec::new();
    for i in 1..=4 {
        let name = format!("Late{i}");
        wait_until_for(&format!("a topic for {name}"), BURST_DEADLINE, || {
            t.topics()
                .iter()
                .any(|x| x["name"].as_str().unwrap_or("").contains(&name))
        })
        .await;
        let thread = t.wait_topic(&name).await;
        let copy = t.wait_in_topic(thread, &format!("first from {name}")).await;
        late_first.push(copy["message_id"].as_i64().unwrap());
    }
    let follow_up_id = t
        .topic(Some(anna_topic))
        .into_iter()
        .find(|m| text_of(m).contains("follow-up from Anna"))
        .unwrap()["message_id"]
        .as_i64()
        .unwrap();
    for (i, id) in late_first.iter().enumerate() {
        assert!(
            *id < follow_up_id,
            "Late{}'s first message ({id}) went after Anna's follow-up ({follow_up_id})",
            i + 1
        );
    }
    for i in 1..=10 {
        let name = format!("Early{i:02}");
        let thread = t.wait_topic(&name).await;
        t.wait_in_topic(thread, &format!("first from {name}")).await;
    }
    t.assert_conformant();
}
