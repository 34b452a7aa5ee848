//! The client's address behind reverse proxies: trusted proxy networks ([`Cidr`]) and the
//! forwarding header they write ([`ForwardedHeader`]), resolved by [`TrustedProxies`].
//!
//! Login throttling, registration budgets and policies (`client_ip`) all key on the client's
//! address. Behind a reverse proxy every request comes from the proxy's address, so the
//! proxy's report of the client (`X-Forwarded-For`, or `Forwarded: for=` of RFC 7239) has to
//! be read, but **only** when the request really comes from a proxy: a client talking to the
//! server directly could otherwise claim any address it likes and get a fresh budget per
//! request. The rules:
//!
//! 1. The TCP peer (axum's `ConnectInfo<SocketAddr>`) is the client unless it lies inside one
//!    of the trusted networks; then the configured header is read.
//! 2. The header is read **from the right**: each proxy appends the address it received the
//!    request from, so the right-most entries were written by the proxies and everything to
//!    their left may have been made up by the client. Entries that are themselves trusted
//!    proxies are skipped; the first one that is not is the client. (If every entry is a
//!    trusted proxy, the left-most is.)
//! 3. An entry that cannot be read (not an address, `unknown`, an obfuscated identifier, a
//!    syntax error) before the client is found makes the header worthless: the peer address
//!    is used, never a guess and never an error. Entries to the left of the client are not
//!    looked at, so a client cannot make its proxy's report unreadable by sending garbage.
//!
//! Only the one configured header is read. Proxies append to the header they know and pass
//! the others through untouched; reading a second header would let the client write the
//! "right-most" entry of that one. Most proxies (nginx, HAProxy, Envoy, cloud load balancers)
//! write `X-Forwarded-For`, the default.
//!
//! Addresses are canonical: an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is its IPv4
//! address, in the networks, the peer and the headers alike.
//!
//! ```
//! use auth_runtime::proxy::{ForwardedHeader, TrustedProxies};
//! use axum::http::HeaderMap;
//! use std::net::IpAddr;
//!
//! let proxies = TrustedProxies::parse("10.0.0.0/8, fd00::/8")?;
//! let mut headers = HeaderMap::new();
//! headers.insert("x-forwarded-for", "198.51.100.7, 203.0.113.9, 10.1.2.3".parse()?);
//!
//! // From the proxy: the right-most entry that is not a proxy.
//! let peer: IpAddr = "10.0.0.1".parse()?;
//! assert_eq!(proxies.client_addr(Some(peer), &headers), Some("203.0.113.9".parse()?));
//! // From anyone else: the header is the client's word, ignored.
//! let peer: IpAddr = "203.0.113.50".parse()?;
//! assert_eq!(proxies.client_addr(Some(peer), &headers), Some(peer));
//!
//! // RFC 7239 instead, for proxies that write `Forwarded`.
//! let proxies = proxies.header(ForwardedHeader::Forwarded);
//! let mut headers = HeaderMap::new();
//! headers.insert("forwarded", r#"for="[2001:db8::7]:4711";proto=https"#.parse()?);
//! let peer: IpAddr = "10.0.0.1".parse()?;
//! assert_eq!(proxies.client_addr(Some(peer), &headers), Some("2001:db8::7".parse()?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use axum::http::HeaderMap;
use axum::http::header::{FORWARDED, HeaderName};

