//! The execution stage: how each step of a plan runs, decided once for
//! every backend.
//!
//! The planner decides *what* runs. This module decides *how*: whether a
//! step runs inside a transaction, when the step's lock is taken, when the
//! history table is created or brought up to date, when the history is read
//! again under the lock and the remaining steps re-planned, when a step is
//! marked in flight, and which history write follows each script. It does
//! so by calling the operations of a [`Perform`], in order, and doing
//! nothing else: the rusqlite driver, the sqlx driver and the preview
//! (`--sql`, `--dry-run`) are each one implementation of that trait, so what
//! is printed is by construction what runs.
//!
//! The program is written as `async` code so that it is written once: the
//! sqlx driver awaits real I/O, while the rusqlite driver and the preview
//! answer every operation at once and are driven by [`block_on`].
//!
//! The rules, per dialect (see [`Rules`]):
//! - SQLite and PostgreSQL run each step in a transaction, with its history
//!   row, unless the script says `-- migrate:no-transaction`; MySQL/MariaDB
//!   commit DDL implicitly, so there every step runs outside one.
//! - A step that runs outside a transaction is first marked in flight (its
//!   row written with `success = false`, or set so for a revert), and the
//!   mark is committed before the script runs.
//! - PostgreSQL's `LockMode::Transaction` takes the step's lock first thing
//!   in each step's transaction and reads the history again in each; the
//!   other modes hold a lock for the whole run, taken by the caller, and
//!   read the history again once under it (SQLite: only when another
//!   connection committed since the read without the lock).

mod marks;
mod ops;
mod retry;
mod rules;
mod summary;
#[cfg(test)]
mod tests;

pub(crate) use ops::{Perform, PerformNow, Resolved, Sending, Write};
pub(crate) use rules::{Rules, Start, start};
use summary::Summary;

use std::borrow::Cow;
use std::future::Future;
use std::time::Instant;

use crate::plan::{self, Action, AppliedRow, Plan, Step};
use crate::report::{Direction, Report, Stamp, Stamped, StampedRow, StepReport};
use crate::run::{History, Table, finish_step, log_step, step_failed, step_span};
use crate::{Error, Migration, Options, Target, TransactionMode};

/// Runs a program whose operations never wait (the rusqlite driver, the
/// preview) to its end.
pub(crate) fn block_on<T>(program: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
    let mut program = std::pin::pin!(program);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match program.as_mut().poll(&mut context) {
        std::task::Poll::Ready(result) => result,
        // Only a backend that awaits real I/O can be pending; those are
        // awaited, never driven here.
        std::task::Poll::Pending => Err(Error::Database {
            action: "run the migration program".to_owned(),
            message: "an operation did not complete at once".to_owned(),
            source: None,
        }),
    }
}

/// What a run needs: the history as read without the lock and the plan
/// made from it (if any).
pub(crate) struct Run<'m, 'o> {
    pub rules: Rules,
    pub options: &'o Options,
    pub known: &'m [Migration],
    pub direction: Direction,
    pub target: Target,
    pub table: Table,
    pub first: Option<Plan<'m>>,
    /// The data version read before the history, where there is one.
    pub data_version: Option<i64>,
    /// The summary's change counter, read before the history (`None`: no
    /// summary beside the table yet).
    pub changes: Option<i64>,
}

/// What a run did: where it started and the steps it completed.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub steps: Vec<StepReport>,
}

impl Outcome {
    /// The report of the run, with the backup made before it, if any.
    pub(crate) fn report(self, direction: Direction, backup: Option<std::path::PathBuf>) -> Report {
        Report {
            direction,
            from: self.from,
            to: self.to,
            steps: self.steps,
            backup,
        }
    }
}

