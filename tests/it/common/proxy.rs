//! A TCP proxy a test can cut and restore, to produce a real database outage — or stall, to
//! produce a silent partition: connections stay open and nothing gets through, as when packets
//! are dropped and no reset ever comes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::{postgres_admin_url, replace_database, TestDb};

pub struct CuttableProxy {
    pub port: u16,
    open: Arc<AtomicBool>,
    generation: watch::Sender<u64>,
    /// While true, no byte is forwarded in either direction and nothing is closed.
    stalled: watch::Sender<bool>,
}

/// Forward `from` → `to`, holding each chunk while the proxy is stalled.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut stalled: watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if stalled.wait_for(|stalled| !*stalled).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

impl CuttableProxy {
    pub async fn start(target: String) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let (generation, _) = watch::channel(0u64);
        let (stalled, _) = watch::channel(false);
        let accept_open = open.clone();
        let accept_generation = generation.clone();
        let accept_stalled = stalled.clone();
        actix_web::rt::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                if !accept_open.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let mut cut = accept_generation.subscribe();
                let mut stalled = accept_stalled.subscribe();
                actix_web::rt::spawn(async move {
                    // A connection made during a stall waits, open, until it ends.
                    let connect = async {
                        stalled.wait_for(|stalled| !*stalled).await.ok()?;
                        TcpStream::connect(&target).await.ok()
                    };
                    let outbound = tokio::select! {
                        outbound = connect => outbound,
                        _ = cut.changed() => None,
                    };
                    let Some(outbound) = outbound else {
                        return;
                    };
                    let (in_read, in_write) = inbound.into_split();
                    let (out_read, out_write) = outbound.into_split();
                    tokio::select! {
                        _ = pump(in_read, out_write, stalled.clone()) => {}
                        _ = pump(out_read, in_write, stalled) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        CuttableProxy { port, open, generation, stalled }
    }

    /// Refuse new connections and kill the open ones.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }

    /// Stop forwarding without closing anything: a silent partition.
    pub fn stall(&self) {
        self.stalled.send_replace(true);
    }

    /// Forward again what was held and what comes next.
    pub fn resume(&self) {
        self.stalled.send_replace(false);
    }
}

/// A proxy in front of the test PostgreSQL, and `db`'s URL through it.
pub async fn behind_a_proxy(db: &TestDb) -> (CuttableProxy, String) {
    let target = postgres_admin_url().split('@').nth(1).unwrap().split('/').next().unwrap().to_string();
    let proxy = CuttableProxy::start(target).await;
    let name = db.url().rsplit('/').next().unwrap().to_string();
    let url = replace_database(&format!("postgres://postgres@127.0.0.1:{}/x", proxy.port), &name);
    (proxy, url)
}
