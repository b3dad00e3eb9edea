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

/// The live topic whose name contains `name` in `group`, if any.
fn topic_in(t: &TestApp, group: i64, name: &str) -> Option<i64> {
    t.ctl
        .topics(group)
        .into_iter()
        .filter(|x| x["is_deleted"] == false)
        .find(|x| x["name"].as_str().unwrap_or("").contains(name))
        .and_then(|x| x["message_thread_id"].as_i64())
}

fn text_in(t: &TestApp, group: i64, thread: i64, needle: &str) -> bool {
    t.ctl
        .topic_transcript(group, Some(thread))
        .iter()
        .any(|m| text_of(m).contains(needle))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_dialogs_spread_over_overflow_groups_and_stay_there() {
    let t = spawn_app_with_overflow(1, "").await;
    let (primary, second) = (t.group, t.overflow[0]);
    let names: Vec<String> = (1..=6).map(|i| format!("Burst{i}")).collect();
    let users: Vec<i64> = names.iter().map(|n| t.person(n)).collect();
    for (u, n) in users.iter().zip(&names) {
        t.user_says(*u, &format!("hello from {n}"));
    }
    // Every dialog gets one topic, in one of the two groups, with its first message.
    let mut placed = Vec::new();
    for n in &names {
        wait_until_for(
            &format!("{n}'s first message in a topic"),
            BURST_DEADLINE,
            || {
                [primary, second].iter().any(|g| {
                    topic_in(&t, *g, n)
                        .is_some_and(|th| text_in(&t, *g, th, &format!("hello from {n}")))
                })
            },
        )
        .await;
        let here: Vec<(i64, i64)> = [primary, second]
            .iter()
            .filter_map(|g| topic_in(&t, *g, n).map(|th| (*g, th)))
            .collect();
        assert_eq!(here.len(), 1, "{n} has topics {here:?}");
        placed.push(here[0]);
    }
    let in_second = placed.iter().filter(|(g, _)| *g == second).count();
    assert!(
        in_second > 0 && in_second < names.len(),
        "a burst of new dialogs uses both groups ({in_second} of {} in the overflow group)",
        names.len()
    );

    // A dialog of the overflow group: its card says where it lives, the operator answers
    // there, the user gets it, and the user's next message follows into the same topic.
    let i = placed.iter().position(|(g, _)| *g == second).unwrap();
    let (user, (group, thread)) = (users[i], placed[i]);
    wait_until("the card names the group", || {
        text_in(&t, group, thread, "Group 2 of 2")
    })
    .await;
    t.ctl
        .send(
            t.operator,
            tg_emulator::control::Place::Group(group, Some(thread)),
            &serde_json::json!({"text": "answer from the overflow group"}),
        )
        .unwrap();
    t.wait_in_user_chat(user, "answer from the overflow group")
        .await;
    t.user_says(user, "thanks, and one more thing");
    wait_until("the follow-up in the same topic", || {
        text_in(&t, group, thread, "one more thing")
    })
    .await;
    assert!(
        topic_in(&t, primary, &names[i]).is_none(),
        "the dialog stays in its group"
    );
    // A command in the overflow group's topic works there too.
    t.ctl
        .send(
            t.operator,
            tg_emulator::control::Place::Group(group, Some(thread)),
            &serde_json::json!({"text": "/close"}),
        )
        .unwrap();
    t.wait_until("the topic closes", || {
        t.ctl
            .topics(group)
            .iter()
            .any(|x| x["message_thread_id"] == thread && x["is_closed"] == true)
    })
    .await;
    t.assert_conformant();
}
