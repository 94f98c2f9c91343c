#!/usr/bin/env bash
# Installs and starts what the test suite needs, only when missing (idempotent, no stdin):
# PostgreSQL running, Garage (S3) installed, a Python venv with schemathesis.
set -euo pipefail

TOOLS=${PARTYPIC_TOOLS:-$HOME/.cache/partypic-tools}
VENV=$TOOLS/venv
export PATH="$HOME/.cargo/bin:$PATH" PIP_DISABLE_PIP_VERSION_CHECK=1

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
fi

if ! command -v garage >/dev/null; then
  echo "installing Garage (cargo install --locked garage; ~15 min, once)" >&2
  cargo install --locked garage </dev/null
fi

# Debian's pebble (Let's Encrypt's ACME test server) for the HTTPS/ACME test in tests/tls.rs.
if ! command -v pebble >/dev/null; then
  echo "installing pebble (apt)" >&2
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends pebble >/dev/null
fi

# Debian's heif-convert (libheif) turns iPhone HEIC photos into their JPEG variants (tests/api/variants.rs).
if ! command -v heif-convert >/dev/null; then
  echo "installing libheif-examples (apt)" >&2
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends libheif-examples >/dev/null
fi

# Debian's ffmpeg/ffprobe check video clips at finalize and make their poster and MP4 (tests/api/videos.rs).
if ! command -v ffmpeg >/dev/null || ! command -v ffprobe >/dev/null; then
  echo "installing ffmpeg (apt)" >&2
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 1800 apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
fi

mkdir -p "$TOOLS"
[[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
"$VENV/bin/python" -c "import schemathesis" 2>/dev/null || "$VENV/bin/pip" install -q "schemathesis==4.32.5" </dev/null
# A local SMTP server for the password-reset mail test (tests/api/password_reset.rs).
"$VENV/bin/python" -c "import aiosmtpd" 2>/dev/null || "$VENV/bin/pip" install -q "aiosmtpd==1.4.6" </dev/null
