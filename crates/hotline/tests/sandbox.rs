//! `hotline sandbox --parallel`: the demo bot answers through the gateway on its own, a
//! user asking for a human opens a topic, and the bot's replies are mirrored into it.

mod common;

use common::{text_of, wait_until};
use hotline::sandbox::{self, Options};
use serde_json::json;
use tg_emulator::control::Place;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_demo_bot_talks_alone_until_a_human_is_asked_for() {
    let sb = sandbox::start(Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        hotline_listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: None,
        parallel: true,
    })
    .await
    .expect("sandbox starts");
    let ctl = sb.emulator.control();
    let world: serde_json::Value = reqwest::get(format!("{}/control/world", sb.emulator.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bot = world["result"]["bots"][0]["id"].as_i64().unwrap();
    let group = world["result"]["groups"][0]["id"].as_i64().unwrap();
    let bruno = world["result"]["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["first_name"] == "Bruno")
        .unwrap()["id"]
        .as_i64()
        .unwrap();

    ctl.send(bruno, Place::Bot(bot), &json!({"text": "/start"}))
        .unwrap();
    wait_until("the demo bot's menu", || {
        ctl.private_transcript(bot, bruno)
            .iter()
            .any(|m| text_of(m).contains("Demo Shop") && m["reply_markup"].is_object())
    })
    .await;
    ctl.send(
        bruno,
        Place::Bot(bot),
        &json!({"text": "what are your prices?"}),
    )
    .unwrap();
    wait_until("the FAQ answer", || {
        ctl.private_transcript(bot, bruno)
            .iter()
            .any(|m| text_of(m).contains("€4.90"))
    })
    .await;
    assert!(
        !ctl.topics(group)
            .iter()
            .any(|t| t["name"].as_str().unwrap_or("").contains("Bruno")),
        "no topic before a human is asked for"
    );

    ctl.send(
        bruno,
        Place::Bot(bot),
        &json!({"text": "can I talk to a human?"}),
    )
    .unwrap();
    let topic = || {
        ctl.topics(group)
            .into_iter()
            .find(|t| t["name"].as_str().unwrap_or("").contains("Bruno"))
            .and_then(|t| t["message_thread_id"].as_i64())
    };
    wait_until("Bruno's topic", || topic().is_some()).await;
    let thread = topic().unwrap();
    wait_until("the bot's reply mirrored as intercepted", || {
        ctl.topic_transcript(group, Some(thread))
            .iter()
            .any(|m| text_of(m).starts_with("🤖") && text_of(m).contains("Connecting you"))
    })
    .await;
    // RECAP: the topic starts with the conversation that led to it, both ways.
    let recap = ctl
        .topic_transcript(group, Some(thread))
        .into_iter()
        .find(|m| text_of(m).contains("Before this dialog"))
        .expect("a recap in the topic");
    let r = text_of(&recap);
    assert!(
        // The bot's reply right before the trigger can be missed (a known race, see
        // docs/parallel-connection.md); tests/handover.rs checks the full recap.
        r.contains("👤 what are your prices?") && r.contains("🤖 Welcome to the Demo Shop"),
        "{r}"
    );

    // The handover: the bot stops answering Bruno while the team has him...
    let in_topic = |needle: &str| {
        ctl.topic_transcript(group, Some(thread))
            .iter()
            .any(|m| text_of(m).contains(needle))
    };
    wait_until("the bot paused (⏸)", || {
        ctl.topics(group).iter().any(|t| {
            t["message_thread_id"] == thread && t["name"].as_str().unwrap_or("").contains('⏸')
        })
    })
    .await;
    ctl.send(
        bruno,
        Place::Bot(bot),
        &json!({"text": "and the price of returns?"}),
    )
    .unwrap();
    wait_until("Bruno's question in the topic", || {
        in_topic("price of returns")
    })
    .await;
    let olga = world["result"]["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["first_name"] == "Olga")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let say = |text: &str| {
        ctl.send(
            olga,
            Place::Group(group, Some(thread)),
            &json!({"text": text}),
        )
        .unwrap();
    };
    say("Returns are free, Bruno. Anything else?");
    let faq_answers = || {
        ctl.private_transcript(bot, bruno)
            .iter()
            .filter(|m| text_of(m).contains("€4.90"))
            .count()
    };
    wait_until("Olga's answer", || {
        ctl.private_transcript(bot, bruno)
            .iter()
            .any(|m| text_of(m).contains("Returns are free, Bruno"))
    })
    .await;
    assert_eq!(
        faq_answers(),
        1,
        "the bot kept quiet while Olga had the dialog"
    );
    // ... and answers again after /close.
    say("/close");
    wait_until("the bot resumed", || {
        in_topic("The bot answers this user again")
    })
    .await;
    ctl.send(bruno, Place::Bot(bot), &json!({"text": "prices?"}))
        .unwrap();
    wait_until("the bot answering again", || faq_answers() == 2).await;

    // The menu's "Talk to a human" button hands over too.
    let alice = world["result"]["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["first_name"] == "Alice")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    wait_until("Alice's menu", || {
        ctl.private_transcript(bot, alice)
            .iter()
            .any(|m| m["reply_markup"].is_object())
    })
    .await;
    let menu = ctl
        .private_transcript(bot, alice)
        .into_iter()
        .find(|m| m["reply_markup"].is_object())
        .unwrap();
    ctl.press(
        alice,
        Place::Bot(bot),
        menu["message_id"].as_i64().unwrap(),
        "human",
    )
    .unwrap();
    wait_until("Alice's topic, paused", || {
        ctl.topics(group).iter().any(|t| {
            let name = t["name"].as_str().unwrap_or("");
            name.contains("Alice") && name.contains('⏸')
        })
    })
    .await;
    sb.hotline.stop().await;
}

#[tokio::test]
async fn a_taken_port_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let Err(e) = sandbox::start(Options {
        listen: addr,
        hotline_listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: None,
        parallel: false,
    })
    .await
    else {
        panic!("the sandbox started on a taken port");
    };
    assert!(
        e.to_string().contains(&format!("cannot listen on {addr}")),
        "{e}"
    );
}

