//! Delivery of events to the application's subscribers.

use std::collections::VecDeque;

use tokio::sync::mpsc::UnboundedSender;

use crate::event::Event;

/// Every subscriber gets every event. Until the first subscriber arrives, events are kept (up
/// to a bound), so that nothing between connecting and subscribing is lost.
#[derive(Debug)]
pub(crate) struct EventSink {
    subscribers: Vec<UnboundedSender<Event>>,
    backlog: Option<VecDeque<Event>>,
    cap: usize,
}

impl EventSink {
    pub(crate) fn new(cap: usize) -> Self {
        EventSink { subscribers: Vec::new(), backlog: Some(VecDeque::new()), cap }
    }

    pub(crate) fn subscribe(&mut self, subscriber: UnboundedSender<Event>) {
        if let Some(backlog) = self.backlog.take() {
            for event in backlog {
                let _ = subscriber.send(event);
            }
        }
        self.subscribers.push(subscriber);
    }

    pub(crate) fn emit(&mut self, event: Event) {
        self.subscribers.retain(|subscriber| !subscriber.is_closed());
        if self.subscribers.is_empty() {
            if let Some(backlog) = &mut self.backlog {
                if backlog.len() < self.cap {
                    backlog.push_back(event);
                } else {
                    tracing::warn!(
                        kept = self.cap,
                        "nobody subscribed to the client's events; dropping the backlog"
                    );
                    self.backlog = None;
                }
            }
            return;
        }
        let last = self.subscribers.len() - 1;
        for subscriber in &self.subscribers[..last] {
            let _ = subscriber.send(event.clone());
        }
        let _ = self.subscribers[last].send(event);
    }
}
