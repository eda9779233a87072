//! The connection to containerd's CRI socket, shared by the checks and the benchmark.
use tonic::transport::{Channel, Endpoint, Uri};

pub async fn channel(socket: &str) -> Result<Channel, String> {
    let path = socket.to_string();
    Endpoint::try_from("http://[::]:0")
        .map_err(|e| e.to_string())?
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let path = path.clone();
            async move {
                let s = tokio::net::UnixStream::connect(path).await?;
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(s))
            }
        }))
        .await
        .map_err(|e| format!("connect {socket}: {e}"))
}

pub fn st(e: tonic::Status) -> String {
    format!("{}: {}", e.code(), e.message())
}
