//! Tokens in cookies, for browsers: the cookies a sign-in sets, reading them back, and the CSRF
//! defences every unsafe request authenticated by cookie must pass.
//!
//! Per login type that lists [`TokenLocation::Cookie`](crate::TokenLocation::Cookie), three
//! cookies (with [`secure`](CookieConfig::secure) on, the default):
//!
//! | cookie | attributes | holds |
//! |---|---|---|
//! | `__Host-<login type>-access` | `HttpOnly; Secure; Path=/; SameSite` | the access token |
//! | `__Secure-<login type>-refresh` | `HttpOnly; Secure; Path=<refresh path>; SameSite` | the refresh token |
//! | `__Host-<login type>-csrf` | `Secure; Path=/; SameSite` (readable by scripts) | the CSRF token |
//!
//! Without `Secure` (local HTTP only) the names drop their `__Host-` / `__Secure-` prefix,
//! which browsers accept only on secure cookies.
//!
//! The CSRF token is bound to the session: an HMAC of the login type and the session id under
//! the manager's CSRF secret, so it cannot be planted from another session and needs no
//! storage. A request authenticated by cookie with an unsafe method (anything but `GET`,
//! `HEAD`, `OPTIONS`, `TRACE`) must send it back in `X-CSRF-Token` (compared in constant
//! time), and is refused when the browser says it comes from another site
//! (`Sec-Fetch-Site: cross-site`, or an `Origin` that is `null` or not this host nor a
//! [trusted origin](CookieConfig::trusted_origin)).

use std::fmt::Write as _;

use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method};
use axum::response::{IntoResponseParts, ResponseParts};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::AuthError;

/// The header that carries the CSRF token back.
pub(crate) static CSRF_HEADER: HeaderName = HeaderName::from_static("x-csrf-token");

/// `SameSite` of the session cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SameSite {
    /// Sent on top-level navigations from other sites, not on their sub-requests or forms
    /// posted cross-site (the default).
    Lax,
    /// Never sent on a request started by another site.
    Strict,
}

/// How tokens travel in cookies: attributes, the refresh cookie's path, trusted origins.
///
/// ```
/// use auth_runtime::{CookieConfig, SameSite};
///
/// let cookies = CookieConfig::default()
///     .same_site(SameSite::Strict)
///     .refresh_path("/api/v1/auth/token")
///     .trusted_origin("https://app.example.com");
/// assert!(cookies.is_secure());
/// // For local development over plain HTTP only:
/// assert!(!CookieConfig::default().secure(false).is_secure());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    secure: bool,
    same_site: SameSite,
    refresh_path: String,
    trusted_origins: Vec<String>,
}

impl Default for CookieConfig {
    /// `Secure`, `SameSite=Lax`, the refresh cookie on `/auth/token`, no other trusted origin.
    fn default() -> Self {
        CookieConfig {
            secure: true,
            same_site: SameSite::Lax,
            refresh_path: "/auth/token".into(),
            trusted_origins: Vec::new(),
        }
    }
}

impl CookieConfig {
    /// Whether cookies are `Secure` (and prefixed `__Host-` / `__Secure-`). Turn it off only
    /// for local development over plain HTTP: browsers drop secure cookies there.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// The cookies' `SameSite` (default [`SameSite::Lax`]).
    pub fn same_site(mut self, same_site: SameSite) -> Self {
        self.same_site = same_site;
        self
    }

    /// The path of the refresh cookie: the token endpoint, so that the refresh token travels
    /// nowhere else (default `/auth/token`).
    pub fn refresh_path(mut self, path: impl Into<String>) -> Self {
        self.refresh_path = path.into();
        self
    }

    /// An origin (`https://app.example.com`) besides the request's own host whose unsafe
    /// requests are accepted with a cookie (a front end served from another origin).
    pub fn trusted_origin(mut self, origin: impl Into<String>) -> Self {
        self.trusted_origins
            .push(origin.into().trim_end_matches('/').to_ascii_lowercase());
        self
    }

    /// Whether cookies are `Secure`.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The path of the refresh cookie.
    ///
    /// ```
    /// use auth_runtime::CookieConfig;
    ///
    /// assert_eq!(CookieConfig::default().refresh_cookie_path(), "/auth/token");
    /// ```
    pub fn refresh_cookie_path(&self) -> &str {
        &self.refresh_path
    }
}

/// The `Set-Cookie` headers of a cookie sign-in, refresh or sign-out: a response part, as in
/// `(StatusCode::NO_CONTENT, cookies, ())`. Built by
/// [`AuthManager::session_cookies`](crate::AuthManager::session_cookies) and
/// [`AuthManager::expired_session_cookies`](crate::AuthManager::expired_session_cookies).
#[derive(Debug, Clone, Default)]
pub struct SessionCookies(pub(crate) Vec<HeaderValue>);

impl SessionCookies {
    /// The `Set-Cookie` values.
    pub fn values(&self) -> &[HeaderValue] {
        &self.0
    }
}

