//! A fault-injecting HTTP proxy for the object-store tests: it sits between
//! mlfusion and the local S3-compatible server and, by a seeded schedule,
//! passes a request on, delays it, answers 500/503/429 itself, resets the
//! connection before or after passing the request on (the write may have
//! landed), truncates the answer's body, or passes the request on and
//! answers 500 anyway.
//!
//! One request per connection (both sides are told `Connection: close`), so
//! that each request gets its own decision and no fault leaks into the next.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Pass,
    /// Waits 100–400 ms, then passes the request on.
    Delay,
    /// Answers 503 SlowDown without passing the request on.
    ServiceUnavailable,
    /// Answers 500 InternalError without passing the request on.
    InternalError,
    /// Answers 429 SlowDown without passing the request on.
    TooManyRequests,
    /// Resets the connection after reading part of the request.
    ResetMidRequest,
    /// Passes the request on, then resets the connection without answering.
    ResetAfterForward,
    /// Passes the request on, answers with half of the body, and closes.
    TruncatedBody,
    /// Passes the request on, then answers 500 InternalError.
    ErrorAfterForward,
}

const FAULTS: [Fault; 9] = [
    Fault::Pass,
    Fault::Delay,
    Fault::ServiceUnavailable,
    Fault::InternalError,
    Fault::TooManyRequests,
    Fault::ResetMidRequest,
    Fault::ResetAfterForward,
    Fault::TruncatedBody,
    Fault::ErrorAfterForward,
];

/// Per mille of requests that get each fault (the rest pass).
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    pub delay: u32,
    pub service_unavailable: u32,
    pub internal_error: u32,
    pub too_many_requests: u32,
    pub reset_mid_request: u32,
    pub reset_after_forward: u32,
    pub truncated_body: u32,
    pub error_after_forward: u32,
}

impl Rates {
    fn of(&self, fault: Fault) -> u32 {
        match fault {
            Fault::Pass => 0,
            Fault::Delay => self.delay,
            Fault::ServiceUnavailable => self.service_unavailable,
            Fault::InternalError => self.internal_error,
            Fault::TooManyRequests => self.too_many_requests,
            Fault::ResetMidRequest => self.reset_mid_request,
            Fault::ResetAfterForward => self.reset_after_forward,
            Fault::TruncatedBody => self.truncated_body,
            Fault::ErrorAfterForward => self.error_after_forward,
        }
    }
}

/// The seeded schedule: a xorshift64* sequence, one draw per request.
struct Schedule {
    state: Mutex<u64>,
    rates: Rates,
}

impl Schedule {
    fn next(&self) -> (Fault, u64) {
        let mut state = self.state.lock().unwrap();
        *state ^= *state >> 12;
        *state ^= *state << 25;
        *state ^= *state >> 27;
        let draw = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let mut point = (draw >> 32) as u32 % 1000;
        for fault in FAULTS.into_iter().skip(1) {
            let rate = self.rates.of(fault);
            if point < rate {
                return (fault, draw);
            }
            point -= rate;
        }
        (Fault::Pass, draw)
    }
}

