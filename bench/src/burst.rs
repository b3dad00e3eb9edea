//! `hotline-bench burst`: after a broadcast, `users` new people write within one minute,
//! with Telegram's limits on in the emulator and in Hotline (30 messages/s per bot, 1/s per
//! private chat, 20/min per group), optionally on a clock `scale` times faster in both.
//! Every first message needs a topic, a card and a copy in the one backend group, which
//! takes 20 messages a minute: the figure is how long the last person waits. An operator
//! answers each person as soon as their message is in a topic; the report gives, in
//! Telegram's time (real time × scale), when the last message reached a topic and when the
//! last first answer reached its user.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::json;
use tg_emulator::control::Place;
use tg_emulator::Limits;

/// Runs the benchmark.
pub async fn burst(users: usize, window_secs: f64, scale: f64, groups: usize) {
    let w = crate::world::start_groups(
        "9000003:bench-burst",
        "bot_per_second = 30\nprivate_per_second = 1\ngroup_per_minute = 20",
        "",
        scale,
        groups,
        |emu| emu.set_limits(Limits::telegram().scaled(scale)),
    )
    .await;
    let (ctl, bot, op) = (&w.ctl, w.bot, w.operator);
    let all_groups: Vec<i64> = std::iter::once(w.group)
        .chain(w.overflow.iter().copied())
        .collect();
    let people: Vec<i64> = (0..users)
        .map(|i| {
            ctl.add_user(&format!("U{i}"), None, None, None)["id"]
                .as_i64()
                .unwrap()
        })
        .collect();
    // Telegram's seconds → real time.
    let real = |secs: f64| Duration::from_secs_f64(secs / scale);
    let world = |d: Duration| d.as_secs_f64() * scale;
    let t0 = Instant::now();
    let spread = real(window_secs);
    let mut sent_at: Vec<Option<Instant>> = vec![None; users];
    let mut in_topic: HashMap<usize, Instant> = HashMap::new();
    let mut answered: HashMap<usize, (Instant, i64)> = HashMap::new();
    let mut reached: HashMap<usize, Instant> = HashMap::new();
    let mut seen_topics: HashSet<(i64, i64)> = HashSet::new();
    let give_up = t0 + real(6.0 * 3600.0);
    let mut next = 0;
    while reached.len() < users {
        assert!(Instant::now() < give_up, "the burst did not finish");
        // People write evenly over the window.
        while next < users && t0 + spread.mul_f64(next as f64 / users as f64) <= Instant::now() {
            ctl.send(
                people[next],
                Place::Bot(bot),
                &json!({"text": format!("hello from U{next}")}),
            )
            .unwrap();
            sent_at[next] = Some(Instant::now());
            next += 1;
        }
        // A person's message in a topic: the operator answers it there at once.
        for (group, topic) in all_groups
            .iter()
            .flat_map(|g| ctl.topics(*g).into_iter().map(move |t| (*g, t)))
        {
            let Some(thread) = topic["message_thread_id"].as_i64() else {
                continue;
            };
            if seen_topics.contains(&(group, thread)) {
                continue;
            }
            let found = ctl
                .topic_transcript(group, Some(thread))
                .into_iter()
                .find_map(|m| {
                    m["text"]
                        .as_str()?
                        .strip_prefix("hello from U")?
                        .parse::<usize>()
                        .ok()
                });
            if let Some(i) = found {
                seen_topics.insert((group, thread));
                in_topic.insert(i, Instant::now());
                ctl.send(
                    op,
                    Place::Group(group, Some(thread)),
                    &json!({"text": format!("answer for U{i}")}),
                )
                .unwrap();
                answered.insert(i, (Instant::now(), thread));
            }
        }
        let waiting: Vec<usize> = answered
            .keys()
            .filter(|i| !reached.contains_key(i))
            .copied()
            .collect();
        for i in waiting {
            let want = format!("answer for U{i}");
            if ctl
                .private_transcript(bot, people[i])
                .iter()
                .any(|m| m["text"].as_str() == Some(want.as_str()))
            {
                reached.insert(i, Instant::now());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last_topic = in_topic.values().max().unwrap().duration_since(t0);
    let last_answer = reached.values().max().unwrap().duration_since(t0);
    let mut waits: Vec<f64> = (0..users)
        .map(|i| world(in_topic[&i].duration_since(sent_at[i].unwrap())))
        .collect();
    waits.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mut answer_trip: Vec<f64> = (0..users)
        .map(|i| world(reached[&i].duration_since(answered[&i].0)))
        .collect();
    answer_trip.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let too_many = ctl.calls().iter().filter(|c| c.error_code == 429).count();
    let topics = ctl.count_calls(bot, "createForumTopic");
    println!(
        "burst: {users} new users writing within {window_secs:.0} s, {groups} group(s), Telegram's \
         limits, clock ×{scale} (figures in Telegram's seconds)"
    );
    println!(
        "last message in a topic: {:.0} s after the first person wrote ({:.1} min)",
        world(last_topic),
        world(last_topic) / 60.0
    );
    println!(
        "last first answer reached its user: {:.0} s after the first person wrote ({:.1} min)",
        world(last_answer),
        world(last_answer) / 60.0
    );
    println!(
        "wait from writing to the topic: p50 {:.0} s, p90 {:.0} s, max {:.0} s",
        crate::percentile(&waits, 0.5),
        crate::percentile(&waits, 0.9),
        crate::percentile(&waits, 1.0)
    );
    println!(
        "operator's answer to the user's chat: p50 {:.1} s, max {:.1} s (polled every {:.1} s)",
        crate::percentile(&answer_trip, 0.5),
        crate::percentile(&answer_trip, 1.0),
        world(Duration::from_millis(50))
    );
    println!("{topics} topics created, {too_many} calls answered 429");
}
