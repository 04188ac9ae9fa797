//! Steps whose history row is written before their script: marked in
//! flight (`success = false`), then done. A `no-transaction` step, every
//! MySQL/MariaDB step (in one transaction with its script there), and a
//! step whose script ended its own transaction (then left marked dirty).

use std::time::Instant;

use super::{Execution, Perform, Resolved, Write};
use crate::Error;
use crate::plan::{Action, Step};
use crate::report::Direction;

impl<'m> Execution<'m, '_> {
    /// The history write that marks `step` in flight (or dirty, once it
    /// stays): a new row with `success = false` for a step applied, the
    /// row marked so for one reverted.
    fn in_flight_mark(&self, step: &Step<'m>, execution_ms: i64) -> Write<'m> {
        match (self.direction, step.action) {
            (Direction::Up, Action::Apply(migration)) => Write::Insert {
                row: self.history.new_row(migration, execution_ms, false),
                down_sql: migration.down().map(crate::Script::sql),
            },
            _ => Write::Mark {
                version: step.version,
                success: false,
                execution_ms,
            },
        }
    }

    /// A step that runs outside its own transaction, marked in flight
    /// first. On MySQL/MariaDB (without `no-transaction`) the mark, the
    /// script and the mark done share one transaction: a DDL statement
    /// commits it implicitly, mark included, so the mark stays exactly when
    /// something that cannot be rolled back was committed; a step without
    /// DDL that fails (or whose runner dies) leaves no trace.
    pub(super) async fn outside_step<P: Perform>(
        &mut self,
        p: &mut P,
        step: &Step<'m>,
        script: &Resolved<'_>,
    ) -> Result<(), Error> {
        let atomic = self.rules.marks_in_transaction(script.no_transaction);
        if atomic {
            self.begin(p).await?;
        }
        let mark = self.in_flight_mark(step, 0);
        self.write(p, &mark).await?;
        let guarded = self.rules.lock_per_step();
        if guarded {
            p.guard_in_flight().await?;
        }
        if self.rules.transactional() {
            self.commit(p).await?;
        }
        match self.step(p, step, script, true).await {
            Ok(()) if atomic => self.commit(p).await?,
            Ok(()) => {}
            Err(err) if atomic => {
                let err = self.undone(p, step, err).await;
                // Something was committed: not tried again.
                if matches!(
                    err,
                    Error::Step { dirty: true, .. } | Error::LeaseLost { dirty: true, .. }
                ) {
                    self.lock_wait = false;
                }
                return Err(err);
            }
            Err(mut err) => {
                // A lease lost after the script: its in-flight mark was
                // committed before it ran, and stays.
                if let Error::LeaseLost { dirty, .. } = &mut err {
                    *dirty = true;
                }
                return Err(err);
            }
        }
        if guarded {
            p.end_guard().await?;
        }
        Ok(())
    }

    /// A failed MySQL step's transaction, rolled back: it is dirty only if
    /// its in-flight mark outlived the rollback (a DDL statement committed
    /// it), as the history read again says.
    async fn undone<P: Perform>(&mut self, p: &mut P, step: &Step<'m>, mut err: Error) -> Error {
        if self.rollback(p).await.is_err() {
            self.summary.lost();
            return err;
        }
        let Ok(rows) = self.read_again(p).await else {
            self.summary.lost();
            return err;
        };
        let marked = rows
            .iter()
            .any(|row| row.version == step.version && !row.success);
        if let Error::Step { dirty, .. } | Error::LeaseLost { dirty, .. } = &mut err {
            *dirty = marked;
        }
        self.history.replace(rows);
        err
    }

    /// A script ended its step's transaction: what ran is committed, in
    /// part at least. The history says so (deferred rows, which that commit
    /// made true, and a dirty mark for this step), outside any transaction.
    pub(super) async fn ended<P: Perform>(
        &mut self,
        p: &mut P,
        step: &Step<'m>,
        script: &Resolved<'_>,
        started: Instant,
    ) -> Error {
        let execution_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        // What the database holds now is not known to the summary.
        self.open = false;
        self.summary.lost();
        let done = self.deferred.take().unwrap_or_default();
        let mut writes: Vec<_> = done.iter().map(|done| self.deferred_write(done)).collect();
        writes.push(self.in_flight_mark(step, execution_ms));
        self.completed.clear();
        for write in &writes {
            if let Err(err) = p.write(write).await {
                return err;
            }
        }
        Error::TransactionEnded {
            version: step.version,
            file: script.file.clone(),
        }
    }
}
