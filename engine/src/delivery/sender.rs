//! The one HTTP client every attempt goes through: connection reuse,
//! connect and total timeouts, no redirects, the destination-address check,
//! Standard Webhooks signatures, and a record of the request with its
//! secrets redacted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::address;
use crate::clock::now_ms;
use crate::job::{Job, MAX_RECORDED_BODY, Outcome};
use crate::model::Auth;
use crate::model::{ReceivedResponse, SentRequest};
use crate::render::{RenderedRequest, render};
use crate::signing;

pub const USER_AGENT: &str = concat!("Postback/", env!("CARGO_PKG_VERSION"));
const REDACTED: &str = "********";

/// Resolves names, answers the names reserved to never resolve without
/// asking anyone, and (unless private destinations are allowed) drops the
/// addresses that may not be destinations.
struct CheckedResolver {
    allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            if never_resolves(&host) {
                return Err(format!(
                    "DNS lookup of {host} failed: names under .invalid never resolve (RFC 6761)"
                )
                .into());
            }
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| format!("DNS lookup of {host} failed: {e}"))?
                .collect();
            if allow_private {
                return Ok(Box::new(addrs.into_iter()) as Addrs);
            }
            let ok = address::allowed(&host, addrs)?;
            Ok(Box::new(ok.into_iter()) as Addrs)
        })
    }
}

/// Names under the special-use `.invalid` domain, which RFC 6761 asks
/// resolvers to refuse at once rather than send a query for.
fn never_resolves(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "invalid" || host.ends_with(".invalid")
}

/// A builder for an HTTP client with TLS by rustls and ring. Every client
/// in the process is made through here: reqwest has no crypto provider of
/// its own in this build, and this installs ring as the process's.
pub fn http_client() -> reqwest::ClientBuilder {
    // An error only says a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

#[derive(Clone, Debug)]
pub struct Sender {
    client: reqwest::Client,
    allow_private: bool,
}

impl Sender {
    pub fn new(allow_private: bool) -> Result<Self, reqwest::Error> {
        let builder = http_client()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            // Many webhooks often share one host (an integration platform):
            // keep a connection for every attempt that can be in flight, so
            // none is closed only to be opened again a moment later.
            .pool_max_idle_per_host(1024)
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver { allow_private }));
        Ok(Sender {
            client: builder.build()?,
            allow_private,
        })
    }

    /// Makes one attempt and says how it went; never fails itself.
    pub async fn attempt(&self, job: Job) -> Outcome {
        let at_ms = now_ms();
        let started = Instant::now();
        let (request, outgoing) = self.prepare(&job, at_ms);
        let received = match outgoing {
            Ok(outgoing) => receive(outgoing, job.webhook.timeout_ms)
                .await
                .map(|(r, note)| (redacted(r, &Redactor::new(&job.webhook.auth)), note)),
            Err(error) => Err(error),
        };
        let (response, error) = match received {
            Ok((response, note)) => (Some(response), note),
            Err(error) => (None, Some(error)),
        };
        Outcome {
            job,
            at_ms,
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            request,
            response,
            error,
        }
    }

    /// The request as it is recorded (secrets redacted) and as it goes out,
    /// or why it cannot go out.
    fn prepare(
        &self,
        job: &Job,
        at_ms: i64,
    ) -> (SentRequest, Result<reqwest::RequestBuilder, String>) {
        let rendered = match render(&job.webhook, &job.event) {
            Ok(r) => r,
            Err(e) => {
                let request = SentRequest {
                    method: job.webhook.method.as_str().into(),
                    url: job.webhook.url.clone(),
                    headers: vec![],
                    body: None,
                };
                return (request, Err(format!("could not build the request: {e}")));
            }
        };
        let headers = signed_headers(job, &rendered, at_ms);
        let redactor = Redactor::new(&job.webhook.auth);
        let recorded = SentRequest {
            method: rendered.method.clone(),
            url: rendered.url.clone(),
            headers: redactor.headers(&headers),
            body: rendered.body.as_deref().map(|b| redactor.text(b)),
        };
        let url = match url::Url::parse(&rendered.url) {
            Ok(u) => u,
            Err(e) => return (recorded, Err(format!("the URL is not valid: {e}"))),
        };
        if !self.allow_private
            && let Some(refusal) = literal_refusal(&url)
        {
            return (recorded, Err(refusal));
        }
        let method = reqwest::Method::from_bytes(rendered.method.as_bytes())
            .unwrap_or(reqwest::Method::POST);
        let mut request = self
            .client
            .request(method, url)
            .timeout(Duration::from_millis(u64::from(
                job.webhook.timeout_ms.max(1),
            )));
        for (name, value) in &headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = rendered.body {
            request = request.body(body);
        }
        (recorded, Ok(request))
    }
}

