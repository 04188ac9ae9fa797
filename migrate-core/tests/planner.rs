//! The planner alone: table-driven rules and property tests over random
//! migration sets, histories and targets.

use migrate::plan::{AppliedRow, UpToDate, plan, status};
use migrate::{Direction, Error, Migration, Options, Script, State, Target};
use proptest::prelude::*;

fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

/// A migration with a synthetic script; `reversible` adds a down script.
fn migration(version: i64, reversible: bool) -> Migration {
    let up = Script::__embedded(leak(format!("{version}_m.up.sql")), "SELECT 1;", false);
    let down = reversible
        .then(|| Script::__embedded(leak(format!("{version}_m.down.sql")), "SELECT 2;", false));
    Migration::__embedded(version, "m", leak(format!("sum{version}")), up, down)
}

fn row(m: &Migration, at: usize) -> AppliedRow {
    AppliedRow {
        version: m.version(),
        name: m.name().to_owned(),
        checksum: m.checksum().to_owned(),
        applied_at: format!("2026-01-01T00:00:00.{at:06}Z"),
        execution_ms: 0,
        success: true,
        has_down_sql: m.down().is_some(),
    }
}

/// Carries a plan out on an in-memory history, as a runner would.
fn carry_out(
    known: &[Migration],
    history: &mut Vec<AppliedRow>,
    direction: Direction,
    target: Target,
    options: &Options,
) -> Result<Vec<i64>, Error> {
    let planned = plan(known, history, direction, target, options)?;
    let steps: Vec<i64> = planned.steps.iter().map(|s| s.version).collect();
    for version in &steps {
        match direction {
            Direction::Up => {
                let m = known.iter().find(|m| m.version() == *version).unwrap();
                let at = history.len()
                    + 1000
                    + history.iter().map(|r| r.applied_at.len()).sum::<usize>();
                history.push(row(m, at));
            }
            Direction::Down => history.retain(|r| r.version != *version),
        }
    }
    Ok(steps)
}

fn applied_order(history: &[AppliedRow]) -> Vec<i64> {
    let mut rows: Vec<&AppliedRow> = history.iter().collect();
    rows.sort_by(|a, b| {
        a.applied_at
            .cmp(&b.applied_at)
            .then(a.version.cmp(&b.version))
    });
    rows.into_iter().map(|r| r.version).collect()
}

/// A random set: distinct sorted versions, each reversible or not, and a
/// history that applied a random subset in a random order.
fn scenario() -> impl Strategy<Value = (Vec<Migration>, Vec<AppliedRow>)> {
    proptest::collection::btree_map(0i64..40, any::<bool>(), 0..12).prop_flat_map(|map| {
        let known: Vec<Migration> = map.iter().map(|(v, r)| migration(*v, *r)).collect();
        let n = known.len();
        (
            Just(known),
            proptest::collection::vec(any::<bool>(), n),
            Just(()).prop_perturb(move |_, mut rng| {
                let mut order: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    let j = (rng.next_u32() as usize) % (i + 1);
                    order.swap(i, j);
                }
                order
            }),
        )
            .prop_map(|(known, chosen, order)| {
                let history: Vec<AppliedRow> = order
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| chosen[**i])
                    .map(|(at, i)| row(&known[*i], at))
                    .collect();
                (known, history)
            })
    })
}

