//! The reference server's OpenID Connect settings (`AUTH_OIDC_*`, docs/architecture.md §5).

use crate::SettingsError;

/// `AUTH_OIDC_ISSUER`, `AUTH_OIDC_CLIENT_ID`, `AUTH_OIDC_CLIENT_SECRET`,
/// `AUTH_OIDC_REDIRECT_URL` (all four, or none), and the optional `AUTH_OIDC_GROUP_ROLES`.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The provider's issuer URL (its discovery document is fetched at start).
    pub issuer: String,
    /// This server's client id at the provider.
    pub client_id: String,
    /// This server's client secret at the provider.
    pub client_secret: String,
    /// Where the provider sends the browser back (`…/auth/oidc/callback`).
    pub redirect_url: String,
    /// The provider's groups and the roles they map to (`editors=editor,ops=admin`).
    pub group_roles: Vec<(String, String)>,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_url", &self.redirect_url)
            .field("group_roles", &self.group_roles)
            .finish_non_exhaustive()
    }
}

const VARIABLES: [&str; 4] = [
    "AUTH_OIDC_ISSUER",
    "AUTH_OIDC_CLIENT_ID",
    "AUTH_OIDC_CLIENT_SECRET",
    "AUTH_OIDC_REDIRECT_URL",
];

/// The OIDC settings among the variables `var` reads (set and non-blank ones only): `None`
/// when none of the four is set, an error naming the first missing one when only some are.
///
/// ```
/// let vars = |name: &str| match name {
///     "AUTH_OIDC_ISSUER" => Some("https://id.example.com".to_owned()),
///     "AUTH_OIDC_CLIENT_ID" => Some("app".to_owned()),
///     "AUTH_OIDC_CLIENT_SECRET" => Some("s3cret".to_owned()),
///     "AUTH_OIDC_REDIRECT_URL" => Some("http://127.0.0.1:3000/auth/oidc/callback".to_owned()),
///     "AUTH_OIDC_GROUP_ROLES" => Some("editors=editor, ops=admin".to_owned()),
///     _ => None,
/// };
/// let oidc = examples::oidc::from_vars(vars)?.expect("configured");
/// assert_eq!(oidc.group_roles, [("editors".to_owned(), "editor".to_owned()), ("ops".to_owned(), "admin".to_owned())]);
/// assert!(examples::oidc::from_vars(|_| None)?.is_none());
/// # Ok::<(), examples::SettingsError>(())
/// ```
pub fn from_vars(
    var: impl Fn(&str) -> Option<String>,
) -> Result<Option<OidcSettings>, SettingsError> {
    let values: Vec<Option<String>> = VARIABLES
        .iter()
        .map(|name| {
            var(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        })
        .collect();
    if values.iter().all(Option::is_none) {
        return Ok(None);
    }
    if let Some(missing) = VARIABLES.iter().zip(&values).find(|(_, v)| v.is_none()) {
        return Err(SettingsError {
            variable: missing.0,
            reason: "OIDC sign-in needs AUTH_OIDC_ISSUER, AUTH_OIDC_CLIENT_ID, AUTH_OIDC_CLIENT_SECRET and AUTH_OIDC_REDIRECT_URL together".into(),
        });
    }
    let [issuer, client_id, client_secret, redirect_url] = <[Option<String>; 4]>::try_from(values)
        .map_err(|_| SettingsError {
            variable: VARIABLES[0],
            reason: "internal".into(),
        })?;
    let (issuer, client_id, client_secret, redirect_url) = (
        issuer.unwrap_or_default(),
        client_id.unwrap_or_default(),
        client_secret.unwrap_or_default(),
        redirect_url.unwrap_or_default(),
    );
    for (variable, url) in [
        ("AUTH_OIDC_ISSUER", &issuer),
        ("AUTH_OIDC_REDIRECT_URL", &redirect_url),
    ] {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(SettingsError {
                variable,
                reason: "must be an http(s) URL".into(),
            });
        }
    }
    let mut group_roles = Vec::new();
    if let Some(list) = var("AUTH_OIDC_GROUP_ROLES").filter(|v| !v.trim().is_empty()) {
        for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some((group, role)) if !group.trim().is_empty() && !role.trim().is_empty() => {
                    group_roles.push((group.trim().to_owned(), role.trim().to_owned()));
                }
                _ => {
                    return Err(SettingsError {
                        variable: "AUTH_OIDC_GROUP_ROLES",
                        reason: format!(
                            "`{}` is not `group=role` (a comma-separated list of them)",
                            pair.escape_debug()
                        ),
                    });
                }
            }
        }
    }
    Ok(Some(OidcSettings {
        issuer,
        client_id,
        client_secret,
        redirect_url,
        group_roles,
    }))
}
