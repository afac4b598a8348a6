//! Replays and results in an S3-compatible store (moto, started by the test): the replay URLs point into the
//! bucket, the HTTP endpoint serves them from there, and results survive a restart on an empty data directory.

mod support;

use proto::pb;
use sha2::Digest;
use support::{Executor, example_pong, get_match};
use testkit::Moto;

#[tokio::test]
async fn replays_and_results_live_in_the_bucket() {
    let moto = Moto::start();
    moto.create_bucket("arena");
    let env = moto.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let store = ["--store-url", "s3://arena/prod"];
    let executor = Executor::start_with(tempfile::tempdir().unwrap(), &store, &env);
    let request = example_pong("s3-1", ["a", "b"]);
    let result = executor.run_match(request.clone()).await;
    assert_eq!(
        result.status(),
        pb::MatchStatus::StatusSuccess,
        "{result:?}"
    );
    assert_eq!(result.replay_url, "s3://arena/prod/replays/s3-1.json");
    assert_eq!(result.replay_html_url, "s3://arena/prod/replays/s3-1.html");
    assert!(
        !executor.data_dir.path().join("replays").exists(),
        "nothing is written to the local data directory"
    );

    let (status, json) = executor.http_get("/replays/s3-1.json");
    assert_eq!(status, 200);
    assert_eq!(
        hex::encode(sha2::Sha256::digest(&json)),
        result.replay_sha256
    );
    let (status, html) = executor.http_get("/replays/s3-1.html");
    assert_eq!(status, 200);
    assert!(
        String::from_utf8(html)
            .unwrap()
            .contains("\"match_id\":\"s3-1\"")
    );

    // A new executor with a fresh data directory finds the result in the bucket.
    drop(executor);
    let executor = Executor::start_with(tempfile::tempdir().unwrap(), &store, &env);
    let info = get_match(&mut executor.client().await, "s3-1").await;
    assert_eq!(info.result.as_ref(), Some(&result));
    let again = executor.run_match(request).await;
    assert_eq!(again, result);
}