/// Runs a plan: the program of every step, under the run's lock (taken by
/// the caller where the dialect has one).
pub(crate) async fn run<'m, P: Perform>(p: &mut P, run: Run<'m, '_>) -> Result<Outcome, Error> {
    let table_ready = matches!(run.table, Table::Rows(_));
    let outdated = matches!(run.table, Table::Outdated(_));
    let rows = run.table.into_rows();
    let summary = Summary::new(&rows, run.changes);
    let mut x = Execution {
        rules: run.rules,
        options: run.options,
        known: run.known,
        direction: run.direction,
        target: run.target,
        from: run.first.as_ref().and_then(|plan| plan.from),
        planned: run.first.is_some(),
        steps: run.first.map(|plan| plan.steps).unwrap_or_default(),
        summary_ensured: summary.available(),
        summary,
        open: false,
        history: History::new(rows),
        table_ready,
        data_version: run.data_version,
        read_under_lock: false,
        confirmed: false,
        completed: Vec::new(),
        deferred: None,
        foreign_keys: None,
        lock_wait: false,
        tries: 0,
        commits: 0,
    };
    let all_in_one = x.all_in_one_transaction();
    // The table, where it is not made in the first step's transaction (or,
    // a missing one, in the one transaction of all steps where DDL is
    // transactional: one commit in all).
    let in_the_transaction = all_in_one && !outdated && x.rules.transactional();
    if !x.table_ready && !x.rules.lock_per_step() && !in_the_transaction {
        make_table(p, x.rules, outdated).await?;
        x.table_ready = true;
    }
    if all_in_one {
        x.all_in_one(p).await?;
    } else {
        x.per_step(p).await?;
    }
    Ok(Outcome {
        from: x.from,
        to: x.history.head(),
        steps: x.completed,
    })
}

/// Creates the history table, or (`outdated`) brings its format up to
/// date in a transaction of its own where DDL is transactional.
async fn make_table<P: Perform>(p: &mut P, rules: Rules, outdated: bool) -> Result<(), Error> {
    let own_transaction = outdated && rules.transactional();
    if own_transaction {
        p.begin().await?;
        if rules.lock_per_step() {
            p.lock_step().await?;
        }
    }
    p.ensure_table().await?;
    if own_transaction {
        p.commit().await?;
    }
    Ok(())
}

/// `stamp`: the history recorded as if at `target`, no script run, in one
/// transaction under the run's lock (taken by the caller).
pub(crate) async fn stamp<'m, P: Perform>(
    p: &mut P,
    rules: Rules,
    known: &'m [Migration],
    target: Target,
) -> Result<Stamped, Error> {
    // MySQL commits DDL implicitly: the table first, then the transaction.
    let mut summarized = false;
    if !rules.transactional() {
        p.ensure_table().await?;
        summarized = p.ensure_summary().await?;
    }
    p.begin().await?;
    if rules.lock_per_step() {
        p.lock_step().await?;
    }
    if rules.transactional() {
        p.ensure_table().await?;
        summarized = p.ensure_summary().await?;
    }
    let changes = if summarized {
        p.read_changes().await?
    } else {
        None
    };
    let mut history = History::new(p.read_history().await?);
    let mut summary = Summary::new(&history.rows, changes);
    let from = history.head();
    let stamp = plan::plan_stamp(known, &history.rows, target)?;
    // What each row was called, before the writes change the history.
    let recorded_name = |version: i64| {
        known
            .iter()
            .find(|migration| migration.version() == version)
            .map(|migration| migration.name().to_owned())
            .or_else(|| {
                history
                    .rows
                    .iter()
                    .find(|row| row.version == version)
                    .map(|row| row.name.clone())
            })
            .unwrap_or_default()
    };
    let mut rows: Vec<StampedRow> = stamp
        .delete
        .iter()
        .map(|&version| (version, Stamp::Removed))
        .chain(
            stamp
                .mark_clean
                .iter()
                .map(|(version, _)| (*version, Stamp::Cleared)),
        )
        .chain(
            stamp
                .insert
                .iter()
                .map(|migration| (migration.version(), Stamp::Recorded)),
        )
        .map(|(version, change)| StampedRow {
            version,
            name: recorded_name(version),
            change,
        })
        .collect();
    rows.sort_by_key(|row| row.version);
    let mut writes: Vec<Write<'m>> = stamp.delete.iter().map(|v| Write::Delete(*v)).collect();
    writes.extend(
        stamp
            .mark_clean
            .into_iter()
            .map(|(version, checksum)| Write::MarkClean { version, checksum }),
    );
    for write in &writes {
        history.apply(write);
    }
    for migration in stamp.insert {
        let write = Write::Insert {
            row: history.new_row(migration, 0, true),
            down_sql: migration.down().map(crate::Script::sql),
        };
        history.apply(&write);
        writes.push(write);
    }
    for write in &writes {
        p.write(write).await?;
        summary.wrote(write);
    }
    if let Some(write) = summary.record() {
        p.write(&write).await?;
    }
    p.commit().await?;
    Ok(Stamped {
        from,
        to: history.head(),
        rows,
    })
}

