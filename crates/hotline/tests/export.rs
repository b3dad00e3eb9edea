//! `/export [SEGMENT]`: a CSV of contacts posted to General, all or a segment.

mod broadcast_common;
mod common;

use std::time::Duration;

use broadcast_common::*;
use common::*;
use serde_json::Value;

/// Waits for the `n`-th contacts export document and returns its records.
async fn nth_export(t: &TestApp, n: usize) -> Vec<Vec<String>> {
    let docs = || -> Vec<Value> {
        t.topic(None)
            .into_iter()
            .filter(|m| {
                m["document"]["file_name"]
                    .as_str()
                    .is_some_and(|f| f.starts_with("contacts-"))
            })
            .collect()
    };
    wait_until_for("an export", Duration::from_secs(15), || docs().len() >= n).await;
    let bytes = download(t, &docs()[n - 1]["document"]).await;
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes.as_slice())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_all_and_segments() {
    let t = spawn_app_with(GATED).await;
    let anna = t
        .ctl
        .add_user("Anna", Some("Schmidt"), Some("Anna_S"), Some("de-AT"))["id"]
        .as_i64()
        .unwrap();
    let boris = t.person("Boris");
    t.user_says(boris, "hi");
    t.user_says(anna, "operator, help please");
    let thread = t.wait_topic("Anna").await;
    t.wait_in_topic(thread, "help please").await;
    t.operator_says(thread, "Hello Anna");
    t.wait_in_user_chat(anna, "Hello Anna").await;
    wait_known(&t, &[anna, boris]).await;
    tag(&t, anna, "vip").await;
    tag(&t, anna, "lead").await;
    let (s, c) = (store(&t), connection(&t).await);
    let b = s.contact_by_user(c, boris).await.unwrap().unwrap();
    s.set_contact_banned(b.id, true).await.unwrap();

    command(&t, "/export", None);
    let rows = nth_export(&t, 1).await;
    assert_eq!(rows[0], hotline::export::HEADER);
    assert_eq!(rows.len(), 3);
    let boris_row = &rows[1];
    assert_eq!(boris_row[0], boris.to_string());
    assert_eq!(&boris_row[1..5], ["Boris", "", "boris", "en"]);
    assert_eq!(&boris_row[7..13], ["", "", "0", "0", "no", "yes"]);
    let anna_row = &rows[2];
    assert_eq!(&anna_row[1..5], ["Anna", "Schmidt", "anna_s", "de-AT"]);
    assert!(
        anna_row[5].len() == 19 && !anna_row[6].is_empty(),
        "{anna_row:?}"
    );
    assert_eq!(&anna_row[7..13], ["vip,lead", "wait", "1", "1", "no", "no"]);
    assert_eq!(anna_row[13], format!("tg://user?id={anna}"));

    command(&t, "/export lang:de & vip & !banned", None);
    let rows = nth_export(&t, 2).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][0], anna.to_string());
    command(&t, "/export banned | open", None);
    assert_eq!(nth_export(&t, 3).await.len(), 3);

    command(&t, "/export vip |", None);
    let err = wait_general(&t, "Segment error", |_| true).await;
    assert!(text_of(&err).contains("position 6"), "{}", text_of(&err));
    let caption = t
        .topic(None)
        .into_iter()
        .filter_map(|m| m["caption"].as_str().map(str::to_string))
        .find(|c| c.contains("Export"))
        .unwrap();
    assert!(caption.contains("2 contacts"), "{caption}");
}