/// An IP network in CIDR notation: `10.0.0.0/8`, `2001:db8::/32`, or a single address
/// (`192.0.2.1` is `192.0.2.1/32`, `::1` is `::1/128`).
///
/// Parsing is strict: the prefix length is decimal and at most 32 (IPv4) or 128 (IPv6), and
/// the address may not have bits set past the prefix (`10.0.0.1/8` is an error: write
/// `10.0.0.0/8`, or `10.0.0.1/32` for the host). An IPv4-mapped IPv6 network with a prefix of
/// at least 96 (`::ffff:10.0.0.0/104`) is its IPv4 network (`10.0.0.0/8`).
///
/// ```
/// use auth_runtime::proxy::{Cidr, CidrError};
///
/// let net: Cidr = "192.168.0.0/16".parse()?;
/// assert!(net.contains("192.168.7.1".parse()?));
/// assert!(net.contains("::ffff:192.168.7.1".parse()?)); // IPv4-mapped IPv6
/// assert!(!net.contains("192.169.0.1".parse()?));
/// assert_eq!(net.to_string(), "192.168.0.0/16");
///
/// assert_eq!("10.0.0.1/8".parse::<Cidr>(), Err(CidrError::HostBitsSet("10.0.0.1/8".into())));
/// assert!(matches!("10.0.0.0/33".parse::<Cidr>(), Err(CidrError::PrefixTooLong { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a [`Cidr`] could not be parsed.
///
/// ```
/// use auth_runtime::proxy::{Cidr, CidrError};
///
/// let err = "10.0.0.0/x".parse::<Cidr>().unwrap_err();
/// assert_eq!(err, CidrError::InvalidPrefix("10.0.0.0/x".into()));
/// assert_eq!(err.to_string(), "`10.0.0.0/x`: the prefix length is not a number");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CidrError {
    /// The text is empty.
    Empty,
    /// The part before `/` is not an IPv4 or IPv6 address.
    InvalidAddress(String),
    /// The part after `/` is not a decimal number.
    InvalidPrefix(String),
    /// The prefix length is longer than the address (32 bits for IPv4, 128 for IPv6).
    PrefixTooLong {
        /// The network as written.
        cidr: String,
        /// The longest prefix for its address family.
        max: u8,
    },
    /// Bits past the prefix are set (`10.0.0.1/8`): probably a typo.
    HostBitsSet(String),
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CidrError::Empty => f.write_str("an empty network"),
            CidrError::InvalidAddress(c) => write!(f, "`{c}`: not an IP address"),
            CidrError::InvalidPrefix(c) => {
                write!(f, "`{c}`: the prefix length is not a number")
            }
            CidrError::PrefixTooLong { cidr, max } => {
                write!(f, "`{cidr}`: the prefix length is longer than {max}")
            }
            CidrError::HostBitsSet(c) => write!(
                f,
                "`{c}`: bits past the prefix length are set (write the network's first address)"
            ),
        }
    }
}

impl std::error::Error for CidrError {}

impl Cidr {
    /// The network `address/prefix`; the same rules as parsing.
    ///
    /// ```
    /// use auth_runtime::proxy::Cidr;
    /// use std::net::{IpAddr, Ipv4Addr};
    ///
    /// let net = Cidr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 8)?;
    /// assert_eq!(net.prefix_len(), 8);
    /// # Ok::<(), auth_runtime::proxy::CidrError>(())
    /// ```
    pub fn new(address: IpAddr, prefix: u8) -> Result<Cidr, CidrError> {
        let written = || format!("{address}/{prefix}");
        let (address, prefix) = match address {
            IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() && prefix >= 96 => {
                (address.to_canonical(), prefix - 96)
            }
            other => (other, prefix),
        };
        let max = max_prefix(address);
        if prefix > max {
            return Err(CidrError::PrefixTooLong {
                cidr: written(),
                max,
            });
        }
        if mask(address, prefix) != address {
            return Err(CidrError::HostBitsSet(written()));
        }
        Ok(Cidr {
            network: address,
            prefix,
        })
    }

    /// The network's first address.
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length in bits.
    pub fn prefix_len(&self) -> u8 {
        self.prefix
    }