struct Execution<'m, 'o> {
    rules: Rules,
    options: &'o Options,
    known: &'m [Migration],
    direction: Direction,
    target: Target,
    from: Option<i64>,
    /// False until a plan is made (under the lock, when the read without
    /// it could not plan).
    planned: bool,
    /// The steps still to run.
    steps: Vec<Step<'m>>,
    history: History,
    /// The history's summary, kept with every write.
    summary: Summary,
    /// The summary was made (or found) already this run.
    summary_ensured: bool,
    /// A transaction is open: the summary is recorded before its commit
    /// (outside one, right after each write).
    open: bool,
    table_ready: bool,
    data_version: Option<i64>,
    /// The history was read under the run's lock already.
    read_under_lock: bool,
    /// The plan was made, or found still true, under the run's lock: a
    /// relative or version target is resolved there, against the history
    /// as it is then, so that concurrent runs end as some serial order of
    /// them would.
    confirmed: bool,
    completed: Vec<StepReport>,
    /// In all-in-one mode, what each step done leaves to write to the
    /// history: after the last script, in the same transaction.
    deferred: Option<Vec<Done<'m>>>,
    /// Whether the schema declares a foreign key, as last read (`None`:
    /// not read yet, or another connection has written since).
    foreign_keys: Option<bool>,
    /// The last step failed waiting for a lock, and nothing of it stays.
    lock_wait: bool,
    /// How many times the current step failed so.
    tries: u32,
    /// Transactions the run committed.
    commits: u32,
}

