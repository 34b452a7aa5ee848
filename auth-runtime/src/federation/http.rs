//! How key sets and discovery documents are fetched: [`HttpClient`], a one-method trait an
//! application can implement with the client it already has (a proxy, its own roots, mTLS),
//! and [`HyperClient`], the default: HTTP/1.1 on hyper, HTTPS through rustls on aws-lc-rs
//! with Mozilla's root certificates compiled in.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// The boxed future an [`HttpClient`] returns.
pub type HttpFuture<'a> =
    Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'a>>;

/// Fetches a URL with `GET`: the seam between external issuers and the network.
///
/// The runtime calls it for the URLs the application configured (an issuer's discovery
/// document and the `jwks_uri` it names, or a JWKS URL), never for a URL a token names. It
/// bounds every call with the issuer's [fetch timeout](super::ExternalIssuer::fetch_timeout)
/// (dropping the future when it runs out) and refuses a body longer than `max_body` bytes, so an
/// implementation only has to stop reading past `max_body` (to spare memory). Send no
/// credentials and follow no redirects.
///
/// ```
/// use auth_runtime::federation::{ExternalIssuer, HttpClient, HttpError, HttpFuture, HttpResponse};
/// use axum::http::{HeaderMap, StatusCode};
///
/// /// Serves one fixed document (a stand-in for a client of your own, such as reqwest).
/// struct Fixed(&'static str);
///
/// impl HttpClient for Fixed {
///     fn get<'a>(&'a self, url: &'a str, max_body: usize) -> HttpFuture<'a> {
///         Box::pin(async move {
///             if self.0.len() > max_body {
///                 return Err(HttpError::new(format!("{url}: the body is too large")));
///             }
///             Ok(HttpResponse::new(StatusCode::OK, HeaderMap::new(), self.0))
///         })
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let client = Fixed(r#"{"keys":[]}"#);
/// let response = client.get("https://idp.example/keys", 1024).await.unwrap();
/// assert_eq!(response.body, br#"{"keys":[]}"#);
/// let issuer = ExternalIssuer::discovery("https://idp.example").audience("api").http_client(client);
/// # let _ = issuer;
/// # }
/// ```
pub trait HttpClient: Send + Sync + 'static {
    /// `GET url`; the body may be cut short with an error once it passes `max_body` bytes.
    fn get<'a>(&'a self, url: &'a str, max_body: usize) -> HttpFuture<'a>;
}

impl<C: HttpClient + ?Sized> HttpClient for Arc<C> {
    fn get<'a>(&'a self, url: &'a str, max_body: usize) -> HttpFuture<'a> {
        (**self).get(url, max_body)
    }
}

/// What an [`HttpClient`] fetched: status, headers and the whole body.
///
/// ```
/// use auth_runtime::federation::HttpResponse;
/// use axum::http::{HeaderMap, StatusCode};
///
/// let response = HttpResponse::new(StatusCode::OK, HeaderMap::new(), r#"{"keys":[]}"#);
/// assert_eq!(response.status, StatusCode::OK);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpResponse {
    /// The status code.
    pub status: StatusCode,
    /// The response headers (`Cache-Control` is read).
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A response.
    pub fn new(status: StatusCode, headers: HeaderMap, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse {
            status,
            headers,
            body: body.into(),
        }
    }
}

/// Why a fetch failed (connection, TLS, protocol, a body too large): a message for the log.
///
/// ```
/// use auth_runtime::federation::HttpError;
///
/// let err = HttpError::new("connection refused");
/// assert_eq!(err.to_string(), "connection refused");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError(String);

impl HttpError {
    /// An error with this message (say what failed; no secret).
    pub fn new(message: impl Into<String>) -> Self {
        HttpError(message.into())
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

/// The default [`HttpClient`]: one HTTP/1.1 connection per fetch (key sets are fetched
/// rarely, so nothing is pooled), `http` and `https` URLs, TLS 1.2 and 1.3 through rustls on
/// the aws-lc-rs provider, servers checked against Mozilla's root certificates
/// (webpki-roots), no proxy, no redirects.
///
/// To trust a private certificate authority, use
/// [`with_root_certificates_pem`](Self::with_root_certificates_pem); behind a proxy, implement
/// [`HttpClient`] with a client that does, and give it to
/// [`ExternalIssuer::http_client`](super::ExternalIssuer::http_client).
///
/// ```
/// use auth_runtime::federation::{ExternalIssuer, HyperClient};
///
/// let issuer = ExternalIssuer::discovery("https://login.partner.example")
///     .audience("reports-api")
///     .http_client(HyperClient::new());
/// # let _ = issuer;
/// ```
#[derive(Clone)]
pub struct HyperClient {
    tls: TlsConnector,
}

impl fmt::Debug for HyperClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperClient").finish_non_exhaustive()
    }
}

