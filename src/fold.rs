//! The contract of a job that folds every record into one state: what the audit, the
//! report's aggregates, coverage and `query` implement, and what
//! [`crate::pipeline::fold`] runs on its workers. It sits below every module that
//! implements it, so that none of them depends on the pipeline that runs them.

use arrow::record_batch::RecordBatch;

/// A fold of every record into one state (see [`crate::pipeline`]). `merge`
/// must not depend on the order in which states are merged.
pub trait Fold: Sync {
    type State: Send;
    fn state(&self) -> Self::State;
    fn add(&self, state: &mut Self::State, batch: &RecordBatch);
    fn merge(&self, into: &mut Self::State, from: Self::State);
}

impl<F: Fold> Fold for &F {
    type State = F::State;
    fn state(&self) -> F::State {
        (**self).state()
    }
    fn add(&self, state: &mut F::State, batch: &RecordBatch) {
        (**self).add(state, batch)
    }
    fn merge(&self, into: &mut F::State, from: F::State) {
        (**self).merge(into, from)
    }
}

/// Two folds in one pass over the records (the audit and the report's aggregates).
pub struct Both<A, B>(pub A, pub B);

impl<A: Fold, B: Fold> Fold for Both<A, B> {
    type State = (A::State, B::State);
    fn state(&self) -> Self::State {
        (self.0.state(), self.1.state())
    }
    fn add(&self, state: &mut Self::State, batch: &RecordBatch) {
        self.0.add(&mut state.0, batch);
        self.1.add(&mut state.1, batch);
    }
    fn merge(&self, into: &mut Self::State, from: Self::State) {
        self.0.merge(&mut into.0, from.0);
        self.1.merge(&mut into.1, from.1);
    }
}

/// A fold that keeps nothing (the other half of a [`Both`] that needs only one).
pub struct Nothing;

impl Fold for Nothing {
    type State = ();
    fn state(&self) {}
    fn add(&self, _: &mut (), _: &RecordBatch) {}
    fn merge(&self, _: &mut (), _: ()) {}
}
