// A registration flood beyond the cluster's password-hashing capacity, with heartbeat and gallery
// probes before, during and after it. Run by tests/cluster/failures.py (phase overload):
//   k6 run -e BASE_URL=... -e SESSION_ID=... -e GUEST_ID=... -e SUMMARY_JSON=... flood.js
// Every register answer is sorted: 201, 503 with Retry-After (load shed, as the contract asks),
// 503 without it, anything else, or no answer within 10 s (a timeout).
import http from 'k6/http';
import { sleep } from 'k6';
import { Counter, Trend } from 'k6/metrics';

const BASE = __ENV.BASE_URL.replace(/\/+$/, '');
const VUS = parseInt(__ENV.FLOOD_VUS || '150', 10);
const SECONDS = parseInt(__ENV.FLOOD_SECONDS || '15', 10);
const BEFORE = 6;

const created = new Counter('flood_201');
const shed = new Counter('flood_503_retry_after');
const shedBare = new Counter('flood_503_no_retry_after');
const other = new Counter('flood_other');
const timeouts = new Counter('flood_timeout');
const createdMs = new Trend('flood_201_ms', true);
const shedMs = new Trend('flood_503_ms', true);
const probes = {};
for (const what of ['heartbeat', 'gallery']) {
  for (const when of ['before', 'during', 'after']) probes[`${what}_${when}`] = new Trend(`${what}_${when}`, true);
}

const probeScenario = (when, startTime, duration) => ({
  executor: 'constant-arrival-rate', rate: 10, timeUnit: '1s', duration: `${duration}s`, startTime: `${startTime}s`,
  preAllocatedVUs: 5, maxVUs: 20, exec: 'probe', env: { WHEN: when },
});

export const options = {
  scenarios: {
    probe_before: probeScenario('before', 0, BEFORE),
    flood: { executor: 'constant-vus', vus: VUS, duration: `${SECONDS}s`, startTime: `${BEFORE}s`, exec: 'flood', gracefulStop: '15s' },
    // Measured once the flood has filled the queues.
    probe_during: probeScenario('during', BEFORE + 2, SECONDS - 3),
    probe_after: probeScenario('after', BEFORE + SECONDS + 8, 6),
  },
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(95)'],
};

export function probe() {
  const when = __ENV.WHEN;
  const json = { headers: { 'Content-Type': 'application/json' }, timeout: '10s' };
  const hb = http.post(`${BASE}/sessions/heartbeat`, JSON.stringify({ userId: __ENV.GUEST_ID }), json);
  if (hb.status === 200) probes[`heartbeat_${when}`].add(hb.timings.duration);
  const gallery = http.get(`${BASE}/pictures/session?sessionId=${__ENV.SESSION_ID}`, { timeout: '10s' });
  if (gallery.status === 200) probes[`gallery_${when}`].add(gallery.timings.duration);
  if (hb.status !== 200 || gallery.status !== 200) other.add(1, { probe: when });
}

export function flood() {
  const email = `flood-${__VU}-${__ITER}-${Math.random().toString(36).slice(2, 10)}@flood.example.com`;
  const res = http.post(`${BASE}/auth/register`, JSON.stringify({ username: 'Flood', email, password: 'flood-passw0rd' }), {
    headers: { 'Content-Type': 'application/json' },
    timeout: '10s',
    responseCallback: http.expectedStatuses(201, 503),
  });
  if (res.status === 201) {
    created.add(1);
    createdMs.add(res.timings.duration);
  } else if (res.status === 503 && res.headers['Retry-After']) {
    shed.add(1);
    shedMs.add(res.timings.duration);
    sleep(0.05); // a flood does not wait the announced time, but do not spin
  } else if (res.status === 503) {
    shedBare.add(1);
  } else if (res.status === 0) {
    timeouts.add(1);
  } else {
    other.add(1);
  }
}

export function handleSummary(data) {
  return { [__ENV.SUMMARY_JSON]: JSON.stringify({ vus: VUS, seconds: SECONDS, ...data }, null, 2) };
}
