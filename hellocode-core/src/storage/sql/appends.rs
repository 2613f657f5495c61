//! Appends: one task per storage takes them off a queue and commits them in batches (group
//! commit), so that many appends share a transaction and its fsync.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sqlx::Pool;
use sqlx::pool::PoolConnection;
use tokio::sync::{mpsc, oneshot};

use super::backend::{Backend, SqlRow};
use super::rows::{MESSAGE_COLUMNS, attachments_column, message_from_row};
use super::statement::{Statement, value_rows};
use super::{MAX_BATCH, refused_by_database};
use crate::model::{Message, NewMessage, Seq};
use crate::storage::{AppendTicket, Appended};
use crate::{Error, Result};

/// An append waiting for its group commit, and where to send its result.
pub(crate) type AppendJob = (NewMessage, oneshot::Sender<Result<Appended>>);

/// The append joins the group-commit queue (FIFO; the batcher numbers a chat's appends in queue
/// order) and the ticket waits for its batch's commit.
pub(super) async fn start_append(
    appends: &mpsc::Sender<AppendJob>,
    message: NewMessage,
) -> AppendTicket {
    let (reply, result) = oneshot::channel();
    let stopped = || Error::Database("the append batcher has stopped".into());
    if appends.send((message, reply)).await.is_err() {
        return Box::pin(std::future::ready(Err(stopped())));
    }
    Box::pin(async move { result.await.map_err(|_| stopped())? })
}

