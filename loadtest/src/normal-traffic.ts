// A typical wedding day: one organizer sets the event up, guests trickle in over ten minutes,
// join by name, look around, take a few photos each and browse the gallery. Expected: no scaling.
import { check, fail } from 'k6';
import { Options } from 'k6/options';
import {
  EventRef,
  IS_SMOKE,
  Mission,
  Picture,
  SummaryData,
  commonThresholds,
  createSession,
  downloadPicture,
  errorRate,
  getGallery,
  getSession,
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
  setupHost,
  think,
  typing,
  uploadPhoto,
} from './helpers.ts';

const PHOTOS = loadPhotos();

const scenarios: Options['scenarios'] = IS_SMOKE
  ? {
      organizer: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '75s', exec: 'organizer' },
      guests_arriving: {
        executor: 'ramping-vus',
        startTime: '5s',
        startVUs: 0,
        stages: [
          { duration: '10s', target: 2 },
          { duration: '15s', target: 4 },
          { duration: '15s', target: 4 },
          { duration: '10s', target: 2 },
          { duration: '5s', target: 0 },
        ],
        gracefulRampDown: '30s',
        exec: 'guest',
      },
    }
  : {
      organizer: { executor: 'per-vu-iterations', vus: 1, iterations: 1, maxDuration: '11m', exec: 'organizer' },
      guests_arriving: {
        executor: 'ramping-vus',
        startTime: '30s', // the organizer has set the event up by then
        startVUs: 0,
        stages: [
          { duration: '1m', target: 5 }, // first guests arrive
          { duration: '2m', target: 15 }, // ceremony over, everyone is in
          { duration: '3m', target: 20 }, // the party: the busiest stretch
          { duration: '2m', target: 10 }, // dinner, fewer phones out
          { duration: '2m', target: 0 }, // the evening winds down
        ],
        gracefulRampDown: '1m',
        exec: 'guest',
      },
    };

export const options: Options = {
  scenarios,
  setupTimeout: '2m',
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)'],
  thresholds: {
    ...commonThresholds(),
    http_req_failed: [IS_SMOKE ? 'rate<0.01' : 'rate<0.05'],
    http_req_duration: ['p(95)<2000'],
    error_rate: [IS_SMOKE ? 'rate<0.01' : 'rate<0.05'],
    // Every flow must really have happened, not been skipped.
    registrations_success: ['count>0'],
    logins_success: ['count>0'],
    sessions_created: ['count>0'],
    photos_uploaded: ['count>0'],
    heartbeats_sent: ['count>0'],
  },
};

interface SetupData {
  events: EventRef[];
  // The couple's own event, created in setup so every guest VU can join it.
  wedding: { token: string; sessionId: string; missions: Mission[] };
}

export function setup(): SetupData {
  const events = setupEvents(5, 'normal');
  const token = setupHost('couple');
  const name = 'Anna & Ben wedding';
  const missions = missionsFor(name, 6);
  const sessionId = createSession(token, name);
  if (!sessionId || !setMissions(token, sessionId, missions)) {
    fail('No sessions available: setup could not create the wedding event');
  }
  return { events: [{ sessionId, name }, ...events], wedding: { token, sessionId, missions } };
}

/** The host: registers, logs in, creates an event and sets its missions, then follows the day. */
export function organizer(data: SetupData): void {
  think(5, 10); // filling in the sign-up form
  const account = register('organizer');
  if (!account) return;
  think(2, 5);
  const token = login(account);
  if (!token) return;

  think(5, 15); // naming the event
  const name = 'Garden party';
  const sessionId = createSession(token, name);
  if (!sessionId) return;
  think(20, 40); // writing the photo missions
  const missions = missionsFor(name, 8);
  if (!setMissions(token, sessionId, missions)) return;
  getSession(sessionId, missions.length);
  getGallery(sessionId);

  // During the day the couple watches the wedding gallery fill up and adds a mission halfway.
  const rounds = 8;
  for (let round = 1; round <= rounds; round++) {
    think(50, 70);
    getGallery(data.wedding.sessionId);
    if (round === Math.ceil(rounds / 2)) {
      const extra = { id: 'm-late', description: 'The last dance' };
      setMissions(data.wedding.token, data.wedding.sessionId, [...data.wedding.missions, extra]);
    }
  }
}

/** A guest: joins by name, looks around, takes 2–4 photos, then browses the gallery. */
export function guest(data: SetupData): void {
  // Most guests are at the wedding itself; the other events run the same day.
  const event = Math.random() < 0.6 ? data.events[0] : pick(data.events);

  think(3, 8); // scanned the QR code, the page opens
  const name = guestName();
  typing(name);
  const userId = joinSession(event.sessionId, name);
  if (!userId) return;
  heartbeat(userId);
  getSession(event.sessionId);
  think(3, 8); // reading the missions
  getGallery(event.sessionId);

  const myKeys: string[] = [];
  const shots = randomInt(2, 4);
  for (let i = 0; i < shots; i++) {
    think(10, 30); // waiting for the moment, taking the picture
    const picture = uploadPhoto(event.sessionId, name, pick(PHOTOS));
    if (picture) myKeys.push(picture.s3_key);
    heartbeat(userId);
  }

  think(2, 5);
  const gallery = getGallery(event.sessionId);
  if (gallery) expectInGallery(gallery, myKeys);

  const browsing = randomInt(2, 4);
  for (let i = 0; i < browsing; i++) {
    think(8, 20); // scrolling, chatting, eating
    heartbeat(userId);
    const pictures = getGallery(event.sessionId);
    if (pictures && pictures.length > 0) downloadPicture(pick(pictures));
  }
}

function expectInGallery(gallery: Picture[], keys: string[]): void {
  const shown = new Set(gallery.map((p) => p.s3_key));
  const ok = check(gallery, {
    'gallery shows the guest\'s own photos': () => keys.every((k) => shown.has(k)),
  });
  errorRate.add(!ok);
}

// `k6 run --vus 50 --duration 2m dist/normal-traffic.js` replaces the scenarios with one that
// runs the default function: the guest flow.
export default guest;

export function handleSummary(data: SummaryData) {
  return makeSummary('normal-traffic', data);
}
