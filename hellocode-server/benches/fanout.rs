//! Fan-out of one event to N connections through the hub: serialize once, queue shared bytes.
//! Run with: `cargo bench -p hellocode-server`

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use hellocode_core::model::{ChatId, Message, NewChat, NewUser, Seq, Timestamp};
use hellocode_core::protocol::ServerFrame;
use hellocode_core::session::{Publish, Scope};
use hellocode_core::storage::{MemoryStorage, Storage};
use hellocode_server::broker::BrokerEvent;
use hellocode_server::hub::Hub;
use hellocode_server::metrics::Metrics;
use hellocode_server::send_queue;
use tokio::sync::Notify;

fn fanout(c: &mut Criterion) {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("hub fan-out of one new_message");
    for recipients in [10usize, 100, 1000] {
        let storage = Arc::new(MemoryStorage::new());
        let names: Vec<String> = (0..recipients).map(|i| format!("user{i}")).collect();
        let chat = runtime.block_on(async {
            for name in &names {
                storage.create_user(NewUser::new(name, "x@example.org", "h")).await.expect("user");
            }
            let others: Vec<&str> = names[1..].iter().map(String::as_str).collect();
            let chat = NewChat::group(&names[0], &others, Timestamp::now());
            storage.create_chat(chat).await.expect("chat").chat.id
        });
        let hub = Hub::new(storage, Arc::new(Metrics::default()));
        let mut queues = Vec::new();
        for name in &names {
            let (sender, receiver) = send_queue::channel(4, usize::MAX);
            hub.register(name, Scope::AllChats, sender, Arc::new(Notify::new()));
            queues.push(receiver);
        }
        let event = BrokerEvent::Chat(Box::new(Publish::to_chat(
            chat,
            ServerFrame::NewMessage {
                message: Message {
                    id: 1,
                    chat_id: ChatId(chat.0),
                    seq: Seq(1),
                    author: "user0".into(),
                    content: "fan me out".into(),
                    timestamp: Timestamp::now(),
                    client_id: None,
                    edited_at: None,
                    deleted: false,
                    kind: Default::default(),
                    target: None,
                    member: None,
                    role: None,
                    attachments: Vec::new(),
                },
            },
        )));
        group.bench_with_input(BenchmarkId::from_parameter(recipients), &recipients, |b, _| {
            b.iter(|| {
                runtime.block_on(hub.deliver(&event));
                for queue in &mut queues {
                    let _ = queue.try_recv();
                }
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = fanout
}
criterion_main!(benches);
