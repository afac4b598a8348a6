//! The HTML replay viewer in a real headless Chromium: for a real match of every environment (starter-kit
//! agents played by `orchestrator::play`), the page built by `executor::viewer::render` is opened at
//! `#frame=N`; the dumped DOM must show that frame (label, frame hook, scores) and the screenshot must show
//! it drawn: pong's ball and paddles where the replay puts them, every connectx checker and tic-tac-toe mark
//! in its cell, the rock-paper-scissors signs each player showed.
//!
//! Chromium is `$CHROMIUM` or Debian's `chromium`, installed by the test when it runs as root; otherwise a
//! missing browser fails the test with the command that installs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use orchestrator::{PlayOptions, report::Reporter};
use proto::replay::Replay;
use proto::spec::{AgentSpec, Limits, MatchSpec};
use serde_json::{Value, json};

const WINDOW: (u32, u32) = (1400, 1000);

type Rgb = (u8, u8, u8);

fn hex(color: &str) -> Rgb {
    let n = u32::from_str_radix(color.trim_start_matches('#'), 16).unwrap_or(0);
    ((n >> 16) as u8, (n >> 8) as u8, n as u8)
}

/// A match between the environment's two starter kits, and its replay JSON.
fn real_replay(env: &str, config: Value, seed: u64) -> (Replay, String) {
    let kits = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/agents");
    let spec = MatchSpec {
        match_id: format!("viewer-{env}"),
        environment: env.to_string(),
        config: config.as_object().cloned().unwrap_or_default(),
        seed,
        agents: ["python", "shell"]
            .iter()
            .map(|kind| AgentSpec {
                agent_id: format!("{env}-{kind}"),
                dir: kits.join(format!("{env}-{kind}")),
            })
            .collect(),
        limits: Limits {
            step_ms: 2_000,
            ..Limits::default()
        },
        record_replay: true,
    };
    let runtime = tokio::runtime::Runtime::new().expect("starting a tokio runtime");
    let played = runtime.block_on(orchestrator::play(
        &spec,
        &PlayOptions::default(),
        &Reporter::disabled(),
        std::future::pending::<()>(),
    ));
    let bytes = played.replay.expect("the match recorded a replay");
    let text = String::from_utf8(bytes).expect("replays are UTF-8");
    let replay: Replay = serde_json::from_str(&text).expect("the replay parses");
    assert!(
        played.outcome.agents.iter().all(|a| a.errors == 0),
        "{:?}",
        played.outcome
    );
    (replay, text)
}

/// Headless Chromium with a private profile; the page is written next to it.
struct Browser {
    exe: PathBuf,
    dir: tempfile::TempDir,
}

/// A decoded screenshot.
struct Image {
    width: u32,
    height: u32,
    rgba: Vec<u8>,
}

impl Image {
    #[track_caller]
    fn at(&self, x: f64, y: f64) -> Rgb {
        let (x, y) = (x.floor() as i64, y.floor() as i64);
        assert!(
            (0..i64::from(self.width)).contains(&x) && (0..i64::from(self.height)).contains(&y),
            "pixel ({x}, {y}) is outside the {}x{} screenshot",
            self.width,
            self.height
        );
        let i = (y as usize * self.width as usize + x as usize) * 4;
        (self.rgba[i], self.rgba[i + 1], self.rgba[i + 2])
    }
}

impl Browser {
    #[track_caller]
    fn new(page: &str) -> Self {
        let exe = testkit::provision::CHROMIUM.require();
        let dir = tempfile::tempdir().expect("creating a temp dir");
        std::fs::write(dir.path().join("replay.html"), page).expect("writing the page");
        Browser { exe, dir }
    }

    fn url(&self, frame: &str) -> String {
        format!(
            "file://{}#frame={frame}",
            self.dir.path().join("replay.html").display()
        )
    }

