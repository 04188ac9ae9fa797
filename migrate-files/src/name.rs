//! Migration file names: the three forms of SPEC.md and nothing else.
//!
//! A `.sql` file that matches no form is an error rather than a file to skip,
//! so that a typo (`0003-add_email.sql`, `3_add email.sql`) never silently
//! drops a migration.

use unicode_properties::{GeneralCategory, GeneralCategoryGroup, UnicodeGeneralCategory};

/// What role a file plays for its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `{version}_{name}.sql`: an up script with no down script.
    UpOnly,
    /// `{version}_{name}.up.sql`: the up half of a reversible pair.
    Up,
    /// `{version}_{name}.down.sql`: the down half of a reversible pair.
    Down,
    /// `V{version}__{name}.sql`: Flyway's versioned form, reversible when a
    /// matching `U` file exists.
    Versioned,
    /// `U{version}__{name}.sql`: Flyway's undo form.
    Undo,
}

impl Role {
    /// True for the roles that carry an up script.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(migrate_files::Role::Versioned.is_up());
    /// assert!(!migrate_files::Role::Down.is_up());
    /// ```
    pub fn is_up(self) -> bool {
        matches!(self, Role::UpOnly | Role::Up | Role::Versioned)
    }
}

/// A parsed migration file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    /// The version, leading zeros dropped.
    pub version: i64,
    /// The name as written.
    pub name: String,
    /// The file's role.
    pub role: Role,
}

/// Why a `.sql` file name matches no migration form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    /// No version digits where the form needs them.
    NoVersion,
    /// The version does not fit in a signed 64-bit integer.
    VersionTooLarge,
    /// The separator after the version is missing (`_`, or `__` for the
    /// Flyway form).
    NoSeparator,
    /// The name is empty.
    EmptyName,
    /// The name holds a character other than a letter (of any script),
    /// digit, `_` or `-`.
    BadCharacter(char),
    /// The name ends in `.sql` but for its case or trailing whitespace
    /// (`.SQL`, `.sql `): the extension as written.
    Extension(String),
    /// The name is not valid UTF-8, and has `.sql` in it.
    NotUtf8,
}

/// What a migration's name may hold, as messages say it.
pub const NAME_CHARACTERS: &str =
    "names may only hold letters (of any script), digits, `_` and `-`";

impl std::fmt::Display for NameProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameProblem::NoVersion => f.write_str("it does not start with a version number"),
            NameProblem::VersionTooLarge => {
                write!(
                    f,
                    "its version is larger than the largest allowed, {}",
                    i64::MAX
                )
            }
            NameProblem::NoSeparator => {
                f.write_str("the version is not followed by `_` (or `__` after a `V`/`U` prefix)")
            }
            NameProblem::EmptyName => f.write_str("it has no name after the version"),
            NameProblem::BadCharacter(c) => {
                write!(f, "its name contains {c:?}, but {NAME_CHARACTERS}")
            }
            NameProblem::NotUtf8 => {
                f.write_str("its name is not valid UTF-8 (a byte of another encoding)")
            }
            NameProblem::Extension(written) => {
                write!(
                    f,
                    "its name ends in {written:?} rather than exactly \".sql\""
                )
            }
        }
    }
}

/// Parses one file name of a migration directory.
///
/// Returns `Ok(None)` for files that are not migrations and are ignored
/// (anything not ending in `.sql`, and dot-files), `Ok(Some(_))` for a
/// migration file, and an error for a `.sql` file that matches no form. A
/// name that ends in `.sql` but for its case or trailing whitespace
/// (`0002_x.SQL`, `0002_x.sql `) is an error too, never a file to skip.
///
/// # Examples
///
/// ```
/// use migrate_files::{parse_file_name, Role};
/// let parsed = parse_file_name("0003_add_email.up.sql").unwrap().unwrap();
/// assert_eq!((parsed.version, parsed.name.as_str(), parsed.role), (3, "add_email", Role::Up));
/// assert_eq!(parse_file_name("README.md").unwrap(), None);
/// assert!(parse_file_name("3-add_email.sql").is_err());
/// assert!(parse_file_name("0003_add_email.SQL").is_err());
/// ```
///
/// # Errors
///
/// A [`NameProblem`] saying what is wrong with a `.sql` file's name.
pub fn parse_file_name(file_name: &str) -> Result<Option<FileName>, NameProblem> {
    if file_name.starts_with('.') {
        return Ok(None);
    }
    let Some(stem) = file_name.strip_suffix(".sql") else {
        return match misspelt_extension(file_name) {
            Some(written) => Err(NameProblem::Extension(written.to_owned())),
            None => Ok(None),
        };
    };
    let (flyway_role, rest) = match stem.as_bytes().first() {
        Some(b'V') => (Some(Role::Versioned), &stem[1..]),
        Some(b'U') => (Some(Role::Undo), &stem[1..]),
        _ => (None, stem),
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(NameProblem::NoVersion);
    }
    let version = parse_version(&rest[..digits])?;
    let after = &rest[digits..];
    let (role, name) = match flyway_role {
        Some(role) => {
            let name = after.strip_prefix("__").ok_or(NameProblem::NoSeparator)?;
            (role, name)
        }
        None => {
            let tail = after.strip_prefix('_').ok_or(NameProblem::NoSeparator)?;
            if let Some(name) = tail.strip_suffix(".up") {
                (Role::Up, name)
            } else if let Some(name) = tail.strip_suffix(".down") {
                (Role::Down, name)
            } else {
                (Role::UpOnly, tail)
            }
        }
    };
    check_name(name)?;
    Ok(Some(FileName {
        version,
        name: name.to_owned(),
        role,
    }))
}

