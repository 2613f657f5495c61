//! A chat's history as a stream, newest first, fetched page by page.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use hellocode_core::model::{ChatId, Message, Seq};

use super::Client;
use crate::Result;

/// Messages per page (the server's largest).
pub(crate) const HISTORY_PAGE: u32 = 100;

type Page = Pin<Box<dyn Future<Output = Result<Vec<Message>>> + Send>>;

/// A chat's history, newest first, from [`Client::history`] or [`Client::history_before`]: a
/// [`Stream`] that fetches pages of 100 messages only as they are read, and ends after the
/// chat's first message. After an error (say `forbidden`) it ends.
pub struct History {
    client: Client,
    chat: ChatId,
    before: Option<Seq>,
    page: std::vec::IntoIter<Message>,
    fetching: Option<Page>,
    done: bool,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History")
            .field("chat", &self.chat)
            .field("before", &self.before)
            .field("buffered", &self.page.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl History {
    pub(super) fn new(client: Client, chat: ChatId, before: Option<Seq>) -> Self {
        // Nothing lies below the first message.
        let done = before.is_some_and(|seq| seq <= Seq(1));
        History { client, chat, before, page: Vec::new().into_iter(), fetching: None, done }
    }

    /// The chat.
    pub fn chat(&self) -> ChatId {
        self.chat
    }
}

impl Stream for History {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(message) = this.page.next() {
                return Poll::Ready(Some(Ok(message)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            let (client, chat, before) = (&this.client, this.chat, this.before);
            let fetching = this.fetching.get_or_insert_with(|| {
                Box::pin(client.fetch_messages(chat, before, Some(HISTORY_PAGE)))
            });
            let result = match fetching.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(result) => result,
            };
            this.fetching = None;
            match result {
                Err(error) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(error)));
                }
                Ok(messages) => {
                    // Sequence numbers have no gaps: the page that reaches 1 is the last.
                    match messages.last() {
                        Some(oldest) => {
                            this.done = oldest.seq <= Seq(1);
                            this.before = Some(oldest.seq);
                        }
                        None => this.done = true,
                    }
                    this.page = messages.into_iter();
                }
            }
        }
    }
}

impl Client {
    /// The chat's whole history, newest first, as a stream fetched lazily in pages of 100.
    ///
    /// Errors (as the stream's last item): `forbidden` if this user is not in the chat,
    /// `not_found` for an unknown chat.
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, chat: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// use futures_util::StreamExt;
    /// let mut history = client.history(chat);
    /// while let Some(message) = history.next().await {
    ///     let message = message?;
    ///     println!("#{} {}: {}", message.seq, message.author, message.content);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn history(&self, chat: ChatId) -> History {
        History::new(self.clone(), chat, None)
    }

    /// The chat's history older than `seq`, newest first (see [`history`](Self::history)).
    ///
    /// ```no_run
    /// # async fn run(client: hellocode_sdk::Client, chat: hellocode_sdk::ChatId)
    /// # -> hellocode_sdk::Result<()> {
    /// use futures_util::TryStreamExt;
    /// use hellocode_sdk::Seq;
    /// let older: Vec<_> = client.history_before(chat, Seq(50)).try_collect().await?;
    /// assert!(older.iter().all(|message| message.seq < Seq(50)));
    /// # Ok(()) }
    /// ```
    pub fn history_before(&self, chat: ChatId, seq: Seq) -> History {
        History::new(self.clone(), chat, Some(seq))
    }
}
