use super::*;

const IDLE: Duration = Duration::from_millis(400);

#[tokio::test(start_paused = true)]
async fn a_connection_without_requests_is_idle_after_the_timeout() {
    let a = Arc::new(Activity::default());
    let start = tokio::time::Instant::now();
    a.idle(IDLE).await;
    let took = start.elapsed();
    assert!(took >= IDLE && took <= IDLE + IDLE / 4, "{took:?}");
}

#[tokio::test(start_paused = true)]
async fn requests_and_a_waiting_request_keep_it_busy() {
    let a = Arc::new(Activity::default());
    let start = tokio::time::Instant::now();
    let busy = {
        let a = a.clone();
        async move {
            // A request every 300 ms for 1.2 s, then one in flight for 1 s.
            for _ in 0..4 {
                drop(a.begin(http::Version::HTTP_11, &http::HeaderMap::new()));
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let in_flight = a.begin(http::Version::HTTP_11, &http::HeaderMap::new());
            tokio::time::sleep(Duration::from_secs(1)).await;
            drop(in_flight);
        }
    };
    let (_, ()) = tokio::join!(a.idle(IDLE), busy);
    let took = start.elapsed();
    // Busy until 2.2 s, then one idle timeout (and at most a step more).
    let last = Duration::from_millis(2_200);
    assert!(
        took >= last + IDLE && took <= last + IDLE + IDLE / 2,
        "{took:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn it_parks_only_after_a_request_that_keeps_it_open() {
    let a = Arc::new(Activity::default());
    let born = a.started();
    let never = IDLE * 10;
    assert!(
        tokio::time::timeout(never, a.parkable(born, IDLE))
            .await
            .is_err(),
        "no request yet"
    );
    let mut close = http::HeaderMap::new();
    close.insert(http::header::CONNECTION, "close".parse().unwrap());
    drop(a.begin(http::Version::HTTP_11, &close));
    assert!(
        tokio::time::timeout(never, a.parkable(born, IDLE))
            .await
            .is_err(),
        "the last request closes the connection"
    );
    drop(a.begin(http::Version::HTTP_11, &http::HeaderMap::new()));
    let start = tokio::time::Instant::now();
    a.parkable(born, IDLE).await;
    let took = start.elapsed();
    assert!(took >= IDLE && took <= IDLE + IDLE / 4, "{took:?}");
}