impl Default for HyperClient {
    fn default() -> Self {
        Self::new()
    }
}

impl HyperClient {
    /// A client trusting Mozilla's root certificates.
    pub fn new() -> Self {
        Self::with_roots(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
    }

    /// A client trusting only the root certificates in `pem` (one or more `CERTIFICATE`
    /// blocks): for an issuer whose certificate comes from a private certificate authority.
    /// No certificate in it, or one that cannot be read, is an error.
    ///
    /// ```
    /// use auth_runtime::federation::HyperClient;
    ///
    /// let ca = include_bytes!("testdata/ca.pem"); // your CA's certificate
    /// let client = HyperClient::with_root_certificates_pem(ca)?;
    /// # let _ = client;
    /// assert!(HyperClient::with_root_certificates_pem(b"not a certificate").is_err());
    /// # Ok::<(), auth_runtime::federation::HttpError>(())
    /// ```
    pub fn with_root_certificates_pem(pem: &[u8]) -> Result<Self, HttpError> {
        use tokio_rustls::rustls::pki_types::CertificateDer;
        use tokio_rustls::rustls::pki_types::pem::PemObject as _;

        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|_| HttpError::new("the PEM cannot be read"))?;
            roots
                .add(cert)
                .map_err(|e| HttpError::new(format!("not a usable root certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(HttpError::new("the PEM holds no certificate"));
        }
        Ok(Self::with_roots(roots))
    }

    fn with_roots(roots: RootCertStore) -> Self {
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| b.with_root_certificates(roots).with_no_client_auth())
            // The aws-lc-rs provider supports the default protocol versions; this cannot fail.
            .unwrap_or_else(|_| unreachable_tls_config());
        HyperClient {
            tls: TlsConnector::from(Arc::new(config)),
        }
    }

    async fn fetch(&self, url: &str, max_body: usize) -> Result<HttpResponse, HttpError> {
        self.send(url, None, max_body).await
    }

    /// `POST url` with a form body and an `Authorization` header (an OpenID provider's token
    /// endpoint), the answer read up to `max_body` bytes.
    pub async fn post_form(
        &self,
        url: &str,
        authorization: &str,
        form: &str,
        max_body: usize,
    ) -> Result<HttpResponse, HttpError> {
        self.send(url, Some((authorization, form)), max_body).await
    }

    /// One `GET`, or with `post` a form `POST`, on a fresh connection.
    async fn send(
        &self,
        url: &str,
        post: Option<(&str, &str)>,
        max_body: usize,
    ) -> Result<HttpResponse, HttpError> {
        let target = Target::parse(url)?;
        let tcp = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| HttpError::new(format!("cannot connect: {}", e.kind())))?;
        let _ = tcp.set_nodelay(true);
        let builder = match post {
            None => Request::get(target.path_and_query.as_str()),
            Some((authorization, _)) => Request::post(target.path_and_query.as_str())
                .header(header::AUTHORIZATION, authorization)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"),
        };
        let body = post.map_or_else(Bytes::new, |(_, form)| {
            Bytes::copy_from_slice(form.as_bytes())
        });
        let request = builder
            .header(header::HOST, &target.authority)
            .header(header::ACCEPT, "application/json")
            .header(header::USER_AGENT, "auth-runtime")
            .body(Full::new(body))
            .map_err(|_| HttpError::new("the URL cannot be requested"))?;
        if target.tls {
            let name = ServerName::try_from(target.host.clone())
                .map_err(|_| HttpError::new("the host is not a valid TLS server name"))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| HttpError::new(format!("TLS handshake failed: {e}")))?;
            exchange(TokioIo::new(tls), request, max_body).await
        } else {
            exchange(TokioIo::new(tcp), request, max_body).await
        }
    }
}

#[cold]
fn unreachable_tls_config() -> ClientConfig {
    ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_protocol_versions(&[&tokio_rustls::rustls::version::TLS13])
    .expect("aws-lc-rs supports TLS 1.3")
    .with_root_certificates(RootCertStore::empty())
    .with_no_client_auth()
}

impl HttpClient for HyperClient {
    fn get<'a>(&'a self, url: &'a str, max_body: usize) -> HttpFuture<'a> {
        Box::pin(self.fetch(url, max_body))
    }
}