/// A running proxy; stops accepting when dropped.
pub struct FaultProxy {
    pub addr: SocketAddr,
    counts: Arc<[AtomicU64; 9]>,
    /// PUTs (registry writes) that landed while their answer was lost
    /// (reset or replaced by a 500 after forwarding).
    put_faults: Arc<AtomicU64>,
    /// Requests the proxy could not read (chunked bodies): none expected.
    unsupported: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` with `seed`'s schedule of `rates`.
    pub fn start(upstream: SocketAddr, seed: u64, rates: Rates) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let counts: Arc<[AtomicU64; 9]> = Arc::new(Default::default());
        let put_faults = Arc::new(AtomicU64::new(0));
        let unsupported = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let schedule = Arc::new(Schedule {
            state: Mutex::new(seed | 1),
            rates,
        });
        let (c, s, puts) = (
            Arc::clone(&counts),
            Arc::clone(&stop),
            Arc::clone(&put_faults),
        );
        let bad = Arc::clone(&unsupported);
        thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let (fault, draw) = schedule.next();
                c[FAULTS.iter().position(|f| *f == fault).unwrap()].fetch_add(1, Ordering::SeqCst);
                let (puts, bad) = (Arc::clone(&puts), Arc::clone(&bad));
                thread::spawn(move || {
                    if let Err(e) = serve(client, upstream, fault, draw, &puts) {
                        if e.kind() == io::ErrorKind::Unsupported {
                            bad.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        Self {
            addr,
            counts,
            put_faults,
            unsupported,
            stop,
        }
    }

    /// The URL to give mlfusion as its endpoint.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// How many requests got `fault`.
    pub fn count(&self, fault: Fault) -> u64 {
        self.counts[FAULTS.iter().position(|f| *f == fault).unwrap()].load(Ordering::SeqCst)
    }

    /// How many PUTs landed while their answer was lost.
    pub fn lost_write_answers(&self) -> u64 {
        self.put_faults.load(Ordering::SeqCst)
    }

    /// How many requests the proxy could not read.
    pub fn unsupported(&self) -> u64 {
        self.unsupported.load(Ordering::SeqCst)
    }

    /// Every fault with its count.
    pub fn counts(&self) -> Vec<(Fault, u64)> {
        FAULTS.iter().map(|&f| (f, self.count(f))).collect()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(
    mut client: TcpStream,
    upstream: SocketAddr,
    fault: Fault,
    draw: u64,
    put_faults: &AtomicU64,
) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    let request = read_message(&mut client, fault != Fault::ResetMidRequest)?;
    if matches!(fault, Fault::ResetAfterForward | Fault::ErrorAfterForward)
        && request.starts_with(b"PUT ")
    {
        put_faults.fetch_add(1, Ordering::SeqCst);
    }
    let forward = |request: &[u8]| -> io::Result<Vec<u8>> {
        let mut server = TcpStream::connect(upstream)?;
        server.set_read_timeout(Some(Duration::from_secs(60)))?;
        server.write_all(&closing(request))?;
        let mut response = Vec::new();
        server.read_to_end(&mut response)?;
        Ok(closing(&response))
    };
    match fault {
        Fault::Pass => client.write_all(&forward(&request)?)?,
        Fault::Delay => {
            thread::sleep(Duration::from_millis(100 + draw % 300));
            client.write_all(&forward(&request)?)?
        }
        Fault::ServiceUnavailable => client.write_all(&error(503, "Slow Down", "SlowDown"))?,
        Fault::InternalError => {
            client.write_all(&error(500, "Internal Server Error", "InternalError"))?
        }
        Fault::TooManyRequests => client.write_all(&error(429, "Too Many Requests", "SlowDown"))?,
        Fault::ResetMidRequest => return reset(client),
        Fault::ResetAfterForward => {
            forward(&request)?;
            return reset(client);
        }
        Fault::TruncatedBody => {
            let response = forward(&request)?;
            let body = head_end(&response).unwrap_or(response.len());
            // Half the body, or half the head when there is no body.
            let keep = match response.len() - body {
                0 => body / 2,
                rest => body + rest / 2,
            };
            client.write_all(&response[..keep])?;
            return reset(client);
        }
        Fault::ErrorAfterForward => {
            forward(&request)?;
            client.write_all(&error(500, "Internal Server Error", "InternalError"))?
        }
    }
    client.flush()?;
    client.shutdown(Shutdown::Both)
}

/// Ends the connection with a reset (RST), as a crashed peer or a
/// middlebox does, rather than an orderly close.
fn reset(client: TcpStream) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket and a correctly sized option value.
        unsafe {
            libc::setsockopt(
                client.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &linger as *const libc::linger as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
    drop(client);
    Ok(())
}

/// An S3 error answer.
fn error(status: u16, reason: &str, code: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>\
         <Message>injected by the test proxy</Message></Error>"
    );
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Where a message's head ends (after the blank line).
fn head_end(message: &[u8]) -> Option<usize> {
    message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

/// `message` with its `Connection` header replaced by `Connection: close`.
fn closing(message: &[u8]) -> Vec<u8> {
    let Some(end) = head_end(message) else {
        return message.to_vec();
    };
    let head = String::from_utf8_lossy(&message[..end - 4]);
    let mut out = String::new();
    for line in head.split("\r\n") {
        let name = line.split(':').next().unwrap_or("").trim();
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&message[end..]);
    bytes
}

/// Reads one request: its head, then its body by `Content-Length`. With
/// `whole` false (a reset mid-request) it stops after the head.
fn read_message(stream: &mut TcpStream, whole: bool) -> io::Result<Vec<u8>> {
    let mut message = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let end = loop {
        if let Some(end) = head_end(&message) {
            break end;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no request"));
        }
        message.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&message[..end]).to_ascii_lowercase();
    if head.contains("transfer-encoding: chunked") {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the test proxy reads bodies by Content-Length only",
        ));
    }
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while whole && message.len() < end + length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short body"));
        }
        message.extend_from_slice(&chunk[..n]);
    }
    Ok(message)
}