fn lenient() -> Options {
    Options::default().allow_out_of_order(true)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn upgrading_to_head_applies_every_pending_step_once((known, start) in scenario()) {
        let mut history = start.clone();
        let steps = carry_out(&known, &mut history, Direction::Up, Target::Head, &lenient()).unwrap();
        let mut unique = steps.clone();
        unique.sort_unstable();
        unique.dedup();
        prop_assert_eq!(unique.len(), steps.len(), "no step planned twice");
        prop_assert!(steps.windows(2).all(|w| w[0] < w[1]), "pending steps run in version order");
        prop_assert_eq!(history.len(), known.len());
        let again = plan(&known, &history, Direction::Up, Target::Head, &Options::default()).unwrap();
        prop_assert!(again.steps.is_empty(), "planning again yields nothing");
    }

    #[test]
    fn an_upgrade_never_skips_a_pending_step_below_its_target((known, start) in scenario(), pick in any::<prop::sample::Index>()) {
        prop_assume!(!known.is_empty());
        let target = known[pick.index(known.len())].version();
        let mut history = start.clone();
        if let Err(err) = carry_out(&known, &mut history, Direction::Up, Target::Version(target), &lenient()) {
            // The one refusal: nothing pending up to the target, which lies below the current version.
            let current = start.iter().map(|r| r.version).max();
            prop_assert!(matches!(err, Error::TargetBelowCurrent { .. }), "{}", err);
            prop_assert!(current.is_some_and(|c| target < c));
            prop_assert!(known.iter().all(|m| m.version() > target || start.iter().any(|r| r.version == m.version())));
            return Ok(());
        }
        for m in &known {
            let applied = history.iter().any(|r| r.version == m.version());
            let was = start.iter().any(|r| r.version == m.version());
            prop_assert_eq!(applied, was || m.version() <= target, "version {}", m.version());
        }
    }

    #[test]
    fn forward_n_takes_the_n_lowest_pending((known, start) in scenario(), n in 1u32..5) {
        let pending: Vec<i64> = known.iter().map(|m| m.version()).filter(|v| !start.iter().any(|r| r.version == *v)).collect();
        let mut history = start.clone();
        match carry_out(&known, &mut history, Direction::Up, Target::Forward(n), &lenient()) {
            Ok(steps) => prop_assert_eq!(&steps[..], &pending[..n as usize]),
            Err(Error::NotEnoughSteps { available, .. }) => {
                prop_assert!(pending.len() < n as usize);
                prop_assert_eq!(available, pending.len());
                prop_assert_eq!(history, start);
            }
            Err(other) => prop_assert!(false, "{}", other),
        }
    }

    #[test]
    fn up_then_down_returns_to_the_start((known, start) in scenario()) {
        let mut history = start.clone();
        let applied = carry_out(&known, &mut history, Direction::Up, Target::Head, &lenient()).unwrap();
        prop_assume!(!applied.is_empty());
        let after_up = history.clone();
        let back = Target::Back(applied.len() as u32);
        let all_reversible = applied.iter().all(|v| known.iter().any(|m| m.version() == *v && m.down().is_some()));
        match carry_out(&known, &mut history, Direction::Down, back, &Options::default()) {
            Ok(reverted) => {
                prop_assert!(all_reversible);
                let mut expected = applied.clone();
                expected.reverse();
                prop_assert_eq!(reverted, expected, "undone newest first, in application order");
                prop_assert_eq!(applied_order(&history), applied_order(&start));
            }
            Err(Error::Irreversible { version, .. }) => {
                prop_assert!(!all_reversible);
                prop_assert!(known.iter().any(|m| m.version() == version && m.down().is_none()));
                prop_assert_eq!(history, after_up, "a refused downgrade changes nothing");
            }
            Err(other) => prop_assert!(false, "{}", other),
        }
    }

    #[test]
    fn a_downgrade_to_a_version_keeps_exactly_what_is_at_or_below_it((known, start) in scenario(), pick in any::<prop::sample::Index>()) {
        prop_assume!(!known.is_empty());
        let target = known[pick.index(known.len())].version();
        let mut history = start.clone();
        match carry_out(&known, &mut history, Direction::Down, Target::Version(target), &Options::default()) {
            Ok(_) => {
                let mut left: Vec<i64> = history.iter().map(|r| r.version).collect();
                left.sort_unstable();
                let mut expected: Vec<i64> = start.iter().map(|r| r.version).filter(|v| *v <= target).collect();
                expected.sort_unstable();
                prop_assert_eq!(left, expected);
            }
            Err(Error::Irreversible { version, .. }) => {
                prop_assert!(version > target);
                prop_assert_eq!(history, start);
            }
            Err(other) => prop_assert!(false, "{}", other),
        }
    }

    /// The runners' fast path never disagrees with the planner: it says "up
    /// to date" exactly when an upgrade to head plans nothing and fails on
    /// nothing, over histories that are complete or not, with dirty marks,
    /// edited checksums and unknown versions, in any row order and with any
    /// options.
    #[test]
    fn the_fast_path_says_up_to_date_exactly_when_the_planner_plans_nothing(
        (known, history) in untidy(),
        (ignore_checksums, allow_unknown, allow_out_of_order) in any::<(bool, bool, bool)>(),
    ) {
        let options = Options::default()
            .ignore_checksums(ignore_checksums)
            .allow_unknown(allow_unknown)
            .allow_out_of_order(allow_out_of_order);
        let mut check = UpToDate::new(&known, &options);
        // Reading stops at the first row that rules it out, as the runners do.
        let fast = history
            .iter()
            .all(|r| check.row(r.version, &r.checksum, r.success))
            && check.finish();
        let planned = plan(&known, &history, Direction::Up, Target::Head, &options);
        let all_known = history.iter().all(|r| known.iter().any(|m| m.version() == r.version));
        let nothing_to_do = matches!(&planned, Ok(p) if p.steps.is_empty());
        prop_assert_eq!(fast, nothing_to_do && all_known, "{:?}", planned);
        if fast {
            let head = known.last().map(Migration::version);
            prop_assert_eq!(planned.unwrap().from, head);
        }
    }
}