/// Aborts the connection task when the fetch ends or is dropped (timeout).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One request on a fresh HTTP/1.1 connection; the body read up to `max_body` bytes.
async fn exchange<I>(
    io: I,
    request: Request<Full<Bytes>>,
    max_body: usize,
) -> Result<HttpResponse, HttpError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| HttpError::new(format!("HTTP handshake failed: {e}")))?;
    let _connection = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| HttpError::new(format!("the request failed: {e}")))?;
    let (parts, mut body) = response.into_parts();
    let too_large = || HttpError::new(format!("the body is longer than {max_body} bytes"));
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|len| len > max_body as u64) {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| HttpError::new(format!("reading the body failed: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if bytes.len() + data.len() > max_body {
                return Err(too_large());
            }
            bytes.extend_from_slice(&data);
        }
    }
    Ok(HttpResponse::new(parts.status, parts.headers, bytes))
}

/// A URL taken apart for one request.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    tls: bool,
    /// Without IPv6 brackets.
    host: String,
    port: u16,
    /// For the `Host` header.
    authority: HeaderValue,
    path_and_query: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, HttpError> {
        let bad = || HttpError::new("not an absolute http or https URL");
        let uri: Uri = url.parse().map_err(|_| bad())?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad()),
        };
        let authority = uri.authority().ok_or_else(bad)?;
        if authority.as_str().contains('@') {
            return Err(HttpError::new("credentials in a URL are not sent"));
        }
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(bad());
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(Target {
            tls,
            host: host.to_owned(),
            port,
            authority: HeaderValue::from_str(authority.as_str()).map_err(|_| bad())?,
            path_and_query: uri
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_taken_apart() {
        let t = Target::parse("https://idp.example/.well-known/jwks.json?x=1").unwrap();
        assert!(t.tls);
        assert_eq!((t.host.as_str(), t.port), ("idp.example", 443));
        assert_eq!(t.path_and_query, "/.well-known/jwks.json?x=1");
        let t = Target::parse("http://[::1]:8080").unwrap();
        assert!(!t.tls);
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
        assert_eq!(t.authority, "[::1]:8080");
        assert_eq!(t.path_and_query, "/");
        for bad in [
            "ftp://idp.example/keys",
            "/keys",
            "idp.example/keys",
            "https://user:pw@idp.example/keys",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    /// An HTTPS server on 127.0.0.1 with a certificate of the test CA (`testdata/`, valid
    /// until 2126; the CA's private key was discarded): answers every request with `body`.
    async fn https_server(ip: &str, body: &'static str) -> std::net::SocketAddr {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        use tokio_rustls::rustls::ServerConfig;
        use tokio_rustls::rustls::pki_types::pem::PemObject as _;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

        let certs = CertificateDer::pem_slice_iter(include_bytes!("testdata/server.pem"))
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(include_bytes!("testdata/server.key")).unwrap();
        let provider = Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: max-age=120\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(answer.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn https_is_fetched_from_a_trusted_server_only() {
        let addr = https_server("127.0.0.1", r#"{"keys":[]}"#).await;
        let trusting =
            HyperClient::with_root_certificates_pem(include_bytes!("testdata/ca.pem")).unwrap();
        for url in [
            format!("https://localhost:{}/keys", addr.port()),
            format!("https://{addr}/keys"),
        ] {
            let response = trusting.get(&url, 1024).await.unwrap();
            assert_eq!(response.status, StatusCode::OK);
            assert_eq!(response.headers[header::CACHE_CONTROL], "max-age=120");
            assert_eq!(response.body, br#"{"keys":[]}"#);
            // A body over the limit is refused.
            let err = trusting.get(&url, 4).await.unwrap_err();
            assert!(err.to_string().contains("longer than 4 bytes"), "{err}");
        }
        // Mozilla's roots do not know the test CA: the handshake fails, nothing is read.
        let err = HyperClient::new()
            .get(&format!("https://localhost:{}/keys", addr.port()), 1024)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("TLS handshake failed"), "{err}");
        // The certificate names localhost and 127.0.0.1: a server at 127.0.0.2 showing it is
        // refused.
        let elsewhere = https_server("127.0.0.2", "{}").await;
        let err = trusting
            .get(&format!("https://{elsewhere}/keys"), 1024)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("TLS handshake failed"), "{err}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let err = HyperClient::new()
            .get(&format!("http://{addr}/keys"), 1024)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("cannot connect"), "{err}");
    }
}
