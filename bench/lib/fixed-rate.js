// Generic k6 script for bench/run: one endpoint, described by the environment.
//   BENCH_MODE      rate: constant-arrival-rate (open model: latency at a fixed rate)
//                   count: shared-iterations (BENCH_ITERATIONS as fast as BENCH_VUS allow)
//   BENCH_URL, BENCH_METHOD, BENCH_BODY ("{uniq}" -> unique value, "{key}" -> next line of BENCH_KEYS)
//   BENCH_TOKEN (optional Bearer), BENCH_STATUS (expected status), BENCH_RATE, BENCH_DURATION,
//   BENCH_VUS, BENCH_ITERATIONS, BENCH_OUT (JSON summary path)
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';

const env = __ENV;
const mode = env.BENCH_MODE || 'rate';
const method = env.BENCH_METHOD || 'GET';
const url = env.BENCH_URL;
const body = env.BENCH_BODY || null;
const expected = parseInt(env.BENCH_STATUS || '200', 10);
const keys = env.BENCH_KEYS ? open(env.BENCH_KEYS).split('\n').filter((l) => l.length > 0) : [];
const runId = env.BENCH_RUN_ID || `${Date.now()}`;
const vus = parseInt(env.BENCH_VUS || '20', 10);

const scenario = mode === 'count'
  ? {
    executor: 'shared-iterations',
    vus,
    iterations: parseInt(env.BENCH_ITERATIONS || '100', 10),
    maxDuration: env.BENCH_DURATION || '60s',
  }
  : {
    executor: 'constant-arrival-rate',
    rate: parseInt(env.BENCH_RATE || '10', 10),
    timeUnit: '1s',
    duration: env.BENCH_DURATION || '10s',
    preAllocatedVUs: vus,
    maxVUs: vus * 4,
  };

export const options = {
  scenarios: { bench: scenario },
  summaryTrendStats: ['avg', 'min', 'med', 'p(50)', 'p(90)', 'p(95)', 'p(99)', 'max'],
  discardResponseBodies: true,
  noConnectionReuse: false,
};

const params = {
  headers: Object.assign(
    { 'Content-Type': 'application/json' },
    env.BENCH_TOKEN ? { Authorization: `Bearer ${env.BENCH_TOKEN}` } : {},
  ),
  timeout: '30s',
};

export default function () {
  let payload = body;
  if (payload !== null) {
    const n = exec.scenario.iterationInTest;
    if (payload.includes('{uniq}')) payload = payload.split('{uniq}').join(`${runId}-k${n}`);
    if (payload.includes('{key}')) payload = payload.split('{key}').join(keys[n % keys.length]);
  }
  const res = http.request(method, url, payload, params);
  check(res, { status: (r) => r.status === expected });
}

export function handleSummary(data) {
  const out = {};
  out[env.BENCH_OUT] = JSON.stringify({
    metrics: data.metrics,
    state: data.state,
  });
  return out;
}