/// The rendered headers, the Standard Webhooks signature headers over the
/// body and the user agent.
fn signed_headers(job: &Job, rendered: &RenderedRequest, at_ms: i64) -> Vec<(String, String)> {
    let secrets: Vec<Vec<u8>> = job
        .signing_secrets
        .iter()
        .filter_map(|s| signing::secret_bytes(s).ok())
        .collect();
    let body = rendered.body.as_deref().unwrap_or_default();
    let mut headers = rendered.headers.clone();
    headers.extend(signing::headers(
        &secrets,
        &job.delivery_id,
        at_ms / 1000,
        body.as_bytes(),
    ));
    headers.push(("user-agent".into(), USER_AGENT.into()));
    headers
}

/// Sends the request and reads the answer, with a note in plain words when
/// something about it needs saying (a redirect not followed, a body cut
/// off), or says in plain words why there was none.
async fn receive(
    request: reqwest::RequestBuilder,
    timeout_ms: u32,
) -> Result<(ReceivedResponse, Option<String>), String> {
    let response = request
        .send()
        .await
        .map_err(|e| plain_words(&e, timeout_ms))?;
    let status = response.status();
    let headers = recorded_headers(response.headers());
    let redirect = status
        .is_redirection()
        .then(|| redirect_note(response.headers()));
    let (body, cut_off) = read_truncated(response).await;
    let cut_off = cut_off.map(|e| {
        let why = if e.is_timeout() {
            format!("timed out: the whole answer did not come within {timeout_ms} ms")
        } else {
            plain_words(&e, timeout_ms)
        };
        format!("the answer's body was cut off: {why}")
    });
    let note = redirect.or(cut_off);
    Ok((ReceivedResponse::new(status.as_u16(), headers, &body), note))
}

/// Why a redirect is a failure, and where it pointed.
fn redirect_note(headers: &reqwest::header::HeaderMap) -> String {
    let location = headers
        .get(reqwest::header::LOCATION)
        .map(|l| cut(&String::from_utf8_lossy(l.as_bytes()), MAX_HEADER_VALUE).to_string());
    match location {
        Some(to) => format!(
            "redirected to {to}: redirects are not followed, so change the webhook's URL if the receiver moved"
        ),
        None => "redirected without a Location: redirects are not followed".to_string(),
    }
}

/// A receiver's answer with the webhook's credentials masked, should it
/// echo them back.
fn redacted(response: ReceivedResponse, redactor: &Redactor) -> ReceivedResponse {
    let headers = redactor.headers(&response.headers);
    if response.body_base64.is_some() {
        let body = redactor.bytes(&response.body_bytes());
        return ReceivedResponse::new(response.status, headers, &body);
    }
    ReceivedResponse {
        headers,
        body: redactor.text(&response.body),
        ..response
    }
}

/// An IP-literal host is connected to as written, so it is checked here.
fn literal_refusal(url: &url::Url) -> Option<String> {
    let ip = match url.host()? {
        url::Host::Ipv4(v4) => std::net::IpAddr::V4(v4),
        url::Host::Ipv6(v6) => std::net::IpAddr::V6(v6),
        url::Host::Domain(_) => return None,
    };
    address::forbidden(ip).map(|why| {
        format!(
            "destination not allowed: {ip} is {why}; set --allow-private-destinations to send there"
        )
    })
}

/// Reads at most [`MAX_RECORDED_BODY`] bytes of the body (the rest is
/// never read: the connection is closed instead), and the error that cut
/// it off before its end, if one did.
async fn read_truncated(mut response: reqwest::Response) -> (Vec<u8>, Option<reqwest::Error>) {
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_RECORDED_BODY.saturating_sub(bytes.len());
                bytes.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if bytes.len() >= MAX_RECORDED_BODY {
                    return (bytes, None);
                }
            }
            Ok(None) => return (bytes, None),
            Err(e) => return (bytes, Some(e)),
        }
    }
}

/// Keeps a webhook's credentials out of what is recorded: the header that
/// carries them is masked by name, and their values are masked wherever
/// else they turn up (an extra header, the body, a receiver that echoes
/// the request back).
struct Redactor<'a> {
    auth: &'a Auth,
    /// Secret values long enough to look for (a short one would mask
    /// ordinary text; its header is still masked by name).
    values: Vec<String>,
}

/// Secret values shorter than this are masked by header name only.
const MIN_SECRET_LEN: usize = 4;

impl<'a> Redactor<'a> {
    fn new(auth: &'a Auth) -> Self {
        let values = match auth {
            Auth::None => Vec::new(),
            Auth::Header { value, .. } => vec![value.clone()],
            Auth::Basic { username, password } => {
                let header = crate::render::basic_auth(username, password);
                let token = header.trim_start_matches("Basic ").to_string();
                vec![token, password.clone()]
            }
        };
        Redactor {
            auth,
            values: values
                .into_iter()
                .filter(|v| v.len() >= MIN_SECRET_LEN)
                .collect(),
        }
    }

