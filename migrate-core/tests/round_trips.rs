//! A start with nothing to do on PostgreSQL and MySQL/MariaDB: one
//! statement after connecting (the summary's row, sent unprepared: one
//! round trip; no lock), counted on the wire by a proxy between sqlx and
//! the server. A hand edit is read in full.
//!
//! The proxy counts the statements the client sends and the statements it
//! has the server prepare: PostgreSQL's `Query`, `Parse` and `Execute`
//! messages, MySQL's `COM_QUERY`, `COM_STMT_PREPARE` and
//! `COM_STMT_EXECUTE`. Not counted: the pool's own check of a connection
//! given back to it (a bare `Sync`, `COM_PING`), which sqlx makes after
//! any use of a pooled connection, ours or the application's.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use migrate::Migrations;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::common::migration_dir;
use crate::servers::{Database, Kind};

/// Round trips the clients of a proxy started, all connections together.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl Counter {
    fn take(&self) -> usize {
        self.0.swap(0, Ordering::SeqCst)
    }
}

/// Starts a proxy to the server of `url`; returns its URL (the same
/// database, through the proxy, without TLS so that it can read) and its
/// counter.
async fn proxy(kind: Kind, url: &str) -> (String, Counter) {
    // scheme://user@host:port/database?query
    let authority_at = url.find("://").unwrap() + 3;
    let path_at = url[authority_at..]
        .find('/')
        .map_or(url.len(), |at| authority_at + at);
    let host_at = url[authority_at..path_at]
        .rfind('@')
        .map_or(authority_at, |at| authority_at + at + 1);
    let mut upstream = url[host_at..path_at].to_owned();
    if !upstream.contains(':') {
        upstream.push_str(match kind {
            Kind::Postgres => ":5432",
            Kind::MySql => ":3306",
        });
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let counter = Counter::default();
    let count = counter.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let server = TcpStream::connect(&upstream).await.unwrap();
            tokio::spawn(relay(kind, client, server, count.clone()));
        }
    });
    let no_tls = match kind {
        Kind::Postgres => "sslmode=disable",
        Kind::MySql => "ssl-mode=disabled",
    };
    let rest = &url[path_at..];
    let joined = if rest.contains('?') { '&' } else { '?' };
    let through = format!("{}127.0.0.1:{port}{rest}{joined}{no_tls}", &url[..host_at]);
    (through, counter)
}

/// Copies the server's bytes back as they come, and the client's message
/// by message, counting those that start a round trip.
async fn relay(kind: Kind, client: TcpStream, server: TcpStream, count: Counter) {
    let (mut client_in, mut client_out) = client.into_split();
    let (mut server_in, mut server_out) = server.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_in, &mut client_out).await;
    });
    let mut started = false;
    loop {
        let mut message = Vec::new();
        let read = match kind {
            // The startup message has no type byte; every later one does.
            Kind::Postgres => {
                let mut head = vec![0; if started { 5 } else { 4 }];
                if client_in.read_exact(&mut head).await.is_err() {
                    return;
                }
                let at = head.len() - 4;
                let length = u32::from_be_bytes(head[at..].try_into().unwrap()) as usize;
                if started && matches!(head[0], b'Q' | b'P' | b'E') {
                    count.0.fetch_add(1, Ordering::SeqCst);
                }
                started = true;
                message.extend_from_slice(&head);
                length - 4
            }
            Kind::MySql => {
                let mut head = [0; 4];
                if client_in.read_exact(&mut head).await.is_err() {
                    return;
                }
                message.extend_from_slice(&head);
                u32::from_le_bytes([head[0], head[1], head[2], 0]) as usize
            }
        };
        let at = message.len();
        message.resize(at + read, 0);
        if client_in.read_exact(&mut message[at..]).await.is_err()
            || server_out.write_all(&message).await.is_err()
        {
            return;
        }
        // A MySQL command is a packet with sequence number 0, its first
        // byte the command.
        if kind == Kind::MySql
            && message[3] == 0
            && matches!(message.get(4), Some(0x03 | 0x16 | 0x17))
        {
            count.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Applies a set through the proxy, then counts a start with nothing to
/// do; `edit` is then run by hand and the next start counted.
async fn starts<DB: migrate::sqlx::Backend>(kind: Kind, edit: &str) -> Option<(usize, usize)>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    let database = Database::create(kind).await?;
    let dir = migration_dir(&[
        ("1_a.sql", "CREATE TABLE a (id INT);"),
        ("2_b.sql", "CREATE TABLE b (id INT);"),
        ("3_c.sql", "CREATE TABLE c (id INT);"),
    ]);
    let set = Migrations::from_dir(dir.path()).unwrap();
    let (url, counter) = proxy(kind, &database.url).await;
    // One connection, connected before counting; no ping before each use.
    let pool = sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect(&url)
        .await
        .unwrap();
    migrate::sqlx::run(&pool, &set).await.unwrap();
    counter.take();
    let report = migrate::sqlx::run(&pool, &set).await.unwrap();
    assert!(report.steps.is_empty());
    let no_op = counter.take();
    sqlx::raw_sql(sqlx::AssertSqlSafe(edit.to_owned()))
        .execute(&pool)
        .await
        .unwrap();
    counter.take();
    let _ = migrate::sqlx::run(&pool, &set).await;
    let edited = counter.take();
    pool.close().await;
    Some((no_op, edited))
}

const EDITS: [&str; 4] = [
    "DELETE FROM _migrate_history WHERE version = 2",
    "UPDATE _migrate_history SET checksum = 'x' WHERE version = 1",
    "UPDATE _migrate_history SET success = FALSE WHERE version = 3",
    "TRUNCATE _migrate_history",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_no_op_start_is_one_round_trip_and_a_hand_edit_is_read_in_full() {
    for edit in EDITS {
        let Some((no_op, edited)) = starts::<sqlx::Postgres>(Kind::Postgres, edit).await else {
            return;
        };
        assert_eq!(no_op, 1, "no-op start");
        assert!(edited > 1, "{edit}: {edited} round trip(s)");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_mysql_a_no_op_start_is_one_round_trip_and_a_hand_edit_is_read_in_full() {
    for edit in EDITS {
        let Some((no_op, edited)) = starts::<sqlx::MySql>(Kind::MySql, edit).await else {
            return;
        };
        assert_eq!(no_op, 1, "no-op start");
        assert!(edited > 1, "{edit}: {edited} round trip(s)");
    }
}
