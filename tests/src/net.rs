//! Network pieces for tests of proxies, mirrors and dead sites, all on 127.0.0.1:
//! - [`ForwardProxy`]: a plain HTTP forward proxy (absolute-form requests to `http://` targets; no
//!   CONNECT) that logs every URL it forwards;
//! - [`Socks5Proxy`]: a SOCKS5 proxy (no authentication, CONNECT only) that logs every target;
//! - [`DeadSite`]: an address that refuses connections, or accepts them and then never answers or
//!   closes them at once (counting the connections it saw).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The longest request head the forward proxy reads.
const MAX_HEAD: usize = 64 * 1024;

/// `http://127.0.0.1:PORT` of a port that refuses connections (bound once, then released).
pub async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    drop(listener);
    format!("http://{addr}")
}

/// One request the forward proxy passed on.
#[derive(Debug, Clone)]
pub struct ProxiedRequest {
    pub method: String,
    /// The absolute URL the client asked for.
    pub url: String,
    /// Header lines as sent by the client (names lower-cased).
    pub headers: Vec<(String, String)>,
}

/// A plain HTTP forward proxy on 127.0.0.1. Dropping it stops it.
pub struct ForwardProxy {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<ProxiedRequest>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ForwardProxy {
    pub async fn start() -> ForwardProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let log: Arc<Mutex<Vec<ProxiedRequest>>> = Arc::default();
        let task_log = log.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = task_log.clone();
                tokio::spawn(async move {
                    let _ = forward(stream, log).await;
                });
            }
        });
        ForwardProxy { addr, log, task }
    }

    /// `http://127.0.0.1:PORT`, the value for `network.proxy`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request forwarded so far.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        self.log.lock().expect("proxy log").clone()
    }

    /// Whether a request to `url_prefix` (e.g. a listener's base URL) went through the proxy.
    pub fn saw(&self, url_prefix: &str) -> bool {
        self.requests()
            .iter()
            .any(|r| r.url.starts_with(url_prefix))
    }
}

/// Forwards one request of a client connection (answers end with `connection: close`).
async fn forward(stream: TcpStream, log: Arc<Mutex<Vec<ProxiedRequest>>>) -> std::io::Result<()> {
    let mut client = BufReader::new(stream);
    let mut request_line = String::new();
    if client.read_line(&mut request_line).await? == 0 {
        return Ok(());
    }
    let mut parts = request_line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Ok(());
    };
    let (method, target, version) = (method.to_owned(), target.to_owned(), version.to_owned());
    let mut headers = Vec::new();
    let mut head_len = request_line.len();
    loop {
        let mut line = String::new();
        if client.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        head_len += line.len();
        if head_len > MAX_HEAD {
            return Ok(());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let Ok(url) = url::Url::parse(&target) else {
        client
            .get_mut()
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            )
            .await?;
        return Ok(());
    };
    log.lock().expect("proxy log").push(ProxiedRequest {
        method: method.clone(),
        url: target.clone(),
        headers: headers.clone(),
    });
    let host = url.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let mut upstream = match TcpStream::connect((host.as_str(), port)).await {
        Ok(s) => s,
        Err(_) => {
            client
                .get_mut()
                .write_all(
                    b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                )
                .await?;
            return Ok(());
        }
    };
    let path = &url[url::Position::BeforePath..];
    let mut head = format!("{method} {path} {version}\r\n");
    let mut body_len = 0usize;
    for (name, value) in &headers {
        if matches!(
            name.as_str(),
            "proxy-connection" | "connection" | "keep-alive"
        ) {
            continue;
        }
        if name == "content-length" {
            body_len = value.parse().unwrap_or(0);
        }
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    // One request per upstream connection: the answer ends when the upstream closes.
    head.push_str("connection: close\r\n\r\n");
    upstream.write_all(head.as_bytes()).await?;
    if body_len > 0 {
        let mut body = vec![0u8; body_len];
        client.read_exact(&mut body).await?;
        upstream.write_all(&body).await?;
    }
    tokio::io::copy(&mut upstream, client.get_mut()).await?;
    Ok(())
}

/// A SOCKS5 proxy (no authentication, CONNECT) on 127.0.0.1. Dropping it stops it.
pub struct Socks5Proxy {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Socks5Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Socks5Proxy {
    pub async fn start() -> Socks5Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind socks");
        let addr = listener.local_addr().expect("socks address");
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let task_log = log.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = task_log.clone();
                tokio::spawn(async move {
                    let _ = socks5(stream, log).await;
                });
            }
        });
        Socks5Proxy { addr, log, task }
    }

    /// `socks5://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("socks5://{}", self.addr)
    }

    /// Every `host:port` a client asked to be connected to.
    pub fn targets(&self) -> Vec<String> {
        self.log.lock().expect("socks log").clone()
    }
}

async fn socks5(mut stream: TcpStream, log: Arc<Mutex<Vec<String>>>) -> std::io::Result<()> {
    let mut hello = [0u8; 2];
    stream.read_exact(&mut hello).await?;
    if hello[0] != 5 {
        return Ok(());
    }
    let mut methods = vec![0u8; usize::from(hello[1])];
    stream.read_exact(&mut methods).await?;
    if !methods.contains(&0) {
        stream.write_all(&[5, 0xff]).await?;
        return Ok(());
    }
    stream.write_all(&[5, 0]).await?;
    let mut request = [0u8; 4];
    stream.read_exact(&mut request).await?;
    if request[1] != 1 {
        stream.write_all(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        return Ok(());
    }
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            stream.read_exact(&mut ip).await?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            stream.read_exact(&mut len).await?;
            let mut name = vec![0u8; usize::from(len[0])];
            stream.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).into_owned()
        }
        4 => {
            let mut ip = [0u8; 16];
            stream.read_exact(&mut ip).await?;
            std::net::Ipv6Addr::from(ip).to_string()
        }
        _ => return Ok(()),
    };
    let mut port = [0u8; 2];
    stream.read_exact(&mut port).await?;
    let port = u16::from_be_bytes(port);
    log.lock()
        .expect("socks log")
        .push(format!("{host}:{port}"));
    let mut upstream = match TcpStream::connect((host.as_str(), port)).await {
        Ok(s) => s,
        Err(_) => {
            // Reply 5: connection refused.
            stream.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            return Ok(());
        }
    };
    stream.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
    tokio::io::copy_bidirectional(&mut stream, &mut upstream).await?;
    Ok(())
}

/// How a [`DeadSite`] treats connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Death {
    /// Accepts connections, reads the request, never answers.
    Hang,
    /// Accepts connections and closes them at once (as some ISP blocks do).
    Reset,
}

/// A site that accepts connections but never serves a page. Dropping it stops it.
pub struct DeadSite {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DeadSite {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DeadSite {
    pub async fn start(death: Death) -> DeadSite {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind dead site");
        let addr = listener.local_addr().expect("dead site address");
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                match death {
                    Death::Reset => drop(stream),
                    Death::Hang => held.push(stream),
                }
            }
        });
        DeadSite {
            addr,
            connections,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}