    /// Whether `address` (canonicalized: IPv4-mapped IPv6 counts as IPv4) is in the network.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        same_family(address, self.network) && mask(address, self.prefix) == self.network
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(CidrError::Empty);
        }
        let (address, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| CidrError::InvalidAddress(s.to_owned()))?;
        let prefix = match prefix {
            None => max_prefix(address),
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                let n: u16 = p
                    .parse()
                    .map_err(|_| CidrError::InvalidPrefix(s.to_owned()))?;
                u8::try_from(n).map_err(|_| CidrError::PrefixTooLong {
                    cidr: s.to_owned(),
                    max: max_prefix(address),
                })?
            }
            Some(_) => return Err(CidrError::InvalidPrefix(s.to_owned())),
        };
        Cidr::new(address, prefix).map_err(|e| match e {
            // Report the text as written.
            CidrError::PrefixTooLong { max, .. } => CidrError::PrefixTooLong {
                cidr: s.to_owned(),
                max,
            },
            CidrError::HostBitsSet(_) => CidrError::HostBitsSet(s.to_owned()),
            other => other,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn max_prefix(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    matches!(
        (a, b),
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_))
    )
}

/// `address` with every bit past `prefix` cleared (`prefix` at most the family's length).
fn mask(address: IpAddr, prefix: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(bits & kept))
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & kept))
        }
    }
}

/// Parses a comma-separated list of networks (`"10.0.0.0/8, 192.168.1.7, fd00::/8"`); blanks
/// around entries and empty entries are ignored, so `""` is no network. The first bad entry is
/// the error.
///
/// ```
/// use auth_runtime::proxy::parse_cidr_list;
///
/// assert_eq!(parse_cidr_list("10.0.0.0/8, ::1")?.len(), 2);
/// assert!(parse_cidr_list("")?.is_empty());
/// assert!(parse_cidr_list("10.0.0.0/8, nonsense").is_err());
/// # Ok::<(), auth_runtime::proxy::CidrError>(())
/// ```
pub fn parse_cidr_list(list: &str) -> Result<Vec<Cidr>, CidrError> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect()
}

/// Which header trusted proxies write the client's address into.
///
/// ```
/// use auth_runtime::proxy::ForwardedHeader;
///
/// assert_eq!(ForwardedHeader::default(), ForwardedHeader::XForwardedFor);
/// assert_eq!("forwarded".parse(), Ok(ForwardedHeader::Forwarded));
/// assert_eq!(ForwardedHeader::Forwarded.name(), "forwarded");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (entries may carry a port:
    /// `192.0.2.1:4711`, `[2001:db8::1]:4711`). The default.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client;proto=https, for=proxy1` (the `for=` parameter of each
    /// element).
    Forwarded,
}

impl ForwardedHeader {
    /// The header's name, lower case: `x-forwarded-for` or `forwarded`.
    pub fn name(self) -> &'static str {
        match self {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        }
    }

    fn header_name(self) -> HeaderName {
        match self {
            ForwardedHeader::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            ForwardedHeader::Forwarded => FORWARDED,
        }
    }
}

impl FromStr for ForwardedHeader {
    type Err = String;

    /// `x-forwarded-for` or `forwarded`, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
            "forwarded" => Ok(ForwardedHeader::Forwarded),
            _ => Err(format!(
                "unknown forwarding header `{s}` (expected x-forwarded-for or forwarded)"
            )),
        }
    }
}

