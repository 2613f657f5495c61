//! Push notifications: pushers, mutes (a column of the membership, so it ends with it) and the
//! queue of notifications waiting for their gateway.

use sqlx::Pool;

use super::backend::{Backend, SqlRow};
use super::begin_write;
use super::chats::require_participant;
use super::statement::{Statement, placeholders, value_rows};
use super::users::user_id;
use crate::model::{
    ChatId, MAX_PUSHERS_PER_USER, NewPush, NewPusher, PushSettings, PushTarget, Pusher, QueuedPush,
    Seq, Timestamp,
};
use crate::{Error, Result};

const PUSHER_COLUMNS: &str =
    "p.app_id, p.pushkey, p.url, p.device_name, p.lang, p.previews, p.created_at";

/// The pusher in the row's columns from `at` on, in [`PUSHER_COLUMNS`]'s order.
fn pusher_from_row(row: &impl SqlRow, at: usize) -> Result<Pusher> {
    Ok(Pusher {
        app_id: row.text(at)?,
        pushkey: row.text(at + 1)?,
        url: row.text(at + 2)?,
        device_name: row.text(at + 3)?,
        lang: row.text(at + 4)?,
        previews: row.bool(at + 5)?,
        created_at: Timestamp::from_unix_millis(row.i64(at + 6)?),
    })
}

fn count(value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| Error::Database(format!("negative count {value}").into()))
}