/// Group commit: take every append waiting (up to a batch), run them in one write transaction,
/// commit once (one fsync), then answer each. Nothing is acknowledged before the commit.
pub(super) async fn append_batches<DB: Backend>(
    pool: Pool<DB>,
    mut jobs: mpsc::Receiver<AppendJob>,
) {
    let mut batch: Vec<AppendJob> = Vec::with_capacity(MAX_BATCH);
    // Kept while appends keep coming, so a batch does not pay for a pool acquire (and its health
    // check); given back when the queue runs dry, so closing the pool never waits for it.
    let mut writer: Option<PoolConnection<DB>> = None;
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
        while batch.len() < MAX_BATCH {
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
            Err(err) if batch.len() > 1 && refused_by_database(&err) => {
                // One append the database refuses must not fail the others (issue 13): nothing
                // was committed, so commit each alone, in queue order (which keeps each chat's
                // numbering), and only the one at fault fails.
                for (message, reply) in batch.drain(..) {
                    let result = match commit_on(&pool, &mut writer, &[&message]).await {
                        Ok(mut results) => results.pop().unwrap_or_else(|| {
                            Err(Error::Database("append left unanswered".into()))
                        }),
                        Err(err) => {
                            if !refused_by_database(&err)
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
                    let err =
                        if unreachable { Error::Unavailable(err) } else { Error::Database(err) };
                    let _ = reply.send(Err(err));
                }
            }
        }
    }
}

/// [`commit_batch`] on the kept writer connection, acquiring one if there is none.
async fn commit_on<DB: Backend>(
    pool: &Pool<DB>,
    writer: &mut Option<PoolConnection<DB>>,
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

async fn commit_batch<DB: Backend>(
    conn: &mut PoolConnection<DB>,
    messages: &[&NewMessage],
) -> Result<Vec<Result<Appended>>> {
    let mut tx = sqlx::Connection::begin_with(&mut **conn, DB::BEGIN_WRITE).await?;
    // A database error may have aborted the transaction (Postgres): it fails the batch, and
    // rolling back leaves the connection ready for the next.
    match append_all::<DB>(&mut tx, messages).await {
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

/// Append a batch of messages inside one write transaction, in a handful of statements whatever
/// the batch size: one sequence bump for every chat of the batch (which locks those chat rows
/// until commit, serializing each chat's appends with each other and with its other changes),
/// one membership query, one look-up of known client ids, one multi-row insert. (One statement
/// per message made the batch a chain of round trips to the database thread: the many-rooms
/// profile in BENCHMARKS.md.) Logical refusals (not a participant, no such chat, a known client
/// id) run no failing statement, so the transaction and the other appends go on; numbers taken
/// for messages refused or known are given back before the insert, so no gap can appear.
///
/// Membership is read after the bump, under the chats' locks: a member removed by a change
/// committed just before this batch took the lock cannot post after their removal's event.
// Every statement built here is placeholders around fixed SQL: no value is ever spliced into the
// text. Parameters are bound in the order their placeholders appear: SQLite's are anonymous
// (`?`), because sqlx looks up each named one by a linear scan, quadratic in a batch's ~1,500
// parameters (profile in BENCHMARKS.md).
async fn append_all<DB: Backend>(
    conn: &mut DB::Connection,
    batch: &[&NewMessage],
) -> Result<Vec<Result<Appended>>> {
    let mut results: Vec<Option<Result<Appended>>> = batch.iter().map(|_| None).collect();

    // Take numbers for every message; this locks the chats' rows. A chat with no row returned
    // does not exist.
    let mut wanted: BTreeMap<i64, i64> = BTreeMap::new();
    for message in batch {
        *wanted.entry(message.chat_id.0).or_default() += 1;
    }
    let last: HashMap<i64, i64> = DB::fetch_all(conn, shift_last_seq::<DB>('+', &wanted))
        .await?
        .iter()
        .map(|row| Ok((row.i64(0)?, row.i64(1)?)))
        .collect::<Result<_>>()?;

    // Who may post where: the batch's distinct (chat, author) pairs, each looked up by its keys.
    // (Two IN lists, chats × authors, made SQLite seek every combination: 265 ms for a batch of
    // 1,000 instead of 2 ms.)
    let pairs: BTreeSet<(i64, &str)> = batch
        .iter()
        .filter(|m| last.contains_key(&m.chat_id.0))
        .map(|m| (m.chat_id.0, m.author.as_str()))
        .collect();
    // (chat, author name) → the author's account id, for the members among them.
    let mut members: HashMap<(i64, String), i64> = HashMap::new();
    if !pairs.is_empty() {
        let sql = format!(
            "SELECT v.column1, v.column2, u.id FROM (VALUES {}) AS v \
             JOIN users u ON u.username = v.column2 \
             JOIN chat_participants p ON p.chat_id = v.column1 AND p.user_id = u.id",
            value_rows::<DB>(pairs.len(), 2)
        );
        let query = pairs
            .iter()
            .fold(Statement::new(sql), |query, (chat, author)| query.bind(*chat).bind(*author));
        for row in DB::fetch_all(conn, query).await? {
            members.insert((row.i64(0)?, row.text(1)?), row.i64(2)?);
        }
    }
    let author_id =
        |message: &NewMessage| members.get(&(message.chat_id.0, message.author.clone())).copied();
    let mut allowed = Vec::with_capacity(batch.len());
    let mut given_back: BTreeMap<i64, i64> = BTreeMap::new();
    for (index, message) in batch.iter().enumerate() {
        if !last.contains_key(&message.chat_id.0) {
            results[index] = Some(Err(Error::ChatNotFound(message.chat_id)));
        } else if author_id(message).is_none() {
            results[index] = Some(Err(Error::NotParticipant {
                chat: message.chat_id,
                username: message.author.clone(),
            }));
            *given_back.entry(message.chat_id.0).or_default() += 1;
        } else {
            allowed.push(index);
        }
    }

    // With the rows locked, any earlier append with a client id of this batch is visible: a
    // retry racing its original (or twice in this batch) is found here.
    let keyed: Vec<usize> =
        allowed.iter().copied().filter(|&i| batch[i].client_id.is_some()).collect();
    let mut known: HashMap<(i64, String, String), Message> = HashMap::new();
    if !keyed.is_empty() {
        let conditions: Vec<String> = (0..keyed.len())
            .map(|n| {
                format!(
                    "(chat_id = {} AND author_id = {} AND client_id = {})",
                    DB::param(3 * n + 1),
                    DB::param(3 * n + 2),
                    DB::param(3 * n + 3)
                )
            })
            .collect();
        let sql =
            format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE {}", conditions.join(" OR "));
        let query = keyed.iter().fold(Statement::new(sql), |query, &index| {
            let message = batch[index];
            query.bind(message.chat_id.0).bind(author_id(message)).bind(&message.client_id)
        });
        for row in DB::fetch_all(conn, query).await? {
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
                // A key an edit or a membership change was stored under is not this post's.
                results[index] = Some(if stored.is_post() {
                    Ok(Appended { message: stored.clone(), created: false })
                } else {
                    Err(Error::ClientIdReused { chat: message.chat_id, client_id: key.2.clone() })
                });
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
        DB::execute(conn, shift_last_seq::<DB>('-', &given_back)).await?;
    }

    if !inserts.is_empty() {
        let sql = format!(
            "INSERT INTO messages (chat_id, seq, author, content, created_at, client_id, author_id, \
             attachments) VALUES {} RETURNING id, chat_id, seq",
            value_rows::<DB>(inserts.len(), 8)
        );
        let query = inserts.iter().fold(Statement::new(sql), |query, &(index, seq)| {
            let message = batch[index];
            query
                .bind(message.chat_id.0)
                .bind(seq)
                .bind(&message.author)
                .bind(&message.content)
                .bind(message.timestamp.unix_millis())
                .bind(&message.client_id)
                .bind(author_id(message))
                .bind(attachments_column(&message.attachments))
        });
        // Rows come back in no promised order: match them by (chat, seq), which is unique.
        let ids: HashMap<(i64, i64), i64> = DB::fetch_all(conn, query)
            .await?
            .iter()
            .map(|row| Ok(((row.i64(1)?, row.i64(2)?), row.i64(0)?)))
            .collect::<Result<_>>()?;
        for &(index, seq) in &inserts {
            let message = batch[index];
            let id = *ids
                .get(&(message.chat_id.0, seq))
                .ok_or_else(|| Error::Database("an inserted message was not returned".into()))?;
            results[index] = Some(Ok(Appended {
                message: (*message).clone().into_post(id, Seq(seq)),
                created: true,
            }));
        }
    }
    for (index, first) in duplicates {
        results[index] = match &results[first] {
            Some(Ok(appended)) => {
                Some(Ok(Appended { message: appended.message.clone(), created: false }))
            }
            Some(Err(_)) | None => None,
        };
    }
    Ok(answered(results))
}

fn answered(results: Vec<Option<Result<Appended>>>) -> Vec<Result<Appended>> {
    results
        .into_iter()
        .map(|result| {
            result.unwrap_or_else(|| Err(Error::Database("append left unanswered".into())))
        })
        .collect()
}

/// `UPDATE chats SET last_seq = last_seq ± v.amount FROM (VALUES (chat, amount), …) v WHERE
/// chats.id = v.chat RETURNING id, last_seq`: moves each chat's number by its amount, all at
/// once, one key look-up per chat (a `CASE` with a branch per chat made it quadratic: 15.7 ms
/// for 1,000 chats against 2.6 ms).
fn shift_last_seq<DB: Backend>(sign: char, amounts: &BTreeMap<i64, i64>) -> Statement {
    let sql = format!(
        "UPDATE chats SET last_seq = chats.last_seq {sign} v.column2 FROM (VALUES {}) AS v \
         WHERE chats.id = v.column1 RETURNING chats.id, chats.last_seq",
        value_rows::<DB>(amounts.len(), 2)
    );
    amounts
        .iter()
        .fold(Statement::new(sql), |query, (chat, amount)| query.bind(*chat).bind(*amount))
}
