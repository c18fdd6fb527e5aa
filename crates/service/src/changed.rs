//! Which SLOs' data changed since the evaluator last looked, and the wake-up that tells it.

use std::sync::Mutex;

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub struct ChangedSlos {
    slos: Mutex<Vec<String>>,
    wake: Notify,
}

impl ChangedSlos {
    /// Marks an SLO for re-evaluation and wakes the evaluator.
    pub fn mark(&self, slo: &str) {
        let mut d = self.slos.lock().expect("changed SLOs lock");
        if !d.iter().any(|s| s == slo) {
            d.push(slo.to_string());
        }
        drop(d);
        self.wake.notify_one();
    }

    /// The SLOs marked since the last call.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.slos.lock().expect("changed SLOs lock"))
    }

    /// Resolves once an SLO is marked.
    pub async fn notified(&self) {
        self.wake.notified().await
    }
}
