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

const scenarios: Options['scenarios'] = IS_SMOKE
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
          { duration: '30s', target: 50 }, // the link is shared
          { duration: '1m', target: 150 },
          { duration: '2m', target: 300 },
          { duration: '3m', target: 400 }, // the peak
          { duration: '2m', target: 200 },
          { duration: '1m', target: 50 },
          { duration: '30s', target: 0 },
        ],
        gracefulRampDown: '30s',
        exec: 'viralGuest',
      },
      session_creators: {
        executor: 'constant-arrival-rate',
        rate: 10,
        timeUnit: '1s',
        duration: '8m',
        startTime: '30s',
        preAllocatedVUs: 50,
        maxVUs: 100,
        exec: 'eventCreator',
      },
      photo_uploaders: {
        executor: 'constant-arrival-rate',
        rate: 20,
        timeUnit: '1s',
        duration: '7m',
        startTime: '1m',
        preAllocatedVUs: 100,
        maxVUs: 200,
        exec: 'photoUploader',
      },
    };

export const options: Options = {
  scenarios,
  setupTimeout: '2m',
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  thresholds: {
    ...commonThresholds(),
    http_req_failed: [IS_SMOKE ? 'rate<0.01' : 'rate<0.10'],
    http_req_duration: ['p(95)<5000'],
    error_rate: [IS_SMOKE ? 'rate<0.01' : 'rate<0.15'],
    registrations_success: ['count>0'],
    logins_success: ['count>0'],
    sessions_created: ['count>0'],
    photos_uploaded: ['count>0'],
    heartbeats_sent: ['count>0'],
  },
};

interface SetupData {
  events: EventRef[];
}

export function setup(): SetupData {
  return { events: setupEvents(5, 'peak') };
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
    getGallery(event.sessionId);
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