/// Whether a file name read with its invalid bytes as U+FFFD ends in
/// `.sql` (in any case) but for such bytes, whitespace or invisible
/// characters, and is no dot-file: a migration file to refuse, not skip.
pub(crate) fn ends_in_sql_but_for_bytes(lossy: &str) -> bool {
    !lossy.starts_with('.')
        && sql_extension_at(lossy, |c| c == char::REPLACEMENT_CHARACTER).is_some()
}

/// The extension as written when `file_name` ends in `.sql` but for its
/// case or trailing whitespace (invisible characters such as a zero-width
/// space included).
fn misspelt_extension(file_name: &str) -> Option<&str> {
    sql_extension_at(file_name, |_| false).map(|at| &file_name[at..])
}

/// Where `.sql`, in any case, starts in `file_name` once trailing
/// whitespace, invisible characters and what `also` picks are left off.
fn sql_extension_at(file_name: &str, also: impl Fn(char) -> bool) -> Option<usize> {
    let trimmed =
        file_name.trim_end_matches(|c: char| c.is_whitespace() || is_invisible(c) || also(c));
    let at = trimmed.len().checked_sub(".sql".len())?;
    trimmed
        .get(at..)
        .filter(|ext| ext.eq_ignore_ascii_case(".sql"))
        .map(|_| at)
}

/// Parses a run of decimal digits (leading zeros allowed) into a version.
fn parse_version(digits: &str) -> Result<i64, NameProblem> {
    let mut value: i64 = 0;
    for byte in digits.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(byte - b'0')))
            .ok_or(NameProblem::VersionTooLarge)?;
    }
    Ok(value)
}

fn check_name(name: &str) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::EmptyName);
    }
    let mut previous = None;
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if !name_character(previous, c, chars.peek().copied()) {
            return Err(NameProblem::BadCharacter(c));
        }
        previous = Some(c);
    }
    Ok(())
}

