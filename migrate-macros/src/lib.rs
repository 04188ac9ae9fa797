//! `embed_migrations!`: reads a migration directory while compiling, with
//! the same parser as the run-time loader (`migrate-files`), and expands to a
//! `const`-usable `migrate::Migrations` holding every script, version, name,
//! directive and checksum as constants.
//!
//! It never panics: every failure becomes a `compile_error!` that names the
//! file. It is written against `proc_macro` alone (no `syn`), since its input
//! is one string literal or nothing, which keeps its compile time small.
//!
//! Use it through `migrate::embed_migrations!`; the expansion refers to the
//! `migrate` crate by that name.

use std::path::{Path, PathBuf};

use proc_macro::{Delimiter, Group, Literal, Span, TokenStream, TokenTree};

mod test_attr;

/// Embeds the migrations of a directory, relative to the invoking crate's
/// `CARGO_MANIFEST_DIR` (`migrations` when no directory is given). See
/// `migrate::embed_migrations!`.
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    match expand(input) {
        Ok(tokens) => tokens,
        Err((span, message)) => compile_error(span, &message),
    }
}

type Failure = (Span, String);

fn expand(input: TokenStream) -> Result<TokenStream, Failure> {
    let (span, relative) = path_argument(input)?;
    let base = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .ok_or_else(|| {
            (
                span,
                "CARGO_MANIFEST_DIR is not set; build with cargo".to_owned(),
            )
        })?;
    let dir = base.join(&relative);
    // Name files relative to the crate, as the user wrote the path.
    let migrations = migrate_files::load_dir(&dir).map_err(|err| {
        (
            span,
            err.to_string().replace(&format!("{}/", base.display()), ""),
        )
    })?;

    let mut code = String::from("{");
    // Tell rustc about every file, so that editing one re-embeds.
    for migration in &migrations {
        for script in std::iter::once(&migration.up).chain(migration.down.as_ref()) {
            code.push_str(&format!(
                "const _: &[u8] = ::core::include_bytes!({});",
                string_literal(&dir.join(&script.file))
            ));
        }
    }
    // A named constant, so the slice is 'static even though `Migration` has drop glue.
    code.push_str("const LIST: &[::migrate::Migration] = &[");
    for migration in &migrations {
        code.push_str(&format!(
            "::migrate::Migration::__embedded({}i64, {}, {}, {}, {}),",
            migration.version,
            string_literal(&migration.name),
            string_literal(&migration.checksum),
            script(&migration.up),
            migration.down.as_ref().map_or_else(
                || "::core::option::Option::None".to_owned(),
                |down| format!("::core::option::Option::Some({})", script(down))
            ),
        ));
    }
    // The history digest of the whole set applied, for the no-op start.
    let mut digest = migrate_files::HistoryDigest::default();
    for migration in &migrations {
        digest.add(migrate_files::HistoryDigest::term(
            migration.version,
            migration.checksum.as_bytes(),
            true,
        ));
    }
    code.push_str(&format!(
        "]; ::migrate::Migrations::__embedded(LIST, {})}}",
        string_literal(&digest.to_string())
    ));
    code.parse::<TokenStream>().map_err(|err| {
        (
            span,
            format!("embed_migrations! produced invalid code: {err}"),
        )
    })
}

fn script(script: &migrate_files::LoadedScript) -> String {
    format!(
        "::migrate::Script::__embedded({}, {}, {})",
        string_literal(&script.file),
        string_literal(&script.sql),
        script.no_transaction
    )
}

/// A Rust string literal for any text (or path).
fn string_literal(text: &(impl AsRef<Path> + ?Sized)) -> String {
    Literal::string(&text.as_ref().to_string_lossy()).to_string()
}

/// The directory a call with no argument embeds, as Cargo projects lay it
/// out: `migrations/` beside `Cargo.toml`.
const DEFAULT_DIR: &str = "migrations";

/// The single string-literal argument, unescaped, or [`DEFAULT_DIR`] when
/// there is none.
fn path_argument(input: TokenStream) -> Result<(Span, String), Failure> {
    let usage = "embed_migrations! takes one string literal, the migration directory relative to CARGO_MANIFEST_DIR (e.g. embed_migrations!(\"db/migrations\")), or nothing for `migrations`";
    let mut tokens = input.into_iter();
    let first = tokens.next();
    let literal = match (&first, tokens.next()) {
        (Some(TokenTree::Literal(literal)), None) => literal.clone(),
        (Some(TokenTree::Group(group)), None) if group.delimiter() == Delimiter::None => {
            return path_argument(group.stream());
        }
        (Some(other), _) => return Err((other.span(), usage.to_owned())),
        (None, _) => return Ok((Span::call_site(), DEFAULT_DIR.to_owned())),
    };
    let text = literal.to_string();
    let value = unquote(&text).ok_or_else(|| (literal.span(), usage.to_owned()))?;
    Ok((literal.span(), value))
}

/// The value of a plain or raw string literal (`"..."`, `r"..."`, `r#"..."#`).
fn unquote(text: &str) -> Option<String> {
    if let Some(raw) = text.strip_prefix('r') {
        let hashes = raw.len() - raw.trim_start_matches('#').len();
        let inner = raw.get(hashes..raw.len() - hashes)?;
        return inner
            .strip_prefix('"')?
            .strip_suffix('"')
            .map(str::to_owned);
    }
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut value = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            value.push(c);
            continue;
        }
        match chars.next()? {
            '\\' => value.push('\\'),
            '"' => value.push('"'),
            '\'' => value.push('\''),
            'n' => value.push('\n'),
            't' => value.push('\t'),
            _ => return None,
        }
    }
    Some(value)
}

/// `compile_error!("message")` pointing at `span`.
fn compile_error(span: Span, message: &str) -> TokenStream {
    // Braces: in an item's place (an attribute's expansion) as in an
    // expression's.
    let tokens: TokenStream = format!("::core::compile_error!{{{}}}", Literal::string(message))
        .parse()
        .unwrap_or_default();
    let respan = |tree: TokenTree| -> TokenTree {
        let mut tree = tree;
        match &mut tree {
            TokenTree::Group(group) => {
                let mut inner = Group::new(group.delimiter(), group.stream());
                inner.set_span(span);
                *group = inner;
            }
            other => other.set_span(span),
        }
        tree
    };
    tokens.into_iter().map(respan).collect()
}

/// `#[migrate::test]`: a test that takes a fresh, migrated database. See
/// `migrate::test`.
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    match test_attr::expand(attr, item) {
        Ok(tokens) => tokens,
        Err((span, message)) => compile_error(span, &message),
    }
}
