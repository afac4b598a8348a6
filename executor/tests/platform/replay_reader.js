// How the RL Arena platform reads a replay, reproduced field by field for the tests:
//
// - the backend (rl-arena/rl-arena-backend, Go): `GET /matches/:id/replay?format=json|html` joins its storage
//   directory with the match's `replay_url` / `replay_html_url` (pkg/storage/storage.go: `filepath.Join`),
//   checks the file exists, and for JSON decodes it into a `map[string]interface{}` (numbers become float64),
//   passes it through `transformExecutorReplayForFrontend` (internal/api/handlers/match.go) and answers it as
//   JSON;
// - the web app (rl-arena/rl-arena-web, React): the replay store keeps that answer as `replayData`, steps
//   through `replayData.frames` (src/hooks/useReplay.js, src/store/replayStore.js), `ReplayCanvas` draws pong
//   from `frame.info` (src/components/replay/ReplayCanvas.jsx) and `ReplayModal` shows `replayData.metadata`.
//
// Usage: node replay_reader.js STORAGE_DIR REPLAY_URL REPLAY_HTML_URL. Prints what the backend found and what
// the web app would draw, as JSON on stdout.

"use strict";

const fs = require("fs");

// Go's filepath.Clean on Unix: the shortest lexically equivalent path.
function goClean(path) {
  if (path === "") return ".";
  const rooted = path.startsWith("/");
  const out = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!rooted) out.push("..");
      continue;
    }
    out.push(part);
  }
  const joined = out.join("/");
  if (rooted) return "/" + joined;
  return joined === "" ? "." : joined;
}

// Go's filepath.Join on Unix: the non-empty elements joined by "/", then cleaned; "" when all are empty.
function goJoin(...elements) {
  const parts = elements.filter((e) => e !== "");
  return parts.length === 0 ? "" : goClean(parts.join("/"));
}

// The storage's FileExists and GetFilePath: os.Stat of the joined path.
function storagePath(basePath, filePath) {
  const full = goJoin(basePath, filePath);
  let exists = true;
  try {
    fs.statSync(full);
  } catch (e) {
    exists = false;
  }
  return { full, exists };
}

// Go's fmt.Sscanf(text, "%f %f") or "%d %d": two numbers separated by white space, or null.
function scanPair(text, integers) {
  const pattern = integers ? /^\s*([+-]?\d+)\s+([+-]?\d+)/ : /^\s*([+-]?[\d.]+(?:[eE][+-]?\d+)?)\s+([+-]?[\d.]+(?:[eE][+-]?\d+)?)/;
  const m = pattern.exec(text);
  if (!m) return null;
  return [Number(m[1]), Number(m[2])];
}

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);

// transformExecutorReplayForFrontend: every object frame gets an `info` object; string `ball_pos` and
// `paddle_positions` become number pairs; `scores` becomes `score` (a string "a b" is scanned as two
// integers, an array is moved as it is). A document without a `frames` array is answered unchanged.
function transformForFrontend(replay) {
  if (!Array.isArray(replay.frames)) return replay;
  const frames = replay.frames.map((frame) => {
    if (!isObject(frame)) return frame;
    let info = frame.info;
    if (!isObject(info)) {
      info = {};
      frame.info = info;
    }
    for (const key of ["ball_pos", "paddle_positions"]) {
      if (typeof info[key] === "string") {
        const pair = scanPair(info[key], false);
        if (pair) info[key] = pair;
      }
    }
    if (typeof info.scores === "string") {
      const pair = scanPair(info.scores, true);
      if (pair) {
        info.score = pair;
        delete info.scores;
      }
    } else if (Array.isArray(info.scores)) {
      info.score = info.scores;
      delete info.scores;
    }
    return frame;
  });
  return { ...replay, frames };
}

// The backend's JSON answer for `format=json`, as the web app receives it; null with the error it answers.
function backendAnswer(basePath, replayUrl) {
  if (!replayUrl) return { error: "Replay not available for this match" };
  const { full, exists } = storagePath(basePath, replayUrl);
  if (!exists) return { error: "Replay file not found", path: full };
  let decoded;
  try {
    decoded = JSON.parse(fs.readFileSync(full, "utf8"));
  } catch (e) {
    return { error: "Failed to parse replay file", path: full };
  }
  if (!isObject(decoded)) return { error: "Failed to parse replay file", path: full };
  // The answer is encoded by the backend and decoded by the browser.
  return { path: full, body: JSON.parse(JSON.stringify(transformForFrontend(decoded))) };
}

const CANVAS = { width: 800, height: 450 };

// What ReplayCanvas draws for one frame: the placeholder it shows, or the ball, paddles and scores in canvas
// coordinates from `frame.info` (positions are fractions of the canvas).
function canvasFrame(frame) {
  if (!frame || !frame.info) return { placeholder: "No frame data" };
  const { ball_pos, paddle_positions, score } = frame.info;
  if (!ball_pos || !paddle_positions || !score) return { placeholder: "Invalid frame structure" };
  return {
    ball: [ball_pos[0] * CANVAS.width, ball_pos[1] * CANVAS.height],
    paddles: [paddle_positions[0] * CANVAS.height, paddle_positions[1] * CANVAS.height],
    score: [String(score[0]), String(score[1])],
  };
}

function main() {
  const [basePath, replayUrl, htmlUrl] = process.argv.slice(2);
  const answer = backendAnswer(basePath, replayUrl);
  const html = storagePath(basePath, htmlUrl || "");
  const result = { backend: { path: answer.path || null, error: answer.error || null, html_exists: html.exists } };
  if (answer.body) {
    const replayData = answer.body;
    // useReplay: getTotalFrames and getCurrentFrameData for every position of the slider.
    const total = replayData && replayData.frames ? replayData.frames.length : 0;
    const drawn = [];
    for (let current = 0; current < total; current++) {
      drawn.push(canvasFrame(replayData.frames[current] || null));
    }
    const metadata = replayData.metadata || {};
    result.web = {
      total_frames: total,
      frames: drawn,
      // What ReplayModal shows under the canvas (each only when present).
      dialog: {
        final_score: metadata.finalScore ? String(metadata.finalScore) : null,
        duration: metadata.duration ? String(metadata.duration) + "s" : null,
        played: metadata.timestamp ? new Date(metadata.timestamp).toISOString() : null,
      },
      seed: String(replayData.seed),
      outcome_seed: replayData.outcome ? String(replayData.outcome.seed) : null,
    };
  }
  process.stdout.write(JSON.stringify(result));
}

main();
