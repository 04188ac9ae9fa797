//! Where an upgrade, a downgrade or a stamp should end.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// Where to go: `head`, `base`, `+N`, `-N` or a version.
///
/// # Examples
///
/// ```
/// use migrate::Target;
/// assert_eq!("head".parse::<Target>()?, Target::Head);
/// assert_eq!("-1".parse::<Target>()?, Target::Back(1));
/// assert_eq!("+2".parse::<Target>()?, Target::Forward(2));
/// assert_eq!("0042".parse::<Target>()?, Target::Version(42));
/// assert!("+0".parse::<Target>().is_err());
/// # Ok::<(), migrate::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Every known migration applied (for a downgrade: undo every applied
    /// version newer than this build's newest).
    Head,
    /// Nothing applied.
    Base,
    /// The next N pending migrations, in version order.
    Forward(u32),
    /// The N most recently applied migrations, undone newest first in the
    /// order they were applied.
    Back(u32),
    /// A version: for an upgrade, everything pending up to it; for a
    /// downgrade, everything applied above it.
    Version(i64),
}

impl FromStr for Target {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self, Error> {
        let bad = || Error::BadTarget {
            input: input.to_owned(),
        };
        let count = |digits: &str| match digits.parse::<u32>() {
            Ok(0) | Err(_) => Err(bad()),
            Ok(n) if digits.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            Ok(_) => Err(bad()),
        };
        match input {
            "head" => Ok(Target::Head),
            "base" => Ok(Target::Base),
            _ if input.starts_with('+') => count(&input[1..]).map(Target::Forward),
            _ if input.starts_with('-') => count(&input[1..]).map(Target::Back),
            _ if !input.is_empty() && input.bytes().all(|b| b.is_ascii_digit()) => {
                input.parse().map(Target::Version).map_err(|_| bad())
            }
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Head => f.write_str("head"),
            Target::Base => f.write_str("base"),
            Target::Forward(n) => write!(f, "+{n}"),
            Target::Back(n) => write!(f, "-{n}"),
            Target::Version(v) => write!(f, "{v}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_rejects_the_rest() {
        assert_eq!("base".parse::<Target>().unwrap(), Target::Base);
        assert_eq!("-3".parse::<Target>().unwrap(), Target::Back(3));
        assert_eq!("0".parse::<Target>().unwrap(), Target::Version(0));
        assert_eq!(
            "20261121093000".parse::<Target>().unwrap(),
            Target::Version(20261121093000)
        );
        for bad in [
            "",
            "-x",
            "+0",
            "-0",
            "abc",
            "+",
            "-",
            "++1",
            "+-1",
            "1.5",
            "HEAD",
            " 1",
            "99999999999999999999",
            "+ 1",
        ] {
            let err = bad.parse::<Target>().unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "`{bad}` is not a migration target; use `head`, `base`, `+N` or `-N` with N at least 1, or a version number"
                )
            );
        }
    }

    #[test]
    fn displays_as_parsed() {
        for text in ["head", "base", "+2", "-1", "42"] {
            assert_eq!(text.parse::<Target>().unwrap().to_string(), text);
        }
    }
}
