//! Any bytes as a request to the Bot API gateway: the path as Telegram decodes it and the
//! parameters from the query string and a JSON, urlencoded or multipart body. The first
//! byte picks the content type; the rest is `query \0 body`.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

const TYPES: [&str; 5] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=XyZ",
    "text/plain",
    "multipart/form-data",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let ctype = TYPES[pick as usize % TYPES.len()];
    let (query, body) = match rest.iter().position(|b| *b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&rest[..0], rest),
    };
    let query = String::from_utf8_lossy(query);
    let _ = hotline::gateway::decoded_path(&query);
    let body = Bytes::copy_from_slice(body);
    let params = futures::executor::block_on(hotline::gateway::parse_params(
        ctype,
        (!query.is_empty()).then_some(&*query),
        &body,
    ));
    if let Some(p) = params {
        for key in ["chat_id", "message_thread_id", "reply_markup", "offset", "limit"] {
            let _ = hotline::gateway::param_i64(&p, key);
            let _ = hotline::gateway::param_bool(&p, key);
            let _ = hotline::gateway::param_json(&p, key);
        }
    }
});
