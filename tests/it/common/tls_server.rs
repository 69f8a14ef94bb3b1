//! Test helper: a throw-away CA, a leaf certificate for a test host name, and a tiny HTTPS/1.1
//! server on 127.0.0.1 whose answer per path is configured by the test. It records every request
//! head it receives and counts accepted TCP connections, so a test can prove that a refused fetch
//! never reached it.
//!
//! The HTTP/1.1 is written by hand: read the head up to `\r\n\r\n`, answer with a status line,
//! the route's headers, `Content-Length` (unless the route opts out) and `Connection: close`, the
//! body, then close the connection (with a TLS close_notify).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// Largest request head the server accepts.
const MAX_HEAD: usize = 64 * 1024;

/// A CA and a leaf certificate for one host name, signed by that CA.
pub struct TestPki {
    /// PEM of the CA certificate, for `FetchConfig::extra_root_certificates`.
    pub ca_pem: String,
    server_config: Arc<ServerConfig>,
}

impl TestPki {
    pub fn new(host: &str) -> TestPki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "Gatehouse test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_key = KeyPair::generate().expect("CA key");
        let ca_cert = ca_params.self_signed(&ca_key).expect("self-signed CA");

        let mut leaf_params = CertificateParams::new(vec![host.to_string()]).expect("leaf params");
        leaf_params.distinguished_name.push(DnType::CommonName, host);
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf_key = KeyPair::generate().expect("leaf key");
        let leaf_cert = leaf_params.signed_by(&leaf_key, &ca_cert, &ca_key).expect("leaf signed by CA");

        let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server_config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server certificate");
        server_config.alpn_protocols = vec![b"http/1.1".to_vec()];

        TestPki { ca_pem: ca_cert.pem(), server_config: Arc::new(server_config) }
    }
}

/// How the server answers one path.
#[derive(Debug, Clone)]
pub struct Route {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait this long before sending anything (stall before the headers).
    pub delay: Option<Duration>,
    /// Send the head and half of the body, then wait this long (stall inside the body).
    pub body_delay: Option<Duration>,
    /// When false, no `Content-Length` is sent: the body ends when the connection closes.
    pub content_length: bool,
}

impl Route {
    pub fn new(status: u16) -> Route {
        Route { status, headers: Vec::new(), body: Vec::new(), delay: None, body_delay: None, content_length: true }
    }

    /// 200 with `Content-Type: application/json`.
    pub fn json(body: &str) -> Route {
        Route::new(200).header("Content-Type", "application/json").body(body.as_bytes().to_vec())
    }

    pub fn header(mut self, name: &str, value: &str) -> Route {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: Vec<u8>) -> Route {
        self.body = body;
        self
    }

    pub fn delay(mut self, delay: Duration) -> Route {
        self.delay = Some(delay);
        self
    }

    pub fn body_delay(mut self, delay: Duration) -> Route {
        self.body_delay = Some(delay);
        self
    }

    pub fn without_content_length(mut self) -> Route {
        self.content_length = false;
        self
    }
}

/// One request head as received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// Header names lower-cased, in order of arrival.
    pub headers: Vec<(String, String)>,
}

impl RecordedRequest {
    /// The first value of a header (name matched case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Shared {
    routes: Mutex<HashMap<String, Route>>,
    requests: Mutex<Vec<RecordedRequest>>,
    connections: AtomicUsize,
}

/// A running server on 127.0.0.1; stopped when dropped.
pub struct TlsServer {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl TlsServer {
    /// Starts the server on 127.0.0.1 with an OS-chosen port. Paths without a route get a 404.
    pub async fn start(pki: &TestPki, routes: HashMap<String, Route>) -> TlsServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let shared = Arc::new(Shared { routes: Mutex::new(routes), ..Shared::default() });
        let acceptor = TlsAcceptor::from(pki.server_config.clone());
        let task_shared = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                task_shared.connections.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(acceptor.clone(), stream, task_shared.clone()));
            }
        });
        TlsServer { addr, shared, task }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn set_route(&self, path: &str, route: Route) {
        self.shared.routes.lock().unwrap().insert(path.to_string(), route);
    }

    /// Request heads received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// TCP connections accepted so far (counted before the TLS handshake).
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(acceptor: TlsAcceptor, stream: TcpStream, shared: Arc<Shared>) {
    let Ok(Ok(mut tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await else {
        return;
    };
    let Ok(Some(request)) = tokio::time::timeout(Duration::from_secs(10), read_head(&mut tls)).await else {
        return;
    };
    let route = shared.routes.lock().unwrap().get(&request.path).cloned();
    shared.requests.lock().unwrap().push(request);
    let route =
        route.unwrap_or_else(|| Route::new(404).header("Content-Type", "text/plain").body(b"not found".to_vec()));

    if let Some(delay) = route.delay {
        tokio::time::sleep(delay).await;
    }
    let mut head = format!("HTTP/1.1 {} {}\r\n", route.status, reason(route.status));
    for (name, value) in &route.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if route.content_length {
        head.push_str(&format!("Content-Length: {}\r\n", route.body.len()));
    }
    head.push_str("Connection: close\r\n\r\n");

    let result = async {
        tls.write_all(head.as_bytes()).await?;
        match route.body_delay {
            Some(delay) => {
                let (first, rest) = route.body.split_at(route.body.len() / 2);
                tls.write_all(first).await?;
                tls.flush().await?;
                tokio::time::sleep(delay).await;
                tls.write_all(rest).await?;
            }
            None => tls.write_all(&route.body).await?,
        }
        tls.flush().await?;
        tls.shutdown().await
    };
    let _ = result.await;
}

/// Reads up to the end of the request head and parses it; `None` on EOF, overflow or garbage.
async fn read_head<S: AsyncReadExt + Unpin>(stream: &mut S) -> Option<RecordedRequest> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(position) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break position;
        }
        if buffer.len() > MAX_HEAD {
            return None;
        }
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = std::str::from_utf8(&buffer[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_string();
    let path = request_line.next()?.to_string();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    Some(RecordedRequest { method, path, headers })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    }
}
