//! Whole databases, made and dropped (the test databases of
//! `migrate::testing`): the statements of each server dialect. Names are
//! quoted as identifiers, each quote in them doubled.

use super::Dialect;

fn quoted(dialect: Dialect, name: &str) -> String {
    let quote = dialect.quote();
    let doubled = name.replace(quote, &format!("{quote}{quote}"));
    format!("{quote}{doubled}{quote}")
}

/// Creates the database `name`, as a copy of `template` where given
/// (PostgreSQL's `TEMPLATE`).
pub(crate) fn create(dialect: Dialect, name: &str, template: Option<&str>) -> String {
    match template {
        Some(template) => format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quoted(dialect, name),
            quoted(dialect, template)
        ),
        None => format!("CREATE DATABASE {}", quoted(dialect, name)),
    }
}

/// Drops the database `name` if it is there, closing PostgreSQL's sessions
/// on it (a test's pool, which may still be open).
pub(crate) fn drop(dialect: Dialect, name: &str) -> String {
    let force = if dialect == Dialect::Postgres {
        " WITH (FORCE)"
    } else {
        ""
    };
    format!("DROP DATABASE IF EXISTS {}{force}", quoted(dialect, name))
}

/// PostgreSQL: a database takes no connections (a template, copied while
/// many tests start at once).
pub(crate) fn no_connections(name: &str) -> String {
    format!(
        "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false",
        quoted(Dialect::Postgres, name)
    )
}

/// PostgreSQL: a database renamed.
pub(crate) fn rename(name: &str, to: &str) -> String {
    format!(
        "ALTER DATABASE {} RENAME TO {}",
        quoted(Dialect::Postgres, name),
        quoted(Dialect::Postgres, to)
    )
}

/// PostgreSQL: how many databases are called `name` (0 or 1), as `int8`.
pub(crate) fn count(name: &str) -> String {
    format!(
        "SELECT count(*)::int8 FROM pg_database WHERE datname = '{}'",
        name.replace('\'', "''")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_as_identifiers() {
        assert_eq!(
            create(Dialect::Postgres, "a\"b", Some("t")),
            "CREATE DATABASE \"a\"\"b\" TEMPLATE \"t\""
        );
        assert_eq!(
            create(Dialect::MySql, "a`b", None),
            "CREATE DATABASE `a``b`"
        );
        assert_eq!(
            drop(Dialect::Postgres, "x"),
            "DROP DATABASE IF EXISTS \"x\" WITH (FORCE)"
        );
        assert_eq!(drop(Dialect::MySql, "x"), "DROP DATABASE IF EXISTS `x`");
        assert_eq!(
            count("it's"),
            "SELECT count(*)::int8 FROM pg_database WHERE datname = 'it''s'"
        );
    }
}