/// The reverse proxies whose forwarding header is believed, and which header they write (see
/// the [module documentation](self) for the rules). The default trusts nobody: the client is
/// always the TCP peer.
///
/// ```
/// use auth_runtime::proxy::TrustedProxies;
/// use axum::http::HeaderMap;
///
/// let nobody = TrustedProxies::default();
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", "198.51.100.7".parse()?);
/// let peer = "127.0.0.1".parse()?;
/// assert_eq!(nobody.client_addr(Some(peer), &headers), Some(peer));
/// // Without a peer address (no `ConnectInfo`), the client is unknown.
/// assert_eq!(nobody.client_addr(None, &headers), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<Cidr>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// Trusts proxies in `networks`, reading `X-Forwarded-For`.
    pub fn new(networks: impl IntoIterator<Item = Cidr>) -> Self {
        TrustedProxies {
            networks: networks.into_iter().collect(),
            header: ForwardedHeader::default(),
        }
    }

    /// Trusts the networks of a comma-separated list ([`parse_cidr_list`]).
    pub fn parse(list: &str) -> Result<Self, CidrError> {
        Ok(TrustedProxies::new(parse_cidr_list(list)?))
    }

    /// Reads `header` instead of `X-Forwarded-For`.
    pub fn header(mut self, header: ForwardedHeader) -> Self {
        self.header = header;
        self
    }

    /// The header read.
    pub fn forwarded_header(&self) -> ForwardedHeader {
        self.header
    }

    /// The trusted networks.
    pub fn networks(&self) -> &[Cidr] {
        &self.networks
    }

    /// Whether `address` is a trusted proxy.
    pub fn is_trusted(&self, address: IpAddr) -> bool {
        self.networks.iter().any(|n| n.contains(address))
    }

    /// The client's address for a request from TCP peer `peer` with `headers` (canonical:
    /// IPv4-mapped IPv6 is IPv4). `None` only when the peer is unknown.
    pub fn client_addr(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        Some(self.reported_client(headers).unwrap_or(peer))
    }

    /// The client's address for a request: its TCP peer (`ConnectInfo<SocketAddr>`), or what a
    /// trusted proxy reported. `None` without `ConnectInfo`.
    pub(crate) fn request_client_addr(&self, parts: &axum::http::request::Parts) -> Option<IpAddr> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip());
        self.client_addr(peer, &parts.headers)
    }

    /// The right-most entry of the header that is not a trusted proxy (the left-most if all
    /// are); `None` if the header is missing or an entry up to that one cannot be read.
    fn reported_client(&self, headers: &HeaderMap) -> Option<IpAddr> {
        let mut leftmost = None;
        // Later header lines are further right.
        let quoted = self.header == ForwardedHeader::Forwarded;
        for line in headers.get_all(self.header.header_name()).iter().rev() {
            // Entries are read from the right and only until the client's: what the client
            // wrote itself (on the left of the same line) is never looked at, so it cannot
            // make the proxies' report unreadable.
            for entry in entries_from_right(line.as_bytes(), quoted) {
                let entry = entry?;
                let address = match self.header {
                    ForwardedHeader::XForwardedFor => parse_node(entry.trim(), false)?,
                    ForwardedHeader::Forwarded => forwarded_for(entry)?,
                };
                if !self.is_trusted(address) {
                    return Some(address);
                }
                leftmost = Some(address);
            }
        }
        leftmost
    }
}

/// The comma-separated entries of one header line, right to left, each `None` if it is not
/// UTF-8 (or, with `quoted`, the line's left end is inside an unclosed quoted string). With
/// `quoted` (RFC 7239 `Forwarded`), commas inside double quotes do not separate; a quote after
/// a backslash is escaped. `X-Forwarded-For` has no quoting.
fn entries_from_right(line: &[u8], quoted: bool) -> impl Iterator<Item = Option<&str>> {
    let mut end = Some(line.len());
    std::iter::from_fn(move || {
        let stop = end?;
        let mut inside = false;
        for i in (0..stop).rev() {
            match line[i] {
                b'"' if quoted && !(i > 0 && line[i - 1] == b'\\') => inside = !inside,
                b',' if !inside => {
                    end = Some(i);
                    return Some(std::str::from_utf8(&line[i + 1..stop]).ok());
                }
                _ => {}
            }
        }
        end = None;
        Some(
            (!inside)
                .then(|| std::str::from_utf8(&line[..stop]).ok())
                .flatten(),
        )
    })
}

