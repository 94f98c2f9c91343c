// A viral moment: hundreds of guests pour in at once while new events are being created (the
// CPU-heavy password-hashing path) and photos are uploaded at a steady high rate.
// Expected: the server HPA goes 2 → 10 → 25 pods and the cluster autoscaler adds nodes.
import { sleep } from 'k6';
import { Options } from 'k6/options';
import {
  EventRef,
  IS_SMOKE,
  SummaryData,
  commonThresholds,
  createSession,
  GALLERY_PAGE,
  getGallery,
  guestName,
  heartbeat,
  joinSession,
  loadPhotos,
  login,
  makeSummary,
  missionsFor,
  pick,
  randomInt,
  register,
  setMissions,
  setupEvents,
  uploadPhoto,
} from './helpers.ts';

const PHOTOS = loadPhotos();

type Scenario = NonNullable<Options['scenarios']>[string];
type Flow = 'viralGuest' | 'eventCreator' | 'photoUploader';
const FLOWS: readonly Flow[] = ['viralGuest', 'eventCreator', 'photoUploader'];

// PEAK_SCALE multiplies the full profile's VUs and arrival rates (not its stage lengths) so one
// replica can serve a fraction of the peak; the events scale too, so each event still sees the
// full profile's guests and uploads (its gallery grows as fast as at full scale).
const PEAK_SCALE = parseScale(__ENV.PEAK_SCALE);
const EVENTS = IS_SMOKE ? 5 : Math.max(1, Math.round(5 * PEAK_SCALE));
// PEAK_ONLY runs some flows alone; PEAK_HOLD holds each at its peak level for that long instead
// of the full stages (bench/run --only pods measures the cost of each flow this way).
const ONLY = parseFlows(__ENV.PEAK_ONLY);
const HOLD = __ENV.PEAK_HOLD || '';

function parseScale(raw: string | undefined): number {
  const value = raw === undefined || raw === '' ? 1 : Number(raw);
  if (!(value > 0 && value <= 1)) throw new Error(`PEAK_SCALE must be in (0, 1], got "${raw}"`);
  return value;
}

function parseFlows(raw: string | undefined): readonly Flow[] {
  if (!raw) return FLOWS;
  const flows = raw.split(',').map((f) => f.trim());
  for (const f of flows) {
    if (!FLOWS.includes(f as Flow)) throw new Error(`PEAK_ONLY takes ${FLOWS.join(', ')}; got "${f}"`);
  }
  return flows as Flow[];
}

function vus(full: number): number {
  return Math.max(1, Math.round(full * PEAK_SCALE));
}

/** `perSecond` of the full profile, scaled; per minute when the scaled rate is fractional. */
function arrivals(perSecond: number): { rate: number; timeUnit: string } {
  const rate = perSecond * PEAK_SCALE;
  return Number.isInteger(rate) ? { rate, timeUnit: '1s' } : { rate: Math.round(rate * 60), timeUnit: '1m' };
}

/** A flow held at its peak level for HOLD: 400 guests (scaled) after a 15 s ramp, or its rate. */
function held(exec: Flow): Scenario {
  if (exec === 'viralGuest') {
    return {
      executor: 'ramping-vus',
      startVUs: 0,
      stages: [
        { duration: '15s', target: vus(400) },
        { duration: HOLD, target: vus(400) },
        { duration: '10s', target: 0 },
      ],
      gracefulRampDown: '30s',
      exec,
    };
  }
  const full = exec === 'eventCreator' ? { rate: 10, vus: 50 } : { rate: 20, vus: 100 };
  return {
    executor: 'constant-arrival-rate',
    ...arrivals(full.rate),
    duration: HOLD,
    preAllocatedVUs: vus(full.vus),
    maxVUs: vus(2 * full.vus),
    exec,
  };
}

