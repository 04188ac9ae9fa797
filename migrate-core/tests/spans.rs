//! Every step is a `tracing` span with version, name, direction and
//! duration.
//!
//! A binary of its own, with this one test: `tracing` caches each callsite's
//! interest process-wide, and a callsite first reached by another test's
//! thread while this test's scoped subscriber is being registered can keep
//! the interest computed without it ("never"), which loses every span. Alone
//! in its process, the capture depends on nothing else.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// A span's name and fields.
type Span = (String, BTreeMap<String, String>);

/// Collects every span's fields, including those recorded later.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<Span>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>> Layer<S>
    for Spans
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut spans = self.0.lock().unwrap();
        fields.insert("#id".into(), id.into_u64().to_string());
        spans.push((attrs.metadata().name().to_owned(), fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        let key = id.into_u64().to_string();
        if let Some((_, fields)) = spans
            .iter_mut()
            .rev()
            .find(|(_, f)| f.get("#id") == Some(&key))
        {
            values.record(&mut Fields(fields));
        }
    }
}

#[test]
fn every_step_is_a_span_with_version_name_and_duration() {
    let set = migrate::Migrations::from_dir(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/app"),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("app.db")).unwrap();
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    tracing::subscriber::with_default(subscriber, || {
        migrate::run(&conn, &set).unwrap();
    });
    let spans = spans.0.lock().unwrap();
    let steps: Vec<(String, String, String, bool)> = spans
        .iter()
        .filter(|(name, _)| name == "migration")
        .map(|(_, f)| {
            (
                f["version"].clone(),
                f["name"].clone(),
                f["direction"].clone(),
                f.contains_key("duration_ms"),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("1", "create_users"),
            ("2", "create_tokens"),
            ("3", "create_items"),
            ("4", "index_items_owner"),
            ("5", "users_display_name"),
            ("6", "users_item_count")
        ]
        .map(|(v, n)| (v.to_owned(), n.to_owned(), "Up".to_owned(), true))
    );
}
