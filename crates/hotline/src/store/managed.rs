//! Connections added through the setup bot (issue 18): their sealed tokens, groups and
//! paused flags, and where each owner's conversation with the setup bot stands.
//!
//! Tokens are sealed with ChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`, audited and
//! constant-time in software, with no need for AES hardware) under the instance's
//! [`SecretKey`]: a fresh random 96-bit nonce per seal, the connection's name as associated
//! data so a sealed token copied to another row does not open. The plain token never reaches
//! the database, and [`Secret`] keeps it out of every log line.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sqlx::{FromRow, Row};

use super::{store_methods, Conn, Flag, StoreError, UnixMs};
use crate::config::{Secret, SecretKey};

const NONCE_LEN: usize = 12;

/// Seals a bot token for the row `name`: hex of nonce || ciphertext (with its tag).
pub fn seal_token(key: &SecretKey, name: &str, token: &Secret) -> String {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key.expose()));
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: token.expose().as_bytes(),
                aad: name.as_bytes(),
            },
        )
        .expect("ChaCha20-Poly1305 seals any token-sized message");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    hex::encode(out)
}

/// Opens what [`seal_token`] sealed for the same `name` under the same key. Fails (without
/// saying more) when the key is another one, the row was tampered with or moved.
pub fn open_token(key: &SecretKey, name: &str, sealed: &str) -> Result<Secret, StoreError> {
    let wrong = || StoreError::Corrupt {
        table: "managed_connections",
        message: format!(
            "the token of \"{name}\" does not open with this secret key \
             (was HOTLINE_SECRET_KEY changed?)"
        ),
    };
    let bytes = hex::decode(sealed).map_err(|_| wrong())?;
    if bytes.len() <= NONCE_LEN {
        return Err(wrong());
    }
    let (nonce, body) = bytes.split_at(NONCE_LEN);
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key.expose()));
    let plain = cipher
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: body,
                aad: name.as_bytes(),
            },
        )
        .map_err(|_| wrong())?;
    String::from_utf8(plain)
        .map(Secret::new)
        .map_err(|_| wrong())
}

/// A connection created through the setup bot, its token still sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagedConnection {
    /// The connection's slug (also its row in `connections`).
    pub name: String,
    /// The bot's Telegram id (one bot is connected once).
    pub bot_id: i64,
    /// The bot's username, to show it without calling Telegram.
    pub bot_username: String,
    /// hex(nonce || ciphertext); open with [`open_token`].
    pub token_sealed: String,
    /// The forum group, once the bot was added to one; `None` while /connect waits for it.
    pub group_id: Option<i64>,
    /// Paused by an owner: not started until resumed.
    pub paused: bool,
    /// The owner who added it.
    pub created_by: i64,
    /// When it was added.
    pub created_at: UnixMs,
    /// Last change (group, pause).
    pub updated_at: UnixMs,
}

#[derive(FromRow)]
struct Row_ {
    name: String,
    bot_id: i64,
    bot_username: String,
    token_sealed: String,
    group_id: Option<i64>,
    paused: Flag,
    created_by: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<Row_> for ManagedConnection {
    fn from(r: Row_) -> Self {
        Self {
            name: r.name,
            bot_id: r.bot_id,
            bot_username: r.bot_username,
            token_sealed: r.token_sealed,
            group_id: r.group_id,
            paused: r.paused.into(),
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str = "name, bot_id, bot_username, token_sealed, group_id, \
     CAST(paused AS INTEGER) AS paused, created_by, created_at, updated_at";

store_methods! {
    /// Adds a connection (no group yet); false when the name or the bot is already there.
    pub async fn insert_managed_connection(&self, c: &ManagedConnection) -> bool => insert;
    /// Every managed connection, by name.
    pub async fn managed_connections(&self) -> Vec<ManagedConnection> => list;
    /// One managed connection.
    pub async fn managed_connection(&self, name: &str) -> Option<ManagedConnection> => get;
    /// Records the forum group the bot was added to.
    pub async fn set_managed_group(&self, name: &str, group_id: i64, now: UnixMs) -> bool => set_group;
    /// Pauses or resumes a managed connection.
    pub async fn set_managed_paused(&self, name: &str, paused: bool, now: UnixMs) -> bool => set_paused;
    /// Forgets a managed connection (its dialogs stay in `connections`' tables).
    pub async fn delete_managed_connection(&self, name: &str) -> bool => delete;
    /// Where an owner's conversation with the setup bot stands (serialized), if anywhere.
    pub async fn setup_conversation(&self, owner: i64) -> Option<String> => conversation;
    /// Saves an owner's conversation state; `None` forgets it.
    pub async fn set_setup_conversation(&self, owner: i64, state: Option<&str>, now: UnixMs) -> () => set_conversation;
}

async fn insert(c: &mut Conn, m: &ManagedConnection) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO managed_connections (name, bot_id, bot_username, token_sealed, group_id, \
         paused, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
    )
    .bind(&m.name)
    .bind(m.bot_id)
    .bind(&m.bot_username)
    .bind(&m.token_sealed)
    .bind(m.group_id)
    .bind(m.paused)
    .bind(m.created_by)
    .bind(m.created_at)
    .bind(m.updated_at)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn list(c: &mut Conn) -> Result<Vec<ManagedConnection>, StoreError> {
    let rows: Vec<Row_> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM managed_connections ORDER BY name"
    ))
    .fetch_all(&mut *c)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

async fn get(c: &mut Conn, name: &str) -> Result<Option<ManagedConnection>, StoreError> {
    let row: Option<Row_> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM managed_connections WHERE name = $1"
    ))
    .bind(name)
    .fetch_optional(&mut *c)
    .await?;
    Ok(row.map(Into::into))
}

async fn set_group(
    c: &mut Conn,
    name: &str,
    group_id: i64,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE managed_connections SET group_id = $2, updated_at = $3 WHERE name = $1",
    )
    .bind(name)
    .bind(group_id)
    .bind(now)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn set_paused(
    c: &mut Conn,
    name: &str,
    paused: bool,
    now: UnixMs,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE managed_connections SET paused = $2, updated_at = $3 WHERE name = $1")
            .bind(name)
            .bind(paused)
            .bind(now)
            .execute(&mut *c)
            .await?;
    Ok(done.rows_affected() == 1)
}

async fn delete(c: &mut Conn, name: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM managed_connections WHERE name = $1")
        .bind(name)
        .execute(&mut *c)
        .await?;
    Ok(done.rows_affected() == 1)
}

async fn conversation(c: &mut Conn, owner: i64) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT state FROM setup_conversations WHERE owner_id = $1")
        .bind(owner)
        .fetch_optional(&mut *c)
        .await?;
    Ok(row.map(|r| r.get::<String, _>(0)))
}