/// A character that shows nothing: a soft hyphen, a zero-width space or
/// joiner, a direction mark or isolate, a grapheme joiner, a variation
/// selector, a byte-order mark.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Whether `c` may stand in a name between `previous` and `next`: an
/// ASCII letter or digit, `_`, `-`; a letter or decimal digit of any
/// script; a mark (an accent, a vowel sign, a tone mark, a virama) after a
/// letter, digit or mark it combines with, but none that shows nothing;
/// a zero-width joiner or non-joiner between two letters (Persian writes
/// one inside words). Nothing else: no space, punctuation, symbol or
/// format character, visible or not.
fn name_character(previous: Option<char>, c: char, next: Option<char>) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || c == '_' || c == '-';
    }
    let letter = |c: Option<char>| {
        c.is_some_and(|c| {
            c.is_ascii_alphanumeric() || c.general_category_group() == GeneralCategoryGroup::Letter
        })
    };
    match c.general_category_group() {
        GeneralCategoryGroup::Letter => true,
        GeneralCategoryGroup::Number => c.general_category() == GeneralCategory::DecimalNumber,
        GeneralCategoryGroup::Mark => {
            !is_invisible(c)
                && previous.is_some_and(|p| {
                    letter(Some(p))
                        || p.general_category() == GeneralCategory::DecimalNumber
                        || p.general_category_group() == GeneralCategoryGroup::Mark
                })
        }
        // Between letters of a script that uses them, never ASCII's.
        _ => {
            matches!(c, '\u{200C}' | '\u{200D}')
                && letter(previous)
                && letter(next)
                && !previous.is_some_and(|p| p.is_ascii())
                && !next.is_some_and(|n| n.is_ascii())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str) -> (i64, String, Role) {
        let parsed = parse_file_name(name).unwrap().unwrap();
        (parsed.version, parsed.name, parsed.role)
    }

    #[test]
    fn recognises_every_form() {
        assert_eq!(ok("1_init.sql"), (1, "init".into(), Role::UpOnly));
        assert_eq!(ok("0001_init.up.sql"), (1, "init".into(), Role::Up));
        assert_eq!(ok("0001_init.down.sql"), (1, "init".into(), Role::Down));
        assert_eq!(
            ok("V2__add-users.sql"),
            (2, "add-users".into(), Role::Versioned)
        );
        assert_eq!(ok("U2__add-users.sql"), (2, "add-users".into(), Role::Undo));
        assert_eq!(
            ok("20261121093000_Add_Email.sql"),
            (20261121093000, "Add_Email".into(), Role::UpOnly)
        );
        assert_eq!(ok("0_x.sql"), (0, "x".into(), Role::UpOnly));
        assert_eq!(ok("1__leading.sql"), (1, "_leading".into(), Role::UpOnly));
    }

    #[test]
    fn a_name_is_letters_of_any_script() {
        for (file, name) in [
            ("0001_café.sql", "café"),
            // As macOS writes it: `e` and a combining acute accent.
            ("0002_cafe\u{301}.up.sql", "cafe\u{301}"),
            ("V3__данные_2.sql", "данные_2"),
            ("4_表を追加.sql", "表を追加"),
            // A virama and a vowel sign; a tone mark.
            ("5_नमस्ते.sql", "नमस्ते"),
            ("6_เก่า.sql", "เก่า"),
            // Persian's zero-width non-joiner inside a word; Tibetan.
            ("7_می\u{200c}خواهم.sql", "می\u{200c}خواهم"),
            ("8_ཀ\u{f84}.sql", "ཀ\u{f84}"),
        ] {
            assert_eq!(ok(file).1, name, "{file}");
        }
        for (file, c) in [
            ("5_a·b.sql", '·'),
            ("6_🚀.sql", '🚀'),
            ("7_a\u{a0}b.sql", '\u{a0}'),
            // A mark with no letter to combine with.
            ("8_\u{301}abc.sql", '\u{301}'),
            ("9_a_\u{301}.sql", '\u{301}'),
            ("10_a\u{200d}b.sql", '\u{200d}'),
            // Invisible, or punctuation that a letter's block holds.
            ("11_é·b.sql", '·'),
            ("12_café\u{ad}x.sql", '\u{ad}'),
            ("13_ب\u{61c}ت.sql", '\u{61c}'),
            ("14_a\u{2067}x.sql", '\u{2067}'),
            ("15_é\u{37e}.sql", '\u{37e}'),
            ("16_e\u{34f}.sql", '\u{34f}'),
            ("17_½.sql", '½'),
        ] {
            assert_eq!(
                parse_file_name(file),
                Err(NameProblem::BadCharacter(c)),
                "{file}"
            );
        }
    }

    #[test]
    fn ignores_other_files() {
        for name in [
            "README.md",
            ".gitkeep",
            ".1_hidden.sql",
            "1_init.sql.bak",
            "notes.txt",
        ] {
            assert_eq!(parse_file_name(name), Ok(None), "{name}");
        }
    }

    #[test]
    fn rejects_sql_files_matching_no_form() {
        assert_eq!(parse_file_name("init.sql"), Err(NameProblem::NoVersion));
        assert_eq!(parse_file_name("V_init.sql"), Err(NameProblem::NoVersion));
        assert_eq!(parse_file_name("3-init.sql"), Err(NameProblem::NoSeparator));
        assert_eq!(
            parse_file_name("V3_init.sql"),
            Err(NameProblem::NoSeparator)
        );
        assert_eq!(parse_file_name("3_.sql"), Err(NameProblem::EmptyName));
        assert_eq!(parse_file_name("3_.up.sql"), Err(NameProblem::EmptyName));
        assert_eq!(parse_file_name("3.sql"), Err(NameProblem::NoSeparator));
        assert_eq!(
            parse_file_name("3_add email.sql"),
            Err(NameProblem::BadCharacter(' '))
        );
        assert_eq!(
            parse_file_name("3_a.b.sql"),
            Err(NameProblem::BadCharacter('.'))
        );
        assert_eq!(
            parse_file_name("9223372036854775808_x.sql"),
            Err(NameProblem::VersionTooLarge)
        );
        assert_eq!(ok("9223372036854775807_x.sql").0, i64::MAX);
    }

    #[test]
    fn rejects_a_misspelt_extension() {
        // These were ignored like README.md, so a typo skipped a migration.
        for (name, written) in [
            ("0002_x.SQL", ".SQL"),
            ("0002_x.Sql", ".Sql"),
            ("0002_x.sql ", ".sql "),
            ("0002_x.sql\t", ".sql\t"),
            ("0002_x.sql\u{200b}", ".sql\u{200b}"),
            ("0002_x.sql\u{feff}", ".sql\u{feff}"),
            ("0002_x.up.SQL", ".SQL"),
            ("notes.SQL", ".SQL"),
        ] {
            assert_eq!(
                parse_file_name(name),
                Err(NameProblem::Extension(written.to_owned())),
                "{name:?}"
            );
        }
        assert_eq!(parse_file_name(".0002_x.SQL"), Ok(None));
        assert_eq!(parse_file_name("0002_x.sql~"), Ok(None));
        assert_eq!(parse_file_name("sql"), Ok(None));
        assert_eq!(
            parse_file_name("é.SQL"),
            Err(NameProblem::Extension(".SQL".to_owned()))
        );
    }
}