impl<'m> Execution<'m, '_> {
    /// Whether the steps run in one transaction: `Single`, or `Auto` where
    /// the plan is made (not deferred to the lock), the dialect's DDL is
    /// transactional, there is more than one step, and every step's script
    /// is at hand and runs inside a transaction.
    fn all_in_one_transaction(&self) -> bool {
        match self.options.mode() {
            TransactionMode::PerStep => false,
            TransactionMode::Single => true,
            TransactionMode::Auto => {
                self.planned
                    && self.rules.transactional()
                    && self.steps.len() > 1
                    && self.steps.iter().all(|step| {
                        step.script()
                            .is_some_and(|script| !self.rules.outside(script.no_transaction()))
                    })
            }
        }
    }

    /// Opens a step's transaction: the transaction, the step's lock, the
    /// table where it is made here, and the history read again if it may
    /// have moved.
    async fn open<P: Perform>(&mut self, p: &mut P) -> Result<(), Error> {
        if self.rules.transactional() {
            self.begin(p).await?;
            if self.rules.lock_per_step() {
                p.lock_step().await?;
            }
        }
        if !self.table_ready {
            p.ensure_table().await?;
            self.table_ready = true;
        }
        // MySQL/MariaDB: the summary, where missing, before the first
        // step, outside any transaction (DDL would commit one); the history
        // is then read again after its counter, so that the two agree.
        // Elsewhere it is made in the run's last transaction (`record`),
        // so that no step before pays for its triggers. A read-only verb
        // never comes here.
        let mut force = false;
        if !self.rules.transactional() && !std::mem::replace(&mut self.summary_ensured, true) {
            force = p.ensure_summary().await?;
        }
        self.refresh(p, force).await
    }

    /// Opens a transaction.
    async fn begin<P: Perform>(&mut self, p: &mut P) -> Result<(), Error> {
        // A run that commits more than once keeps the journal from its
        // second transaction on.
        if self.commits == 1 {
            p.keep_journal().await;
        }
        p.begin().await?;
        self.open = true;
        Ok(())
    }

    /// Commits the open transaction; the last of the run with the
    /// summary of the run's writes.
    async fn commit<P: Perform>(&mut self, p: &mut P) -> Result<(), Error> {
        self.record(p).await?;
        p.commit().await?;
        self.commits = self.commits.saturating_add(1);
        self.summary.committed();
        self.open = false;
        Ok(())
    }

    /// Rolls the open transaction back, and the summary's writes with it.
    async fn rollback<P: Perform>(&mut self, p: &mut P) -> Result<(), Error> {
        self.open = false;
        self.summary.rolled_back();
        p.rollback().await
    }

    /// Writes to the history table, keeping the run's history and summary
    /// in step; outside a transaction, the summary right after.
    async fn write<P: Perform>(&mut self, p: &mut P, write: &Write<'_>) -> Result<(), Error> {
        self.history.apply(write);
        p.write(write).await?;
        self.summary.wrote(write);
        if !self.open {
            self.summary.committed();
            self.record(p).await?;
        }
        Ok(())
    }

    /// Once no step is left: the summary of the run's writes, in the same
    /// transaction as the last of them (or right after it, outside one).
    /// Until then the triggers' counts of the run's own writes keep the
    /// summary from being read, so a run that dies half-way leaves it
    /// unread; one statement per run instead of one per step.
    async fn record<P: Perform>(&mut self, p: &mut P) -> Result<(), Error> {
        if !self.steps.is_empty() {
            return Ok(());
        }
        if !std::mem::replace(&mut self.summary_ensured, true) && p.ensure_summary().await? {
            // Made just now, after every write of the run: the history
            // read again after its counter is what the summary records.
            self.summary.made();
            let rows = self.read_again(p).await?;
            self.history.replace(rows);
        }
        if let Some(write) = self.summary.record() {
            p.write(&write).await?;
        }
        Ok(())
    }

    /// Reads the history again, after the summary's counter.
    async fn read_again<P: Perform>(&mut self, p: &mut P) -> Result<Vec<AppliedRow>, Error> {
        let changes = if self.summary.available() {
            p.read_changes().await?
        } else {
            None
        };
        let rows = p.read_history().await?;
        self.summary.reset(&rows, changes);
        Ok(rows)
    }

    /// Under the lock: reads the history again and re-plans the remaining
    /// steps when it may have moved since it was read.
    async fn refresh<P: Perform>(&mut self, p: &mut P, force: bool) -> Result<(), Error> {
        let moved = match p.data_version().await? {
            Some(now) => self.data_version.replace(now) != Some(now),
            None => !self.read_under_lock || self.rules.lock_per_step(),
        } || force;
        if moved {
            self.foreign_keys = None;
        }
        if force {
            self.summary.made();
        }
        let confirmed = std::mem::replace(&mut self.confirmed, true);
        if self.planned && !moved {
            return Ok(());
        }
        self.read_under_lock = true;
        let rows = self.read_again(p).await?;
        self.history.replace(rows);
        if self.planned && confirmed {
            self.steps = plan::replan(
                self.known,
                &self.history.rows,
                &self.steps,
                self.direction,
                self.options,
            )?;
        } else {
            let plan = plan::plan(
                self.known,
                &self.history.rows,
                self.direction,
                self.target,
                self.options,
            )?;
            self.rules.check_all(&plan.steps)?;
            self.from = plan.from;
            self.steps = plan.steps;
            self.planned = true;
        }
        Ok(())
    }

    async fn per_step<P: Perform>(&mut self, p: &mut P) -> Result<(), Error> {
        loop {
            if let Some(step) = self.steps.first() {
                p.announce(step);
            } else if self.planned {
                return Ok(());
            }
            self.open(p).await?;
            if self.steps.is_empty() {
                // Another runner did it all meanwhile.
                if self.rules.transactional() {
                    self.commit(p).await?;
                }
                return Ok(());
            }
            let step = self.steps.remove(0);
            let script = self.resolve(p, &step).await?;
            p.admits(&step, &script)?;
            let ran = if self.rules.outside(script.no_transaction) {
                self.outside_step(p, &step, &script).await
            } else {
                match self.step(p, &step, &script, false).await {
                    Ok(()) => self.commit(p).await,
                    Err(err) => Err(err),
                }
            }
            .map_err(|err| match err {
                // A lease lost at this step: named (rolled back, or left
                // dirty where its script ran outside a transaction).
                Error::LeaseLost { lease, dirty, .. } => Error::LeaseLost {
                    lease,
                    version: Some(step.version),
                    file: Some(script.file.clone()),
                    dirty,
                },
                err => err,
            });
            match ran {
                Ok(()) => self.tries = 0,
                Err(err) => self.retry(p, step, &script, err).await?,
            }
        }
    }

    async fn all_in_one<P: Perform>(&mut self, p: &mut P) -> Result<(), Error> {
        self.open(p).await?;
        let steps = std::mem::take(&mut self.steps);
        let mut scripts = Vec::with_capacity(steps.len());
        for step in &steps {
            let script = self.resolve(p, step).await?;
            p.admits(step, &script)?;
            if script.no_transaction {
                return Err(Error::NoTransactionInSingle {
                    version: step.version,
                    file: script.file,
                });
            }
            scripts.push(script);
        }
        // One list of plain numbers is allocated before the first script;
        // the history rows and the report are made after the last, so
        // that nothing the run keeps is allocated among what SQLite makes
        // and frees for each script (its schema, reloaded by every `ALTER
        // TABLE`).
        self.deferred = Some(Vec::with_capacity(steps.len()));
        for (index, (step, script)) in steps.iter().zip(&scripts).enumerate() {
            p.announce(step);
            // On failure the one transaction rolls back: nothing completed,
            // the steps before this one undone with it.
            self.step(p, step, script, false).await.map_err(|mut err| {
                if let Error::Step {
                    completed,
                    with_earlier_steps,
                    ..
                } = &mut err
                {
                    *completed = Box::default();
                    *with_earlier_steps = index > 0;
                }
                err
            })?;
        }
        self.completed.reserve(steps.len());
        self.history.rows.reserve(steps.len());
        for (step, done) in steps.iter().zip(self.deferred.take().unwrap_or_default()) {
            let write = self.deferred_write(&done);
            self.write(p, &write)
                .await
                .inspect_err(|_| self.completed.clear())?;
            self.completed.push(StepReport {
                version: step.version,
                name: step.name.clone(),
                duration_ms: done.duration_ms,
            });
        }
        self.commit(p).await.inspect_err(|_| self.completed.clear())
    }

    async fn resolve<P: Perform>(&self, p: &mut P, step: &Step<'m>) -> Result<Resolved<'m>, Error> {
        if let Some(script) = step.script() {
            return Ok(Resolved {
                file: step.file(),
                sql: Cow::Borrowed(script.sql()),
                no_transaction: script.no_transaction(),
            });
        }
        let Some(sql) = p.read_recorded(step.version).await? else {
            return Err(Error::Irreversible {
                version: step.version,
                file: format!("{}_{}", step.version, step.name),
            });
        };
        // A recorded script keeps its directives; an unknown one is ignored.
        let no_transaction = migrate_files::directives(&sql).is_ok_and(|d| d.no_transaction);
        self.rules.check(step, &step.file(), &sql, no_transaction)?;
        Ok(Resolved {
            file: step.file(),
            sql: Cow::Owned(sql),
            no_transaction,
        })
    }

    /// After a step's script: whether the schema declares a foreign key,
    /// without which no row can break one. Read once, after the first
    /// step's script, then kept: a foreign key comes into the schema only
    /// through a `REFERENCES` clause, in a script of this run (seen here)
    /// or from another connection (which moves the data version, so that
    /// [`Execution::refresh`] forgets the answer). Checking every step
    /// instead walks every table of the schema each time.
    async fn foreign_keys_declared<P: Perform>(
        &mut self,
        p: &mut P,
        sql: &str,
    ) -> Result<bool, Error> {
        if crate::split::mentions(sql, "references") {
            self.foreign_keys = Some(true);
        }
        if let Some(declared) = self.foreign_keys {
            return Ok(declared);
        }
        let declared = p.foreign_keys_declared().await?;
        self.foreign_keys = Some(declared);
        Ok(declared)
    }

    /// Runs one step's script and writes its history row, timed and traced.
    async fn step<P: Perform>(
        &mut self,
        p: &mut P,
        step: &Step<'m>,
        script: &Resolved<'_>,
        outside: bool,
    ) -> Result<(), Error> {
        let span = step_span(step, self.direction);
        let started = Instant::now();
        // Where the split could not see every statement, the database is
        // asked whether the step's transaction survived the script.
        let ask = !crate::split::transaction_control_visible(self.rules.dialect, &script.sql);
        if let Err(failure) = p
            .run_script(script, self.rules.sending(outside), outside)
            .await
        {
            // Only a database asked can say: SQLite rolls a transaction back
            // by itself on some errors, which is no commit.
            if !outside && ask && p.transaction_ended(ask).await.unwrap_or(false) {
                return Err(self.ended(p, step, script, started).await);
            }
            // A lock waited for too long: tried again if nothing of the step
            // stays (its transaction rolls back, or none of its statements
            // outside one ran).
            self.lock_wait = failure.lock_wait
                && (!outside
                    || failure.statement == Some(1)
                    || self.rules.marks_in_transaction(script.no_transaction));
            return Err(step_failed(
                step,
                &script.file,
                failure,
                outside,
                std::mem::take(&mut self.completed),
            ));
        }
        if !outside && p.transaction_ended(ask).await? {
            return Err(self.ended(p, step, script, started).await);
        }
        if !outside
            && self.foreign_keys_declared(p, &script.sql).await?
            && let Some(table) = p.foreign_key_violation().await?
        {
            return Err(Error::ForeignKeyViolation {
                version: step.version,
                file: script.file.clone(),
                table,
            });
        }
        let execution_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        // What ran outside a transaction (or committed its own) is recorded
        // as done only while the run still holds its lease: a runner that
        // lost it leaves the step marked in flight for whoever took it.
        if outside {
            p.confirm_lease().await?;
        }
        let applied = self.applied(step);
        if let Some(deferred) = &mut self.deferred {
            // Nothing kept but these few numbers until the last script is
            // done: no allocation of the run's lies between those SQLite
            // makes and frees for each script.
            deferred.push(Done {
                version: step.version,
                applied,
                execution_ms,
                at: chrono::Utc::now(),
                duration_ms: log_step(&span, self.direction, started),
            });
            return Ok(());
        }
        let write = self.write_of(
            step.version,
            applied,
            execution_ms,
            outside,
            chrono::Utc::now(),
        );
        self.write(p, &write).await?;
        finish_step(&span, step, self.direction, started, &mut self.completed);
        Ok(())
    }

    /// The migration a step applies, if it applies one (it reverts one
    /// otherwise).
    fn applied(&self, step: &Step<'m>) -> Option<&'m Migration> {
        match (self.direction, step.action) {
            (Direction::Up, Action::Apply(migration)) => Some(migration),
            _ => None,
        }
    }

    /// The history write of step `version` done (`applied`: the migration
    /// it applied; `at`: when).
    fn write_of(
        &self,
        version: i64,
        applied: Option<&'m Migration>,
        execution_ms: i64,
        outside: bool,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Write<'m> {
        match applied {
            Some(_) if outside => Write::Mark {
                version,
                success: true,
                execution_ms,
            },
            Some(migration) => Write::Insert {
                row: self.history.new_row_at(migration, execution_ms, true, at),
                down_sql: migration.down().map(crate::Script::sql),
            },
            None => Write::Delete(version),
        }
    }

    /// The history write of a step of the one transaction, once its
    /// scripts are done (or committed by a script), its row's time noted.
    fn deferred_write(&mut self, done: &Done<'m>) -> Write<'m> {
        let write = self.write_of(
            done.version,
            done.applied,
            done.execution_ms,
            false,
            done.at,
        );
        if let Write::Insert { row, .. } = &write {
            self.history.stamped(row);
        }
        write
    }
}

/// A step of the one transaction done: which, when, and for how long, for
/// its history row and report once the last script is done.
#[derive(Debug, Clone, Copy)]
struct Done<'m> {
    version: i64,
    applied: Option<&'m Migration>,
    execution_ms: i64,
    at: chrono::DateTime<chrono::Utc>,
    duration_ms: u64,
}
