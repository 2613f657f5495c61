//! Bot tokens.

use sqlx::Pool;

use super::backend::{Backend, SqlRow};
use super::rows::{BOT_TOKEN_SELECT, bot_token_from_row};
use super::statement::Statement;
use super::users::user_id;
use crate::model::{BotToken, Timestamp};
use crate::{Error, Result};

pub(super) async fn create_bot_token<DB: Backend>(
    pool: &Pool<DB>,
    username: &str,
    name: &str,
    at: Timestamp,
) -> Result<BotToken> {
    let mut conn = pool.acquire().await?;
    let user = user_id::<DB>(&mut conn, username).await?;
    let insert = Statement::new(
        "INSERT INTO bot_tokens (user_id, name, created_at) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(user)
    .bind(name)
    .bind(at.unix_millis());
    let id = DB::fetch_one(&mut conn, insert).await?.i64(0)?;
    Ok(BotToken {
        id,
        username: username.to_owned(),
        name: name.to_owned(),
        created_at: at,
        revoked: false,
    })
}

pub(super) async fn bot_tokens<DB: Backend>(
    pool: &Pool<DB>,
    username: &str,
) -> Result<Vec<BotToken>> {
    let mut conn = pool.acquire().await?;
    user_id::<DB>(&mut conn, username).await?;
    let select = format!("{BOT_TOKEN_SELECT} WHERE u.username = $1 ORDER BY t.id");
    let rows = DB::fetch_all(&mut conn, Statement::new(select).bind(username)).await?;
    rows.iter().map(bot_token_from_row).collect()
}

pub(super) async fn bot_token<DB: Backend>(pool: &Pool<DB>, id: i64) -> Result<Option<BotToken>> {
    let select = Statement::new(format!("{BOT_TOKEN_SELECT} WHERE t.id = $1")).bind(id);
    let row = DB::fetch_optional(&mut *pool.acquire().await?, select).await?;
    row.as_ref().map(bot_token_from_row).transpose()
}

pub(super) async fn revoke_bot_token<DB: Backend>(
    pool: &Pool<DB>,
    username: &str,
    id: i64,
) -> Result<()> {
    let revoke = Statement::new(
        "UPDATE bot_tokens SET revoked = TRUE WHERE id = $1 \
         AND user_id = (SELECT id FROM users WHERE username = $2)",
    )
    .bind(id)
    .bind(username);
    if DB::execute(&mut *pool.acquire().await?, revoke).await? == 0 {
        return Err(Error::BotTokenNotFound(id));
    }
    Ok(())
}
