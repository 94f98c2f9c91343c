// Shared pieces of the PartyPic load tests: configuration, metrics, the API calls of the fixed
// HTTP contract (with checks on every response), think times and the end-of-test summary.
import { check, fail, sleep } from 'k6';
import http, { RefinedParams, RefinedResponse, ResponseType } from 'k6/http';
import { Counter, Rate, Trend } from 'k6/metrics';
import type { components, paths } from './api-types.ts';

// ---------------------------------------------------------------------------------------------
// Configuration

export const BASE_URL = (__ENV.BASE_URL || 'http://localhost:3000').replace(/\/+$/, '');

export type Profile = 'full' | 'smoke';

export const PROFILE: Profile = parseProfile(__ENV.PROFILE);

function parseProfile(raw: string | undefined): Profile {
  const value = (raw || 'full').toLowerCase();
  if (value !== 'full' && value !== 'smoke') {
    throw new Error(`PROFILE must be "full" or "smoke", got "${raw}"`);
  }
  return value;
}

export const IS_SMOKE = PROFILE === 'smoke';

// Human pauses are real in the full profile; the smoke profile keeps every step but compresses
// the waiting so both scripts finish in about a minute.
const THINK_FACTOR = IS_SMOKE ? 0.1 : 1;

const PASSWORD = 'LoadTest-Passw0rd!';

// ---------------------------------------------------------------------------------------------
// Metrics

export const registrationsSuccess = new Counter('registrations_success');
export const loginsSuccess = new Counter('logins_success');
export const sessionsCreated = new Counter('sessions_created');
export const photosUploaded = new Counter('photos_uploaded');
export const heartbeatsSent = new Counter('heartbeats_sent');
export const responseTimeMs = new Trend('response_time_ms', true);
export const errorRate = new Rate('error_rate');
// 503 + Retry-After from register/login: the server shedding password-hashing load on purpose.
// Counted here, kept out of error_rate and http_req_failed; a 503 without Retry-After is an error.
export const hashingSaturated = new Counter('hashing_saturated_503');

// Every endpoint the scripts call; the names tag requests (`name`) and response_time_ms
// (`endpoint`) so no per-event URL turns into its own time series.
export const ENDPOINTS = {
  register: 'POST /auth/register',
  login: 'POST /auth/login',
  createSession: 'POST /sessions/create',
  getSession: 'GET /sessions/get',
  setMissions: 'POST /sessions/setmissions',
  joinSession: 'POST /sessions/registerSessionUser',
  heartbeat: 'POST /sessions/heartbeat',
  initUpload: 'POST /pictures/init-upload',
  putUpload: 'PUT {uploadUrl}',
  finalizeUpload: 'POST /pictures/finalize-upload',
  gallery: 'GET /pictures/session',
  photoDownload: 'GET {picture.url}',
  healthz: 'GET /healthz',
} as const satisfies Record<string, ApiEndpoint | 'PUT {uploadUrl}' | 'GET {picture.url}'>;

/** "METHOD /path" of every operation in the OpenAPI document, so a renamed route fails tsc. */
type ApiEndpoint = {
  [P in keyof paths]: { [M in keyof paths[P] & Method]: paths[P][M] extends undefined ? never : `${Uppercase<M>} ${P}` }[keyof paths[P] & Method];
}[keyof paths];
type Method = 'get' | 'put' | 'post' | 'delete' | 'patch';

export type Endpoint = (typeof ENDPOINTS)[keyof typeof ENDPOINTS];

/** Thresholds shared by both scripts; each script adds its own limits on top. */
export function commonThresholds(): Record<string, string[]> {
  const thresholds: Record<string, string[]> = {
    // A broken contract must fail the run, not hide in a percentage.
    checks: [IS_SMOKE ? 'rate==1' : 'rate>0.99'],
  };
  // Always-true thresholds make k6 keep a per-endpoint sub-metric, so the summary can show
  // response times per endpoint.
  for (const endpoint of Object.values(ENDPOINTS)) {
    thresholds[`response_time_ms{endpoint:${endpoint}}`] = ['max>=0'];
  }
  return thresholds;
}

// ---------------------------------------------------------------------------------------------
// Sample photos: real JPEGs, opened once per VU in the init context.

export interface Photo {
  filename: string;
  bytes: ArrayBuffer;
}

