//! A TCP proxy on loopback that can refuse connections, cut them all, or cut them at random
//! points (after a random number of forwarded bytes, from a seeded generator).

use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub(crate) struct Proxy {
    addr: SocketAddr,
    control: Arc<Control>,
    task: tokio::task::JoinHandle<()>,
}

struct Control {
    upstream: SocketAddr,
    down: AtomicBool,
    chaos: AtomicBool,
    cuts: AtomicUsize,
    max_cuts: usize,
    budget: Range<usize>,
    rng: Mutex<StdRng>,
    /// Bumped to cut every open connection.
    generation: watch::Sender<u64>,
}

impl Proxy {
    /// A proxy to `upstream` that cuts nothing until told to.
    pub(crate) async fn start(upstream: SocketAddr) -> Proxy {
        Proxy::with_chaos(upstream, 0, 0, 1..2).await
    }

    /// A proxy that, once [`set_chaos`](Self::set_chaos) is on, cuts each connection after a
    /// random number of bytes in `budget` (both directions counted), up to `max_cuts` cuts.
    pub(crate) async fn with_chaos(
        upstream: SocketAddr,
        seed: u64,
        max_cuts: usize,
        budget: Range<usize>,
    ) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let control = Arc::new(Control {
            upstream,
            down: AtomicBool::new(false),
            chaos: AtomicBool::new(false),
            cuts: AtomicUsize::new(0),
            max_cuts,
            budget,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            generation: watch::channel(0).0,
        });
        let accepting = control.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if accepting.down.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                tokio::spawn(forward(client, accepting.clone()));
            }
        });
        Proxy { addr, control, task }
    }

    pub(crate) fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Refuse new connections and cut the open ones (`true`), or accept again (`false`).
    pub(crate) fn set_down(&self, down: bool) {
        self.control.down.store(down, Ordering::SeqCst);
        if down {
            self.cut_all();
        }
    }

    pub(crate) fn set_chaos(&self, on: bool) {
        self.control.chaos.store(on, Ordering::SeqCst);
    }

    pub(crate) fn cut_all(&self) {
        self.control.generation.send_modify(|generation| *generation += 1);
    }

    /// Connections cut at random so far.
    pub(crate) fn cuts(&self) -> usize {
        self.control.cuts.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut_all();
    }
}

async fn forward(mut client: TcpStream, control: Arc<Control>) {
    let Ok(mut server) = TcpStream::connect(control.upstream).await else { return };
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let mut cut = control.generation.subscribe();
    // Drawn for every connection, so the sequence of budgets depends only on the seed; used
    // only while chaos is on.
    let mut budget = {
        let mut rng = control.rng.lock().expect("rng");
        Some(rng.random_range(control.budget.clone()))
    };
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let mut up = vec![0u8; 8192];
    let mut down = vec![0u8; 8192];
    loop {
        let (read, upstream) = tokio::select! {
            _ = cut.changed() => return,
            read = client_read.read(&mut up) => (read, true),
            read = server_read.read(&mut down) => (read, false),
        };
        let n = match read {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut allowed = n;
        let mut cutting = false;
        if let Some(left) = budget.as_mut().filter(|_| control.chaos.load(Ordering::SeqCst)) {
            if n >= *left && control.cuts.fetch_add(1, Ordering::SeqCst) < control.max_cuts {
                // Cut here: forward only part of this read, mid-frame as likely as not.
                allowed = *left;
                cutting = true;
            } else if n >= *left {
                control.cuts.fetch_sub(1, Ordering::SeqCst);
                budget = None;
            } else {
                *left -= n;
            }
        }
        let (buffer, writer) = if upstream {
            (&up[..allowed], &mut server_write)
        } else {
            (&down[..allowed], &mut client_write)
        };
        if writer.write_all(buffer).await.is_err() || cutting {
            return;
        }
    }
}