/// The sandbox's setup bot: Olga connects @shop_demo_bot to the "Shop team" forum through
/// it, and a message to that bot opens a topic there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_setup_bot_connects_the_shop_bot() {
    let sb = sandbox::start(Options {
        listen: "127.0.0.1:0".parse().unwrap(),
        hotline_listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: None,
        parallel: false,
    })
    .await
    .expect("sandbox starts");
    let ctl = sb.emulator.control();
    let world: serde_json::Value = reqwest::get(format!("{}/control/world", sb.emulator.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let w = &world["result"];
    let id_of = |list: &str, key: &str, value: &str| {
        w[list]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x[key] == value)
            .unwrap_or_else(|| panic!("{value} in {list}"))["id"]
            .as_i64()
            .unwrap()
    };
    let setup = id_of("bots", "username", "hotline_setup_bot");
    let shop = id_of("bots", "username", "shop_demo_bot");
    let olga = id_of("people", "first_name", "Olga");
    let chen = id_of("people", "first_name", "Chen");
    let group = id_of("groups", "title", "Shop team");
    assert!(
        sb.setup_url.contains(&format!("bot={setup}")),
        "{}",
        sb.setup_url
    );

    let said = |needle: &'static str| {
        let ctl = ctl.clone();
        move || {
            ctl.private_transcript(setup, olga)
                .iter()
                .any(|m| text_of(m).contains(needle))
        }
    };
    ctl.send(olga, Place::Bot(setup), &json!({"text": "/connect"}))
        .unwrap();
    wait_until("the setup bot asks for a token", said("Send me the token")).await;
    ctl.send(
        olga,
        Place::Bot(setup),
        &json!({"text": sandbox::SHOP_TOKEN}),
    )
    .unwrap();
    wait_until("the token is accepted", said("is connected as")).await;
    // The bot is already an administrator of "Shop team": the setup bot finds the group.
    wait_until("the shop bot runs", said("shop_demo_bot is running")).await;
    ctl.send(
        chen,
        Place::Bot(shop),
        &json!({"text": "Do you ship to Taipei?"}),
    )
    .unwrap();
    wait_until("a topic opens in Shop team", || {
        ctl.topics(group).iter().any(|t| {
            let thread = t["message_thread_id"].as_i64().unwrap_or_default();
            ctl.topic_transcript(group, Some(thread))
                .iter()
                .any(|m| text_of(m) == "Do you ship to Taipei?")
        })
    })
    .await;
    sb.hotline.stop().await;
}
