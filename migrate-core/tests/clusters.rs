//! The clustered and pooled servers the tests can use work as they should:
//! a row written on one Galera node is read on another, and PgBouncer runs
//! many clients' transactions on a few server connections. These check the
//! test servers (`scripts/galera`, `scripts/pgbouncer`), not migrate.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, MySqlConnection, PgConnection};

use crate::servers::{Galera, PgBouncer};

#[tokio::test]
async fn galera_a_row_written_on_node_1_is_read_on_node_3() {
    let Some(cluster) = Galera::create().await else {
        return;
    };
    assert_eq!(
        cluster.urls.len(),
        3,
        "MIGRATE_TEST_GALERA_URLS names the three nodes"
    );

    let mut first = MySqlConnection::connect(&cluster.urls[0]).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE greetings (id INT PRIMARY KEY, text VARCHAR(40) NOT NULL);
         INSERT INTO greetings VALUES (1, 'written on node 1')",
    )
    .execute(&mut first)
    .await
    .unwrap();

    let mut third = MySqlConnection::connect(&cluster.urls[2]).await.unwrap();
    // A causal read: node 3 applies everything committed before it answers.
    sqlx::raw_sql("SET SESSION wsrep_sync_wait = 1")
        .execute(&mut third)
        .await
        .unwrap();
    let rows: Vec<(i32, String)> = sqlx::query_as("SELECT id, text FROM greetings ORDER BY id")
        .fetch_all(&mut third)
        .await
        .unwrap();
    assert_eq!(rows, [(1, "written on node 1".to_owned())]);

    // One database, on two different members of one three-node cluster.
    let node = "SELECT CAST(DATABASE() AS CHAR), CAST(@@wsrep_node_name AS CHAR), \
                CAST(VARIABLE_VALUE AS CHAR) FROM information_schema.GLOBAL_STATUS \
                WHERE VARIABLE_NAME = 'WSREP_CLUSTER_SIZE'";
    let (first_database, first_node, first_size): (String, String, String) =
        sqlx::query_as(node).fetch_one(&mut first).await.unwrap();
    let (third_database, third_node, third_size): (String, String, String) =
        sqlx::query_as(node).fetch_one(&mut third).await.unwrap();
    assert!(
        first_database.starts_with("migrate_test_"),
        "{first_database}"
    );
    assert_eq!(third_database, first_database);
    assert_ne!(third_node, first_node);
    assert_eq!((first_size.as_str(), third_size.as_str()), ("3", "3"));
    first.close().await.unwrap();
    third.close().await.unwrap();
}

/// How many clients run transactions through PgBouncer at once.
const CLIENTS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_twelve_clients_share_the_pool_a_transaction_at_a_time() {
    let Some(bouncer) = PgBouncer::create().await else {
        return;
    };
    let mut direct = PgConnection::connect(&bouncer.database.url).await.unwrap();
    let name: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut direct)
        .await
        .unwrap();
    direct.close().await.unwrap();
    assert!(name.starts_with("migrate_test_"), "{name}");
    // Every client connects, runs a transaction, waits for all the others
    // to have run theirs, then runs a second: with session pooling the
    // clients beyond the pool would never get a server connection, with
    // transaction pooling each transaction borrows one and gives it back.
    let all_ran_one = Arc::new(tokio::sync::Barrier::new(CLIENTS));
    let clients = (0..CLIENTS).map(|_| {
        let (url, all_ran_one) = (bouncer.url.clone(), all_ran_one.clone());
        tokio::spawn(async move {
            let mut conn = PgConnection::connect(&url).await?;
            let mut seen = Vec::new();
            for round in 0..2 {
                if round == 1 {
                    all_ran_one.wait().await;
                }
                // Simple-query protocol: no named prepared statement, which
                // would not survive a change of server connection.
                let rows = sqlx::raw_sql(
                    "BEGIN; SELECT pg_backend_pid(), current_database()::text; COMMIT",
                )
                .fetch_all(&mut conn)
                .await?;
                assert_eq!(rows.len(), 1);
                let (pid, database): (i32, String) =
                    (sqlx::Row::get(&rows[0], 0), sqlx::Row::get(&rows[0], 1));
                seen.push((pid, database));
            }
            conn.close().await?;
            Ok::<_, sqlx::Error>(seen)
        })
    });
    let all = tokio::time::timeout(Duration::from_secs(60), join_all(clients.collect()))
        .await
        .expect("every client's transactions ran within 60 s (transaction pooling)");

    let mut pids = BTreeSet::new();
    let mut transactions = 0;
    for client in all {
        for (pid, database) in client.unwrap().unwrap() {
            assert_eq!(database, name);
            pids.insert(pid);
            transactions += 1;
        }
    }
    assert_eq!(transactions, 2 * CLIENTS);
    // scripts/pgbouncer's default_pool_size: the clients shared four
    // server connections at most.
    assert!(
        (1..=4).contains(&pids.len()),
        "{} server connections for {CLIENTS} clients: {pids:?}",
        pids.len()
    );
}

/// Awaits every task, in order.
async fn join_all<T>(
    tasks: Vec<tokio::task::JoinHandle<T>>,
) -> Vec<Result<T, tokio::task::JoinError>> {
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await);
    }
    results
}
