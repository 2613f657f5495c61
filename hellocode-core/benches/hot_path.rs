//! The core's hot path: decoding a send, the session's decision, encoding the event, and a
//! storage append on each backend. Run with: `cargo bench -p hellocode-core`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use hellocode_core::model::{ChatId, Message, NewChat, NewMessage, NewUser, Seq, Timestamp};
use hellocode_core::protocol::{Limits, ServerFrame, decode};
use hellocode_core::session::{Decision, Identity, Scope, Session, StorageOutcome};
use hellocode_core::storage::{Appended, MemoryStorage, PostgresStorage, SqliteStorage, Storage};
use hellocode_core::testing::{PgDatabase, TempDir};

const SEND: &str = r#"{"command":"new_message","id":17,"chatId":"7","message":"has anyone tried the new borrow checker diagnostics?","clientId":"c-17"}"#;

fn message() -> Message {
    Message {
        id: 9001,
        chat_id: ChatId(7),
        seq: Seq(420),
        author: "alice".into(),
        content: "has anyone tried the new borrow checker diagnostics?".into(),
        timestamp: Timestamp::from_unix_millis(1_700_000_000_000),
        client_id: Some("c-17".into()),
        edited_at: None,
        deleted: false,
        kind: Default::default(),
        target: None,
        member: None,
        role: None,
        attachments: Vec::new(),
    }
}

fn protocol(c: &mut Criterion) {
    let limits = Limits::default();
    c.bench_function("decode new_message", |b| b.iter(|| decode(black_box(SEND), &limits)));
    let event = ServerFrame::NewMessage { message: message() };
    c.bench_function("encode new_message event", |b| b.iter(|| black_box(&event).to_json()));
    c.bench_function("decode a malformed frame", |b| {
        b.iter(|| decode(black_box(r#"{"command":"new_message","chatId":7}"#), &limits))
    });
}

fn session(c: &mut Criterion) {
    let limits = Limits::default();
    let frame = decode(SEND, &limits).expect("valid");
    let mut session = Session::new(Scope::AllChats, limits);
    session.authenticate(Identity::new("alice"));
    let now = Timestamp::from_unix_millis(1_700_000_000_000);
    c.bench_function("session: new_message decision and completion", |b| {
        b.iter(|| {
            let Decision::Store(pending) = session.handle(black_box(frame.clone()), now) else {
                unreachable!("an authenticated send goes to storage")
            };
            let outcome = StorageOutcome::Appended(Appended { message: message(), created: true });
            black_box(session.complete(pending, Ok(outcome)))
        })
    });
}

async fn chat(storage: &dyn Storage) -> ChatId {
    for name in ["alice", "bob"] {
        storage
            .create_user(NewUser::new(name, format!("{name}@example.org"), "hash"))
            .await
            .expect("user");
    }
    storage
        .create_chat(NewChat::direct("alice", "bob", Timestamp::now()))
        .await
        .expect("chat")
        .chat
        .id
}

fn append(
    c: &mut Criterion,
    name: &str,
    runtime: &tokio::runtime::Runtime,
    storage: Arc<dyn Storage>,
) {
    let chat = runtime.block_on(chat(&*storage));
    c.bench_function(&format!("append: {name}"), |b| {
        b.to_async(runtime).iter(|| {
            let storage = storage.clone();
            async move {
                let message = NewMessage {
                    chat_id: chat,
                    author: "alice".into(),
                    content: "hello".into(),
                    client_id: None,
                    timestamp: Timestamp::now(),
                    attachments: Vec::new(),
                };
                storage.append_message(message).await.expect("append")
            }
        })
    });
    // Appends started together share a commit (group commit): the per-message cost when the
    // server is busy. Throughput is reported per message.
    const TOGETHER: u64 = 256;
    let mut group = c.benchmark_group(format!("append {TOGETHER} together"));
    group.throughput(criterion::Throughput::Elements(TOGETHER));
    group.bench_function(name, |b| {
        b.to_async(runtime).iter(|| {
            let storage = storage.clone();
            async move {
                let mut tickets = Vec::with_capacity(TOGETHER as usize);
                for i in 0..TOGETHER {
                    let message = NewMessage {
                        chat_id: chat,
                        author: if i % 2 == 0 { "alice" } else { "bob" }.into(),
                        content: "hello".into(),
                        client_id: None,
                        timestamp: Timestamp::now(),
                        attachments: Vec::new(),
                    };
                    tickets.push(storage.start_append(message).await);
                }
                for ticket in tickets {
                    ticket.await.expect("append");
                }
            }
        })
    });
    group.finish();
    runtime.block_on(storage.close());
}

fn storage(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    append(c, "memory", &runtime, Arc::new(MemoryStorage::new()));
    let dir = TempDir::new();
    let sqlite = runtime.block_on(SqliteStorage::open(&dir.sqlite_url())).expect("sqlite");
    append(c, "sqlite (fsync per commit)", &runtime, Arc::new(sqlite));
    if let Some(database) = runtime.block_on(PgDatabase::create()) {
        let postgres = runtime.block_on(PostgresStorage::connect(&database.url)).expect("postgres");
        append(c, "postgres", &runtime, Arc::new(postgres));
        drop(database);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = protocol, session, storage
}
criterion_main!(benches);
