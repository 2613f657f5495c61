//! Languages, users and their accounts, and contacts.

use sqlx::Pool;

use super::backend::{Backend, SqlRow};
use super::events::{apply, lock_chat, record, roster};
use super::rows::{gather, language_from_row};
use super::statement::{Statement, placeholders};
use super::{begin_write, is_unique_violation};
use crate::model::{
    Account, ChatChange, ChatId, Language, NewUser, Timestamp, TokenHolder, User, UserUpdate,
    deleted_author, username_key,
};
use crate::storage::membership;
use crate::{Error, Result};

pub(super) async fn add_language<DB: Backend>(pool: &Pool<DB>, name: &str) -> Result<Language> {
    let mut conn = pool.acquire().await?;
    let insert = Statement::new("INSERT INTO languages (name) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(name);
    DB::execute(&mut conn, insert).await?;
    let select =
        Statement::new("SELECT id, name FROM languages WHERE lower(name) = lower($1)").bind(name);
    language_from_row(&DB::fetch_one(&mut conn, select).await?)
}

pub(super) async fn languages_after<DB: Backend>(
    pool: &Pool<DB>,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Language>> {
    let select = Statement::new(
        "SELECT id, name FROM languages WHERE $1 IS NULL OR name > $1 \
         ORDER BY name LIMIT CAST($2 AS BIGINT)",
    )
    .bind(after)
    .bind(i64::from(limit));
    let rows = DB::fetch_all(&mut *pool.acquire().await?, select).await?;
    rows.iter().map(language_from_row).collect()
}

pub(super) async fn languages<DB: Backend>(pool: &Pool<DB>) -> Result<Vec<Language>> {
    let select = Statement::new("SELECT id, name FROM languages ORDER BY name");
    let rows = DB::fetch_all(&mut *pool.acquire().await?, select).await?;
    rows.iter().map(language_from_row).collect()
}

pub(super) async fn create_user<DB: Backend>(pool: &Pool<DB>, user: NewUser) -> Result<User> {
    let mut tx = begin_write(pool).await?;
    let insert = Statement::new(
        "INSERT INTO users (username, email, password_hash, timezone, username_key) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(&user.username)
    .bind(&user.email)
    .bind(&user.password_hash)
    .bind(&user.timezone)
    .bind(username_key(&user.username));
    let id = match DB::fetch_one(&mut tx, insert).await {
        Ok(row) => row.i64(0)?,
        Err(err) if is_unique_violation(&err) => return Err(Error::UsernameTaken(user.username)),
        Err(err) => return Err(err.into()),
    };
    set_languages::<DB>(&mut tx, id, &user.languages).await?;
    let created = load_user::<DB>(&mut tx, &user.username).await?;
    tx.commit().await?;
    created.ok_or(Error::UserNotFound(user.username))
}

pub(super) async fn account<DB: Backend>(
    pool: &Pool<DB>,
    username: &str,
) -> Result<Option<Account>> {
    let mut conn = pool.acquire().await?;
    let Some(user) = load_user::<DB>(&mut conn, username).await? else {
        return Ok(None);
    };
    account_of::<DB>(&mut conn, user).await.map(Some)
}

pub(super) async fn account_by_id<DB: Backend>(
    pool: &Pool<DB>,
    id: i64,
) -> Result<Option<Account>> {
    let mut conn = pool.acquire().await?;
    let select =
        Statement::new("SELECT id, username, timezone, avatar FROM users WHERE id = $1").bind(id);
    let Some(row) = DB::fetch_optional(&mut conn, select).await? else {
        return Ok(None);
    };
    let mut users = with_languages::<DB>(&mut conn, vec![row]).await?;
    let Some(user) = users.pop() else { return Ok(None) };
    account_of::<DB>(&mut conn, user).await.map(Some)
}

pub(super) async fn token_holder<DB: Backend>(
    pool: &Pool<DB>,
    id: i64,
) -> Result<Option<TokenHolder>> {
    let select =
        Statement::new("SELECT username, token_generation FROM users WHERE id = $1").bind(id);
    let Some(row) = DB::fetch_optional(&mut *pool.acquire().await?, select).await? else {
        return Ok(None);
    };
    Ok(Some(TokenHolder { username: row.text(0)?, token_generation: row.i64(1)? }))
}

pub(super) async fn user<DB: Backend>(pool: &Pool<DB>, username: &str) -> Result<Option<User>> {
    load_user::<DB>(&mut *pool.acquire().await?, username).await
}

pub(super) async fn users<DB: Backend>(
    pool: &Pool<DB>,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<User>> {
    let mut conn = pool.acquire().await?;
    let select = Statement::new(
        "SELECT id, username, timezone, avatar FROM users \
         WHERE $1 IS NULL OR username > $1 ORDER BY username LIMIT CAST($2 AS BIGINT)",
    )
    .bind(after)
    .bind(i64::from(limit));
    let rows = DB::fetch_all(&mut conn, select).await?;
    with_languages::<DB>(&mut conn, rows).await
}

pub(super) async fn users_by_language<DB: Backend>(
    pool: &Pool<DB>,
    language: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<User>> {
    let mut conn = pool.acquire().await?;
    let select = Statement::new(
        "SELECT u.id, u.username, u.timezone, u.avatar FROM users u \
         JOIN user_languages ul ON ul.user_id = u.id \
         JOIN languages l ON l.id = ul.language_id \
         WHERE lower(l.name) = lower($1) AND ($2 IS NULL OR u.username > $2) \
         ORDER BY u.username LIMIT CAST($3 AS BIGINT)",
    )
    .bind(language)
    .bind(after)
    .bind(i64::from(limit));
    let rows = DB::fetch_all(&mut conn, select).await?;
    with_languages::<DB>(&mut conn, rows).await
}

pub(super) async fn update_user<DB: Backend>(
    pool: &Pool<DB>,
    username: &str,
    update: UserUpdate,
) -> Result<User> {
    let mut tx = begin_write(pool).await?;
    let change = Statement::new(
        "UPDATE users SET email = COALESCE($2, email), \
         password_hash = COALESCE($3, password_hash), \
         token_generation = token_generation + CASE WHEN $3 IS NULL THEN 0 ELSE 1 END, \
         timezone = COALESCE($4, timezone) WHERE username = $1 RETURNING id",
    )
    .bind(username)
    .bind(&update.email)
    .bind(&update.password_hash)
    .bind(&update.timezone);
    let id = DB::fetch_optional(&mut tx, change)
        .await?
        .ok_or_else(|| Error::UserNotFound(username.to_owned()))?
        .i64(0)?;
    if let Some(avatar) = &update.avatar {
        let change =
            Statement::new("UPDATE users SET avatar = $2 WHERE id = $1").bind(id).bind(avatar);
        DB::execute(&mut tx, change).await?;
    }
    if let Some(languages) = &update.languages {
        set_languages::<DB>(&mut tx, id, languages).await?;
    }
    let user = load_user::<DB>(&mut tx, username).await?;
    tx.commit().await?;
    user.ok_or_else(|| Error::UserNotFound(username.to_owned()))
}

/// Each chat the user was in records their leaving as if they had left (`membership::plan`
/// with `ChatChange::Leave`: a group they owned gets its new owner), the events authored by
/// and naming the deleted name; then the account goes, and with it (by cascade) its
/// memberships, contacts, languages and bot tokens.
pub(super) async fn delete_user<DB: Backend>(pool: &Pool<DB>, username: &str) -> Result<()> {
    let mut tx = begin_write(pool).await?;
    let id = user_id::<DB>(&mut tx, username).await?;
    let shown = deleted_author(username);
    let at = Timestamp::now();
    // Chats in id order: two deletions lock the chats they share in the same order.
    let select =
        Statement::new("SELECT chat_id FROM chat_participants WHERE user_id = $1 ORDER BY chat_id")
            .bind(id);
    let chats = DB::fetch_all(&mut tx, select)
        .await?
        .iter()
        .map(|row| row.i64(0).map(ChatId))
        .collect::<sqlx::Result<Vec<_>>>()?;
    for chat in chats {
        let locked = lock_chat::<DB>(&mut tx, chat).await?;
        let roster = roster::<DB>(&mut tx, chat, locked).await?;
        let plan = membership::plan(chat, &roster, username, &ChatChange::Leave)?;
        let drafts = plan
            .drafts
            .into_iter()
            .map(|mut draft| {
                if draft.member.as_deref() == Some(username) {
                    draft.member = Some(shown.clone());
                }
                (draft, None)
            })
            .collect();
        apply::<DB>(&mut tx, chat, plan.effects, at).await?;
        record::<DB>(&mut tx, chat, (&shown, id), drafts, at, None).await?;
    }
    // Their messages stay, under a name no account can have (see `deleted_author`).
    let keep_messages = Statement::new("UPDATE messages SET author = $1 WHERE author_id = $2")
        .bind(&shown)
        .bind(id);
    DB::execute(&mut tx, keep_messages).await?;
    DB::execute(&mut tx, Statement::new("DELETE FROM users WHERE id = $1").bind(id)).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn add_contact<DB: Backend>(
    pool: &Pool<DB>,
    username: &str,
    contact: &str,
) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let user = user_id::<DB>(&mut conn, username).await?;
    let contact = user_id::<DB>(&mut conn, contact).await?;
    let insert = Statement::new(
        "INSERT INTO contacts (user_id, contact_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(user)
    .bind(contact);
    DB::execute(&mut conn, insert).await?;
    Ok(())
}

pub(super) async fn remove_contact<DB: Backend>(
    pool: &Pool<DB>,
    username: &str,
    contact: &str,
) -> Result<()> {
    let delete = Statement::new(
        "DELETE FROM contacts WHERE user_id = (SELECT id FROM users WHERE username = $1) \
         AND contact_id = (SELECT id FROM users WHERE username = $2)",
    )
    .bind(username)
    .bind(contact);
    DB::execute(&mut *pool.acquire().await?, delete).await?;
    Ok(())
}

pub(super) async fn contacts<DB: Backend>(pool: &Pool<DB>, username: &str) -> Result<Vec<String>> {
    let mut conn = pool.acquire().await?;
    let user = user_id::<DB>(&mut conn, username).await?;
    let select = Statement::new(
        "SELECT u.username FROM contacts c JOIN users u ON u.id = c.contact_id \
         WHERE c.user_id = $1 ORDER BY u.username",
    )
    .bind(user);
    let rows = DB::fetch_all(&mut conn, select).await?;
    Ok(rows.iter().map(|row| row.text(0)).collect::<sqlx::Result<_>>()?)
}

/// Fill in the `username_key` of users created before it existed (migration 0002). A key
/// already taken (say `Carol` and `carol` both registered before) stays empty: both accounts
/// keep working, and the taken key still refuses new look-alikes.
pub(crate) async fn backfill_username_keys<DB: Backend>(pool: &Pool<DB>) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let select =
        Statement::new("SELECT id, username FROM users WHERE username_key IS NULL ORDER BY id");
    let rows = DB::fetch_all(&mut conn, select).await?;
    for row in rows {
        let (id, username) = (row.i64(0)?, row.text(1)?);
        let fill = Statement::new("UPDATE users SET username_key = $1 WHERE id = $2")
            .bind(username_key(&username))
            .bind(id);
        match DB::execute(&mut conn, fill).await {
            Ok(_) => {}
            Err(err) if is_unique_violation(&err) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

/// The id of the user named `username`, else `UserNotFound`.
pub(super) async fn user_id<DB: Backend>(conn: &mut DB::Connection, username: &str) -> Result<i64> {
    let select = Statement::new("SELECT id FROM users WHERE username = $1").bind(username);
    match DB::fetch_optional(conn, select).await? {
        Some(row) => Ok(row.i64(0)?),
        None => Err(Error::UserNotFound(username.to_owned())),
    }
}

/// The ids of the users named `usernames`, in that order, in one query; `UserNotFound` for the
/// first one that does not exist.
pub(super) async fn user_ids<DB: Backend>(
    conn: &mut DB::Connection,
    usernames: &[String],
) -> Result<Vec<i64>> {
    if usernames.is_empty() {
        return Ok(Vec::new());
    }
    // Placeholders only around fixed SQL.
    let sql = format!(
        "SELECT username, id FROM users WHERE username IN ({})",
        placeholders::<DB>(1, usernames.len())
    );
    let select = usernames.iter().fold(Statement::new(sql), |select, name| select.bind(name));
    let found: std::collections::HashMap<String, i64> = DB::fetch_all(conn, select)
        .await?
        .iter()
        .map(|row| Ok((row.text(0)?, row.i64(1)?)))
        .collect::<sqlx::Result<_>>()?;
    usernames
        .iter()
        .map(|name| found.get(name).copied().ok_or_else(|| Error::UserNotFound(name.clone())))
        .collect()
}

async fn load_user<DB: Backend>(conn: &mut DB::Connection, username: &str) -> Result<Option<User>> {
    let select =
        Statement::new("SELECT id, username, timezone, avatar FROM users WHERE username = $1")
            .bind(username);
    let Some(row) = DB::fetch_optional(conn, select).await? else {
        return Ok(None);
    };
    let mut users = with_languages::<DB>(conn, vec![row]).await?;
    Ok(users.pop())
}

/// The private fields of `user`, loaded.
async fn account_of<DB: Backend>(conn: &mut DB::Connection, user: User) -> Result<Account> {
    let select =
        Statement::new("SELECT email, password_hash, token_generation FROM users WHERE id = $1")
            .bind(user.id);
    let row = DB::fetch_one(conn, select).await?;
    Ok(Account {
        user,
        email: row.text(0)?,
        password_hash: row.text(1)?,
        token_generation: row.i64(2)?,
    })
}

/// Users from rows of `id, username, timezone, avatar`, with their languages (one more query for
/// them all).
async fn with_languages<DB: Backend>(
    conn: &mut DB::Connection,
    rows: Vec<DB::Row>,
) -> Result<Vec<User>> {
    let ids = rows.iter().map(|row| row.i64(0)).collect::<sqlx::Result<Vec<i64>>>()?;
    let mut languages = gather::<DB>(
        conn,
        "SELECT ul.user_id, l.name FROM user_languages ul \
         JOIN languages l ON l.id = ul.language_id WHERE ul.user_id",
        "ORDER BY l.name",
        &ids,
    )
    .await?;
    rows.iter()
        .map(|row| {
            let id = row.i64(0)?;
            Ok(User {
                id,
                username: row.text(1)?,
                timezone: row.text(2)?,
                avatar: row.opt_text(3)?,
                languages: languages.remove(&id).unwrap_or_default(),
            })
        })
        .collect()
}

async fn set_languages<DB: Backend>(
    conn: &mut DB::Connection,
    user: i64,
    languages: &[String],
) -> Result<()> {
    DB::execute(conn, Statement::new("DELETE FROM user_languages WHERE user_id = $1").bind(user))
        .await?;
    for name in languages {
        let select =
            Statement::new("SELECT id FROM languages WHERE lower(name) = lower($1)").bind(name);
        let language = DB::fetch_optional(conn, select)
            .await?
            .ok_or_else(|| Error::LanguageNotFound(name.clone()))?
            .i64(0)?;
        let insert = Statement::new(
            "INSERT INTO user_languages (user_id, language_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(user)
        .bind(language);
        DB::execute(conn, insert).await?;
    }
    Ok(())
}