/// Splits `s` at `separator` outside double-quoted strings (with `\` escapes in them); `None`
/// if a quoted string is not closed.
fn split_outside_quotes(s: &str, separator: u8) -> Option<Vec<&str>> {
    let mut parts = Vec::new();
    let bytes = s.as_bytes();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if quoted {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => quoted = false,
                _ => {}
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == separator {
            parts.push(&s[start..i]);
            start = i + 1;
        }
    }
    if quoted {
        return None;
    }
    parts.push(&s[start..]);
    Some(parts)
}

/// The address of the `for=` parameter of one `Forwarded` element (RFC 7239 §4), `None` if the
/// element has none, has it twice, or it is not an address (`unknown`, `_obfuscated`, junk).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    let mut found = None;
    for pair in split_outside_quotes(element, b';')? {
        let (name, value) = pair.trim().split_once('=')?;
        if !is_token(name) {
            return None;
        }
        let value = unquote(value)?;
        if name.eq_ignore_ascii_case("for") {
            if found.is_some() {
                return None;
            }
            found = Some(parse_node(&value, true)?);
        }
    }
    found
}

/// RFC 7230 `token`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// A `token` as is, or a `quoted-string` without its quotes and escapes.
fn unquote(value: &str) -> Option<String> {
    if let Some(inner) = value.strip_prefix('"') {
        let inner = inner.strip_suffix('"')?;
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push(chars.next()?),
                '"' => return None,
                c => out.push(c),
            }
        }
        Some(out)
    } else if is_token(value) {
        Some(value.to_owned())
    } else {
        None
    }
}

