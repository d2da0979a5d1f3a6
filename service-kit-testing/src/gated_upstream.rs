//! An upstream that holds every request until the test opens its gate: for requests that must
//! still be in flight at a moment the test chooses, without guessing at durations.

use std::net::Ipv4Addr;

use axum::extract::State;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

pub struct GatedUpstream {
    /// `http://127.0.0.1:<port>`; every path answers the same.
    pub url: String,
    arrivals: mpsc::UnboundedReceiver<()>,
    gate: watch::Sender<bool>,
}

#[derive(Clone)]
struct Gate {
    answer: serde_json::Value,
    arrivals: mpsc::UnboundedSender<()>,
    open: watch::Receiver<bool>,
}

impl GatedUpstream {
    /// Serves `answer` as JSON to every request, once the gate is open. The server lives as
    /// long as the test's runtime.
    pub async fn start(answer: serde_json::Value) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind an ephemeral port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let (arrived, arrivals) = mpsc::unbounded_channel();
        let (gate, open) = watch::channel(false);
        let app = Router::new().fallback(held).with_state(Gate {
            answer,
            arrivals: arrived,
            open,
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url,
            arrivals,
            gate,
        }
    }

    /// Waits until the next request has arrived (and is being held).
    pub async fn arrived(&mut self) {
        self.arrivals.recv().await.expect("the upstream runs");
    }

    /// Lets every held request, and every later one, have its answer.
    pub fn open(&self) {
        self.gate.send_replace(true);
    }
}

async fn held(State(mut gate): State<Gate>) -> Json<serde_json::Value> {
    let _ = gate.arrivals.send(());
    // The sender lives in the test; once it is gone nobody will open the gate.
    if gate.open.wait_for(|open| *open).await.is_err() {
        std::future::pending::<()>().await;
    }
    Json(gate.answer)
}