async fn set_conversation(
    c: &mut Conn,
    owner: i64,
    state: Option<&str>,
    now: UnixMs,
) -> Result<(), StoreError> {
    match state {
        Some(state) => {
            sqlx::query(
                "INSERT INTO setup_conversations (owner_id, state, updated_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (owner_id) \
                 DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            )
            .bind(owner)
            .bind(state)
            .bind(now)
            .execute(&mut *c)
            .await?;
        }
        None => {
            sqlx::query("DELETE FROM setup_conversations WHERE owner_id = $1")
                .bind(owner)
                .execute(&mut *c)
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::temp_store;

    fn key(b: u8) -> SecretKey {
        SecretKey::from_bytes([b; 32])
    }

    #[test]
    fn sealed_tokens_open_only_with_their_key_and_row() {
        let token = Secret::new("123:SECRET-token");
        let a = seal_token(&key(1), "shop", &token);
        assert!(!a.contains("SECRET"));
        assert_ne!(
            a,
            seal_token(&key(1), "shop", &token),
            "a fresh nonce each time"
        );
        assert_eq!(open_token(&key(1), "shop", &a).unwrap(), token);
        assert!(open_token(&key(2), "shop", &a).is_err(), "another key");
        assert!(open_token(&key(1), "other", &a).is_err(), "another row");
        let mut tampered = a.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'0' { b'1' } else { b'0' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(open_token(&key(1), "shop", &tampered).is_err());
        assert!(open_token(&key(1), "shop", "zz").is_err());
        let e = open_token(&key(2), "shop", &a).unwrap_err().to_string();
        assert!(!e.contains("SECRET-token"), "{e}");
    }

    #[tokio::test]
    async fn managed_connections_and_conversations_round_trip() {
        {
            let (store, _db) = temp_store().await;
            let k = key(7);
            let m = ManagedConnection {
                name: "shop".into(),
                bot_id: 555,
                bot_username: "shop_bot".into(),
                token_sealed: seal_token(&k, "shop", &Secret::new("555:abc")),
                group_id: None,
                paused: false,
                created_by: 42,
                created_at: 1,
                updated_at: 1,
            };
            assert!(store.insert_managed_connection(&m).await.unwrap());
            let mut same_bot = m.clone();
            same_bot.name = "again".into();
            assert!(!store.insert_managed_connection(&same_bot).await.unwrap());
            assert!(store.set_managed_group("shop", -100, 2).await.unwrap());
            assert!(store.set_managed_paused("shop", true, 3).await.unwrap());
            let got = store.managed_connection("shop").await.unwrap().unwrap();
            assert_eq!(got.group_id, Some(-100));
            assert!(got.paused);
            assert_eq!(got.updated_at, 3);
            assert_eq!(
                open_token(&k, "shop", &got.token_sealed).unwrap().expose(),
                "555:abc"
            );
            assert_eq!(store.managed_connections().await.unwrap().len(), 1);

            assert_eq!(store.setup_conversation(42).await.unwrap(), None);
            store
                .set_setup_conversation(42, Some("{\"a\":1}"), 5)
                .await
                .unwrap();
            store
                .set_setup_conversation(42, Some("{\"a\":2}"), 6)
                .await
                .unwrap();
            assert_eq!(
                store.setup_conversation(42).await.unwrap().as_deref(),
                Some("{\"a\":2}")
            );
            store.set_setup_conversation(42, None, 7).await.unwrap();
            assert_eq!(store.setup_conversation(42).await.unwrap(), None);

            assert!(store.delete_managed_connection("shop").await.unwrap());
            assert!(store.managed_connection("shop").await.unwrap().is_none());
        }
    }
}