/// A node: `192.0.2.1`, `192.0.2.1:port`, `[2001:db8::1]`, `[2001:db8::1]:port`, or (leniently)
/// a bare IPv6 address. With `obfuscated_ports`, a port may be an RFC 7239 obfuscated
/// identifier (`_abc`).
fn parse_node(node: &str, obfuscated_ports: bool) -> Option<IpAddr> {
    let port_ok = |port: &str| {
        (!port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()))
            || (obfuscated_ports
                && port.starts_with('_')
                && port[1..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')))
    };
    if let Some(rest) = node.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let v6: Ipv6Addr = v6.parse().ok()?;
        return match after {
            "" => Some(IpAddr::V6(v6).to_canonical()),
            port => port_ok(port.strip_prefix(':')?).then(|| IpAddr::V6(v6).to_canonical()),
        };
    }
    if let Ok(address) = node.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    let (v4, port) = node.rsplit_once(':')?;
    let v4: Ipv4Addr = v4.parse().ok()?;
    port_ok(port).then_some(IpAddr::V4(v4))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_parse_strictly() {
        assert_eq!(cidr("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(cidr("192.0.2.1").to_string(), "192.0.2.1/32");
        assert_eq!(cidr("::1").to_string(), "::1/128");
        assert_eq!(cidr("2001:db8::/32").prefix_len(), 32);
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(cidr("::/0").to_string(), "::/0");
        assert_eq!(cidr("10.0.0.0/08").prefix_len(), 8);
        // IPv4-mapped networks are IPv4 networks.
        assert_eq!(cidr("::ffff:10.0.0.0/104").to_string(), "10.0.0.0/8");
        assert_eq!(cidr("::ffff:10.0.0.1").to_string(), "10.0.0.1/32");

        assert_eq!("".parse::<Cidr>(), Err(CidrError::Empty));
        for bad in [
            "10.0.0",
            "10.0.0.0.0/8",
            "x/8",
            "/8",
            "10.0.0.0 /8",
            " 10.0.0.0/8",
        ] {
            assert_eq!(
                bad.parse::<Cidr>(),
                Err(CidrError::InvalidAddress(bad.into())),
                "{bad}"
            );
        }
        for bad in [
            "10.0.0.0/",
            "10.0.0.0/-1",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "::/1x",
        ] {
            assert_eq!(
                bad.parse::<Cidr>(),
                Err(CidrError::InvalidPrefix(bad.into())),
                "{bad}"
            );
        }
        for (bad, max) in [("10.0.0.0/33", 32), ("::/129", 128), ("10.0.0.0/999", 32)] {
            assert_eq!(
                bad.parse::<Cidr>(),
                Err(CidrError::PrefixTooLong {
                    cidr: bad.into(),
                    max
                }),
                "{bad}"
            );
        }
        assert_eq!(
            "10.0.0.0/1234".parse::<Cidr>(),
            Err(CidrError::InvalidPrefix("10.0.0.0/1234".into()))
        );
        assert_eq!(
            "10.0.0.1/8".parse::<Cidr>(),
            Err(CidrError::HostBitsSet("10.0.0.1/8".into()))
        );
        assert_eq!(
            "2001:db8::1/64".parse::<Cidr>(),
            Err(CidrError::HostBitsSet("2001:db8::1/64".into()))
        );
        assert!(
            CidrError::HostBitsSet("x".into())
                .to_string()
                .contains("first address")
        );
    }

    #[test]
    fn cidrs_contain_their_addresses_only() {
        let net = cidr("10.0.0.0/8");
        assert!(net.contains(ip("10.0.0.0")));
        assert!(net.contains(ip("10.255.255.255")));
        assert!(net.contains(ip("::ffff:10.1.2.3")));
        assert!(!net.contains(ip("11.0.0.0")));
        assert!(!net.contains(ip("::a00:1")), "IPv4-compatible is not IPv4");
        let v6 = cidr("2001:db8:1::/48");
        assert!(v6.contains(ip("2001:db8:1:ffff::1")));
        assert!(!v6.contains(ip("2001:db8:2::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert!(cidr("0.0.0.0/0").contains(ip("203.0.113.1")));
        assert!(!cidr("0.0.0.0/0").contains(ip("::1")));
        assert!(cidr("::/0").contains(ip("::1")));
        assert!(cidr("192.0.2.1").contains(ip("192.0.2.1")));
        assert!(!cidr("192.0.2.1").contains(ip("192.0.2.2")));
    }

    #[test]
    fn cidr_lists() {
        assert_eq!(
            parse_cidr_list(" 10.0.0.0/8 ,, ::1 ,").unwrap(),
            vec![cidr("10.0.0.0/8"), cidr("::1")]
        );
        assert!(parse_cidr_list(" ").unwrap().is_empty());
        assert_eq!(
            parse_cidr_list("10.0.0.0/8,10.0.0.1/8"),
            Err(CidrError::HostBitsSet("10.0.0.1/8".into()))
        );
    }

    fn headers(name: &str, values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
        for v in values {
            map.append(name.clone(), HeaderValue::from_bytes(v.as_bytes()).unwrap());
        }
        map
    }

    fn xff(values: &[&str]) -> HeaderMap {
        headers("x-forwarded-for", values)
    }

    fn fwd(values: &[&str]) -> HeaderMap {
        headers("forwarded", values)
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::parse("10.0.0.0/8, 2001:db8:ffff::/48").unwrap()
    }

    const PROXY: &str = "10.0.0.1";

    fn resolve(p: &TrustedProxies, peer: &str, headers: &HeaderMap) -> IpAddr {
        p.client_addr(Some(ip(peer)), headers).unwrap()
    }

    #[test]
    fn x_forwarded_for_from_a_trusted_peer() {
        let p = proxies();
        assert_eq!(
            resolve(&p, PROXY, &xff(&["198.51.100.7"])),
            ip("198.51.100.7")
        );
        // Right-most non-proxy; what the client wrote on the left is not looked at.
        assert_eq!(
            resolve(&p, PROXY, &xff(&["1.1.1.1, 198.51.100.7, 10.9.9.9"])),
            ip("198.51.100.7")
        );
        assert_eq!(
            resolve(&p, PROXY, &xff(&["garbage, ???, 198.51.100.7"])),
            ip("198.51.100.7")
        );
        // Several header lines are one list, later lines to the right.
        assert_eq!(
            resolve(&p, PROXY, &xff(&["1.1.1.1", "198.51.100.7", "10.0.0.2"])),
            ip("198.51.100.7")
        );
        // Ports, brackets, IPv6 and IPv4-mapped entries.
        assert_eq!(
            resolve(&p, PROXY, &xff(&["198.51.100.7:4711"])),
            ip("198.51.100.7")
        );
        assert_eq!(
            resolve(&p, PROXY, &xff(&["[2001:db8::7]:4711"])),
            ip("2001:db8::7")
        );
        assert_eq!(
            resolve(&p, PROXY, &xff(&["2001:db8::7"])),
            ip("2001:db8::7")
        );
        assert_eq!(
            resolve(&p, PROXY, &xff(&["::ffff:198.51.100.7"])),
            ip("198.51.100.7")
        );
        // A proxy chain: trusted hops are skipped, IPv6 proxies too.
        assert_eq!(
            resolve(
                &p,
                "2001:db8:ffff::1",
                &xff(&["198.51.100.7, 2001:db8:ffff::2"])
            ),
            ip("198.51.100.7")
        );
        // Every entry a proxy: the left-most.
        assert_eq!(
            resolve(&p, PROXY, &xff(&["10.0.0.5, 10.0.0.6"])),
            ip("10.0.0.5")
        );
        // No header: the peer.
        assert_eq!(resolve(&p, PROXY, &HeaderMap::new()), ip(PROXY));
        // The other header is not read.
        assert_eq!(resolve(&p, PROXY, &fwd(&["for=198.51.100.7"])), ip(PROXY));
        // An IPv4-mapped peer is its IPv4 address, trusted or not.
        assert_eq!(
            resolve(&p, "::ffff:10.0.0.1", &xff(&["198.51.100.7"])),
            ip("198.51.100.7")
        );
        assert_eq!(
            resolve(&p, "::ffff:203.0.113.1", &xff(&["198.51.100.7"])),
            ip("203.0.113.1")
        );
    }

    #[test]
    fn malformed_entries_before_the_client_fall_back_to_the_peer() {
        let p = proxies();
        for bad in [
            "",
            " ",
            "198.51.100.7,",
            "198.51.100.7, ,10.0.0.2",
            "unknown",
            "nonsense",
            "198.51.100.7:",
            "198.51.100.7:port",
            "198.51.100.7:123456",
            "[2001:db8::7",
            "[198.51.100.7]x",
            "2001:db8::7:",
            "\"198.51.100.7\"",
            "198.51.100.256",
            "1.2.3.4 5.6.7.8",
        ] {
            assert_eq!(resolve(&p, PROXY, &xff(&[bad])), ip(PROXY), "{bad:?}");
        }
        // Non-UTF-8 bytes.
        let mut map = HeaderMap::new();
        map.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"198.51.100.7\xff").unwrap(),
        );
        assert_eq!(resolve(&p, PROXY, &map), ip(PROXY));
        // A later (right-hand) line that is unreadable spoils the list.
        assert_eq!(
            resolve(&p, PROXY, &xff(&["198.51.100.7", "junk"])),
            ip(PROXY)
        );
    }

    #[test]
    fn what_the_client_wrote_cannot_spoil_the_proxys_entry() {
        // nginx's `$proxy_add_x_forwarded_for` appends the real address to the client's own
        // value on one line: an unreadable client part must not push the answer back to the
        // proxy's address (a second set of budgets for the client).
        let p = proxies();
        let mut map = HeaderMap::new();
        map.insert(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"\"\xff junk, 198.51.100.7").unwrap(),
        );
        assert_eq!(resolve(&p, PROXY, &map), ip("198.51.100.7"));
        let p = proxies().header(ForwardedHeader::Forwarded);
        assert_eq!(
            resolve(&p, PROXY, &fwd(&["for=\"unclosed, for=198.51.100.7"])),
            ip("198.51.100.7")
        );
        let mut map = HeaderMap::new();
        map.insert(
            "forwarded",
            HeaderValue::from_bytes(b"for=\xff, for=\"[2001:db8::7]:4711\"").unwrap(),
        );
        assert_eq!(resolve(&p, PROXY, &map), ip("2001:db8::7"));
        // Quoted commas still do not separate, and an unclosed quote reached is unreadable.
        assert_eq!(
            resolve(&p, PROXY, &fwd(&["for=198.51.100.7;by=\"a,b\""])),
            ip("198.51.100.7")
        );
        assert_eq!(resolve(&p, PROXY, &fwd(&["for=\"198.51.100.7"])), ip(PROXY));
    }

    #[test]
    fn untrusted_peers_headers_are_ignored() {
        let p = proxies();
        for peer in ["203.0.113.9", "11.0.0.1", "2001:db8::1"] {
            assert_eq!(resolve(&p, peer, &xff(&["198.51.100.7"])), ip(peer));
        }
        let nobody = TrustedProxies::default();
        assert_eq!(resolve(&nobody, PROXY, &xff(&["198.51.100.7"])), ip(PROXY));
        assert_eq!(p.client_addr(None, &xff(&["198.51.100.7"])), None);
    }

    #[test]
    fn forwarded_for_parameters() {
        let p = proxies().header(ForwardedHeader::Forwarded);
        let cases = [
            ("for=198.51.100.7", "198.51.100.7"),
            ("For=198.51.100.7", "198.51.100.7"),
            ("for=\"198.51.100.7:4711\"", "198.51.100.7"),
            ("for=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17"),
            ("for=\"[2001:db8:cafe::17]\"", "2001:db8:cafe::17"),
            ("for=\"[2001:db8:cafe::17]:_hidden\"", "2001:db8:cafe::17"),
            ("for=198.51.100.7;proto=https;by=10.0.0.1", "198.51.100.7"),
            ("proto=https; for=198.51.100.7", "198.51.100.7"),
            ("for=1.1.1.1, for=198.51.100.7", "198.51.100.7"),
            ("for=198.51.100.7, for=10.0.0.3", "198.51.100.7"),
            (
                "for=198.51.100.7;ext=\"a,b;c\", for=10.0.0.3",
                "198.51.100.7",
            ),
            ("for=junk, for=198.51.100.7", "198.51.100.7"),
        ];
        for (value, expected) in cases {
            assert_eq!(resolve(&p, PROXY, &fwd(&[value])), ip(expected), "{value}");
        }
        assert_eq!(
            resolve(&p, PROXY, &fwd(&["for=1.1.1.1", "for=198.51.100.7"])),
            ip("198.51.100.7")
        );
        for bad in [
            "for=unknown",
            "for=_hidden",
            "for=\"_hidden\"",
            "proto=https",
            "for=",
            "for",
            "for=198.51.100.7;for=198.51.100.8",
            "for=\"198.51.100.7",
            "for=\"198.51.100.7\"x",
            "for=[2001:db8::1]",
            "for=198.51.100.7, proto=https",
            "for=198.51.100.7,",
            "f o r=198.51.100.7",
            "for=\"198.51.100.7:_x y\"",
        ] {
            assert_eq!(resolve(&p, PROXY, &fwd(&[bad])), ip(PROXY), "{bad:?}");
        }
        // The other header is not read.
        assert_eq!(resolve(&p, PROXY, &xff(&["198.51.100.7"])), ip(PROXY));
    }

    #[test]
    fn forwarded_header_names() {
        assert_eq!(
            "X-Forwarded-For".parse(),
            Ok(ForwardedHeader::XForwardedFor)
        );
        assert_eq!(" Forwarded ".parse(), Ok(ForwardedHeader::Forwarded));
        assert!("x-real-ip".parse::<ForwardedHeader>().is_err());
        assert_eq!(ForwardedHeader::XForwardedFor.name(), "x-forwarded-for");
    }
}