impl IntoResponseParts for SessionCookies {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        for cookie in self.0 {
            res.headers_mut().append(SET_COOKIE, cookie);
        }
        Ok(res)
    }
}

/// Which of a login type's cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Jar {
    Access,
    Refresh,
    Csrf,
}

/// The cookie configuration with the CSRF secret: what reads and writes session cookies.
pub(crate) struct Cookies {
    pub(crate) config: CookieConfig,
    secret: Vec<u8>,
}

impl Cookies {
    pub(crate) fn new(config: CookieConfig, secret: Vec<u8>) -> Self {
        Cookies { config, secret }
    }

    /// The name of one of `login_type`'s cookies.
    pub(crate) fn name(&self, login_type: &str, jar: Jar) -> String {
        let (prefix, suffix) = match jar {
            Jar::Access => ("__Host-", "access"),
            Jar::Refresh => ("__Secure-", "refresh"),
            Jar::Csrf => ("__Host-", "csrf"),
        };
        let prefix = if self.config.secure { prefix } else { "" };
        format!("{prefix}{login_type}-{suffix}")
    }

    /// The CSRF token of a session of `login_type`.
    pub(crate) fn csrf_token(&self, login_type: &str, sid: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(login_type.as_bytes());
        mac.update(b"\0");
        mac.update(sid.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// The three cookies of a session of `login_type`: the access token for `access_for`
    /// seconds, the refresh token and the CSRF token for `refresh_for`.
    pub(crate) fn session(
        &self,
        login_type: &str,
        sid: &str,
        access: (&str, u64),
        refresh: (&str, u64),
    ) -> SessionCookies {
        let csrf = self.csrf_token(login_type, sid);
        SessionCookies(vec![
            self.set_cookie(login_type, Jar::Access, Some(access)),
            self.set_cookie(login_type, Jar::Refresh, Some(refresh)),
            self.set_cookie(login_type, Jar::Csrf, Some((&csrf, refresh.1))),
        ])
    }

    /// The three cookies of `login_type`, expired.
    pub(crate) fn expired(&self, login_type: &str) -> SessionCookies {
        SessionCookies(
            [Jar::Access, Jar::Refresh, Jar::Csrf]
                .into_iter()
                .map(|jar| self.set_cookie(login_type, jar, None))
                .collect(),
        )
    }

    /// One `Set-Cookie` value: `value` for `max_age` seconds, or an expired, empty cookie.
    pub(crate) fn set_cookie(
        &self,
        login_type: &str,
        jar: Jar,
        value: Option<(&str, u64)>,
    ) -> HeaderValue {
        let mut cookie = self.name(login_type, jar);
        let path = match jar {
            Jar::Refresh => self.config.refresh_path.as_str(),
            Jar::Access | Jar::Csrf => "/",
        };
        match value {
            Some((value, max_age)) => {
                let _ = write!(cookie, "={value}; Max-Age={max_age}");
            }
            None => cookie.push_str("=; Max-Age=0"),
        }
        let _ = write!(cookie, "; Path={path}");
        if jar != Jar::Csrf {
            cookie.push_str("; HttpOnly");
        }
        if self.config.secure {
            cookie.push_str("; Secure");
        }
        cookie.push_str(match self.config.same_site {
            SameSite::Lax => "; SameSite=Lax",
            SameSite::Strict => "; SameSite=Strict",
        });
        // Tokens and paths are visible ASCII; a value that is not is never sent.
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// Refuses a request that the browser says comes from another site: `Sec-Fetch-Site:
    /// cross-site`, or an `Origin` that is `null` or neither this host nor a trusted origin.
    /// A request without either header (not from a browser) passes.
    pub(crate) fn check_origin(&self, headers: &HeaderMap) -> Result<(), AuthError> {
        let cross_site = || AuthError::CrossSiteRequest;
        for site in headers.get_all("sec-fetch-site") {
            if site.as_bytes().eq_ignore_ascii_case(b"cross-site") {
                return Err(cross_site());
            }
        }
        let mut origins = headers.get_all(ORIGIN).iter();
        let Some(origin) = origins.next() else {
            return Ok(());
        };
        if origins.next().is_some() {
            return Err(cross_site());
        }
        let origin = origin
            .to_str()
            .map_err(|_| cross_site())?
            .trim_end_matches('/')
            .to_ascii_lowercase();
        if self.config.trusted_origins.contains(&origin) {
            return Ok(());
        }
        let authority = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"))
            .ok_or_else(cross_site)?;
        let host = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .ok_or_else(cross_site)?;
        if authority.eq_ignore_ascii_case(host) {
            Ok(())
        } else {
            Err(cross_site())
        }
    }

    /// The checks of a request authenticated by `login_type`'s cookie in session `sid`: none
    /// for safe methods; the origin and the CSRF token for the others.
    pub(crate) fn check_csrf(
        &self,
        parts: &Parts,
        login_type: &str,
        sid: Option<&str>,
    ) -> Result<(), AuthError> {
        if matches!(
            parts.method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        ) {
            return Ok(());
        }
        self.check_origin(&parts.headers)?;
        self.check_csrf_token(&parts.headers, login_type, sid)
    }

    /// The `X-CSRF-Token` header against the session's token, in constant time.
    pub(crate) fn check_csrf_token(
        &self,
        headers: &HeaderMap,
        login_type: &str,
        sid: Option<&str>,
    ) -> Result<(), AuthError> {
        let mut sent = headers.get_all(&CSRF_HEADER).iter();
        let (Some(sent), None, Some(sid)) = (sent.next(), sent.next(), sid) else {
            return Err(AuthError::CsrfTokenMismatch);
        };
        let expected = self.csrf_token(login_type, sid);
        if bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
            Ok(())
        } else {
            Err(AuthError::CsrfTokenMismatch)
        }
    }

    /// The value of `login_type`'s cookie `jar` in the request: `Ok(None)` when absent; two
    /// different values under that name are ambiguous (400).
    pub(crate) fn read<'h>(
        &self,
        headers: &'h HeaderMap,
        login_type: &str,
        jar: Jar,
    ) -> Result<Option<&'h str>, AuthError> {
        let name = self.name(login_type, jar);
        let mut found: Option<&str> = None;
        for header in headers.get_all(COOKIE) {
            let Ok(header) = header.to_str() else {
                continue;
            };
            for pair in header.split(';') {
                let Some((n, v)) = pair.trim().split_once('=') else {
                    continue;
                };
                if n != name {
                    continue;
                }
                let v = v.trim().trim_matches('"');
                match found {
                    Some(other) if other != v => return Err(AuthError::AmbiguousCredentials),
                    _ => found = Some(v),
                }
            }
        }
        Ok(found.filter(|v| !v.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cookies(secure: bool) -> Cookies {
        Cookies::new(CookieConfig::default().secure(secure), vec![7; 32])
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn cookie_names_and_attributes() {
        let c = cookies(true);
        assert_eq!(
            c.set_cookie("user", Jar::Access, Some(("tok", 900))),
            "__Host-user-access=tok; Max-Age=900; Path=/; HttpOnly; Secure; SameSite=Lax"
        );
        assert_eq!(
            c.set_cookie("user", Jar::Refresh, None),
            "__Secure-user-refresh=; Max-Age=0; Path=/auth/token; HttpOnly; Secure; SameSite=Lax"
        );
        assert_eq!(
            cookies(false).set_cookie("user", Jar::Csrf, Some(("c", 60))),
            "user-csrf=c; Max-Age=60; Path=/; SameSite=Lax"
        );
    }

    #[test]
    fn csrf_tokens_are_bound_to_login_type_and_session() {
        let c = cookies(true);
        let t = c.csrf_token("user", "s1");
        assert_eq!(t, c.csrf_token("user", "s1"));
        assert_ne!(t, c.csrf_token("user", "s2"));
        assert_ne!(t, c.csrf_token("admin", "s1"));
        assert_ne!(
            t,
            Cookies::new(CookieConfig::default(), vec![8; 32]).csrf_token("user", "s1")
        );
    }

    #[test]
    fn origins() {
        let c = Cookies::new(
            CookieConfig::default().trusted_origin("https://app.example.com/"),
            vec![1; 32],
        );
        let host = ("host", "api.example.com");
        for ok in [
            vec![host],
            vec![host, ("origin", "https://api.example.com")],
            vec![host, ("origin", "https://APP.example.com")],
            vec![host, ("sec-fetch-site", "same-origin")],
        ] {
            assert!(c.check_origin(&headers(&ok)).is_ok(), "{ok:?}");
        }
        for bad in [
            vec![host, ("origin", "https://evil.example")],
            vec![host, ("origin", "null")],
            vec![host, ("sec-fetch-site", "cross-site")],
            vec![("origin", "https://api.example.com")],
            vec![host, ("origin", "api.example.com")],
            vec![
                host,
                ("origin", "https://api.example.com"),
                ("origin", "https://evil.example"),
            ],
        ] {
            assert_eq!(
                c.check_origin(&headers(&bad)),
                Err(AuthError::CrossSiteRequest),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn reading_cookies() {
        let c = cookies(true);
        let h = headers(&[
            ("cookie", "a=1; __Host-user-access=tok; b=2"),
            ("cookie", "__Host-user-access=tok"),
        ]);
        assert_eq!(c.read(&h, "user", Jar::Access), Ok(Some("tok")));
        assert_eq!(c.read(&h, "admin", Jar::Access), Ok(None));
        let h = headers(&[("cookie", "__Host-user-access=one; __Host-user-access=two")]);
        assert_eq!(
            c.read(&h, "user", Jar::Access),
            Err(AuthError::AmbiguousCredentials)
        );
        // The unprefixed name is another cookie (one a subdomain could have planted).
        let h = headers(&[("cookie", "user-access=planted")]);
        assert_eq!(c.read(&h, "user", Jar::Access), Ok(None));
    }
}
