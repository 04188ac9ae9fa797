//! How a URL is shown: [`redact`] hides a password wherever the driver
//! would read one (`user:password@`, a `password`-like query parameter,
//! its key percent-encoded or not), so that no message or log line holds
//! one, and [`scrub`] removes one from text that should never have held it
//! (a driver's message, a driver's log line).
//!
//! Every server URL read is remembered ([`remember`]), so that the log
//! writer and the error printer can scrub text with [`scrub_remembered`]
//! without being handed the URLs.
//!
//! A password is masked in its place: in the URL, as a value (`=…`,
//! `:…`), and, when it is long enough not to be a word of the message,
//! wherever it appears. A short password's letters elsewhere
//! are left alone: with the password `o`, "cannot connect to" stays.

use std::sync::Mutex;

/// `url` with any password replaced by `***`: the password of
/// `scheme://user:password@host` (up to the last `@`, so a password holding
/// `@` is hidden whole) and the value of a `password`, `pass`, `passwd`,
/// `pwd` or `sslpassword` query parameter, its key compared as the driver
/// reads it (percent-decoded, in any case).
///
/// # Examples
///
/// ```
/// assert_eq!(
///     migrate_cli::redact("postgres://app:s3cr@t@db.internal:5432/app?sslmode=require&pass%77ord=x"),
///     "postgres://app:***@db.internal:5432/app?sslmode=require&pass%77ord=***"
/// );
/// assert_eq!(migrate_cli::redact("sqlite://app.db"), "sqlite://app.db");
/// // Mistyped, the password is hidden all the same.
/// assert_eq!(migrate_cli::redact("postgres//app:s3cr@db/app"), "postgres//app:***@db/app");
/// assert_eq!(migrate_cli::redact("postgress:app:s3cr@db/app"), "postgress:app:***@db/app");
/// ```
pub fn redact(url: &str) -> String {
    let url = &*without_dropped(url);
    if !url.contains("://") && !url.contains('@') {
        return redact_query(url);
    }
    let scheme_end = user_info_start(url);
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

/// Where `url`'s `user:password@` would start: after its `://`, or in a
/// URL mistyped without it (`postgres//u:p@h`, `postgress:u:p@h`) after
/// the last `/` before its last `@`, or at its start. Text with no `@`
/// holds no user information, whatever this says.
fn user_info_start(url: &str) -> usize {
    if let Some(at) = url.find("://") {
        return at + 3;
    }
    let before_at = url.rfind('@').map_or(url, |at| &url[..at]);
    match before_at.find("//") {
        // `postgres//user:pa/ss@`: after the first `//`, so that a `/` in
        // the password hides it whole.
        Some(slashes) => slashes + 2,
        // `postgress:user:password@`: the misspelt scheme is no user name;
        // with one colon only (`admin:password@`), it is.
        None if before_at.matches(':').count() > 1 => crate::db::url::scheme_end(before_at),
        None => 0,
    }
}

/// Every form of every password `url` holds: as written and as the driver
/// decodes it.
fn secrets(url: &str) -> Vec<String> {
    let mut secrets = secrets_as_written(url);
    let read = without_dropped(url);
    if read != url {
        secrets.extend(secrets_as_written(&read));
        secrets.sort();
        secrets.dedup();
    }
    secrets
}

/// [`secrets`] of `url` as it stands.
fn secrets_as_written(url: &str) -> Vec<String> {
    let mut secrets = Vec::new();
    let scheme_end = user_info_start(url);
    if let Some(at) = url[scheme_end..].rfind('@')
        && let Some((_, password)) = url[scheme_end..scheme_end + at].split_once(':')
    {
        secrets.push(password.to_owned());
    }
    if let Some((_, query)) = url.split_once('?') {
        secrets.extend(
            pairs(query)
                .filter(|(key, _)| is_secret(key))
                .map(|(_, value)| value.to_owned()),
        );
    }
    let decoded: Vec<String> = secrets
        .iter()
        .flat_map(|secret| {
            [
                percent_decoded(secret),
                percent_decoded(&secret.replace('+', " ")),
            ]
        })
        .collect();
    secrets.extend(decoded);
    secrets.retain(|secret| !secret.is_empty());
    secrets.sort();
    secrets.dedup();
    secrets
}

/// `text` with `url` itself shown redacted, and every password that `url`
/// holds, as written and percent-decoded, replaced by `***` where it stands
/// on its own: the last line of defence for a driver's message, which
/// should never hold one.
///
/// # Examples
///
/// ```
/// let url = "mysql://root:p%40ss@db/app";
/// assert_eq!(migrate_cli::scrub("denied for p@ss and p%40ss", url), "denied for *** and ***");
/// // A one-letter password is masked in its place, not in every word.
/// assert_eq!(
///     migrate_cli::scrub("cannot open mysql://root:p@db/app", "mysql://root:p@db/app"),
///     "cannot open mysql://root:***@db/app"
/// );
/// ```
pub fn scrub(text: &str, url: &str) -> String {
    let mut out = if url.is_empty() {
        text.to_owned()
    } else {
        text.replace(url, &redact(url))
    };
    for secret in secrets(url) {
        out = mask_standalone(&out, &secret);
    }
    out
}

/// The URLs read so far that hold a password, for [`scrub_remembered`].
static REMEMBERED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Remembers `url`, if it holds a password, for [`scrub_remembered`].
pub fn remember(url: &str) {
    if !secrets(url).is_empty() {
        let mut remembered = REMEMBERED.lock().unwrap_or_else(|err| err.into_inner());
        if !remembered.iter().any(|known| known == url) {
            remembered.push(url.to_owned());
        }
    }
}

/// `text` scrubbed of every password of every URL read so far.
pub fn scrub_remembered(text: &str) -> String {
    let remembered = REMEMBERED.lock().unwrap_or_else(|err| err.into_inner());
    remembered
        .iter()
        .fold(text.to_owned(), |text, url| scrub(&text, url))
}

/// The length from which a password that stands on its own is masked
/// anywhere: a shorter one may be a word of the message ("to", "a").
const ANYWHERE: usize = 4;

/// `text` with `secret` replaced by `***`: everywhere when it is
/// [`ANYWHERE`] characters or longer, otherwise only where it stands on
/// its own (no letter or digit glued to an end of it that is a letter or
/// digit) as a value, after `=` or `:` (a log line's `value=…`, a URL's
/// `user:…@`).
fn mask_standalone(text: &str, secret: &str) -> String {
    let word = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
    let (starts_word, ends_word) = (word(secret.chars().next()), word(secret.chars().last()));
    let long = secret.chars().count() >= ANYWHERE;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(secret) {
        let before = rest[..at].chars().last().or_else(|| out.chars().last());
        let after = rest[at + secret.len()..].chars().next();
        let glued = (starts_word && word(before)) || (ends_word && word(after));
        out.push_str(&rest[..at]);
        if long || (!glued && matches!(before, Some('=' | ':'))) {
            out.push_str("***");
        } else {
            out.push_str(secret);
        }
        rest = &rest[at + secret.len()..];
    }
    out.push_str(rest);
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

/// A query parameter's key as the driver reads it: `+` as a space, then
/// percent-decoded.
pub(super) fn driver_key(key: &str) -> String {
    percent_decoded(&key.replace('+', " "))
}

/// Whether a query parameter holds a password, its key read as the driver
/// reads it.
pub(super) fn is_secret(key: &str) -> bool {
    let key = driver_key(key);
    ["password", "pass", "passwd", "pwd", "sslpassword"]
        .iter()
        .any(|secret| key.eq_ignore_ascii_case(secret))
}

/// The separators between query parameters, for finding secrets: `&`, and
/// what a mistyped URL puts in its place (`;`, a second `?`, a `#`).
const SEPARATORS: [char; 4] = ['&', ';', '?', '#'];

/// The query parameters of `query` (what follows a URL's first `?`), split
/// at every separator a hand might have typed: (key, value) where there
/// is an `=`.
fn pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split(SEPARATORS)
        .filter_map(|pair| pair.split_once('='))
}

/// `text` with the value of every query parameter written `key` hidden
/// (a parameter the driver would ignore, whose value may be a password
/// under a misspelt key).
pub(super) fn redact_key(text: &str, key: &str) -> String {
    mask_values(text, |written| written == key)
}

/// Hides the values of password-like query parameters, wherever they
/// stand after the first `?` (after a `;`, a second `?` or a `#` too).
pub(super) fn redact_query(text: &str) -> String {
    mask_values(text, is_secret)
}

/// `text` with the value of every query parameter whose key (as written)
/// `hide` picks replaced by `***`, the parameters split at every separator
/// a hand might have typed.
fn mask_values(text: &str, hide: impl Fn(&str) -> bool) -> String {
    let Some((before, query)) = text.split_once('?') else {
        return text.to_owned();
    };
    let mut out = format!("{before}?");
    let mut rest = query;
    loop {
        let end = rest.find(SEPARATORS).unwrap_or(rest.len());
        let pair = &rest[..end];
        match pair.split_once('=') {
            Some((key, _)) if hide(key) => {
                out.push_str(key);
                out.push_str("=***");
            }
            _ => out.push_str(pair),
        }
        match rest[end..].chars().next() {
            Some(separator) => {
                out.push(separator);
                rest = &rest[end + 1..];
            }
            None => return out,
        }
    }
}

/// `url` without the characters the URL parser drops wherever they stand
/// (tab, line feed, carriage return), as the driver reads it.
pub(super) fn without_dropped(url: &str) -> std::borrow::Cow<'_, str> {
    if url.contains(['\t', '\n', '\r']) {
        std::borrow::Cow::Owned(url.replace(['\t', '\n', '\r'], ""))
    } else {
        std::borrow::Cow::Borrowed(url)
    }
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
            // The key as the driver decodes it.
            (
                "postgres://db/app?pass%77ord=hunter2",
                "postgres://db/app?pass%77ord=***",
            ),
            (
                "postgres://db/app?%50wd=hunter2",
                "postgres://db/app?%50wd=***",
            ),
            ("sqlite://app.db?mode=ro", "sqlite://app.db?mode=ro"),
            ("data/app.db", "data/app.db"),
            (
                "sqlite:app.db?password=hunter2",
                "sqlite:app.db?password=***",
            ),
            // Without a scheme: `user:password@`.
            ("admin:hunter2@app.db", "admin:***@app.db"),
            // Mistyped, with a `/` in the password: hidden whole.
            ("postgres//u:hun/ter2@h/db", "postgres//u:***@h/db"),
            ("postgress:u:hun/ter2@h/db", "postgress:u:***@h/db"),
            // A password holding `?`, unencoded: hidden whole.
            (
                "postgres://u:hunter2?x9@127.0.0.1:1/app",
                "postgres://u:***@127.0.0.1:1/app",
            ),
            // After a mistyped separator: `;`, a second `?`, a `#`.
            (
                "postgres://h/app?foo=1?password=hunter2",
                "postgres://h/app?foo=1?password=***",
            ),
            (
                "mysql://h/app?charset=utf8;password=hunter2&x=1",
                "mysql://h/app?charset=utf8;password=***&x=1",
            ),
            (
                "postgres://h/app?sslmode=disable#pwd=hunter2",
                "postgres://h/app?sslmode=disable#pwd=***",
            ),
            // The URL parser drops tabs and line breaks: so does the
            // redaction, before it reads the key.
            (
                "postgres://h/app?pass\tword=hunter2",
                "postgres://h/app?password=***",
            ),
            ("postgres://u:hun\nter2@h/app", "postgres://u:***@h/app"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
            // Where `hunter2` is the whole password: masked in any text.
            if ["hunter2@", "hunter2&", "hunter2;", "hunter2#"]
                .iter()
                .any(|whole| url.contains(whole))
                || url.ends_with("hunter2")
            {
                assert_eq!(
                    scrub(&format!("{url} and hunter2 said"), url),
                    format!("{shown} and *** said"),
                    "{url}"
                );
            }
            assert!(!redact(url).contains("hunter2"));
        }
    }

    #[test]
    fn scrub_hides_every_form_of_the_password() {
        let url = "postgres://app:p%40ss-word@db/app?sslpassword=k3y-9&mode=x&pass%77ord=a+bc";
        assert_eq!(
            scrub(
                "p@ss-word, p%40ss-word, k3y-9, a bc and a+bc; not pass",
                url
            ),
            "***, ***, ***, *** and ***; not pass"
        );
        // No password: nothing to hide.
        assert_eq!(scrub("text", "postgres://app@db/app"), "text");
        assert_eq!(scrub("text", "postgres://app:@db/app"), "text");
        assert_eq!(percent_decoded("a%2Fb%zz%"), "a/b%zz%");
    }

    #[test]
    fn a_short_password_is_masked_in_its_place_only() {
        let url = "postgres://u:o@h/db?pwd=to";
        assert_eq!(
            scrub(
                "cannot connect to postgres://u:o@h/db?pwd=to: o, to, value=to",
                url
            ),
            "cannot connect to postgres://u:***@h/db?pwd=***: o, to, value=***"
        );
        assert_eq!(mask_standalone("xo o ox =o- :o", "o"), "xo o ox =***- :***");
        assert_eq!(
            mask_standalone("a s3cret, xs3cret", "s3cret"),
            "a ***, x***"
        );
    }
}
