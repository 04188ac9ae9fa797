//! How a URL is shown: [`redact`] hides a password wherever one can stand
//! (`user:password@`, `?password=`), so that no message or log line holds
//! one, and [`scrub`] removes one from text that should never have held it
//! (a driver's message).

/// `url` with any password replaced by `***`: the password of
/// `scheme://user:password@host` (up to the last `@`, so a password holding
/// `@` is hidden whole) and the value of a `password`, `pass`, `pwd` or
/// `sslpassword` query parameter.
///
/// # Examples
///
/// ```
/// assert_eq!(
///     migrate_cli::redact("postgres://app:s3cr@t@db.internal:5432/app?sslmode=require&password=x"),
///     "postgres://app:***@db.internal:5432/app?sslmode=require&password=***"
/// );
/// assert_eq!(migrate_cli::redact("sqlite://app.db"), "sqlite://app.db");
/// ```
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
        return redact_query(url);
    };
    let (scheme, rest) = url.split_at(scheme_end);
    let mut out = scheme.to_owned();
    let rest = match rest.rfind('@') {
        Some(at) => {
            let user_info = &rest[..at];
            match user_info.find(':') {
                Some(colon) => {
                    out.push_str(&user_info[..colon]);
                    out.push_str(":***");
                }
                None => out.push_str(user_info),
            }
            out.push('@');
            &rest[at + 1..]
        }
        None => rest,
    };
    out.push_str(&redact_query(rest));
    out
}

/// `text` with every password that `url` holds, as written and
/// percent-decoded, replaced by `***`: the last line of defence for a
/// driver's message, which should never hold one.
///
/// # Examples
///
/// ```
/// let url = "mysql://root:p%40ss@db/app";
/// assert_eq!(migrate_cli::scrub("denied for p@ss and p%40ss", url), "denied for *** and ***");
/// ```
pub fn scrub(text: &str, url: &str) -> String {
    let mut secrets = Vec::new();
    if let Some(scheme_end) = url.find("://").map(|at| at + 3)
        && let Some(at) = url[scheme_end..].rfind('@')
        && let Some((_, password)) = url[scheme_end..scheme_end + at].split_once(':')
    {
        secrets.push(password);
    }
    if let Some((_, query)) = url.split_once('?') {
        secrets.extend(query.split('&').filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            is_secret(key).then_some(value)
        }));
    }
    let mut out = text.to_owned();
    for secret in secrets.into_iter().filter(|secret| !secret.is_empty()) {
        for form in [secret.to_owned(), percent_decoded(secret)] {
            out = out.replace(&form, "***");
        }
    }
    out
}

/// `%XX` escapes decoded (invalid ones kept as written).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        let hex = bytes
            .get(at + 1..at + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match (bytes[at], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                at += 3;
            }
            (byte, _) => {
                out.push(byte);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a query parameter holds a password.
fn is_secret(key: &str) -> bool {
    ["password", "pass", "pwd", "sslpassword"]
        .iter()
        .any(|secret| key.eq_ignore_ascii_case(secret))
}

/// Hides the values of password-like query parameters.
pub(super) fn redact_query(text: &str) -> String {
    let Some((before, query)) = text.split_once('?') else {
        return text.to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if is_secret(key) => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{before}?{}", pairs.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_survive_redaction() {
        for (url, shown) in [
            (
                "postgres://admin:hunter2@127.0.0.1:1/app",
                "postgres://admin:***@127.0.0.1:1/app",
            ),
            (
                "postgresql://admin:p%40ss@db/app",
                "postgresql://admin:***@db/app",
            ),
            // An unencoded `@` or `/` in the password: hidden whole.
            (
                "mysql://root:a@b/c:d@localhost/app",
                "mysql://root:***@localhost/app",
            ),
            (
                "mariadb://root@localhost/app",
                "mariadb://root@localhost/app",
            ),
            (
                "postgres://db/app?user=a&password=hunter2&sslmode=require",
                "postgres://db/app?user=a&password=***&sslmode=require",
            ),
            ("postgres://db/app?PWD=hunter2", "postgres://db/app?PWD=***"),
            ("sqlite://app.db?mode=ro", "sqlite://app.db?mode=ro"),
            ("data/app.db", "data/app.db"),
            (
                "sqlite:app.db?password=hunter2",
                "sqlite:app.db?password=***",
            ),
        ] {
            assert_eq!(redact(url), shown, "{url}");
            assert!(!redact(url).contains("hunter2"));
        }
    }

    #[test]
    fn scrub_hides_every_form_of_the_password() {
        let url = "postgres://app:p%40ss-word@db/app?sslpassword=k3y&mode=x";
        assert_eq!(
            scrub("p@ss-word, p%40ss-word and k3y; not pass", url),
            "***, *** and ***; not pass"
        );
        // No password: nothing to hide.
        assert_eq!(scrub("text", "postgres://app@db/app"), "text");
        assert_eq!(scrub("text", "postgres://app:@db/app"), "text");
        assert_eq!(percent_decoded("a%2Fb%zz%"), "a/b%zz%");
    }
}