    /// `text` with every secret value masked.
    fn text(&self, text: &str) -> String {
        let mut text = text.to_string();
        for value in &self.values {
            if text.contains(value.as_str()) {
                text = text.replace(value.as_str(), REDACTED);
            }
        }
        text
    }

    /// `bytes` with every secret value masked.
    fn bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let mut bytes = bytes.to_vec();
        for value in &self.values {
            let value = value.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut rest = &bytes[..];
            while let Some(at) = rest.windows(value.len()).position(|w| w == value) {
                out.extend_from_slice(&rest[..at]);
                out.extend_from_slice(REDACTED.as_bytes());
                rest = &rest[at + value.len()..];
            }
            out.extend_from_slice(rest);
            bytes = out;
        }
        bytes
    }

    /// The credentials' header masked by name, every other header by value.
    fn headers(&self, headers: &[(String, String)]) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(name, value)| {
                let value = match self.auth {
                    Auth::Header {
                        name: auth_name, ..
                    } if name.eq_ignore_ascii_case(auth_name.trim()) => REDACTED.to_string(),
                    Auth::Basic { .. } if name.eq_ignore_ascii_case("authorization") => {
                        format!("Basic {REDACTED}")
                    }
                    _ => self.text(value),
                };
                (name.clone(), value)
            })
            .collect()
    }
}

/// The response's headers as recorded: each value at most
/// [`MAX_HEADER_VALUE`] bytes, all of them at most [`MAX_RECORDED_BODY`].
fn recorded_headers(headers: &reqwest::header::HeaderMap) -> Vec<(String, String)> {
    let mut room = MAX_RECORDED_BODY;
    let mut recorded = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        let value = cut(&value, MAX_HEADER_VALUE);
        let size = name.as_str().len() + value.len();
        if size > room {
            break;
        }
        room -= size;
        recorded.push((name.as_str().to_string(), value.to_string()));
    }
    recorded
}

/// The most of one response header's value that is recorded.
const MAX_HEADER_VALUE: usize = 1024;

/// At most `max` bytes of `text`, cut on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A transport failure as a person would say it.
fn plain_words(e: &reqwest::Error, timeout_ms: u32) -> String {
    let chain = error_chain(e);
    let lower = chain.to_lowercase();
    if e.is_timeout() {
        format!("timed out: no answer within {timeout_ms} ms")
    } else if lower.contains("destination not allowed") {
        chain
            .split(": ")
            .skip_while(|part| !part.starts_with("destination not allowed"))
            .collect::<Vec<_>>()
            .join(": ")
    } else if lower.contains("dns")
        || lower.contains("failed to lookup")
        || lower.contains("name or service not known")
    {
        format!("DNS lookup failed: {chain}")
    } else if lower.contains("connection refused") {
        "connection refused: nothing is listening at that address and port".to_string()
    } else if lower.contains("connection closed before message completed") {
        "the receiver closed the connection without answering".to_string()
    } else if lower.contains("reset") {
        "connection reset by the receiver".to_string()
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        format!("TLS failed: {chain}")
    } else if e.is_connect() {
        format!("could not connect: {chain}")
    } else {
        format!("request failed: {chain}")
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_the_record() {
        let headers = vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("X-Api-Key".to_string(), "k-123".to_string()),
            ("authorization".to_string(), "Basic dTpw".to_string()),
            ("x-copy".to_string(), "k-123 again".to_string()),
        ];
        let header = Auth::Header {
            name: "x-api-key".into(),
            value: "k-123".into(),
        };
        let r = Redactor::new(&header).headers(&headers);
        assert_eq!(r[1].1, REDACTED);
        assert_eq!(r[0].1, "application/json");
        assert_eq!(r[3].1, "******** again", "masked by value too");
        let basic = Auth::Basic {
            username: "u".into(),
            password: "p".into(),
        };
        let r = Redactor::new(&basic).headers(&headers);
        assert_eq!(r[2].1, "Basic ********");
        assert_eq!(r[1].1, "k-123");
    }

    #[test]
    fn literal_loopback_forms_are_refused() {
        for u in [
            "http://127.0.0.1:9/x",
            "http://127.1:9/x",
            "http://0x7f000001:9/x",
            "http://[::1]:9/x",
            "http://[::ffff:127.0.0.1]:9/x",
        ] {
            let url = url::Url::parse(u).unwrap();
            assert!(literal_refusal(&url).is_some(), "{u}");
        }
        assert!(
            literal_refusal(&url::Url::parse("http://localhost:9/").unwrap()).is_none(),
            "names go through the resolver"
        );
    }
}
