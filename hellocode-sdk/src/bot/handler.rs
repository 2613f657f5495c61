//! What a handler may be and may return.

use std::future::Future;
use std::pin::Pin;

use super::Context;
use super::args::{Arg, ArgError, ArgInput, ArgSpec};
use crate::Message;

/// An error a handler returned: anything that converts into a boxed error (`anyhow::Error`,
/// the SDK's [`Error`](crate::Error), `std::io::Error`, a `String`, ...).
///
/// ```
/// use hellocode_sdk::bot::HandlerError;
///
/// let error: HandlerError = "the weather service is down".into();
/// assert_eq!(error.to_string(), "the weather service is down");
/// ```
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// What a handler produced: a text to reply with, nothing, or an error.
///
/// ```
/// use hellocode_sdk::bot::{IntoReply, Outcome};
///
/// let outcome: Outcome = Some("pong").into_reply();
/// assert_eq!(outcome.ok().flatten().as_deref(), Some("pong"));
/// ```
pub type Outcome = Result<Option<String>, HandlerError>;

/// A boxed future, as [`Handler::call`] returns it.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What a handler may return: nothing, a reply text, a [`Message`] it already sent, an
/// `Option` of those, or a `Result` of any of them.
///
/// ```
/// use hellocode_sdk::bot::IntoReply;
///
/// assert_eq!(().into_reply().ok(), Some(None));
/// assert_eq!("pong".into_reply().ok(), Some(Some("pong".to_owned())));
/// let failed: Result<String, std::io::Error> = Err(std::io::Error::other("disk full"));
/// assert!(failed.into_reply().is_err());
/// ```
pub trait IntoReply: Send {
    /// The reply to send, if any, or the handler's error.
    fn into_reply(self) -> Outcome;
}

impl IntoReply for () {
    fn into_reply(self) -> Outcome {
        Ok(None)
    }
}

impl IntoReply for String {
    fn into_reply(self) -> Outcome {
        Ok(Some(self))
    }
}

impl IntoReply for &'static str {
    fn into_reply(self) -> Outcome {
        Ok(Some(self.to_owned()))
    }
}

/// A message the handler sent itself (say with [`Context::reply`]): nothing more to send.
impl IntoReply for Message {
    fn into_reply(self) -> Outcome {
        Ok(None)
    }
}

impl<T: IntoReply> IntoReply for Option<T> {
    fn into_reply(self) -> Outcome {
        self.map_or(Ok(None), IntoReply::into_reply)
    }
}

impl<T: IntoReply, E: Into<HandlerError> + Send> IntoReply for Result<T, E> {
    fn into_reply(self) -> Outcome {
        self.map_err(Into::into)?.into_reply()
    }
}

/// A command handler: an async function (or closure) taking a [`Context`] and then up to four
/// typed arguments (see [`Arg`]), returning anything [`IntoReply`].
///
/// ```
/// use hellocode_sdk::bot::{Context, Rest};
///
/// async fn roll(_ctx: Context, sides: u32, times: Option<u32>) -> String {
///     format!("rolling a d{sides} {} time(s)", times.unwrap_or(1))
/// }
/// async fn echo(_ctx: Context, text: Rest) -> String {
///     text.0
/// }
/// # fn check<T>(_: impl hellocode_sdk::bot::Handler<T>) {}
/// # check(roll);
/// # check(echo);
/// # check(|ctx: Context| async move { ctx.author().to_owned() });
/// ```
///
/// Bindings implement it for handlers whose parameters are known only at run time (the Python
/// package reads them from a function's annotations): `specs` describes them, `call` parses
/// them with the [`Arg`] implementations and starts the handler.
pub trait Handler<Args>: Send + Sync + 'static {
    /// The parameters it takes.
    fn specs(&self) -> Vec<ArgSpec>;
    /// Parse `input` into the parameters and start the handler, or say why the input does not
    /// fit.
    fn call(&self, ctx: Context, input: &str) -> Result<BoxFuture<Outcome>, ArgError>;
}

macro_rules! handler_arity {
    ($($arg:ident),*) => {
        impl<F, Fut, R, $($arg),*> Handler<($($arg,)*)> for F
        where
            F: Fn(Context, $($arg),*) -> Fut + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoReply,
            $($arg: Arg,)*
        {
            fn specs(&self) -> Vec<ArgSpec> {
                vec![$($arg::spec()),*]
            }

            #[allow(non_snake_case, unused_mut)]
            fn call(&self, ctx: Context, input: &str) -> Result<BoxFuture<Outcome>, ArgError> {
                let mut input = ArgInput::new(input);
                $(let $arg = $arg::parse(&mut input)?;)*
                input.finish()?;
                let running = self(ctx, $($arg),*);
                Ok(Box::pin(async move { running.await.into_reply() }))
            }
        }
    };
}

handler_arity!();
handler_arity!(A);
handler_arity!(A, B);
handler_arity!(A, B, C);
handler_arity!(A, B, C, D);
