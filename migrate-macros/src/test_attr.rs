//! `#[migrate::test]`: wraps a test function that takes a database (a
//! `rusqlite::Connection`, or a `sqlx` pool for an `async fn`) in a `#[test]`
//! that hands it a fresh database with every migration applied, cloned from
//! a template (`migrate::testing`). The migrations are embedded at compile
//! time, as `embed_migrations!` does; which argument types are accepted is
//! the library's to say (a trait bound with its own message).
//!
//! The user's function is kept as written, spans and all, inside the
//! wrapper: an error in its body points where it is.

use proc_macro::{Delimiter, Group, Literal, Span, TokenStream, TokenTree};

use crate::{Failure, unquote};

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> Result<TokenStream, Failure> {
    let (dir, variable) = arguments(attr)?;
    let tokens: Vec<TokenTree> = item.into_iter().collect();
    let mut at = 0;
    let mut attributes = TokenStream::new();
    while let (Some(TokenTree::Punct(hash)), Some(TokenTree::Group(group))) =
        (tokens.get(at), tokens.get(at + 1))
    {
        if hash.as_char() != '#' || group.delimiter() != Delimiter::Bracket {
            break;
        }
        attributes.extend([tokens[at].clone(), tokens[at + 1].clone()]);
        at += 2;
    }
    let function = &tokens[at..];
    let usage = || {
        (
            Span::call_site(),
            "#[migrate::test] goes on a test function that takes one database argument, e.g. \
             `fn t(conn: rusqlite::Connection)` or `async fn t(pool: sqlx::PgPool)`"
                .to_owned(),
        )
    };
    let fn_at = function
        .iter()
        .position(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "fn"))
        .ok_or_else(usage)?;
    let is_async = function[..fn_at]
        .iter()
        .any(|t| matches!(t, TokenTree::Ident(i) if i.to_string() == "async"));
    let Some(TokenTree::Ident(name)) = function.get(fn_at + 1) else {
        return Err(usage());
    };
    let Some(TokenTree::Group(body)) = function.last() else {
        return Err(usage());
    };
    if body.delimiter() != Delimiter::Brace || function.len() < fn_at + 4 {
        return Err(usage());
    }
    // `-> T`, as written, between the arguments and the body.
    let returns: TokenStream = function[fn_at + 3..function.len() - 1]
        .iter()
        .cloned()
        .collect();
    let runner = if is_async {
        "__run_async".to_owned()
    } else {
        "__run".to_owned()
    };
    let variable = if is_async {
        format!("{}, ", Literal::string(&variable))
    } else {
        String::new()
    };
    let Some(TokenTree::Group(arguments)) = function.get(fn_at + 2) else {
        return Err(usage());
    };
    // The argument's type, checked in every build (a `#[test]` function is
    // compiled only for tests), where the user wrote it.
    let argument: Vec<TokenTree> = arguments.stream().into_iter().collect();
    let colon = argument
        .iter()
        .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ':' && p.spacing() == proc_macro::Spacing::Alone))
        .ok_or_else(usage)?;
    let argument_type: TokenStream = argument[colon + 1..].iter().cloned().collect();
    let bound = if is_async {
        "AsyncArgument"
    } else {
        "SyncArgument"
    };
    let mut check = parse(&format!(
        "fn __migrate_check<T: ::migrate::testing::{bound}>() {{}} let _: fn() = __migrate_check::<"
    ))?;
    check.extend(argument_type);
    check.extend(parse(">;")?);
    let mut checked = parse("const _: () =")?;
    checked.extend([TokenTree::Group(Group::new(Delimiter::Brace, check))]);
    checked.extend(parse(";")?);
    let call = format!(
        "static __MIGRATE_TEST_SET: ::migrate::Migrations = ::migrate::embed_migrations!({dir}); \
         ::migrate::testing::{runner}(&__MIGRATE_TEST_SET, \
         ::core::concat!(::core::module_path!(), \"::\", {name_literal}), {variable}{name})",
        dir = Literal::string(&dir),
        name_literal = Literal::string(&name.to_string()),
    );
    let mut inside: TokenStream = function.iter().cloned().collect();
    inside.extend(parse(&call)?);
    let mut out = parse("#[::core::prelude::v1::test]")?;
    out.extend(attributes);
    out.extend(parse(&format!("fn {name}()"))?);
    out.extend(returns);
    out.extend([TokenTree::Group(Group::new(Delimiter::Brace, inside))]);
    out.extend(checked);
    Ok(out)
}

fn parse(code: &str) -> Result<TokenStream, Failure> {
    code.parse::<TokenStream>().map_err(|err| {
        (
            Span::call_site(),
            format!("#[migrate::test] produced invalid code: {err}"),
        )
    })
}

/// `migrations = "dir"` (default `migrations`, beside Cargo.toml) and
/// `env = "VARIABLE"` (default `DATABASE_URL`: the server's URL), in any
/// order, comma-separated.
fn arguments(attr: TokenStream) -> Result<(String, String), Failure> {
    let usage = "#[migrate::test] takes `migrations = \"dir\"` (relative to Cargo.toml) and \
                 `env = \"VARIABLE\"` (the server's URL; DATABASE_URL by default), or nothing";
    let (mut dir, mut variable) = ("migrations".to_owned(), "DATABASE_URL".to_owned());
    let tokens: Vec<TokenTree> = attr.into_iter().collect();
    for pair in tokens.split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ',')) {
        match pair {
            [] => {}
            [
                TokenTree::Ident(key),
                TokenTree::Punct(eq),
                TokenTree::Literal(value),
            ] if eq.as_char() == '=' => {
                let value =
                    unquote(&value.to_string()).ok_or_else(|| (value.span(), usage.to_owned()))?;
                match key.to_string().as_str() {
                    "migrations" => dir = value,
                    "env" => variable = value,
                    _ => return Err((key.span(), usage.to_owned())),
                }
            }
            [first, ..] => return Err((first.span(), usage.to_owned())),
        }
    }
    Ok((dir, variable))
}