/// A scenario made untidy: some rows full (every known version applied),
/// some marked dirty, some with another checksum, some unknown versions
/// added, and the rows shuffled.
fn untidy() -> impl Strategy<Value = (Vec<Migration>, Vec<AppliedRow>)> {
    (
        scenario(),
        any::<bool>(),
        proptest::collection::vec(0u8..20, 0..40),
        proptest::collection::btree_set(40i64..50, 0..3),
    )
        .prop_map(|((known, mut history), complete, dice, unknown)| {
            if complete {
                for m in &known {
                    if !history.iter().any(|r| r.version == m.version()) {
                        let at = history.len();
                        history.push(row(m, at));
                    }
                }
            }
            for (row, die) in history.iter_mut().zip(&dice) {
                match die {
                    0 => row.success = false,
                    1 => row.checksum.push('x'),
                    _ => {}
                }
            }
            for version in unknown {
                let m = migration(version, false);
                let at = history.len();
                history.push(row(&m, at));
            }
            if let Some(die) = dice.first() {
                let n = history.len().max(1);
                history.rotate_left(usize::from(*die) % n);
            }
            (known, history)
        })
}

/// An untidy scenario where the build may also have lost one migration that
/// was applied (or not), so an unknown version can lie below the head, not
/// only above it.
fn drifting() -> impl Strategy<Value = (Vec<Migration>, Vec<AppliedRow>)> {
    (untidy(), any::<bool>(), any::<prop::sample::Index>()).prop_map(
        |((mut known, history), forget, pick)| {
            if forget && !known.is_empty() {
                known.remove(pick.index(known.len()));
            }
            (known, history)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// `status` reports drift exactly when an upgrade to head with the same
    /// options refuses the history for an edit, an unknown version, a
    /// database ahead of the build or an out-of-order step. A dirty mark
    /// makes the planner refuse with `Dirty` before it looks at anything
    /// else, while `drift` ignores dirty marks: with every row marked clean,
    /// the planner then gives the answer `drift` stands for.
    #[test]
    fn status_drift_agrees_with_plan(
        (known, history) in drifting(),
        (ignore_checksums, allow_unknown, allow_out_of_order) in any::<(bool, bool, bool)>(),
    ) {
        let options = Options::default()
            .ignore_checksums(ignore_checksums)
            .allow_unknown(allow_unknown)
            .allow_out_of_order(allow_out_of_order);
        let status = status(&known, &history, &options);
        let planned = plan(&known, &history, Direction::Up, Target::Head, &options);
        let first_dirty = history.iter().filter(|r| !r.success).map(|r| r.version).min();
        prop_assert_eq!(status.dirty, first_dirty.is_some());
        let refused = if let Some(dirty) = first_dirty {
            prop_assert!(
                matches!(&planned, Err(Error::Dirty { version, .. }) if *version == dirty),
                "{:?}",
                planned
            );
            let mut clean = history.clone();
            for row in &mut clean {
                row.success = true;
            }
            plan(&known, &clean, Direction::Up, Target::Head, &options)
        } else {
            planned
        };
        let drift_refusal = matches!(
            &refused,
            Err(Error::ChecksumMismatch { .. }
                | Error::UnknownApplied { .. }
                | Error::DatabaseAhead { .. }
                | Error::OutOfOrder { .. })
        );
        prop_assert!(refused.is_ok() || drift_refusal, "no other refusal: {:?}", refused);
        prop_assert_eq!(status.drift, drift_refusal, "{:?}", refused);
    }
}

#[test]
fn every_rule_is_decided_by_the_planner() {
    let known: Vec<Migration> = (1..=4).map(|v| migration(v, v != 2)).collect();
    let options = Options::default();
    let up = |history: &[AppliedRow]| plan(&known, history, Direction::Up, Target::Head, &options);

    let mut dirty = row(&known[0], 1);
    dirty.success = false;
    // Named by its file where the build has it, else by its recorded name.
    assert!(matches!(
        up(&[dirty]),
        Err(Error::Dirty {
            version: 1,
            name,
            previous: None,
            newest: 1,
            ..
        }) if name == "1_m.up.sql"
    ));
    let mut unknown = row(&known[0], 2);
    (unknown.version, unknown.name, unknown.success) = (9, "gone".into(), false);
    assert!(matches!(
        plan(&known, &[row(&known[0], 1), unknown], Direction::Up, Target::Head, &Options::default().allow_unknown(true)),
        Err(Error::Dirty {
            version: 9,
            name,
            previous: Some(1),
            newest: 9,
            also,
        }) if name == "gone" && also == [2, 3, 4]
    ));

    let mut edited = row(&known[0], 1);
    edited.checksum = "other".into();
    assert!(matches!(
        up(&[edited.clone()]),
        Err(Error::ChecksumMismatch { version: 1, .. })
    ));
    assert!(
        plan(
            &known,
            &[edited],
            Direction::Up,
            Target::Head,
            &Options::default().ignore_checksums(true)
        )
        .is_ok()
    );

    let ahead = row(&migration(9, true), 2);
    assert!(matches!(
        up(&[row(&known[0], 1), ahead.clone()]),
        Err(Error::DatabaseAhead {
            current: 9,
            head: Some(4)
        })
    ));
    let gone = row(&migration(0, true), 0);
    assert!(matches!(
        up(&[gone]),
        Err(Error::UnknownApplied { version: 0, .. })
    ));

    assert!(matches!(
        up(&[row(&known[2], 1)]),
        Err(Error::OutOfOrder {
            version: 1,
            current: 3,
            ..
        })
    ));

    // A downgrade of an unknown version uses its recorded down script.
    let down = plan(
        &known,
        &[row(&known[0], 1), ahead],
        Direction::Down,
        Target::Head,
        &options,
    )
    .unwrap();
    assert_eq!(down.steps.len(), 1);
    assert_eq!(down.steps[0].action, migrate::plan::Action::RevertRecorded);
    assert_eq!((down.from, down.to), (Some(9), Some(1)));
}

/// `check`'s culprit follows the options as `status`'s drift does: an
/// unknown version that `allow_unknown` lets pass is not named, the edited
/// file after it is; a dirty mark comes first.
#[test]
fn the_culprit_is_what_the_options_make_drift() {
    let known: Vec<Migration> = (2..=4).map(|v| migration(v, true)).collect();
    let mut unknown = row(&known[0], 1);
    (unknown.version, unknown.name) = (1, "gone".into());
    let mut edited = row(&known[0], 2);
    edited.checksum = "other".into();
    let history_rows = [unknown, edited, row(&known[1], 3)];
    let culprit = |options: &Options, rows: &[AppliedRow]| {
        let status = migrate::plan::status(&known, rows, options);
        let history = migrate::plan::history(&known, rows);
        migrate::plan::culprit(&history, &status, options).map(|entry| (entry.version, entry.state))
    };
    assert_eq!(
        culprit(&Options::default(), &history_rows),
        Some((1, State::Unknown))
    );
    assert_eq!(
        culprit(&Options::default().allow_unknown(true), &history_rows),
        Some((2, State::Modified))
    );
    assert_eq!(
        culprit(
            &Options::default()
                .allow_unknown(true)
                .ignore_checksums(true),
            &history_rows
        ),
        None
    );
    let mut dirty = history_rows.clone();
    dirty[2].success = false;
    assert_eq!(
        culprit(&Options::default(), &dirty),
        Some((3, State::Dirty))
    );
}
