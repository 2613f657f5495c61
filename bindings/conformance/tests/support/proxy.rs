//! A loopback TCP proxy per user, so a scenario can cut a user's connection and keep it down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

pub(crate) struct Proxy {
    pub(crate) addr: SocketAddr,
    refusing: Arc<AtomicBool>,
    links: Arc<Mutex<JoinSet<()>>>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub(crate) async fn start(server: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let refusing = Arc::new(AtomicBool::new(false));
        let links = Arc::new(Mutex::new(JoinSet::new()));
        let (refuse, tasks) = (refusing.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if refuse.load(Ordering::SeqCst) {
                    drop(client); // down: the client sees its connection fail, and retries
                    continue;
                }
                tasks.lock().await.spawn(link(client, server));
            }
        });
        Proxy { addr, refusing, links, accept }
    }

    /// Cut every open connection and refuse new ones.
    pub(crate) async fn cut(&self) {
        self.refusing.store(true, Ordering::SeqCst);
        self.links.lock().await.abort_all();
    }

    /// Accept connections again.
    pub(crate) fn restore(&self) {
        self.refusing.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn link(mut client: TcpStream, server: SocketAddr) {
    if let Ok(mut upstream) = TcpStream::connect(server).await {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}