const PROFILE_SCENARIOS: Record<string, Scenario> = IS_SMOKE
  ? {
      ramp_up: {
        executor: 'ramping-vus',
        startVUs: 0,
        stages: [
          { duration: '5s', target: 2 },
          { duration: '10s', target: 4 },
          { duration: '20s', target: 5 },
          { duration: '10s', target: 3 },
          { duration: '10s', target: 1 },
          { duration: '5s', target: 0 },
        ],
        gracefulRampDown: '20s',
        exec: 'viralGuest',
      },
      session_creators: {
        executor: 'constant-arrival-rate',
        rate: 1,
        timeUnit: '1s',
        duration: '45s',
        startTime: '5s',
        preAllocatedVUs: 2,
        maxVUs: 4,
        exec: 'eventCreator',
      },
      photo_uploaders: {
        executor: 'constant-arrival-rate',
        rate: 2,
        timeUnit: '1s',
        duration: '40s',
        startTime: '10s',
        preAllocatedVUs: 3,
        maxVUs: 6,
        exec: 'photoUploader',
      },
    }
  : {
      ramp_up: {
        executor: 'ramping-vus',
        startVUs: 0,
        stages: [
          { duration: '30s', target: vus(50) }, // the link is shared
          { duration: '1m', target: vus(150) },
          { duration: '2m', target: vus(300) },
          { duration: '3m', target: vus(400) }, // the peak
          { duration: '2m', target: vus(200) },
          { duration: '1m', target: vus(50) },
          { duration: '30s', target: 0 },
        ],
        gracefulRampDown: '30s',
        exec: 'viralGuest',
      },
      session_creators: {
        executor: 'constant-arrival-rate',
        ...arrivals(10),
        duration: '8m',
        startTime: '30s',
        preAllocatedVUs: vus(50),
        maxVUs: vus(100),
        exec: 'eventCreator',
      },
      photo_uploaders: {
        executor: 'constant-arrival-rate',
        ...arrivals(20),
        duration: '7m',
        startTime: '1m',
        preAllocatedVUs: vus(100),
        maxVUs: vus(200),
        exec: 'photoUploader',
      },
    };

const scenarios: Record<string, Scenario> = {};
for (const [name, scenario] of Object.entries(PROFILE_SCENARIOS)) {
  const exec = scenario.exec as Flow;
  if (ONLY.includes(exec)) scenarios[name] = HOLD && !IS_SMOKE ? held(exec) : scenario;
}

export const options: Options = {
  scenarios,
  setupTimeout: '2m',
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  thresholds: {
    ...commonThresholds(),
    http_req_failed: [IS_SMOKE ? 'rate<0.01' : 'rate<0.10'],
    http_req_duration: ['p(95)<5000'],
    error_rate: [IS_SMOKE ? 'rate<0.01' : 'rate<0.15'],
    ...flowThresholds(),
  },
};

/** Every flow that runs must have done its work at least once. */
function flowThresholds(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const counters: Record<Flow, string[]> = {
    viralGuest: ['registrations_success', 'logins_success', 'heartbeats_sent'],
    eventCreator: ['registrations_success', 'logins_success', 'sessions_created'],
    photoUploader: ['photos_uploaded'],
  };
  for (const flow of ONLY) for (const counter of counters[flow]) out[counter] = ['count>0'];
  return out;
}

interface SetupData {
  events: EventRef[];
}

export function setup(): SetupData {
  return { events: setupEvents(EVENTS, 'peak') };
}

/** The whole guest flow, quickly: sign up, log in, join, then keep the gallery open. */
export function viralGuest(data: SetupData): void {
  const account = register('guest');
  if (!account) return;
  if (!login(account)) return;
  const event = pick(data.events);
  const userId = joinSession(event.sessionId, guestName());
  if (!userId) return;
  const rounds = randomInt(3, 5);
  for (let i = 0; i < rounds; i++) {
    heartbeat(userId);
    // The gallery as a phone opens it: the web client's first page, with the guest's id.
    getGallery(event.sessionId, { limit: GALLERY_PAGE, userId });
    sleep(1 + Math.random() * 2); // quick, but still a person
  }
}

/** A new host: register + login + create an event with missions. */
export function eventCreator(): void {
  const account = register('host');
  if (!account) return;
  const token = login(account);
  if (!token) return;
  const name = `Viral party ${randomInt(1, 1e6)}`;
  const sessionId = createSession(token, name);
  if (sessionId) setMissions(token, sessionId, missionsFor(name, 3));
}

/** One photo into one of the existing events: init-upload → PUT → finalize-upload. */
export function photoUploader(data: SetupData): void {
  const event = pick(data.events);
  uploadPhoto(event.sessionId, guestName(), pick(PHOTOS));
}

// `k6 run --vus N --duration D` replaces the scenarios with one that runs the guest rush.
export default viralGuest;

export function handleSummary(data: SummaryData) {
  return makeSummary('peak-traffic', data);
}