const PHOTO_FILES = ['balloons.jpg', 'dinner-table.jpg', 'fairy-lights.jpg', 'wedding-cake.jpg'];

/** Must run in the init context (module top level). Paths are relative to src/ and dist/ alike. */
export function loadPhotos(): Photo[] {
  return PHOTO_FILES.map((filename) => {
    const bytes = open(`../photos/${filename}`, 'b');
    const head = new Uint8Array(bytes, 0, 3);
    if (head[0] !== 0xff || head[1] !== 0xd8 || head[2] !== 0xff) {
      throw new Error(`photos/${filename} is not a JPEG`);
    }
    return { filename, bytes };
  });
}

// ---------------------------------------------------------------------------------------------
// Small utilities

export function pick<T>(items: readonly T[]): T {
  return items[Math.floor(Math.random() * items.length)];
}

export function randomInt(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

/** A human pause between `min` and `max` seconds (compressed in the smoke profile). */
export function think(min: number, max: number): void {
  sleep((min + Math.random() * (max - min)) * THINK_FACTOR);
}

/** Typing `text` at 3–6 characters a second. */
export function typing(text: string): void {
  think(text.length / 6, text.length / 3);
}

function randomSuffix(): string {
  return Math.random().toString(36).slice(2, 8);
}

/** Unique across VUs, iterations and runs: VU id + iteration + time + random. */
export function uniqueEmail(role: string): string {
  // __ITER does not exist in setup(), where __VU is 0.
  const iteration = typeof __ITER === 'undefined' ? 'setup' : `it${__ITER}`;
  return `${role}-vu${__VU}-${iteration}-${Date.now().toString(36)}${randomSuffix()}@loadtest.example.com`;
}

const FIRST_NAMES = ['Anna', 'Ben', 'Clara', 'David', 'Emma', 'Felix', 'Greta', 'Hugo', 'Ida', 'Jonas', 'Lena', 'Max'];

export function guestName(): string {
  return `${pick(FIRST_NAMES)} ${randomSuffix()}`;
}

// ---------------------------------------------------------------------------------------------
// Requests

type Res = RefinedResponse<ResponseType | undefined>;

interface CallOptions {
  token?: string;
  body?: unknown;
  /** Retried on 503 + Retry-After (register/login only). */
  hashing?: boolean;
}

function params(endpoint: Endpoint, opts: CallOptions) {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`;
  const p: RefinedParams<ResponseType> = { headers, tags: { name: endpoint } };
  // For the hashing endpoints a 503 is an announced overload, not a failed request (whether it
  // carried Retry-After is checked in `call`). The key must be absent otherwise: an undefined
  // callback would switch http_req_failed off for the request.
  if (opts.hashing) p.responseCallback = HASHING_EXPECTED;
  return p;
}

const HASHING_EXPECTED = http.expectedStatuses({ min: 200, max: 399 }, 503);

function record(endpoint: Endpoint, res: Res): void {
  responseTimeMs.add(res.timings.duration, { endpoint });
}

function isHashingSaturated(res: Res): boolean {
  return res.status === 503 && !!res.headers['Retry-After'];
}

const MAX_SATURATED_ATTEMPTS = 3;

/**
 * Sends one API request and records its timing. On a hashing endpoint, a 503 with Retry-After
 * is counted in hashing_saturated_503 and retried after the announced delay (capped, jittered);
 * returns null when the server stayed saturated, so the caller gives up that flow.
 */
function call(method: 'GET' | 'POST', endpoint: Endpoint, path: string, opts: CallOptions = {}): Res | null {
  const body = opts.body === undefined ? null : JSON.stringify(opts.body);
  for (let attempt = 1; ; attempt++) {
    const res = http.request(method, `${BASE_URL}${path}`, body, params(endpoint, opts));
    record(endpoint, res);
    if (!(opts.hashing && isHashingSaturated(res))) return res;
    hashingSaturated.add(1, { endpoint });
    if (attempt >= MAX_SATURATED_ATTEMPTS) return null;
    const retryAfter = Math.min(parseInt(String(res.headers['Retry-After']), 10) || 1, 5);
    sleep(retryAfter * (0.5 + Math.random()));
  }
}

/** Runs the checks for one response and feeds error_rate; true when all of them held. */
function verify(endpoint: Endpoint, res: Res, expectedStatus: number, bodyChecks: Record<string, (r: Res) => boolean> = {}): boolean {
  const checks: Record<string, (r: Res) => boolean> = {
    [`${endpoint} status ${expectedStatus}`]: (r) => r.status === expectedStatus,
  };
  for (const [name, fn] of Object.entries(bodyChecks)) {
    checks[`${endpoint} ${name}`] = (r) => r.status === expectedStatus && safely(() => fn(r));
  }
  const ok = check(res, checks, { endpoint });
  errorRate.add(!ok, { endpoint });
  // The first few failures per VU show what went wrong; a broken peak run would flood the log.
  // Requests cut off by a VU's ramp-down interruption are not failures (k6 drops their samples).
  if (!ok && !interrupted(res) && warnings++ < MAX_WARNINGS_PER_VU) {
    console.warn(`${endpoint} -> ${res.status} ${truncate(String(res.body ?? res.error))}`);
  }
  return ok;
}

const MAX_WARNINGS_PER_VU = 5;
let warnings = 0;

function interrupted(res: Res): boolean {
  return res.status === 0 && /context canceled/.test(String(res.error));
}

function safely(fn: () => boolean): boolean {
  try {
    return fn();
  } catch {
    return false;
  }
}

function truncate(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function json<T>(res: Res): T {
  return res.json() as unknown as T;
}

// ---------------------------------------------------------------------------------------------
// The API of the fixed HTTP contract: its types are generated from the OpenAPI document into
// api-types.ts (scripts/check-generated --write).

type Schemas = components['schemas'];

/** What the load test registers with; every field the API takes, none optional. */
export type Account = { [K in 'email' | 'password' | 'username']: NonNullable<Schemas['RegisterRequest'][K]> };

export type Mission = Schemas['Mission'];

export type Picture = Schemas['PictureView'];

export function healthz(): boolean {
  const res = http.get(`${BASE_URL}/healthz`, { tags: { name: ENDPOINTS.healthz } });
  record(ENDPOINTS.healthz, res);
  return res.status === 200;
}

export function register(role: string): Account | null {
  const account: Account = { email: uniqueEmail(role), password: PASSWORD, username: `${role} ${randomSuffix()}` };
  const res = call('POST', ENDPOINTS.register, '/auth/register', { body: account, hashing: true });
  if (!res) return null;
  const ok = verify(ENDPOINTS.register, res, 201, {
    'returns the user': (r) => {
      const user = json<Schemas['RegisterResponse']>(r);
      return !!user.id && user.email.toLowerCase() === account.email.toLowerCase();
    },
  });
  if (!ok) return null;
  registrationsSuccess.add(1);
  return account;
}

/** Returns the Bearer token. */
export function login(account: Account): string | null {
  const res = call('POST', ENDPOINTS.login, '/auth/login', {
    body: { email: account.email, password: account.password } satisfies Schemas['LoginRequest'],
    hashing: true,
  });
  if (!res) return null;
  const ok = verify(ENDPOINTS.login, res, 200, {
    'returns a bearer token': (r) => {
      const body = json<Schemas['LoginResponse']>(r);
      return typeof body.access_token === 'string' && body.access_token.length > 0 && body.token_type === 'Bearer';
    },
  });
  if (!ok) return null;
  loginsSuccess.add(1);
  return json<Schemas['LoginResponse']>(res).access_token;
}

/** Creates an event; returns its session id. */
export function createSession(token: string, name: string): string | null {
  const res = call('POST', ENDPOINTS.createSession, '/sessions/create', {
    token,
    body: { settings: { name, description: 'Created by the PartyPic k6 load test' } },
  });
  if (!res) return null;
  const ok = verify(ENDPOINTS.createSession, res, 201, {
    'returns sessionId': (r) => typeof json<Schemas['CreateSessionResponse']>(r).sessionId === 'string',
  });
  if (!ok) return null;
  sessionsCreated.add(1);
  return json<Schemas['CreateSessionResponse']>(res).sessionId;
}

export function missionsFor(eventName: string, count: number): Mission[] {
  const ideas = [
    'The first dance',
    'A selfie with the hosts',
    'Someone laughing out loud',
    'The cake before it is cut',
    'Your table, everyone in the frame',
    'The best dance move tonight',
    'A toast',
    'Shoes under the table',
  ];
  return Array.from({ length: count }, (_, i) => ({
    id: `m${i + 1}`,
    description: `${ideas[i % ideas.length]} (${eventName})`,
  }));
}

export function setMissions(token: string, sessionId: string, missions: Mission[]): boolean {
  const res = call('POST', ENDPOINTS.setMissions, '/sessions/setmissions', {
    token,
    body: { sessionId, missions: { data: missions } } satisfies Schemas['SetMissionsRequest'],
  });
  if (!res) return false;
  return verify(ENDPOINTS.setMissions, res, 200, {
    'stores the missions': (r) => json<Schemas['SetMissionsResponse']>(r).data.missions.data.length === missions.length,
  });
}

/** A guest joins an event by name; returns the guest's user id. */
export function joinSession(sessionId: string, username: string): string | null {
  const res = call('POST', ENDPOINTS.joinSession, '/sessions/registerSessionUser', {
    body: { username, sessionId } satisfies Schemas['RegisterGuestRequest'],
  });
  if (!res) return null;
  const ok = verify(ENDPOINTS.joinSession, res, 201, {
    'returns the guest': (r) => {
      const guest = json<Schemas['GuestView']>(r);
      return typeof guest.id === 'string' && guest.session_id === sessionId;
    },
  });
  return ok ? json<Schemas['GuestView']>(res).id : null;
}

export function heartbeat(userId: string): boolean {
  const res = call('POST', ENDPOINTS.heartbeat, '/sessions/heartbeat', { body: { userId } satisfies Schemas['HeartbeatRequest'] });
  if (!res) return false;
  const ok = verify(ENDPOINTS.heartbeat, res, 200, {
    'returns success': (r) => json<Schemas['HeartbeatResponse']>(r).success === true,
  });
  if (ok) heartbeatsSent.add(1);
  return ok;
}

export function getSession(sessionId: string, expectMissions?: number): boolean {
  const res = call('GET', ENDPOINTS.getSession, `/sessions/get?sessionId=${sessionId}`);
  if (!res) return false;
  return verify(ENDPOINTS.getSession, res, 200, {
    'returns the event': (r) => {
      const s = json<Schemas['SessionView']>(r);
      return s.id === sessionId && Array.isArray(s.missions.data) && (expectMissions === undefined || s.missions.data.length >= expectMissions);
    },
  });
}

/** The web client's gallery page (web/assets/js/gallery.js): it shows the newest 60 and loads
 * more as the guest scrolls. */
export const GALLERY_PAGE = 60;

/** Loads an event's gallery; returns the pictures (newest first) or null. Without `page` the
 * whole gallery; with it the newest `page.limit`, as the web client asks for its first page (the
 * guest's id too, as it sends it). */
export function getGallery(sessionId: string, page?: { limit: number; userId?: string }): Picture[] | null {
  let query = `sessionId=${sessionId}`;
  if (page) query += `&limit=${page.limit}${page.userId ? `&userId=${page.userId}` : ''}`;
  const res = call('GET', ENDPOINTS.gallery, `/pictures/session?${query}`);
  if (!res) return null;
  const ok = verify(ENDPOINTS.gallery, res, 200, {
    'returns an array': (r) => Array.isArray(r.json()),
  });
  return ok ? json<Picture[]>(res) : null;
}

/** Opens one picture through its presigned URL, as a guest tapping a thumbnail. Guests get the
 * display copy (a re-encoded JPEG), or the placeholder until it exists: not the stored bytes. */
export function downloadPicture(picture: Picture): boolean {
  const res = http.get(picture.url, { tags: { name: ENDPOINTS.photoDownload }, responseType: 'binary' });
  record(ENDPOINTS.photoDownload, res);
  return verify(ENDPOINTS.photoDownload, res, 200, {
    'returns an image': (r) => (r.body as ArrayBuffer).byteLength > 0,
  });
}

/** The three-step upload: init-upload → PUT the bytes to uploadUrl → finalize-upload. */
export function uploadPhoto(sessionId: string, uName: string, photo: Photo): Picture | null {
  const init = call('POST', ENDPOINTS.initUpload, '/pictures/init-upload', {
    body: { session_id: sessionId, mimetype: 'image/jpeg' } satisfies Schemas['InitUploadRequest'],
  });
  if (!init) return null;
  const initOk = verify(ENDPOINTS.initUpload, init, 201, {
    'returns uploadUrl and key': (r) => {
      const b = json<Schemas['InitUploadResponse']>(r);
      return /^https?:\/\//.test(b.uploadUrl) && b.key.indexOf(`${sessionId}/`) === 0 && /\.jpe?g$/.test(b.key);
    },
  });
  if (!initOk) return null;
  const { uploadUrl, key } = json<Schemas['InitUploadResponse']>(init);

  const put = http.put(uploadUrl, photo.bytes, {
    headers: { 'Content-Type': 'image/jpeg' },
    tags: { name: ENDPOINTS.putUpload },
  });
  record(ENDPOINTS.putUpload, put);
  if (!verify(ENDPOINTS.putUpload, put, 200)) return null;

  const finalize = call('POST', ENDPOINTS.finalizeUpload, '/pictures/finalize-upload', {
    body: {
      u_name: uName,
      session_id: sessionId,
      s3_key: key,
      original_filename: photo.filename,
      filesize_bytes: photo.bytes.byteLength,
      mimetype: 'image/jpeg',
    } satisfies Schemas['FinalizeUploadRequest'],
  });
  if (!finalize) return null;
  const ok = verify(ENDPOINTS.finalizeUpload, finalize, 201, {
    'returns the picture': (r) => {
      const p = json<Picture>(r);
      return p.s3_key === key && p.filesize_bytes === photo.bytes.byteLength;
    },
  });
  if (!ok) return null;
  photosUploaded.add(1);
  return json<Picture>(finalize);
}

// ---------------------------------------------------------------------------------------------
// Setup: events every VU can join (VUs share no memory, so they come from setup data)

export interface EventRef {
  sessionId: string;
  name: string;
}

/** Registers a host (retrying while hashing is saturated) and logs in; fails the test otherwise. */
export function setupHost(role: string): string {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const account = register(role);
    const token = account && login(account);
    if (token) return token;
    sleep(2);
  }
  fail(`No sessions available: setup could not register and log in a ${role} at ${BASE_URL}`);
}

/**
 * Creates `count` events with missions under one host. Throws when none could be created, so
 * a run never starts with guests that have nothing to join.
 */
export function setupEvents(count: number, label: string): EventRef[] {
  if (!healthz()) {
    fail(`setup: ${BASE_URL}/healthz did not answer 200; is the PartyPic server running there?`);
  }
  const token = setupHost(`${label}-host`);
  const events: EventRef[] = [];
  for (let i = 1; i <= count; i++) {
    const name = `${label} event ${i}`;
    const sessionId = createSession(token, name);
    if (sessionId && setMissions(token, sessionId, missionsFor(name, 5))) events.push({ sessionId, name });
  }
  if (events.length === 0) {
    fail(`No sessions available: setup could not create any event at ${BASE_URL} (see the warnings above)`);
  }
  if (events.length < count) console.warn(`setup: only ${events.length} of ${count} events were created`);
  return events;
}

// ---------------------------------------------------------------------------------------------
// End-of-test summary: a readable text summary on stdout and the full data as JSON.

interface MetricSummary {
  type: 'counter' | 'gauge' | 'rate' | 'trend';
  values: Record<string, number>;
  thresholds?: Record<string, { ok: boolean }>;
}

interface CheckSummary {
  name: string;
  passes: number;
  fails: number;
}

interface GroupSummary {
  checks: CheckSummary[];
  groups: GroupSummary[];
}

export interface SummaryData {
  metrics: Record<string, MetricSummary>;
  root_group: GroupSummary;
  state: { testRunDurationMs: number };
  setup_data?: unknown;
}

/**
 * k6 prints no text summary once handleSummary exists, and its textSummary helper lives on a
 * remote jslib; so both are produced here. The JSON goes to SUMMARY_JSON, else to
 * SUMMARY_DIR/<script>-summary.json, else to target/k6/ at the repository root.
 */
export function makeSummary(script: string, data: SummaryData): Record<string, string> {
  // k6 resolves the path against the working directory and creates no directories: the
  // scripts/k6 wrapper sets SUMMARY_DIR to <repo>/target/k6 and creates it.
  const inLoadtestDir = /\/loadtest\/?$/.test(__ENV.PWD || '');
  const dir = __ENV.SUMMARY_DIR || (inLoadtestDir ? '../target/k6' : 'target/k6');
  const jsonPath = __ENV.SUMMARY_JSON || `${dir}/${script}-summary.json`;
  const { setup_data: _omitted, ...rest } = data;
  return {
    stdout: textSummary(script, data, jsonPath),
    [jsonPath]: JSON.stringify({ script, profile: PROFILE, baseUrl: BASE_URL, ...rest }, null, 2),
  };
}

function collectChecks(group: GroupSummary, out: CheckSummary[] = []): CheckSummary[] {
  out.push(...group.checks);
  for (const g of group.groups) collectChecks(g, out);
  return out;
}

function fmtMs(v: number | undefined): string {
  if (v === undefined) return '-';
  return v >= 1000 ? `${(v / 1000).toFixed(2)}s` : `${v.toFixed(1)}ms`;
}

function fmtPct(v: number | undefined): string {
  return v === undefined ? '-' : `${(v * 100).toFixed(2)}%`;
}

function metricValue(m: MetricSummary): string {
  switch (m.type) {
    case 'counter':
      return `${m.values.count} (${m.values.rate.toFixed(2)}/s)`;
    case 'rate':
      return `${fmtPct(m.values.rate)} (${m.values.passes} of ${m.values.passes + m.values.fails})`;
    case 'gauge':
      return `${m.values.value} (min ${m.values.min}, max ${m.values.max})`;
    case 'trend':
      return `avg=${fmtMs(m.values.avg)} med=${fmtMs(m.values.med)} p(90)=${fmtMs(m.values['p(90)'])} p(95)=${fmtMs(m.values['p(95)'])} max=${fmtMs(m.values.max)}`;
  }
}

function textSummary(script: string, data: SummaryData, jsonPath: string): string {
  const lines: string[] = [];
  const pad = (s: string, n: number) => (s.length >= n ? s : s + '.'.repeat(n - s.length));
  const metric = (name: string) => data.metrics[name];

  lines.push('', `PartyPic ${script} (PROFILE=${PROFILE}) against ${BASE_URL}, ${(data.state.testRunDurationMs / 1000).toFixed(0)}s`, '');

  if (data.setup_data === undefined) {
    lines.push('SETUP FAILED: no events to join, so no load ran (the error follows this summary)', '');
  }
  lines.push('THRESHOLDS');
  let failed = 0;
  for (const [name, m] of Object.entries(data.metrics).sort()) {
    if (!m.thresholds) continue;
    for (const [expr, t] of Object.entries(m.thresholds)) {
      if (expr === 'max>=0') continue; // the per-endpoint visibility thresholds
      if (!t.ok) failed++;
      lines.push(`  ${t.ok ? 'PASS' : 'FAIL'} ${name} ${expr}: ${metricValue(m)}`);
    }
  }

  const checks = collectChecks(data.root_group);
  const passes = checks.reduce((n, c) => n + c.passes, 0);
  const fails = checks.reduce((n, c) => n + c.fails, 0);
  lines.push('', `CHECKS ${passes} passed, ${fails} failed`);
  for (const c of checks.filter((c) => c.fails > 0)) lines.push(`  FAIL ${c.name}: ${c.fails} of ${c.passes + c.fails}`);

  lines.push('', 'FLOWS');
  for (const name of ['registrations_success', 'logins_success', 'sessions_created', 'photos_uploaded', 'heartbeats_sent', 'error_rate']) {
    if (metric(name)) lines.push(`  ${pad(name, 28)} ${metricValue(metric(name))}`);
  }
  const saturated = metric('hashing_saturated_503');
  lines.push(
    `  ${pad('hashing_saturated_503', 28)} ${saturated ? saturated.values.count : 0}` +
      '  (503 + Retry-After on register/login: load shed on purpose, not counted as failures)',
  );

  lines.push('', 'HTTP');
  for (const name of ['http_reqs', 'http_req_failed', 'http_req_duration', 'iterations', 'vus_max']) {
    if (metric(name)) lines.push(`  ${pad(name, 28)} ${metricValue(metric(name))}`);
  }

  lines.push('', 'RESPONSE TIME BY ENDPOINT (response_time_ms)');
  for (const endpoint of Object.values(ENDPOINTS)) {
    const m = metric(`response_time_ms{endpoint:${endpoint}}`);
    if (m && m.values.max > 0) lines.push(`  ${pad(endpoint, 36)} ${metricValue(m)}`);
  }

  lines.push('', `${failed === 0 ? 'All thresholds passed' : `${failed} threshold(s) FAILED`}; JSON summary: ${jsonPath}`, '');
  return lines.join('\n');
}
