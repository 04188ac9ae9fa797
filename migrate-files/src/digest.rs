//! The digest of a history: how many rows it holds and an
//! order-independent sum of one term per row (version, checksum, clean),
//! so that one row inserted, deleted or marked changes it in O(1).
//!
//! `embed_migrations!` computes it at compile time for "every migration of
//! the set applied, clean" and the runner keeps the database's beside the
//! history table; a start compares the two instead of reading every row.
//! It tells apart histories that the runner wrote; a history edited by
//! hand is caught by the change counter the database keeps beside it (see
//! `migrate-core`'s `dialect::summary`), not by this sum.

/// The digest of a set of history rows: their count and the wrapping sum
/// of [`HistoryDigest::term`] over them.
///
/// # Examples
///
/// ```
/// use migrate_files::HistoryDigest;
/// let mut digest = HistoryDigest::default();
/// digest.add(HistoryDigest::term(1, b"aa", true));
/// digest.add(HistoryDigest::term(2, b"bb", true));
/// let mut other = HistoryDigest::default();
/// other.add(HistoryDigest::term(2, b"bb", true));
/// other.add(HistoryDigest::term(1, b"aa", true));
/// assert_eq!(digest, other, "any order");
/// other.remove(HistoryDigest::term(2, b"bb", true));
/// assert_ne!(digest, other);
/// assert_eq!(other.to_string(), {
///     let mut one = HistoryDigest::default();
///     one.add(HistoryDigest::term(1, b"aa", true));
///     one.to_string()
/// });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HistoryDigest {
    count: u64,
    sum: u128,
}

impl HistoryDigest {
    /// The term of one row: 128 bits of FNV-1a over the version, the clean
    /// flag and the checksum's bytes, then mixed. Stable across builds and
    /// platforms (it is stored in databases); not meant to resist someone
    /// who forges rows (the change counter catches every hand edit).
    ///
    /// # Examples
    ///
    /// ```
    /// use migrate_files::HistoryDigest;
    /// assert_ne!(HistoryDigest::term(1, b"aa", true), HistoryDigest::term(1, b"aa", false));
    /// assert_ne!(HistoryDigest::term(1, b"aa", true), HistoryDigest::term(2, b"aa", true));
    /// ```
    pub fn term(version: i64, checksum: &[u8], success: bool) -> u128 {
        const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
        const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
        let mut hash = OFFSET;
        let version = version.to_le_bytes();
        let flag = [u8::from(success), 0xff];
        for byte in version.iter().chain(&flag).chain(checksum) {
            hash ^= u128::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
        // FNV's last bytes reach few bits: mix them through all 128.
        hash ^= hash >> 67;
        hash = hash.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835);
        hash ^ (hash >> 61)
    }

    /// Adds a row's term.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut digest = migrate_files::HistoryDigest::default();
    /// digest.add(7);
    /// assert_eq!(digest.count(), 1);
    /// ```
    pub fn add(&mut self, term: u128) {
        self.count = self.count.wrapping_add(1);
        self.sum = self.sum.wrapping_add(term);
    }

    /// Takes a row's term away (the row was deleted, or is replaced).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut digest = migrate_files::HistoryDigest::default();
    /// digest.add(7);
    /// digest.remove(7);
    /// assert_eq!(digest, migrate_files::HistoryDigest::default());
    /// ```
    pub fn remove(&mut self, term: u128) {
        self.count = self.count.wrapping_sub(1);
        self.sum = self.sum.wrapping_sub(term);
    }

    /// How many rows it holds.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(migrate_files::HistoryDigest::default().count(), 0);
    /// ```
    pub fn count(&self) -> u64 {
        self.count
    }
}

/// The digest as stored: `{count}:{sum as 32 hex digits}`.
impl std::fmt::Display for HistoryDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{:032x}", self.count, self.sum)
    }
}

#[cfg(test)]
mod tests {
    use super::HistoryDigest;

    #[test]
    fn the_term_is_stable() {
        // Stored in databases: a change here makes every stored summary
        // miss once (each start then reads the full history until the next
        // run with work rewrites it).
        assert_eq!(
            HistoryDigest::term(1, b"aa", true),
            0x5fda_a6cb_a329_bf0c_47f0_bd92_586e_ae85
        );
    }
}
