#!/usr/bin/env python3
"""Writes the cluster's /openapi.json with OpenAPI links added, so schemathesis' stateful phase
chains real ids (event -> guest -> upload -> picture) instead of guessing UUIDs that are never
found. The server's schema has no links of its own (see /work/logs/cluster-findings.md).

Usage: openapi_links.py BASE_URL OUT_FILE
"""

import json
import sys

import requests

SESSION = "$response.body#/sessionId"
LINKS = {
    ("/auth/register", "post", "201"): {
        "LogIn": {"operationId": "login", "requestBody": {"email": "$request.body#/email", "password": "$request.body#/password"}},
    },
    ("/sessions/create", "post", "201"): {
        "GetSession": {"operationId": "get", "parameters": {"sessionId": SESSION}},
        "Gallery": {"operationId": "gallery", "parameters": {"sessionId": SESSION}},
        "Settings": {"operationId": "update_settings", "parameters": {"id": SESSION}},
        "End": {"operationId": "end", "parameters": {"id": SESSION}},
        "QrCode": {"operationId": "qr_code", "parameters": {"id": SESSION}},
        "Download": {"operationId": "zip", "parameters": {"id": SESSION}},
        "SetMissions": {"operationId": "set_missions", "requestBody": {"sessionId": SESSION}},
        "JoinAsGuest": {"operationId": "register_guest", "requestBody": {"sessionId": SESSION}},
        "InitUpload": {"operationId": "init_upload", "requestBody": {"session_id": SESSION}},
    },
    ("/sessions/registerSessionUser", "post", "201"): {
        "Heartbeat": {"operationId": "heartbeat", "requestBody": {"userId": "$response.body#/id"}},
        "GuestLogin": {"operationId": "login_guest", "requestBody": {"userId": "$response.body#/id", "sessionId": "$response.body#/session_id"}},
        "GuestGallery": {"operationId": "gallery", "parameters": {"sessionId": "$response.body#/session_id", "userId": "$response.body#/id"}},
        "GuestUpload": {"operationId": "init_upload", "requestBody": {"session_id": "$response.body#/session_id", "user_id": "$response.body#/id"}},
    },
    ("/pictures/init-upload", "post", "201"): {
        "Finalize": {"operationId": "finalize_upload", "requestBody": {"s3_key": "$response.body#/key", "session_id": "$request.body#/session_id"}},
    },
    ("/pictures/finalize-upload", "post", "201"): {
        "Approve": {"operationId": "approve", "parameters": {"id": "$response.body#/id"}},
        "Delete": {"operationId": "delete", "parameters": {"id": "$response.body#/id"}},
    },
}


def main() -> int:
    base, out = sys.argv[1], sys.argv[2]
    schema = requests.get(base.rstrip("/") + "/openapi.json", timeout=10).json()
    added = 0
    for (path, method, status), links in LINKS.items():
        response = schema["paths"][path][method]["responses"][status]
        response.setdefault("links", {}).update(links)
        added += len(links)
    with open(out, "w") as f:
        json.dump(schema, f, indent=1)
    print(f"{added} links added", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
