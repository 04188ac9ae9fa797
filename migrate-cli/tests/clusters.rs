//! The command's tests can use the Galera cluster and PgBouncer: the
//! helpers in `servers` give a database on every node and one behind
//! PgBouncer. These check the test servers and helpers, not `migrate`.

use crate::servers::{GaleraDatabase, Kind, PgBouncerDatabase, execute};

#[test]
fn galera_a_row_written_on_node_1_is_read_on_node_3() {
    let Some(cluster) = GaleraDatabase::create() else {
        return;
    };
    assert_eq!(
        cluster.urls().len(),
        3,
        "MIGRATE_TEST_GALERA_URLS names three nodes"
    );
    execute(
        Kind::MySql,
        &cluster.urls()[0],
        "CREATE TABLE t (id INT PRIMARY KEY); INSERT INTO t VALUES (7)",
    )
    .unwrap();
    assert_eq!(cluster.integers(2, "SELECT id FROM t"), [7]);
}

#[test]
fn pgbouncer_a_transaction_through_it_is_read_directly() {
    let Some(bouncer) = PgBouncerDatabase::create() else {
        return;
    };
    assert_ne!(bouncer.url(), bouncer.direct_url());
    execute(
        Kind::Postgres,
        bouncer.url(),
        "BEGIN; CREATE TABLE t (id INT); INSERT INTO t VALUES (7); COMMIT",
    )
    .unwrap();
    assert_eq!(bouncer.integers("SELECT id::int8 FROM t"), [7]);
}