    #[track_caller]
    fn run(&self, args: &[String]) -> Output {
        let profile = tempfile::tempdir_in(self.dir.path()).expect("creating a profile dir");
        let output = Command::new(&self.exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--window-size={},{}", WINDOW.0, WINDOW.1))
            .args(args)
            .output()
            .expect("running chromium");
        assert!(
            output.status.success(),
            "chromium failed: {:?}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// The DOM after the page's script ran, opened at `#frame=<frame>`.
    #[track_caller]
    fn dom(&self, frame: &str) -> String {
        let output = self.run(&["--dump-dom".to_string(), self.url(frame)]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A screenshot of the page opened at `#frame=<frame>`.
    #[track_caller]
    fn screenshot(&self, frame: &str) -> Image {
        let path = self.dir.path().join(format!("frame-{frame}.png"));
        self.run(&[format!("--screenshot={}", path.display()), self.url(frame)]);
        let file = std::fs::File::open(&path).expect("chromium wrote the screenshot");
        let mut decoder = png::Decoder::new(file);
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().expect("the screenshot is a PNG");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader
            .next_frame(&mut buf)
            .expect("decoding the screenshot");
        let pixels = (info.width * info.height) as usize;
        let rgba = match info.color_type {
            png::ColorType::Rgba => buf[..pixels * 4].to_vec(),
            png::ColorType::Rgb => buf[..pixels * 3]
                .chunks(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
            other => panic!("unexpected screenshot colour type {other:?}"),
        };
        Image {
            width: info.width,
            height: info.height,
            rgba,
        }
    }
}

/// The viewer's page for a replay, opened in a browser.
fn open(text: &str) -> Browser {
    Browser::new(&executor::viewer::render(text))
}

/// An attribute of the board canvas in a dumped DOM, HTML entities decoded.
#[track_caller]
fn board_attr(dom: &str, name: &str) -> String {
    let start = dom
        .find("<canvas id=\"board\"")
        .expect("the board canvas is in the DOM");
    let tag = &dom[start..start + dom[start..].find('>').expect("the canvas tag ends")];
    let key = format!(" {name}=\"");
    let at = tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} on the board: {tag}"))
        + key.len();
    let value = &tag[at..at + tag[at..].find('"').expect("the attribute ends")];
    value.replace("&quot;", "\"").replace("&amp;", "&")
}

/// The text of the element with `id` (no nested markup expected).
#[track_caller]
fn text_of(dom: &str, id: &str) -> String {
    let key = format!("id=\"{id}\"");
    let start = dom.find(&key).unwrap_or_else(|| panic!("no element {id}"));
    let open_end = start + dom[start..].find('>').expect("the tag ends") + 1;
    let close = open_end + dom[open_end..].find('<').expect("the element ends");
    dom[open_end..close].to_string()
}

/// The canvas' top-left corner in the page and what the viewer says about its drawing.
#[track_caller]
fn layout(dom: &str) -> (f64, f64, Value) {
    let left: f64 = board_attr(dom, "data-left")
        .parse()
        .expect("data-left is a number");
    let top: f64 = board_attr(dom, "data-top")
        .parse()
        .expect("data-top is a number");
    let geometry =
        serde_json::from_str(&board_attr(dom, "data-geometry")).expect("geometry is JSON");
    (left, top, geometry)
}

/// Scores at frame `frame`: pong's points, otherwise the sum of the rewards so far.
fn scores_at(replay: &Replay, frame: usize) -> Vec<f64> {
    if frame > 0 {
        if let Some(score) = replay.frames[frame - 1].render["score"].as_array() {
            return score.iter().map(|s| s.as_f64().unwrap_or(0.0)).collect();
        }
    }
    let mut totals = vec![0.0; replay.agents.len()];
    for step in &replay.frames[..frame] {
        for (t, r) in totals.iter_mut().zip(&step.rewards) {
            *t += r;
        }
    }
    totals
}

/// The DOM shows frame `frame`: the hook, the label and every agent's score there.
#[track_caller]
fn assert_dom_shows(dom: &str, replay: &Replay, frame: usize) {
    assert_eq!(board_attr(dom, "data-frame"), frame.to_string());
    assert_eq!(
        text_of(dom, "frame-label"),
        format!("step {frame} / {}", replay.frames.len())
    );
    for (p, score) in scores_at(replay, frame).iter().enumerate() {
        let shown: f64 = text_of(dom, &format!("score-{p}"))
            .parse()
            .expect("a score");
        assert_eq!(shown, *score, "seat {p} at frame {frame}");
    }
    assert!(text_of(dom, "title").contains(&replay.match_id));
}

fn render_at(replay: &Replay, frame: usize) -> &Value {
    match frame {
        0 => &replay.initial_render,
        n => &replay.frames[n - 1].render,
    }
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[test]
fn pong_frames_show_the_ball_and_paddles_where_the_replay_has_them() {
    let (replay, text) = real_replay("pong", json!({"max_steps": 120, "winning_score": 100}), 21);
    let browser = open(&text);
    let frame = 61;
    let dom = browser.dom(&frame.to_string());
    assert_dom_shows(&dom, &replay, frame);
    assert_eq!(board_attr(&dom, "data-kind"), "pong");
    let (left, top, _) = layout(&dom);

    let image = browser.screenshot(&frame.to_string());
    let r = render_at(&replay, frame);
    let sx = 640.0 / num(&r["width"]);
    let sy = 480.0 / num(&r["height"]);
    let ball = (num(&r["ball"]["x"]) * sx, num(&r["ball"]["y"]) * sy);
    assert_eq!(
        image.at(left + ball.0, top + ball.1),
        (255, 255, 255),
        "the ball at frame {frame}"
    );
    let pw = (num(&r["paddle_width"]) * sx).max(4.0);
    let paddle_y = |key: &str| (num(&r[key]["y"]) * sy).clamp(1.0, 478.0);
    assert_eq!(
        image.at(left + 0.05 * sx - pw / 2.0, top + paddle_y("paddle1")),
        hex("#44aaff"),
        "player 0's paddle"
    );
    assert_eq!(
        image.at(left + 0.95 * sx + pw / 2.0, top + paddle_y("paddle2")),
        hex("#ffaa44"),
        "player 1's paddle"
    );

    // Where the ball is at another frame, well away from this one and from anything else drawn, is field.
    let elsewhere = (1..=replay.frames.len())
        .map(|k| {
            let b = &render_at(&replay, k)["ball"];
            (num(&b["x"]) * sx, num(&b["y"]) * sy)
        })
        .find(|&(x, y)| {
            (80.0..560.0).contains(&x)
                && (70.0..460.0).contains(&y)
                && (x - 320.0).abs() > 6.0
                && ((x - ball.0).powi(2) + (y - ball.1).powi(2)).sqrt() > 60.0
        })
        .expect("the ball travels");
    assert_eq!(image.at(left + elsewhere.0, top + elsewhere.1), (0, 0, 0));
}

#[test]
fn connectx_frames_show_every_checker_in_its_cell() {
    let (replay, text) = real_replay("connectx", json!({}), 4);
    let browser = open(&text);
    let last = replay.frames.len();
    for frame in [last / 2, last] {
        let dom = browser.dom(&frame.to_string());
        assert_dom_shows(&dom, &replay, frame);
        let (left, top, g) = layout(&dom);
        let image = browser.screenshot(&frame.to_string());
        let r = render_at(&replay, frame);
        let columns = r["columns"].as_u64().unwrap_or(0) as usize;
        let cell = num(&g["cell"]);
        let cells = r["board"].as_array().expect("a board");
        assert!(cells.iter().any(|c| c == 1) && cells.iter().any(|c| c == 2));
        for (i, v) in cells.iter().enumerate() {
            let x = left + num(&g["x0"]) + (i % columns) as f64 * cell + cell / 2.0;
            let y = top + num(&g["y0"]) + (i / columns) as f64 * cell + cell / 2.0;
            let want = match v.as_u64() {
                Some(1) => hex("#e53935"),
                Some(2) => hex("#fdd835"),
                _ => hex("#0b1020"),
            };
            assert_eq!(image.at(x, y), want, "frame {frame}, cell {i} holding {v}");
        }
    }
}

#[test]
fn tictactoe_frames_show_every_mark_in_its_cell() {
    let (replay, text) = real_replay("tictactoe", json!({}), 1);
    let browser = open(&text);
    let last = replay.frames.len();
    let dom = browser.dom("last");
    assert_dom_shows(&dom, &replay, last);
    let (left, top, g) = layout(&dom);
    let image = browser.screenshot("last");
    let r = render_at(&replay, last);
    let cell = num(&g["cell"]);
    let ring = num(&g["ring"]);
    let field = hex("#101418");
    let cells = r["board"].as_array().expect("a board");
    assert!(cells.iter().filter(|c| **c != 0).count() >= 5, "{r}");
    for (i, v) in cells.iter().enumerate() {
        let cx = left + num(&g["x0"]) + (i % 3) as f64 * cell + cell / 2.0;
        let cy = top + num(&g["y0"]) + (i / 3) as f64 * cell + cell / 2.0;
        match v.as_u64() {
            Some(1) => assert_eq!(image.at(cx, cy), hex("#e53935"), "X in cell {i}"),
            Some(2) => {
                assert_eq!(image.at(cx + ring, cy), hex("#42a5f5"), "O in cell {i}");
                assert_eq!(image.at(cx, cy), field, "O's hole in cell {i}");
            }
            _ => {
                assert_eq!(image.at(cx, cy), field, "empty cell {i}");
                assert_eq!(image.at(cx + ring, cy), field, "empty cell {i}");
            }
        }
    }
}

#[test]
fn rps_frames_show_the_signs_each_player_showed() {
    let (replay, text) = real_replay("rps", json!({"episodeSteps": 30}), 2);
    let browser = open(&text);
    let signs = ["#8d6e63", "#eeeeee", "#66bb6a", "#42a5f5", "#ab47bc"];
    for frame in [0, 7, replay.frames.len()] {
        let key = frame.to_string();
        let dom = browser.dom(&key);
        assert_dom_shows(&dom, &replay, frame);
        let (left, top, g) = layout(&dom);
        let image = browser.screenshot(&key);
        let last = &render_at(&replay, frame)["last"];
        for p in 0..2 {
            let tile = &g["tiles"][p];
            let want = match last[p].as_u64() {
                Some(sign) => hex(signs[sign as usize]),
                None => hex("#222222"),
            };
            assert_eq!(
                image.at(left + num(&tile[0]), top + num(&tile[1])),
                want,
                "player {p}'s sign at frame {frame}: {last}"
            );
        }
    }
}

/// The page is one self-contained file: the template loads nothing from anywhere.
#[test]
fn the_viewer_needs_no_network() {
    let page = executor::viewer::render("{}");
    for needle in ["http://", "https://", "src=", "href=", "@import", "url("] {
        assert!(!page.contains(needle), "the viewer contains {needle:?}");
    }
    assert!(page.contains("default-src 'none'"));
}

/// The seed is shown with every digit, above 2^53 too: from a version 2 replay (a decimal string) and from a
/// version 1 replay (a number that `JSON.parse` alone would round), whose frames the page also steps through.
#[test]
fn seeds_are_shown_exactly() {
    let seed = 2_577_073_586_370_302_348_u64;
    let (replay, text) = real_replay("pong", json!({"max_steps": 30}), seed);
    assert_eq!(replay.seed, seed);
    let dom = open(&text).dom("last");
    let meta = text_of(&dom, "meta");
    assert!(meta.contains(&format!("| seed {seed} |")), "{meta}");
    assert_dom_shows(&dom, &replay, replay.frames.len());

    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/tests/fixtures/replays/v1-pong.json");
    let text = std::fs::read_to_string(fixture).expect("the version 1 fixture");
    let replay = proto::replay::from_slice(text.as_bytes()).expect("a version 1 replay");
    assert_eq!(replay.seed, seed);
    let dom = open(&text).dom("last");
    let meta = text_of(&dom, "meta");
    assert!(meta.contains(&format!("| seed {seed} |")), "{meta}");
    assert_dom_shows(&dom, &replay, replay.frames.len());
}
