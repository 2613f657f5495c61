//! The SQL backends. SQLite and Postgres run the very same statements (both accept `$N`
//! placeholders, `RETURNING` and partial unique indexes), so the implementation is written once,
//! in [`sql_storage!`], and instantiated per database. What differs lives in each backend's
//! module: connecting, pool settings, how a write transaction begins, and the migrations.

#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;

/// Most appends committed in one transaction.
pub(crate) const MAX_BATCH: usize = 256;

/// Connection-pool settings shared by the SQL backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Most connections open at once; requests beyond wait for a free one.
    pub max_connections: u32,
    /// How long a request waits for a connection before failing.
    pub acquire_timeout: std::time::Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        // A request fails after 2 s without a connection (opening one included) rather than
        // hang through a database outage.
        PoolConfig { max_connections: 8, acquire_timeout: std::time::Duration::from_secs(2) }
    }
}

/// Whether a failed batch was refused by the database itself (a statement it would not run:
/// say, a value Postgres text cannot hold) rather than lost with its connection. Only then
/// can committing its appends one by one isolate the one at fault.
pub(super) fn refused_by_database(err: &crate::Error) -> bool {
    matches!(err, crate::Error::Database(source)
        if matches!(source.downcast_ref::<sqlx::Error>(), Some(sqlx::Error::Database(_))))
}

/// Whether a database error is a unique-constraint violation.
pub(super) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// Columns of a message, in the order `message_from_row` reads them.
macro_rules! message_columns {
    () => {
        "id, chat_id, seq, author, content, created_at, client_id, edited_at, deleted"
    };
}
pub(crate) use message_columns;

/// Columns and join of a bot token, in the order `bot_token_from_row` reads them.
macro_rules! bot_token_select {
    () => {
        "SELECT t.id, u.username, t.name, t.created_at, t.revoked \
         FROM bot_tokens t JOIN users u ON u.id = t.user_id"
    };
}
pub(crate) use bot_token_select;

/// A history page: newest first, below a sequence number. Reads the `(chat_id, seq)` index.
pub(crate) const MESSAGES_BEFORE: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages WHERE chat_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
);

/// A resume page: oldest first, above a sequence number. Reads the `(chat_id, seq)` index.
pub(crate) const MESSAGES_AFTER: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages WHERE chat_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
);

