//! The execution stage without a database: a performer that records.