pub(super) async fn set_pusher<DB: Backend>(
    pool: &Pool<DB>,
    username: &str,
    new: NewPusher,
) -> Result<()> {
    let mut tx = begin_write(pool).await?;
    let user = user_id::<DB>(&mut tx, username).await?;
    let select =
        Statement::new("SELECT id, user_id FROM pushers WHERE app_id = $1 AND pushkey = $2")
            .bind(&new.app_id)
            .bind(&new.pushkey);
    let existing = DB::fetch_optional(&mut *tx, select).await?;
    let existing =
        existing.map(|row| Ok::<_, sqlx::Error>((row.i64(0)?, row.i64(1)?))).transpose()?;
    // Booleans are bound as numbers and compared, which both databases turn into their own.
    let previews = i64::from(new.previews);
    let at = new.at.unix_millis();
    if let Some((id, owner)) = existing
        && owner == user
    {
        let update = Statement::new(
            "UPDATE pushers SET url = $1, device_name = $2, lang = $3, previews = ($4 = 1), \
             created_at = $5 WHERE id = $6",
        )
        .bind(&new.url)
        .bind(&new.device_name)
        .bind(&new.lang)
        .bind(previews)
        .bind(at)
        .bind(id);
        DB::execute(&mut *tx, update).await?;
        tx.commit().await?;
        return Ok(());
    }
    if let Some((id, _)) = existing {
        // The device changed hands: its queue (the other user's notifications) goes with it.
        DB::execute(&mut *tx, Statement::new("DELETE FROM pushers WHERE id = $1").bind(id)).await?;
    }
    let counted = Statement::new("SELECT COUNT(*) FROM pushers WHERE user_id = $1").bind(user);
    if count(DB::fetch_one(&mut *tx, counted).await?.i64(0)?)? >= MAX_PUSHERS_PER_USER as u64 {
        return Err(Error::TooManyPushers {
            username: username.to_owned(),
            max: MAX_PUSHERS_PER_USER,
        });
    }
    let insert = Statement::new(
        "INSERT INTO pushers (user_id, app_id, pushkey, url, device_name, lang, previews, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, ($7 = 1), $8)",
    )
    .bind(user)
    .bind(&new.app_id)
    .bind(&new.pushkey)
    .bind(&new.url)
    .bind(&new.device_name)
    .bind(&new.lang)
    .bind(previews)
    .bind(at);
    DB::execute(&mut *tx, insert).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn remove_pusher<DB: Backend>(
    pool: &Pool<DB>,
    username: &str,
    app_id: &str,
    pushkey: &str,
) -> Result<()> {
    let delete = Statement::new(
        "DELETE FROM pushers WHERE app_id = $1 AND pushkey = $2 \
         AND user_id = (SELECT id FROM users WHERE username = $3)",
    )
    .bind(app_id)
    .bind(pushkey)
    .bind(username);
    DB::execute(&mut *pool.acquire().await?, delete).await?;
    Ok(())
}

pub(super) async fn reject_pushkey<DB: Backend>(
    pool: &Pool<DB>,
    app_id: &str,
    pushkey: &str,
) -> Result<()> {
    let delete = Statement::new("DELETE FROM pushers WHERE app_id = $1 AND pushkey = $2")
        .bind(app_id)
        .bind(pushkey);
    DB::execute(&mut *pool.acquire().await?, delete).await?;
    Ok(())
}

pub(super) async fn push_settings<DB: Backend>(
    pool: &Pool<DB>,
    username: &str,
) -> Result<PushSettings> {
    let mut conn = pool.acquire().await?;
    let user = user_id::<DB>(&mut conn, username).await?;
    let select = Statement::new(format!(
        "SELECT {PUSHER_COLUMNS} FROM pushers p WHERE p.user_id = $1 ORDER BY p.app_id, p.pushkey"
    ))
    .bind(user);
    let rows = DB::fetch_all(&mut conn, select).await?;
    let pushers = rows.iter().map(|row| pusher_from_row(row, 0)).collect::<Result<_>>()?;
    let select = Statement::new(
        "SELECT chat_id FROM chat_participants WHERE user_id = $1 AND muted ORDER BY chat_id",
    )
    .bind(user);
    let rows = DB::fetch_all(&mut conn, select).await?;
    let muted_chats = rows.iter().map(|row| row.i64(0).map(ChatId)).collect::<sqlx::Result<_>>()?;
    Ok(PushSettings { pushers, muted_chats })
}

pub(super) async fn mute_chat<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    username: &str,
    muted: bool,
) -> Result<()> {
    let mut tx = begin_write(pool).await?;
    require_participant::<DB>(&mut tx, chat, username).await?;
    let update = Statement::new(
        "UPDATE chat_participants SET muted = ($1 = 1) \
         WHERE chat_id = $2 AND user_id = (SELECT id FROM users WHERE username = $3)",
    )
    .bind(i64::from(muted))
    .bind(chat.0)
    .bind(username);
    DB::execute(&mut *tx, update).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn push_targets<DB: Backend>(
    pool: &Pool<DB>,
    chat: ChatId,
    usernames: &[String],
    up_to: Seq,
) -> Result<Vec<PushTarget>> {
    if usernames.is_empty() {
        return Ok(Vec::new());
    }
    // The unread count reads the chat's posts past the member's position by (chat, seq).
    let sql = format!(
        "SELECT u.username, {PUSHER_COLUMNS}, (SELECT COUNT(*) FROM messages m \
         WHERE m.chat_id = cp.chat_id AND m.seq > cp.read_seq AND m.seq <= {} \
         AND m.kind = 'message' \
         AND NOT m.deleted AND (m.author_id IS NULL OR m.author_id <> u.id)), \
         CASE WHEN c.kind = 'group' THEN c.name END \
         FROM chat_participants cp JOIN users u ON u.id = cp.user_id \
         JOIN chats c ON c.id = cp.chat_id \
         JOIN pushers p ON p.user_id = u.id \
         WHERE cp.chat_id = {} AND NOT cp.muted AND u.username IN ({}) \
         ORDER BY u.username, p.app_id, p.pushkey",
        DB::param(1),
        DB::param(2),
        placeholders::<DB>(3, usernames.len())
    );
    let start = Statement::new(sql).bind(up_to.0).bind(chat.0);
    let select = usernames.iter().fold(start, |s, name| s.bind(name));
    let rows = DB::fetch_all(&mut *pool.acquire().await?, select).await?;
    rows.iter()
        .map(|row| {
            Ok(PushTarget {
                username: row.text(0)?,
                pusher: pusher_from_row(row, 1)?,
                unread: count(row.i64(8)?)?,
                room_name: row.opt_text(9)?,
            })
        })
        .collect()
}

/// Rows per insert statement (4 parameters each: well within both databases' limits).
const QUEUE_CHUNK: usize = 200;

pub(super) async fn queue_pushes<DB: Backend>(pool: &Pool<DB>, pushes: Vec<NewPush>) -> Result<()> {
    if pushes.is_empty() {
        return Ok(());
    }
    let mut tx = begin_write(pool).await?;
    for chunk in pushes.chunks(QUEUE_CHUNK) {
        // One statement per chunk; a pusher removed meanwhile joins no row: nothing is queued
        // for it. (Both databases name a VALUES list's columns column1, column2, ….)
        let sql = format!(
            "INSERT INTO push_queue (pusher_id, body, attempts, due_at) \
             SELECT p.id, v.column3, 0, v.column4 FROM (VALUES {}) AS v \
             JOIN pushers p ON p.app_id = v.column1 AND p.pushkey = v.column2",
            value_rows::<DB>(chunk.len(), 4)
        );
        let insert = chunk.iter().fold(Statement::new(sql), |s, push| {
            s.bind(&push.app_id).bind(&push.pushkey).bind(&push.body).bind(push.due.unix_millis())
        });
        DB::execute(&mut *tx, insert).await?;
    }
    tx.commit().await?;
    Ok(())
}

pub(super) async fn claim_pushes<DB: Backend>(
    pool: &Pool<DB>,
    now: Timestamp,
    until: Timestamp,
    limit: u32,
) -> Result<Vec<QueuedPush>> {
    let mut tx = begin_write(pool).await?;
    // Postgres skips rows another claim holds; SQLite has one writer at a time anyway.
    let select = Statement::new(format!(
        "SELECT q.id, p.app_id, p.pushkey, p.url, q.body, q.attempts FROM push_queue q \
         JOIN pushers p ON p.id = q.pusher_id WHERE q.due_at <= $1 ORDER BY q.due_at, q.id \
         LIMIT CAST($2 AS BIGINT) {}",
        DB::skip_locked("q")
    ))
    .bind(now.unix_millis())
    .bind(i64::from(limit));
    let claimed = DB::fetch_all(&mut *tx, select)
        .await?
        .iter()
        .map(|row| {
            Ok(QueuedPush {
                id: row.i64(0)?,
                app_id: row.text(1)?,
                pushkey: row.text(2)?,
                url: row.text(3)?,
                body: row.text(4)?,
                attempts: u32::try_from(row.i64(5)?).unwrap_or(u32::MAX),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if !claimed.is_empty() {
        let sql = format!(
            "UPDATE push_queue SET due_at = {} WHERE id IN ({})",
            DB::param(1),
            placeholders::<DB>(2, claimed.len())
        );
        let lease = Statement::new(sql).bind(until.unix_millis());
        let lease = claimed.iter().fold(lease, |s, push| s.bind(push.id));
        DB::execute(&mut *tx, lease).await?;
    }
    tx.commit().await?;
    Ok(claimed)
}

pub(super) async fn push_sent<DB: Backend>(pool: &Pool<DB>, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!("DELETE FROM push_queue WHERE id IN ({})", placeholders::<DB>(1, ids.len()));
    let delete = ids.iter().fold(Statement::new(sql), |s, id| s.bind(*id));
    DB::execute(&mut *pool.acquire().await?, delete).await?;
    Ok(())
}

pub(super) async fn push_failed<DB: Backend>(
    pool: &Pool<DB>,
    id: i64,
    attempts: u32,
    due: Timestamp,
) -> Result<()> {
    let update = Statement::new("UPDATE push_queue SET attempts = $1, due_at = $2 WHERE id = $3")
        .bind(i64::from(attempts))
        .bind(due.unix_millis())
        .bind(id);
    DB::execute(&mut *pool.acquire().await?, update).await?;
    Ok(())
}

pub(super) async fn queued_pushes<DB: Backend>(pool: &Pool<DB>) -> Result<u64> {
    let select = Statement::new("SELECT COUNT(*) FROM push_queue");
    count(DB::fetch_one(&mut *pool.acquire().await?, select).await?.i64(0)?)
}