/// Implements [`Storage`](crate::storage::Storage) for `$storage`, a struct with a
/// `pool: sqlx::Pool<$db>` field and an `appends` sender feeding the generated `append_batches`
/// task, in a module whose `BEGIN_WRITE` is the statement that opens a transaction that will
/// write.
macro_rules! sql_storage {
    ($storage:ty, $db:ty) => {
        use async_trait::async_trait;
        use sqlx::Row;

        use crate::model::{
            Account, BotToken, Chat, ChatId, Language, Message, NewMessage, NewUser, Participant,
            ReadMark, ReadPosition, Seq, Timestamp, User, UserUpdate, deleted_author, username_key,
        };
        use crate::storage::sql::{
            MESSAGES_AFTER, MESSAGES_BEFORE, bot_token_select, is_unique_violation, message_columns,
        };
        use crate::storage::{Appended, Storage};
        use crate::{Error, Result};

        type Conn = <$db as sqlx::Database>::Connection;
        type DbRow = <$db as sqlx::Database>::Row;

        fn message_from_row(row: &DbRow) -> Result<Message> {
            Ok(Message {
                id: row.try_get(0)?,
                chat_id: ChatId(row.try_get(1)?),
                seq: Seq(row.try_get(2)?),
                author: row.try_get(3)?,
                content: row.try_get(4)?,
                timestamp: Timestamp::from_unix_millis(row.try_get(5)?),
                client_id: row.try_get(6)?,
                edited_at: row.try_get::<Option<i64>, _>(7)?.map(Timestamp::from_unix_millis),
                deleted: row.try_get(8)?,
            })
        }


        fn bot_token_from_row(row: &DbRow) -> Result<BotToken> {
            Ok(BotToken {
                id: row.try_get(0)?,
                username: row.try_get(1)?,
                name: row.try_get(2)?,
                created_at: Timestamp::from_unix_millis(row.try_get(3)?),
                revoked: row.try_get(4)?,
            })
        }

        async fn user_id(conn: &mut Conn, username: &str) -> Result<i64> {
            sqlx::query_scalar("SELECT id FROM users WHERE username = $1")
                .bind(username)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or_else(|| Error::UserNotFound(username.to_owned()))
        }

        async fn load_user(conn: &mut Conn, username: &str) -> Result<Option<User>> {
            let Some(row) = sqlx::query(
                "SELECT id, username, timezone, avatar FROM users WHERE username = $1",
            )
            .bind(username)
            .fetch_optional(&mut *conn)
            .await?
            else {
                return Ok(None);
            };
            let mut users = with_languages(conn, vec![row]).await?;
            Ok(users.pop())
        }

        /// The private fields of `user`, loaded.
        async fn account_of(conn: &mut Conn, user: User) -> Result<Account> {
            let row = sqlx::query("SELECT email, password_hash, token_generation FROM users WHERE id = $1")
                .bind(user.id)
                .fetch_one(&mut *conn)
                .await?;
            Ok(Account { user, email: row.try_get(0)?, password_hash: row.try_get(1)?, token_generation: row.try_get(2)? })
        }

        /// Fill in the `username_key` of users created before it existed (migration 0002). A
        /// key already taken (say `Carol` and `carol` both registered before) stays empty:
        /// both accounts keep working, and the taken key still refuses new look-alikes.
        pub(crate) async fn backfill_username_keys(pool: &sqlx::Pool<$db>) -> Result<()> {
            let rows = sqlx::query("SELECT id, username FROM users WHERE username_key IS NULL ORDER BY id")
                .fetch_all(pool)
                .await?;
            for row in rows {
                let (id, username): (i64, String) = (row.try_get(0)?, row.try_get(1)?);
                let updated = sqlx::query("UPDATE users SET username_key = $1 WHERE id = $2")
                    .bind(username_key(&username))
                    .bind(id)
                    .execute(pool)
                    .await;
                match updated {
                    Ok(_) => {}
                    Err(err) if is_unique_violation(&err) => {}
                    Err(err) => return Err(err.into()),
                }
            }
            Ok(())
        }

        /// `owner, item` rows of `{select} IN (ids…) {order}`, gathered by owner in order: one
        /// query for a whole page instead of one per row.
        async fn gather(
            conn: &mut Conn,
            select: &str,
            order: &str,
            ids: &[i64],
        ) -> Result<std::collections::HashMap<i64, Vec<String>>> {
            let mut gathered: std::collections::HashMap<i64, Vec<String>> = Default::default();
            if ids.is_empty() {
                return Ok(gathered);
            }
            // Placeholders only around fixed SQL, hence `AssertSqlSafe`.
            let sql = format!("{select} IN ({}) {order}", placeholders(1, ids.len()));
            let mut select = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in ids {
                select = select.bind(*id);
            }
            for row in select.fetch_all(&mut *conn).await? {
                gathered.entry(row.try_get(0)?).or_default().push(row.try_get(1)?);
            }
            Ok(gathered)
        }

        /// Users from rows of `id, username, timezone, avatar`, with their languages (one more
        /// query for them all).
        async fn with_languages(conn: &mut Conn, rows: Vec<DbRow>) -> Result<Vec<User>> {
            let ids = rows.iter().map(|row| row.try_get(0)).collect::<Result<Vec<i64>, _>>()?;
            let mut languages = gather(
                conn,
                "SELECT ul.user_id, l.name FROM user_languages ul \
                 JOIN languages l ON l.id = ul.language_id WHERE ul.user_id",
                "ORDER BY l.name",
                &ids,
            )
            .await?;
            rows.iter()
                .map(|row| {
                    let id: i64 = row.try_get(0)?;
                    Ok(User {
                        id,
                        username: row.try_get(1)?,
                        timezone: row.try_get(2)?,
                        avatar: row.try_get(3)?,
                        languages: languages.remove(&id).unwrap_or_default(),
                    })
                })
                .collect()
        }

        async fn set_languages(conn: &mut Conn, user: i64, languages: &[String]) -> Result<()> {
            sqlx::query("DELETE FROM user_languages WHERE user_id = $1")
                .bind(user)
                .execute(&mut *conn)
                .await?;
            for name in languages {
                let language: i64 =
                    sqlx::query_scalar("SELECT id FROM languages WHERE lower(name) = lower($1)")
                        .bind(name)
                        .fetch_optional(&mut *conn)
                        .await?
                        .ok_or_else(|| Error::LanguageNotFound(name.clone()))?;
                sqlx::query(
                    "INSERT INTO user_languages (user_id, language_id) VALUES ($1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(user)
                .bind(language)
                .execute(&mut *conn)
                .await?;
            }
            Ok(())
        }

        /// Chats from rows of `id, last_seq, created_at`, with their participants (one more
        /// query for them all).
        async fn load_chats(conn: &mut Conn, rows: Vec<DbRow>) -> Result<Vec<Chat>> {
            let ids = rows.iter().map(|row| row.try_get(0)).collect::<Result<Vec<i64>, _>>()?;
            let mut participants = gather(
                conn,
                "SELECT p.chat_id, u.username FROM chat_participants p \
                 JOIN users u ON u.id = p.user_id WHERE p.chat_id",
                "ORDER BY u.username",
                &ids,
            )
            .await?;
            rows.iter()
                .map(|row| {
                    let id: i64 = row.try_get(0)?;
                    Ok(Chat {
                        id: ChatId(id),
                        participants: participants
                            .remove(&id)
                            .unwrap_or_default()
                            .into_iter()
                            .map(|username| Participant { username })
                            .collect(),
                        last_seq: Seq(row.try_get(1)?),
                        created_at: Timestamp::from_unix_millis(row.try_get(2)?),
                    })
                })
                .collect()
        }

        async fn load_chat(conn: &mut Conn, id: ChatId) -> Result<Option<Chat>> {
            let rows = sqlx::query("SELECT id, last_seq, created_at FROM chats WHERE id = $1")
                .bind(id.0)
                .fetch_all(&mut *conn)
                .await?;
            Ok(load_chats(conn, rows).await?.pop())
        }

        /// `Ok` if `username` takes part in `chat`, else `ChatNotFound` or `NotParticipant`.
        async fn require_participant(conn: &mut Conn, chat: ChatId, username: &str) -> Result<()> {
            let count: Option<i64> = sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM chat_participants p JOIN users u ON u.id = p.user_id \
                 WHERE p.chat_id = c.id AND u.username = $2) FROM chats c WHERE c.id = $1",
            )
            .bind(chat.0)
            .bind(username)
            .fetch_optional(&mut *conn)
            .await?;
            match count {
                None => Err(Error::ChatNotFound(chat)),
                Some(0) => Err(Error::NotParticipant { chat, username: username.to_owned() }),
                Some(_) => Ok(()),
            }
        }

        /// The author's own (by account id), still present message, inside a write transaction.
        async fn own_message(conn: &mut Conn, chat: ChatId, seq: Seq, author: &str) -> Result<()> {
            require_participant(conn, chat, author).await?;
            let author_id = user_id(conn, author).await?;
            let row = sqlx::query("SELECT author_id, deleted FROM messages WHERE chat_id = $1 AND seq = $2")
                .bind(chat.0)
                .bind(seq.0)
                .fetch_optional(&mut *conn)
                .await?
                .ok_or(Error::MessageNotFound { chat, seq })?;
            let stored_author: Option<i64> = row.try_get(0)?;
            if stored_author != Some(author_id) {
                return Err(Error::NotAuthor { chat, seq });
            }
            if row.try_get::<bool, _>(1)? {
                return Err(Error::MessageDeleted { chat, seq });
            }
            Ok(())
        }

        /// An append waiting for its group commit, and where to send its result.
        pub(crate) type AppendJob = (NewMessage, tokio::sync::oneshot::Sender<Result<Appended>>);

        /// Append a batch of messages inside one write transaction, in a handful of
        /// statements whatever the batch size: one membership query, one sequence bump for
        /// every chat of the batch (which locks those chat rows until commit, serializing each
        /// chat's appends), one look-up of known client ids, one multi-row insert. (One
        /// statement per message made the batch a chain of round trips to the database
        /// thread: the many-rooms profile in BENCHMARKS.md.) Logical refusals (not a
        /// participant, no such chat, a known client id) run no failing statement, so the
        /// transaction and the other appends go on; numbers taken for messages that turn out
        /// to be known are given back before the insert, so no gap can appear.
        // Every statement built here is placeholders around fixed SQL: no value is ever
        // spliced into the text, hence `AssertSqlSafe`. Parameters are bound in the order
        // their placeholders appear: SQLite's are anonymous (`?`), because sqlx looks up each
        // named one by a linear scan, quadratic in a batch's ~1,500 parameters (profile in
        // BENCHMARKS.md).
        async fn append_all(conn: &mut Conn, batch: &[&NewMessage]) -> Result<Vec<Result<Appended>>> {
            use std::collections::{BTreeMap, HashMap};
            let mut results: Vec<Option<Result<Appended>>> = batch.iter().map(|_| None).collect();

            // Who may post where: the batch's distinct (chat, author) pairs, each looked up by
            // its keys. (Two IN lists, chats × authors, made SQLite seek every combination:
            // 265 ms for a batch of 1,000 instead of 2 ms.)
            let pairs: std::collections::BTreeSet<(i64, &str)> =
                batch.iter().map(|m| (m.chat_id.0, m.author.as_str())).collect();
            let sql = format!(
                "SELECT v.column1, v.column2, u.id FROM (VALUES {}) AS v \
                 JOIN users u ON u.username = v.column2 \
                 JOIN chat_participants p ON p.chat_id = v.column1 AND p.user_id = u.id",
                value_rows(pairs.len(), 2)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (chat, author) in &pairs {
                query = query.bind(*chat).bind(*author);
            }
            // (chat, author name) → the author's account id, for the members among them.
            let members: HashMap<(i64, String), i64> = query
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|row| Ok(((row.try_get::<i64, _>(0)?, row.try_get::<String, _>(1)?), row.try_get::<i64, _>(2)?)))
                .collect::<Result<_>>()?;
            let author_id = |message: &NewMessage| members.get(&(message.chat_id.0, message.author.clone())).copied();
            let mut allowed = Vec::with_capacity(batch.len());
            for (index, message) in batch.iter().enumerate() {
                if members.contains_key(&(message.chat_id.0, message.author.clone())) {
                    allowed.push(index);
                } else {
                    // Refused: which refusal (no such chat, or not a participant).
                    results[index] = Some(
                        require_participant(conn, message.chat_id, &message.author)
                            .await
                            .and(Err(Error::ChatNotFound(message.chat_id))),
                    );
                }
            }
            if allowed.is_empty() {
                return Ok(answered(results));
            }

            // Take numbers for every allowed message; this locks the chats' rows.
            let mut wanted: BTreeMap<i64, i64> = BTreeMap::new();
            for &index in &allowed {
                *wanted.entry(batch[index].chat_id.0).or_default() += 1;
            }
            let last: HashMap<i64, i64> = shift_last_seq('+', &wanted)
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|row| Ok((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?)))
                .collect::<Result<_>>()?;

            // With the rows locked, any earlier append with a client id of this batch is
            // visible: a retry racing its original (or twice in this batch) is found here.
            let keyed: Vec<usize> = allowed.iter().copied().filter(|&i| batch[i].client_id.is_some()).collect();
            let mut known: HashMap<(i64, String, String), Message> = HashMap::new();
            if !keyed.is_empty() {
                let conditions: Vec<String> = (0..keyed.len())
                    .map(|n| format!("(chat_id = {} AND author_id = {} AND client_id = {})", param(3 * n + 1), param(3 * n + 2), param(3 * n + 3)))
                    .collect();
                let sql = format!("SELECT {} FROM messages WHERE {}", message_columns!(), conditions.join(" OR "));
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for &index in &keyed {
                    let message = batch[index];
                    query = query.bind(message.chat_id.0).bind(author_id(message)).bind(&message.client_id);
                }
                for row in query.fetch_all(&mut *conn).await? {
                    let message = message_from_row(&row)?;
                    if let Some(client_id) = message.client_id.clone() {
                        known.insert((message.chat_id.0, message.author.clone(), client_id), message);
                    }
                }
            }

            // Number the new messages (per chat, in batch order, from where the chat was).
            let mut next: HashMap<i64, i64> = HashMap::new();
            for (chat, count) in &wanted {
                let Some(after) = last.get(chat) else { continue };
                next.insert(*chat, after - count + 1);
            }
            let mut first_of_key: HashMap<(i64, String, String), usize> = HashMap::new();
            let mut inserts: Vec<(usize, i64)> = Vec::with_capacity(allowed.len());
            let mut duplicates: Vec<(usize, usize)> = Vec::new();
            let mut given_back: BTreeMap<i64, i64> = BTreeMap::new();
            for &index in &allowed {
                let message = batch[index];
                let chat = message.chat_id.0;
                let Some(seq) = next.get_mut(&chat) else {
                    results[index] = Some(Err(Error::ChatNotFound(message.chat_id)));
                    continue;
                };
                if let Some(client_id) = &message.client_id {
                    let key = (chat, message.author.clone(), client_id.clone());
                    if let Some(stored) = known.get(&key) {
                        results[index] = Some(Ok(Appended { message: stored.clone(), created: false }));
                        *given_back.entry(chat).or_default() += 1;
                        continue;
                    }
                    if let Some(&first) = first_of_key.get(&key) {
                        duplicates.push((index, first));
                        *given_back.entry(chat).or_default() += 1;
                        continue;
                    }
                    first_of_key.insert(key, index);
                }
                inserts.push((index, *seq));
                *seq += 1;
            }
            if !given_back.is_empty() {
                shift_last_seq('-', &given_back).execute(&mut *conn).await?;
            }

            if !inserts.is_empty() {
                let sql = format!(
                    "INSERT INTO messages (chat_id, seq, author, content, created_at, client_id, author_id) \
                     VALUES {} RETURNING id, chat_id, seq",
                    value_rows(inserts.len(), 7)
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for &(index, seq) in &inserts {
                    let message = batch[index];
                    query = query
                        .bind(message.chat_id.0)
                        .bind(seq)
                        .bind(&message.author)
                        .bind(&message.content)
                        .bind(message.timestamp.unix_millis())
                        .bind(&message.client_id)
                        .bind(author_id(message));
                }
                // Rows come back in no promised order: match them by (chat, seq), which is unique.
                let ids: HashMap<(i64, i64), i64> = query
                    .fetch_all(&mut *conn)
                    .await?
                    .iter()
                    .map(|row| Ok(((row.try_get::<i64, _>(1)?, row.try_get::<i64, _>(2)?), row.try_get::<i64, _>(0)?)))
                    .collect::<Result<_>>()?;
                for &(index, seq) in &inserts {
                    let message = batch[index];
                    let id = *ids.get(&(message.chat_id.0, seq)).ok_or_else(|| {
                        Error::Database("an inserted message was not returned".into())
                    })?;
                    results[index] = Some(Ok(Appended {
                        message: Message {
                            id,
                            chat_id: message.chat_id,
                            seq: Seq(seq),
                            author: message.author.clone(),
                            content: message.content.clone(),
                            timestamp: message.timestamp,
                            client_id: message.client_id.clone(),
                            edited_at: None,
                            deleted: false,
                        },
                        created: true,
                    }));
                }
            }
            for (index, first) in duplicates {
                results[index] = match &results[first] {
                    Some(Ok(appended)) => Some(Ok(Appended { message: appended.message.clone(), created: false })),
                    Some(Err(_)) | None => None,
                };
            }
            Ok(answered(results))
        }

        fn answered(results: Vec<Option<Result<Appended>>>) -> Vec<Result<Appended>> {
            results
                .into_iter()
                .map(|result| result.unwrap_or_else(|| Err(Error::Database("append left unanswered".into()))))
                .collect()
        }

        /// `UPDATE chats SET last_seq = last_seq ± v.amount FROM (VALUES (chat, amount), …) v
        /// WHERE chats.id = v.chat RETURNING id, last_seq`: moves each chat's number by its
        /// amount, all at once, one key look-up per chat (a `CASE` with a branch per chat made
        /// it quadratic: 15.7 ms for 1,000 chats against 2.6 ms).
        fn shift_last_seq(
            sign: char,
            amounts: &std::collections::BTreeMap<i64, i64>,
        ) -> sqlx::query::Query<'static, $db, <$db as sqlx::Database>::Arguments> {
            let sql = format!(
                "UPDATE chats SET last_seq = chats.last_seq {sign} v.column2 FROM (VALUES {}) AS v \
                 WHERE chats.id = v.column1 RETURNING chats.id, chats.last_seq",
                value_rows(amounts.len(), 2)
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (chat, amount) in amounts {
                query = query.bind(*chat).bind(*amount);
            }
            query
        }

        /// `(…), (…), …`: `rows` rows of `width` placeholders each, numbered from 1.
        fn value_rows(rows: usize, width: usize) -> String {
            (0..rows)
                .map(|n| format!("({})", placeholders(width * n + 1, width)))
                .collect::<Vec<_>>()
                .join(", ")
        }

        /// `count` placeholders for parameters `start`, `start + 1`, ….
        fn placeholders(start: usize, count: usize) -> String {
            (start..start + count).map(param).collect::<Vec<_>>().join(", ")
        }

        /// Group commit: take every append waiting (up to a batch), run them in one write
        /// transaction, commit once (one fsync), then answer each. Nothing is acknowledged
        /// before the commit.
        pub(crate) async fn append_batches(
            pool: sqlx::Pool<$db>,
            mut jobs: tokio::sync::mpsc::Receiver<AppendJob>,
        ) {
            let mut batch: Vec<AppendJob> = Vec::with_capacity(crate::storage::sql::MAX_BATCH);
            // Kept while appends keep coming, so a batch does not pay for a pool acquire (and
            // its health check); given back when the queue runs dry, so closing the pool never
            // waits for it.
            let mut writer: Option<sqlx::pool::PoolConnection<$db>> = None;
            loop {
                let job = match jobs.try_recv() {
                    Ok(job) => job,
                    Err(_) => {
                        writer = None;
                        match jobs.recv().await {
                            Some(job) => job,
                            None => break,
                        }
                    }
                };
                batch.push(job);
                while batch.len() < crate::storage::sql::MAX_BATCH {
                    match jobs.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                let messages: Vec<&NewMessage> = batch.iter().map(|(message, _)| message).collect();
                let committed = commit_on(&pool, &mut writer, &messages).await;
                drop(messages);
                match committed {
                    Ok(results) => {
                        for ((_, reply), result) in batch.drain(..).zip(results) {
                            let _ = reply.send(result);
                        }
                    }
                    Err(err) if batch.len() > 1 && crate::storage::sql::refused_by_database(&err) => {
                        // One append the database refuses must not fail the others (issue 13):
                        // nothing was committed, so commit each alone, in queue order (which
                        // keeps each chat's numbering), and only the one at fault fails.
                        for (message, reply) in batch.drain(..) {
                            let result = match commit_on(&pool, &mut writer, &[&message]).await {
                                Ok(mut results) => results.pop().unwrap_or_else(|| {
                                    Err(Error::Database("append left unanswered".into()))
                                }),
                                Err(err) => {
                                    if !crate::storage::sql::refused_by_database(&err)
                                        && let Some(mut conn) = writer.take()
                                    {
                                        conn.close_on_drop();
                                    }
                                    Err(err)
                                }
                            };
                            let _ = reply.send(result);
                        }
                    }
                    Err(err) => {
                        // Nothing of the batch was committed. The connection may be broken or
                        // mid-transaction: start over with another.
                        if let Some(mut conn) = writer.take() {
                            conn.close_on_drop();
                        }
                        let message = err.to_string();
                        let unreachable = matches!(err, Error::Unavailable(_));
                        for (_, reply) in batch.drain(..) {
                            let err: Box<dyn std::error::Error + Send + Sync> = message.clone().into();
                            let err = if unreachable { Error::Unavailable(err) } else { Error::Database(err) };
                            let _ = reply.send(Err(err));
                        }
                    }
                }
            }
        }

        /// [`commit_batch`] on the kept writer connection, acquiring one if there is none.
        async fn commit_on(
            pool: &sqlx::Pool<$db>,
            writer: &mut Option<sqlx::pool::PoolConnection<$db>>,
            messages: &[&NewMessage],
        ) -> Result<Vec<Result<Appended>>> {
            match writer {
                Some(conn) => commit_batch(conn, messages).await,
                None => match pool.acquire().await {
                    Ok(conn) => commit_batch(writer.insert(conn), messages).await,
                    Err(err) => Err(err.into()),
                },
            }
        }

        async fn commit_batch(
            conn: &mut sqlx::pool::PoolConnection<$db>,
            messages: &[&NewMessage],
        ) -> Result<Vec<Result<Appended>>> {
            let mut tx = sqlx::Connection::begin_with(&mut **conn, BEGIN_WRITE).await?;
            // A database error may have aborted the transaction (Postgres): it fails the batch,
            // and rolling back leaves the connection ready for the next.
            match append_all(&mut tx, messages).await {
                Ok(results) => {
                    tx.commit().await?;
                    Ok(results)
                }
                Err(err) => {
                    // A failed rollback means a broken connection: the next use reports it.
                    let _ = tx.rollback().await;
                    Err(err)
                }
            }
        }

        impl $storage {
            /// Open a transaction that will write (`BEGIN_WRITE`).
            async fn begin_write(&self) -> Result<sqlx::Transaction<'static, $db>> {
                Ok(self.pool.begin_with(BEGIN_WRITE).await?)
            }
        }

        #[async_trait]
        impl Storage for $storage {
            async fn add_language(&self, name: &str) -> Result<Language> {
                let mut conn = self.pool.acquire().await?;
                sqlx::query("INSERT INTO languages (name) VALUES ($1) ON CONFLICT DO NOTHING")
                    .bind(name)
                    .execute(&mut *conn)
                    .await?;
                let row = sqlx::query("SELECT id, name FROM languages WHERE lower(name) = lower($1)")
                    .bind(name)
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(Language { id: row.try_get(0)?, name: row.try_get(1)? })
            }

            async fn languages_after(&self, after: Option<&str>, limit: u32) -> Result<Vec<Language>> {
                let rows = sqlx::query(
                    "SELECT id, name FROM languages WHERE $1 IS NULL OR name > $1 \
                     ORDER BY name LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| Ok(Language { id: row.try_get(0)?, name: row.try_get(1)? }))
                    .collect()
            }

            async fn languages(&self) -> Result<Vec<Language>> {
                let rows = sqlx::query("SELECT id, name FROM languages ORDER BY name")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|row| Ok(Language { id: row.try_get(0)?, name: row.try_get(1)? }))
                    .collect()
            }

            async fn create_user(&self, user: NewUser) -> Result<User> {
                let mut tx = self.begin_write().await?;
                let inserted = sqlx::query_scalar(
                    "INSERT INTO users (username, email, password_hash, timezone, username_key) \
                     VALUES ($1, $2, $3, $4, $5) RETURNING id",
                )
                .bind(&user.username)
                .bind(&user.email)
                .bind(&user.password_hash)
                .bind(&user.timezone)
                .bind(username_key(&user.username))
                .fetch_one(&mut *tx)
                .await;
                let id: i64 = match inserted {
                    Ok(id) => id,
                    Err(err) if is_unique_violation(&err) => {
                        return Err(Error::UsernameTaken(user.username));
                    }
                    Err(err) => return Err(err.into()),
                };
                set_languages(&mut tx, id, &user.languages).await?;
                let created = load_user(&mut tx, &user.username).await?;
                tx.commit().await?;
                created.ok_or(Error::UserNotFound(user.username))
            }

            async fn account(&self, username: &str) -> Result<Option<Account>> {
                let mut conn = self.pool.acquire().await?;
                let Some(user) = load_user(&mut conn, username).await? else {
                    return Ok(None);
                };
                account_of(&mut conn, user).await.map(Some)
            }

            async fn account_by_id(&self, id: i64) -> Result<Option<Account>> {
                let mut conn = self.pool.acquire().await?;
                let Some(row) = sqlx::query("SELECT id, username, timezone, avatar FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await?
                else {
                    return Ok(None);
                };
                let mut users = with_languages(&mut conn, vec![row]).await?;
                let Some(user) = users.pop() else { return Ok(None) };
                account_of(&mut conn, user).await.map(Some)
            }

            async fn user(&self, username: &str) -> Result<Option<User>> {
                load_user(&mut *self.pool.acquire().await?, username).await
            }

            async fn users(&self, after: Option<&str>, limit: u32) -> Result<Vec<User>> {
                let mut conn = self.pool.acquire().await?;
                let rows = sqlx::query(
                    "SELECT id, username, timezone, avatar FROM users \
                     WHERE $1 IS NULL OR username > $1 ORDER BY username LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
                with_languages(&mut conn, rows).await
            }

            async fn users_by_language(
                &self,
                language: &str,
                after: Option<&str>,
                limit: u32,
            ) -> Result<Vec<User>> {
                let mut conn = self.pool.acquire().await?;
                let rows = sqlx::query(
                    "SELECT u.id, u.username, u.timezone, u.avatar FROM users u \
                     JOIN user_languages ul ON ul.user_id = u.id \
                     JOIN languages l ON l.id = ul.language_id \
                     WHERE lower(l.name) = lower($1) AND ($2 IS NULL OR u.username > $2) \
                     ORDER BY u.username LIMIT $3",
                )
                .bind(language)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
                with_languages(&mut conn, rows).await
            }

            async fn update_user(&self, username: &str, update: UserUpdate) -> Result<User> {
                let mut tx = self.begin_write().await?;
                let id: i64 = sqlx::query_scalar(
                    "UPDATE users SET email = COALESCE($2, email), \
                     password_hash = COALESCE($3, password_hash), \
                     token_generation = token_generation + CASE WHEN $3 IS NULL THEN 0 ELSE 1 END, \
                     timezone = COALESCE($4, timezone) WHERE username = $1 RETURNING id",
                )
                .bind(username)
                .bind(&update.email)
                .bind(&update.password_hash)
                .bind(&update.timezone)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| Error::UserNotFound(username.to_owned()))?;
                if let Some(avatar) = &update.avatar {
                    sqlx::query("UPDATE users SET avatar = $2 WHERE id = $1")
                        .bind(id)
                        .bind(avatar)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(languages) = &update.languages {
                    set_languages(&mut tx, id, languages).await?;
                }
                let user = load_user(&mut tx, username).await?;
                tx.commit().await?;
                user.ok_or_else(|| Error::UserNotFound(username.to_owned()))
            }

            async fn delete_user(&self, username: &str) -> Result<()> {
                let mut tx = self.begin_write().await?;
                let id = user_id(&mut tx, username).await?;
                // Their messages stay, under a name no account can have (see `deleted_author`).
                sqlx::query("UPDATE messages SET author = $1 WHERE author_id = $2")
                    .bind(deleted_author(username))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn add_contact(&self, username: &str, contact: &str) -> Result<()> {
                let mut conn = self.pool.acquire().await?;
                let user = user_id(&mut conn, username).await?;
                let contact = user_id(&mut conn, contact).await?;
                sqlx::query(
                    "INSERT INTO contacts (user_id, contact_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(user)
                .bind(contact)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            async fn remove_contact(&self, username: &str, contact: &str) -> Result<()> {
                sqlx::query(
                    "DELETE FROM contacts WHERE user_id = (SELECT id FROM users WHERE username = $1) \
                     AND contact_id = (SELECT id FROM users WHERE username = $2)",
                )
                .bind(username)
                .bind(contact)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn contacts(&self, username: &str) -> Result<Vec<String>> {
                let mut conn = self.pool.acquire().await?;
                let user = user_id(&mut conn, username).await?;
                Ok(sqlx::query_scalar(
                    "SELECT u.username FROM contacts c JOIN users u ON u.id = c.contact_id \
                     WHERE c.user_id = $1 ORDER BY u.username",
                )
                .bind(user)
                .fetch_all(&mut *conn)
                .await?)
            }

            async fn create_chat(&self, participants: &[String], at: Timestamp) -> Result<Chat> {
                let mut tx = self.begin_write().await?;
                let id: i64 =
                    sqlx::query_scalar("INSERT INTO chats (created_at) VALUES ($1) RETURNING id")
                        .bind(at.unix_millis())
                        .fetch_one(&mut *tx)
                        .await?;
                for username in participants {
                    let user = user_id(&mut tx, username).await?;
                    sqlx::query(
                        "INSERT INTO chat_participants (chat_id, user_id) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                }
                let chat = load_chat(&mut tx, ChatId(id)).await?;
                tx.commit().await?;
                chat.ok_or(Error::ChatNotFound(ChatId(id)))
            }

            async fn chat(&self, id: ChatId) -> Result<Option<Chat>> {
                load_chat(&mut *self.pool.acquire().await?, id).await
            }

            async fn chats_of(
                &self,
                username: &str,
                after: Option<ChatId>,
                limit: u32,
            ) -> Result<Vec<Chat>> {
                let mut conn = self.pool.acquire().await?;
                let rows = sqlx::query(
                    "SELECT c.id, c.last_seq, c.created_at FROM chats c \
                     JOIN chat_participants p ON p.chat_id = c.id \
                     JOIN users u ON u.id = p.user_id WHERE u.username = $1 AND c.id > $2 \
                     ORDER BY c.id LIMIT $3",
                )
                .bind(username)
                .bind(after.map_or(0, |chat| chat.0))
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
                load_chats(&mut conn, rows).await
            }

            async fn chat_partners(&self, username: &str) -> Result<Vec<String>> {
                Ok(sqlx::query_scalar(
                    "SELECT DISTINCT u.username FROM chat_participants mine \
                     JOIN users me ON me.id = mine.user_id \
                     JOIN chat_participants p ON p.chat_id = mine.chat_id \
                     JOIN users u ON u.id = p.user_id \
                     WHERE me.username = $1 AND u.id <> me.id ORDER BY u.username",
                )
                .bind(username)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn is_participant(&self, chat: ChatId, username: &str) -> Result<bool> {
                match require_participant(&mut *self.pool.acquire().await?, chat, username).await {
                    Ok(()) => Ok(true),
                    Err(Error::NotParticipant { .. }) => Ok(false),
                    Err(err) => Err(err),
                }
            }

            async fn set_participants(&self, chat: ChatId, participants: &[String]) -> Result<Chat> {
                let mut tx = self.begin_write().await?;
                let current: Vec<String> = load_chat(&mut tx, chat)
                    .await?
                    .ok_or(Error::ChatNotFound(chat))?
                    .participants
                    .into_iter()
                    .map(|p| p.username)
                    .collect();
                for username in participants {
                    let user = user_id(&mut tx, username).await?;
                    sqlx::query(
                        "INSERT INTO chat_participants (chat_id, user_id) VALUES ($1, $2) \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(chat.0)
                    .bind(user)
                    .execute(&mut *tx)
                    .await?;
                }
                for gone in current.iter().filter(|name| !participants.contains(name)) {
                    sqlx::query(
                        "DELETE FROM chat_participants WHERE chat_id = $1 \
                         AND user_id = (SELECT id FROM users WHERE username = $2)",
                    )
                    .bind(chat.0)
                    .bind(gone)
                    .execute(&mut *tx)
                    .await?;
                }
                let updated = load_chat(&mut tx, chat).await?;
                tx.commit().await?;
                updated.ok_or(Error::ChatNotFound(chat))
            }

            async fn delete_chat(&self, chat: ChatId) -> Result<()> {
                let deleted = sqlx::query("DELETE FROM chats WHERE id = $1")
                    .bind(chat.0)
                    .execute(&self.pool)
                    .await?;
                if deleted.rows_affected() == 0 {
                    return Err(Error::ChatNotFound(chat));
                }
                Ok(())
            }

            async fn append_message(&self, message: NewMessage) -> Result<Appended> {
                self.start_append(message).await.await
            }

            /// The append joins the group-commit queue (FIFO; the batcher numbers a chat's
            /// appends in queue order) and the ticket waits for its batch's commit.
            async fn start_append(&self, message: NewMessage) -> crate::storage::AppendTicket {
                let (reply, result) = tokio::sync::oneshot::channel();
                let stopped = || Error::Database("the append batcher has stopped".into());
                if self.appends.send((message, reply)).await.is_err() {
                    return Box::pin(std::future::ready(Err(stopped())));
                }
                Box::pin(async move { result.await.map_err(|_| stopped())? })
            }

            async fn messages_before(
                &self,
                chat: ChatId,
                reader: &str,
                before: Option<Seq>,
                limit: u32,
            ) -> Result<Vec<Message>> {
                let mut conn = self.pool.acquire().await?;
                require_participant(&mut conn, chat, reader).await?;
                let rows = sqlx::query(MESSAGES_BEFORE)
                .bind(chat.0)
                .bind(before.map_or(i64::MAX, |seq| seq.0))
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
                rows.iter().map(message_from_row).collect()
            }

            async fn messages_after(
                &self,
                chat: ChatId,
                reader: &str,
                after: Seq,
                limit: u32,
            ) -> Result<Vec<Message>> {
                let mut conn = self.pool.acquire().await?;
                require_participant(&mut conn, chat, reader).await?;
                let rows = sqlx::query(MESSAGES_AFTER)
                .bind(chat.0)
                .bind(after.0)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?;
                rows.iter().map(message_from_row).collect()
            }

            async fn edit_message(
                &self,
                chat: ChatId,
                seq: Seq,
                editor: &str,
                content: &str,
                at: Timestamp,
            ) -> Result<Message> {
                let mut tx = self.begin_write().await?;
                own_message(&mut tx, chat, seq, editor).await?;
                let row = sqlx::query(concat!(
                    "UPDATE messages SET content = $3, edited_at = $4 WHERE chat_id = $1 AND seq = $2 \
                     RETURNING ",
                    message_columns!()
                ))
                .bind(chat.0)
                .bind(seq.0)
                .bind(content)
                .bind(at.unix_millis())
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                message_from_row(&row)
            }

            async fn delete_message(
                &self,
                chat: ChatId,
                seq: Seq,
                by: &str,
                at: Timestamp,
            ) -> Result<Message> {
                let mut tx = self.begin_write().await?;
                match own_message(&mut tx, chat, seq, by).await {
                    // Deleting twice is not an error: the message is gone either way.
                    Ok(()) | Err(Error::MessageDeleted { .. }) => {}
                    Err(err) => return Err(err),
                }
                let row = sqlx::query(concat!(
                    "UPDATE messages SET content = '', deleted = TRUE, \
                     edited_at = COALESCE(CASE WHEN deleted THEN edited_at END, $3) \
                     WHERE chat_id = $1 AND seq = $2 RETURNING ",
                    message_columns!()
                ))
                .bind(chat.0)
                .bind(seq.0)
                .bind(at.unix_millis())
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                message_from_row(&row)
            }

            async fn mark_read(&self, chat: ChatId, username: &str, seq: Seq) -> Result<ReadMark> {
                let mut tx = self.begin_write().await?;
                let last_seq: i64 = sqlx::query_scalar("SELECT last_seq FROM chats WHERE id = $1")
                    .bind(chat.0)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(Error::ChatNotFound(chat))?;
                require_participant(&mut tx, chat, username).await?;
                if seq.0 > last_seq {
                    return Err(Error::ReadBeyondEnd { chat, seq });
                }
                // Only a forward move updates the row: whether it did is whether it moved.
                let moved = sqlx::query(
                    "UPDATE chat_participants SET read_seq = $3 WHERE chat_id = $1 \
                     AND user_id = (SELECT id FROM users WHERE username = $2) AND read_seq < $3",
                )
                .bind(chat.0)
                .bind(username)
                .bind(seq.0)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    > 0;
                let stored: i64 = sqlx::query_scalar(
                    "SELECT read_seq FROM chat_participants WHERE chat_id = $1 \
                     AND user_id = (SELECT id FROM users WHERE username = $2)",
                )
                .bind(chat.0)
                .bind(username)
                .fetch_one(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(ReadMark { seq: Seq(stored), moved })
            }

            async fn create_bot_token(
                &self,
                username: &str,
                name: &str,
                at: Timestamp,
            ) -> Result<BotToken> {
                let mut conn = self.pool.acquire().await?;
                let user = user_id(&mut conn, username).await?;
                let id = sqlx::query_scalar(
                    "INSERT INTO bot_tokens (user_id, name, created_at) VALUES ($1, $2, $3) RETURNING id",
                )
                .bind(user)
                .bind(name)
                .bind(at.unix_millis())
                .fetch_one(&mut *conn)
                .await?;
                Ok(BotToken {
                    id,
                    username: username.to_owned(),
                    name: name.to_owned(),
                    created_at: at,
                    revoked: false,
                })
            }

            async fn bot_tokens(&self, username: &str) -> Result<Vec<BotToken>> {
                let mut conn = self.pool.acquire().await?;
                user_id(&mut conn, username).await?;
                let rows = sqlx::query(concat!(bot_token_select!(), " WHERE u.username = $1 ORDER BY t.id"))
                    .bind(username)
                    .fetch_all(&mut *conn)
                    .await?;
                rows.iter().map(bot_token_from_row).collect()
            }

            async fn bot_token(&self, id: i64) -> Result<Option<BotToken>> {
                let row = sqlx::query(concat!(bot_token_select!(), " WHERE t.id = $1"))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(bot_token_from_row).transpose()
            }

            async fn revoke_bot_token(&self, username: &str, id: i64) -> Result<()> {
                let revoked = sqlx::query(
                    "UPDATE bot_tokens SET revoked = TRUE WHERE id = $1 \
                     AND user_id = (SELECT id FROM users WHERE username = $2)",
                )
                .bind(id)
                .bind(username)
                .execute(&self.pool)
                .await?;
                if revoked.rows_affected() == 0 {
                    return Err(Error::BotTokenNotFound(id));
                }
                Ok(())
            }

            async fn close(&self) {
                self.pool.close().await;
            }

            async fn read_positions(&self, chat: ChatId) -> Result<Vec<ReadPosition>> {
                let mut conn = self.pool.acquire().await?;
                let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM chats WHERE id = $1")
                    .bind(chat.0)
                    .fetch_optional(&mut *conn)
                    .await?;
                if exists.is_none() {
                    return Err(Error::ChatNotFound(chat));
                }
                let rows = sqlx::query(
                    "SELECT u.username, p.read_seq FROM chat_participants p \
                     JOIN users u ON u.id = p.user_id WHERE p.chat_id = $1 ORDER BY u.username",
                )
                .bind(chat.0)
                .fetch_all(&mut *conn)
                .await?;
                rows.iter()
                    .map(|row| Ok(ReadPosition { username: row.try_get(0)?, seq: Seq(row.try_get(1)?) }))
                    .collect()
            }
        }
    };
}
pub(crate) use sql_storage;
