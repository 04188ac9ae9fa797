//! A step that gave up waiting for a lock (the statement lock timeout, a
//! deadlock it lost) is undone and tried again, with a growing pause, up
//! to the retries the options allow; then the run fails in one sentence
//! that says nothing of the step was changed and, where the database can
//! tell, who may hold the lock.

use std::time::Duration;

use super::{Execution, Perform, Resolved, Write};
use crate::Error;
use crate::plan::{Action, Step};
use crate::report::Direction;

/// The pause before try `tries + 1`: 250 ms, doubled each time, at most 5 s.
fn pause(tries: u32) -> Duration {
    Duration::from_millis(250)
        .saturating_mul(1 << tries.saturating_sub(1).min(5))
        .min(Duration::from_secs(5))
}

impl<'m> Execution<'m, '_> {
    /// After step `step` failed with `err`: `Ok` when it is to be tried
    /// again (it is back at the head of the plan), or the error to end the
    /// run with.
    pub(super) async fn retry<P: Perform>(
        &mut self,
        p: &mut P,
        step: Step<'m>,
        script: &Resolved<'_>,
        mut err: Error,
    ) -> Result<(), Error> {
        if !std::mem::take(&mut self.lock_wait) || !matches!(err, Error::Step { .. }) {
            return Err(err);
        }
        // What the try left: its transaction, or outside one, its mark
        // (MySQL's steps were rolled back, mark included, already).
        if !self.rules.outside(script.no_transaction) {
            self.rollback(p).await?;
        } else if !self.rules.marks_in_transaction(script.no_transaction) {
            let undo = match (self.direction, step.action) {
                (Direction::Up, Action::Apply(_)) => Write::Delete(step.version),
                _ => Write::Mark {
                    version: step.version,
                    success: true,
                    execution_ms: 0,
                },
            };
            self.write(p, &undo).await?;
            p.end_guard().await?;
        }
        if let Error::Step { completed, .. } = &mut err {
            self.completed = std::mem::take(completed).into_vec();
        }
        self.tries += 1;
        if self.tries > self.options.lock_retries {
            let holder = p.blocker().await.ok().flatten();
            return Err(Error::StepLockTimeout {
                version: step.version,
                file: script.file.clone(),
                tries: self.tries,
                waited: self.options.statement_lock_timeout_on(self.rules.dialect),
                holder,
                completed: std::mem::take(&mut self.completed).into_boxed_slice(),
            });
        }
        tracing::info!(
            version = step.version,
            tries = self.tries,
            "migration {} waited too long for a lock; rolled back, trying again",
            step.version
        );
        p.pause(pause(self.tries)).await;
        self.steps.insert(0, step);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pause_grows_and_stays_bounded() {
        let pauses: Vec<u128> = (1..=8).map(|t| super::pause(t).as_millis()).collect();
        assert_eq!(pauses, [250, 500, 1000, 2000, 4000, 5000, 5000, 5000]);
    }
}
